"""Memory retrieval as in Park et al. 2023 (*Generative Agents*): recency, importance, relevance.

A memory with importance ``imp`` (0..10) formed at ``step`` scores, for a query at ``now``::

    score = w_recency    * decay ** max(0, now - step)
          + w_importance * imp / 10
          + w_relevance  * max(0, cosine(query, memory))

Each component lies in [0, 1] already, so unlike the paper there is no min-max normalisation
over the candidates: a score can be checked by hand, does not change when an unrelated memory
is added, and means the same in a fork as in its parent. :class:`Scored` carries the three
components so a caller (or a user) can see *why* a memory was recalled.

Steps are floats: a caller may use a global "lived steps" clock for persistent agents. A
memory from after ``now`` (age < 0) counts as brand new (recency 1) rather than more than new.

Ranking is deterministic: higher score first, then the earlier-added memory first.

:class:`VectorIndex` is the contract a later pgvector index can implement; :class:`NumpyIndex`
is the in-process brute-force one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from aegntix.errors import InvalidRequest

__all__ = [
    "NumpyIndex",
    "RetrievalWeights",
    "Scored",
    "VectorIndex",
    "fill_budget",
]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
MAX_IMPORTANCE = 10.0


@dataclass(frozen=True, slots=True)
class RetrievalWeights:
    """The weights of the three components, and the recency decay per step of age."""

    recency: float = 1.0
    importance: float = 1.0
    relevance: float = 1.0
    decay: float = 0.95

    def __post_init__(self) -> None:
        for field in ("recency", "importance", "relevance"):
            value = getattr(self, field)
            if not (math.isfinite(value) and value >= 0):
                raise InvalidRequest(f"retrieval weight {field} must be >= 0, not {value!r}")
        if not (0 < self.decay <= 1):
            raise InvalidRequest(f"retrieval decay must be in (0, 1], not {self.decay!r}")


@dataclass(frozen=True, slots=True)
class Scored:
    """A retrieved memory: its score and the three (unweighted) components behind it."""

    id: str
    score: float
    recency: float  # decay ** age, 1.0 for a memory formed at `now`
    importance: float  # importance / 10
    relevance: float  # cosine similarity to the query, clamped at 0


@runtime_checkable
class VectorIndex(Protocol):
    """One agent's memories as vectors, searchable by the retrieval score."""

    @property
    def dim(self) -> int: ...

    def __len__(self) -> int: ...

    def add(
        self,
        ids: Sequence[str],
        vectors: npt.ArrayLike,
        steps: Sequence[float],
        importance: Sequence[float],
    ) -> None:
        """Append memories: ``vectors`` has shape ``(len(ids), dim)``; ``importance`` is
        0..10. Vectors are stored L2-normalised (a zero vector stays zero)."""
        ...

    def search(
        self, query: npt.ArrayLike, now: float, weights: RetrievalWeights, k: int
    ) -> list[Scored]:
        """The ``k`` best memories for ``query`` at time ``now``, best first."""
        ...


class NumpyIndex:
    """Brute force over every memory, in NumPy: exact, and deterministic for a given history.

    Vectors are stored by dimension (``(dim, capacity)`` float32; capacity doubles as it
    grows, ``capacity`` presizes it), so a query can read only the rows of its non-zero
    dimensions. Hashed text is less sparse than it looks at 256 dimensions: a 100-character
    memory sets about 80, a 150-300-character situation about 120. Reading a subset of rows
    means copying them, and that only beats one dense matrix-vector product below about a
    quarter of the dimensions (``benchmarks/memory.py`` times both), hence ``sparse_below``.
    Both paths give the same scores up to float32 rounding.

    Cost: about ``4 * dim + 12`` bytes per memory (1,036 at 256 dimensions) plus the id
    strings, and up to twice that while capacity is unused. Ids are opaque and not checked
    for uniqueness.
    """

    def __init__(self, dim: int, *, capacity: int = 256, sparse_below: float = 0.25) -> None:
        if dim < 1:
            raise InvalidRequest(f"index dim must be >= 1, not {dim}")
        self._dim = dim
        self._n = 0
        capacity = max(1, capacity)
        self._vectors: F32 = np.zeros((dim, capacity), dtype=np.float32)
        self._steps: F64 = np.zeros(capacity, dtype=np.float64)
        self._importance: F32 = np.zeros(capacity, dtype=np.float32)  # already / 10
        self._ids: list[str] = []
        # public so a benchmark can force a path: sparse when the query has fewer non-zeros
        self.sparse_limit = int(sparse_below * dim)

    @property
    def dim(self) -> int:
        return self._dim

    def __len__(self) -> int:
        return self._n

    def __repr__(self) -> str:
        return f"NumpyIndex(dim={self._dim}, n={self._n})"

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays (allocated capacity) and the id list, not the id strings."""
        arrays = self._vectors.nbytes + self._steps.nbytes + self._importance.nbytes
        return arrays + 8 * len(self._ids)

    def add(
        self,
        ids: Sequence[str],
        vectors: npt.ArrayLike,
        steps: Sequence[float],
        importance: Sequence[float],
    ) -> None:
        m = len(ids)
        block = np.asarray(vectors, dtype=np.float32)
        if block.ndim == 1 and m == 1:
            block = block[None, :]
        if block.shape != (m, self._dim):
            raise InvalidRequest(
                f"vectors must have shape ({m}, {self._dim}), not {tuple(block.shape)}"
            )
        step_arr = np.asarray(steps, dtype=np.float64)
        imp_arr = np.asarray(importance, dtype=np.float64)
        if step_arr.shape != (m,) or imp_arr.shape != (m,):
            raise InvalidRequest(f"need {m} steps and {m} importances, one per id")
        if not (np.isfinite(block).all() and np.isfinite(step_arr).all()):
            raise InvalidRequest("vectors and steps must be finite numbers")
        if not ((imp_arr >= 0) & (imp_arr <= MAX_IMPORTANCE)).all():
            raise InvalidRequest("importance must be between 0 and 10")
        if m == 0:
            return
        self._reserve(self._n + m)
        # in float64: squares of tiny float32 values would underflow to a zero norm
        wide = block.astype(np.float64)
        norms = np.sqrt(np.einsum("ij,ij->i", wide, wide))
        norms[norms == 0] = 1.0
        start, end = self._n, self._n + m
        self._vectors[:, start:end] = (wide / norms[:, None]).T
        self._steps[start:end] = step_arr
        self._importance[start:end] = imp_arr / MAX_IMPORTANCE
        self._ids.extend(str(i) for i in ids)
        self._n = end

    def _reserve(self, needed: int) -> None:
        capacity = self._steps.shape[0]
        if needed <= capacity:
            return
        while capacity < needed:
            capacity *= 2
        vectors = np.zeros((self._dim, capacity), dtype=np.float32)
        vectors[:, : self._n] = self._vectors[:, : self._n]
        steps = np.zeros(capacity, dtype=np.float64)
        steps[: self._n] = self._steps[: self._n]
        importance = np.zeros(capacity, dtype=np.float32)
        importance[: self._n] = self._importance[: self._n]
        self._vectors, self._steps, self._importance = vectors, steps, importance

    def search(
        self, query: npt.ArrayLike, now: float, weights: RetrievalWeights, k: int
    ) -> list[Scored]:
        q = self._query(query)
        if not math.isfinite(now):
            raise InvalidRequest(f"now must be a finite number, not {now!r}")
        n = self._n
        k = min(k, n)
        if k <= 0:
            return []
        # one n-sized buffer, updated in place; a zero-weighted component is skipped here
        # (and computed for the k winners only, below)
        if weights.relevance:
            scores = self._relevance(q, n)
            if weights.relevance != 1:
                scores *= np.float32(weights.relevance)
        else:
            scores = np.zeros(n, dtype=np.float32)
        if weights.recency:
            recency = self._recency(slice(0, n), now, weights)
            if weights.recency != 1:
                recency *= np.float32(weights.recency)
            scores += recency
        if weights.importance:
            if weights.importance == 1:
                scores += self._importance[:n]
            else:
                scores += np.float32(weights.importance) * self._importance[:n]
        top = _top_k(scores, k)
        recency = self._recency(top, now, weights)
        relevance = np.maximum(q @ self._vectors[:, top], np.float32(0))
        importance = self._importance[top]
        return [
            Scored(
                self._ids[i],
                float(scores[i]),
                float(recency[j]),
                float(importance[j]),
                float(relevance[j]),
            )
            for j, i in enumerate(top.tolist())
        ]

    def _query(self, query: npt.ArrayLike) -> F32:
        q = np.asarray(query, dtype=np.float32).reshape(-1)
        if q.shape != (self._dim,):
            raise InvalidRequest(f"query must have {self._dim} dimensions, not {q.shape[0]}")
        if not np.isfinite(q).all():
            raise InvalidRequest("query must be finite numbers")
        wide = q.astype(np.float64)
        norm = math.sqrt(float(wide @ wide))
        return (wide / norm).astype(np.float32) if norm > 0 else q

    def _recency(self, which: slice | I64, now: float, weights: RetrievalWeights) -> F32:
        # decay ** age as exp(age * ln decay): float32 exp is vectorised, power is not
        age = np.maximum(now - self._steps[which], 0.0).astype(np.float32)
        age *= np.float32(math.log(weights.decay))
        return np.exp(age, out=age)

    def _relevance(self, q: F32, n: int) -> F32:
        nonzero = np.flatnonzero(q)
        rel: F32
        if len(nonzero) < self.sparse_limit:
            rel = q[nonzero] @ self._vectors[nonzero, :n]
        else:
            rel = q @ self._vectors[:, :n]
        np.maximum(rel, np.float32(0), out=rel)
        return rel


_SAMPLE_FROM = 4096
_STRIDE = 16


def _top_k(scores: F32, k: int) -> I64:
    """Indices of the ``k`` highest scores, best first; among equal scores, lower index first.

    The k-th best score is bounded from below by the k-th best of a strided sample (at least
    k memories reach it), so only the few memories above that bound are partitioned exactly.
    """
    n = len(scores)
    pool: I64 = np.arange(n, dtype=np.int64)
    if n >= _SAMPLE_FROM and k * _STRIDE * 4 <= n:
        sample = scores[::_STRIDE]
        floor = np.partition(sample, len(sample) - k)[len(sample) - k]
        pool = np.flatnonzero(scores >= floor)
    values = scores[pool]
    if k < len(pool):
        kth = np.partition(values, len(values) - k)[len(values) - k]
        above = pool[values > kth]
        tied = pool[values == kth][: k - len(above)]  # pool is ascending: the oldest ties
        pool = np.concatenate((above, tied))
        values = scores[pool]
    order = np.lexsort((pool, -values))
    return pool[order]


def fill_budget(
    scored: Sequence[Scored],
    texts: Mapping[str, str] | Callable[[str], str],
    budget_chars: int,
    *,
    overhead: int = 0,
) -> list[Scored]:
    """The memories, in the given (score) order, whose texts fit in ``budget_chars``
    characters together; one that does not fit is skipped and later, shorter ones are still
    tried. ``overhead`` is added per memory taken (a bullet, a newline)."""
    text_of = texts.__getitem__ if isinstance(texts, Mapping) else texts
    left = budget_chars
    taken: list[Scored] = []
    for item in scored:
        cost = len(text_of(item.id)) + overhead
        if cost <= left:
            taken.append(item)
            left -= cost
    return taken
