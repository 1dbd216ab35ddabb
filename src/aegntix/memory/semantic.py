"""WordLlama: the offline semantic embedder (the default for memory retrieval).

WordLlama (PyPI ``wordllama``) is a token-embedding table distilled from a large language
model's and trained so that the mean of a text's token vectors is a sentence embedding: a
paraphrase with no word in common still scores high, at hashing-like cost (a tokenizer call,
a table lookup and a mean; no neural network at inference). The wheel ships the
``l2_supercat`` model (Llama 2 tokenizer, 32,000 tokens x 256 dims, float16, ~16 MB) and its
tokenizer; we read both files from the installed package and never the network.

Why not ``wordllama.WordLlama.load()``: it looks for the tokenizer under ``tokenizer/`` while
the wheel ships it under ``tokenizers/`` and then downloads it from Hugging Face; and
``import wordllama`` calls ``logging.basicConfig(level=INFO)`` on the root logger and costs
~0.6 s. So the package is only *located* (``importlib.util.find_spec`` does not run it) and
its files are loaded with ``tokenizers`` and ``safetensors`` (wordllama's own dependencies);
the pooling is :meth:`wordllama.WordLlamaInference.avg_pool`'s (mean over tokens), done per
text so a vector never depends on what else is in the batch.

Deterministic: the tokenizer is deterministic, float16 -> float32 is exact, and each text's
token rows are summed in order, so the same text gives the same bits in every process.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from aegntix.errors import InvalidRequest

__all__ = ["WORDLLAMA", "WordLlamaEmbedder", "wordllama_dir"]

Matrix = npt.NDArray[np.float32]

WORDLLAMA = "wordllama"  # the key in a scenario's ``memory.embedder``
MODEL = "l2_supercat"
SHIPPED_DIM = 256  # the only width the wheel ships; smaller ones are Matryoshka prefixes of it
DIMS = (64, 128, 256)
POOLING_VERSION = "v1"  # bump whenever tokenising, pooling or normalising here changes
HINT = "reinstall it: pip install 'wordllama>=0.4'"


def wordllama_dir() -> Path:
    """The installed ``wordllama`` package's directory, found without importing it."""
    spec = importlib.util.find_spec(WORDLLAMA)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise InvalidRequest(f"the 'wordllama' embedder needs the wordllama package: {HINT}")
    return Path(locations[0])


class WordLlamaEmbedder:
    """WordLlama ``l2_supercat`` sentence vectors (see the module docstring): mean of the
    text's token vectors, truncated to ``dim`` (64, 128 or 256), L2-normalised."""

    def __init__(self, dim: int = SHIPPED_DIM, *, package_dir: Path | None = None) -> None:
        if dim not in DIMS:
            raise InvalidRequest(f"wordllama embedder dim must be one of {DIMS}, not {dim}")
        root = package_dir or wordllama_dir()
        weights = root / "weights" / f"{MODEL}_{SHIPPED_DIM}.safetensors"
        vocabulary = root / "tokenizers" / f"{MODEL}_tokenizer_config.json"
        for path in (weights, vocabulary):
            if not path.is_file():
                raise InvalidRequest(f"the wordllama package lacks {path}: {HINT}")
        try:
            from safetensors.numpy import load as load_tensors
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise InvalidRequest(f"the 'wordllama' embedder cannot load: {exc} ({HINT})") from exc
        raw = weights.read_bytes()
        tokenizer_json = vocabulary.read_bytes()
        # from the bytes just read: what we hash is exactly what we load
        table = load_tensors(raw).get("embedding.weight")
        if table is None or table.ndim != 2 or table.shape[1] != SHIPPED_DIM:
            raise InvalidRequest(f"{weights} is not a WordLlama {SHIPPED_DIM}-dim table: {HINT}")
        self._tokenizer: Any = Tokenizer.from_str(tokenizer_json.decode())
        # widened to float32 once (33 MB at 256 dims, one per process): summing float16 rows
        # is slower, and the widening is exact
        self._table = np.ascontiguousarray(table[:, :dim], dtype=np.float32)
        self._dim = dim
        digest = hashlib.blake2b(raw + tokenizer_json, digest_size=4).hexdigest()
        # the files' digest: new weights or tokenizer in a wordllama release change the name
        self._name = f"{WORDLLAMA}-{MODEL}-{dim}-{POOLING_VERSION}-{digest}"

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    def __repr__(self) -> str:
        return f"WordLlamaEmbedder(name={self._name!r})"

    def embed(self, texts: Sequence[str]) -> Matrix:
        if isinstance(texts, str):
            raise InvalidRequest("embed() takes a sequence of texts, not one string")
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        keep: list[int] = []
        ids: list[int] = []
        counts: list[int] = []
        for i, text in enumerate(texts):
            if not text.strip():
                continue
            # one text at a time: encode_batch would start the tokenizer's thread pool, which
            # costs more than it saves on a step's few short texts and warns after a fork
            found = self._tokenizer.encode(text, add_special_tokens=False).ids
            if found:
                keep.append(i)
                ids.extend(found)
                counts.append(len(found))
        if not keep:
            return out
        rows = self._table[np.clip(np.asarray(ids, dtype=np.intp), 0, len(self._table) - 1)]
        starts = np.zeros(len(counts), dtype=np.intp)
        np.cumsum(counts[:-1], out=starts[1:])
        # each text's rows are summed in order, on their own: the same bits in any batch
        means = np.add.reduceat(rows, starts, axis=0) / np.asarray(counts, np.float32)[:, None]
        norms = np.sqrt(np.einsum("ij,ij->i", means, means))
        norms[norms == 0.0] = 1.0  # tokens whose vectors cancel: stays a zero row
        out[keep] = means / norms[:, None]
        return out
