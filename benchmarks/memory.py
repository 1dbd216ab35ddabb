"""Memory embedding and retrieval: embed throughput, index build, search latency, bytes/memory.

One agent's memory stream of 10,000 and 100,000 memories embedded with the default
``HashingEmbedder`` (256 dims) into a ``NumpyIndex``. Texts are seeded sentences over a
vocabulary of 3,000 made-up words drawn with Zipf frequencies and mixed with function words
(like real talk: a few words everywhere, most words rare), 40-200 characters; eight memories
per step, importance 1-10. Queries are longer "situation" texts (what the agent faces now),
k=20, default weights. Search is timed alone; "recall" adds embedding the query. The sparse and
dense relevance paths are also timed forced, which is how ``sparse_below`` was chosen. Prints
a table and one JSON line ``{"bench": "memory", ...}``.

OpenBLAS runs single-threaded here unless ``OPENBLAS_NUM_THREADS`` says otherwise: on a 2-vCPU
machine its second thread turns a 3 ms matrix-vector product into 8-16 ms whenever it has to
be woken (p99), so a latency-sensitive server should set ``OPENBLAS_NUM_THREADS=1`` too.

    .venv/bin/python benchmarks/memory.py           # 10k and 100k memories
    .venv/bin/python benchmarks/memory.py --quick   # 10k only, fewer queries
"""

from __future__ import annotations

import os

# before NumPy loads OpenBLAS, which reads it once (see the docstring)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import asyncio
import gc
import math
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from _common import emit, percentiles_ms, table
from aegntix.memory.embedding import HashingEmbedder, _word_features
from aegntix.memory.index import NumpyIndex, RetrievalWeights

TARGET_P99_MS = 5.0  # search at 100,000 memories
VOCABULARY = 3_000
PER_STEP = 8
K = 20
SYLLABLES = [a + b for a in ("", "b", "d", "f", "k", "l", "m", "n", "p", "r", "s", "st", "t", "v")
             for b in ("a", "e", "i", "o", "u", "ar", "en", "ol")]  # fmt: skip
FUNCTION = ["the", "a", "of", "to", "and", "in", "that", "is", "was", "for", "on", "with", "as",
            "at", "by", "it", "he", "she", "they", "we", "from", "not", "but"]  # fmt: skip
NAMES = ["Sam", "Dana", "Lee", "Ana", "Tom", "Mei", "Omar", "Ruth"]
OPENERS = ["{n} said", "{n} saw that", "I heard {n} say", "{n} thinks", "News:", "{n} asked if"]


class Corpus:
    """Seeded sentences over a Zipf-distributed vocabulary."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        words: set[str] = set()
        while len(words) < VOCABULARY:
            words.add("".join(self.rng.choices(SYLLABLES, k=self.rng.randint(1, 4))))
        self.words = sorted(words)
        self.rng.shuffle(self.words)
        self.cum = np.cumsum([1 / (r + 1) for r in range(VOCABULARY)]).tolist()

    def sentence(self, low: int, high: int) -> str:
        rng = self.rng
        target = rng.randint(low, high)
        parts = [rng.choice(OPENERS).format(n=rng.choice(NAMES))]
        size = len(parts[0])
        while size < target:
            word = (
                rng.choice(FUNCTION)
                if rng.random() < 0.35
                else rng.choices(self.words, cum_weights=self.cum)[0]
            )
            parts.append(word)
            size += len(word) + 1
        return " ".join(parts) + "."


def embed_throughput(texts: list[str]) -> dict[str, float]:
    embedder = HashingEmbedder()
    _word_features.cache_clear()
    t0 = time.perf_counter()
    embedder.embed(texts)
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    embedder.embed(texts)
    warm = time.perf_counter() - t0
    return {
        "texts": len(texts),
        "cold_texts_per_s": round(len(texts) / cold),
        "warm_texts_per_s": round(len(texts) / warm),
        "cold_s": round(cold, 3),
    }


def build(corpus: Corpus, n: int, **index_args: Any) -> tuple[NumpyIndex, float, float]:
    embedder = HashingEmbedder()
    texts = [corpus.sentence(40, 200) for _ in range(n)]
    t0 = time.perf_counter()
    vectors = embedder.embed(texts)
    embed_s = time.perf_counter() - t0
    index = NumpyIndex(embedder.dim, **index_args)
    ids = [f"m{i}" for i in range(n)]
    steps = [i // PER_STEP for i in range(n)]
    importance = [corpus.rng.randint(1, 10) for _ in range(n)]
    t0 = time.perf_counter()
    for start in range(0, n, PER_STEP):  # one add per step, as a run forms memories
        end = start + PER_STEP
        index.add(ids[start:end], vectors[start:end], steps[start:end], importance[start:end])
    add_s = time.perf_counter() - t0
    return index, embed_s, add_s


def latency(
    index: NumpyIndex, corpus: Corpus, queries: int, *, with_embed: bool
) -> dict[str, float]:
    embedder = HashingEmbedder()
    situations = [corpus.sentence(150, 300) for _ in range(queries)]
    vectors = embedder.embed(situations)
    now = len(index) / PER_STEP
    weights = RetrievalWeights()
    for q in vectors[:20]:  # warm-up, not timed
        index.search(q, now, weights, K)
    gc.collect()
    samples = []
    for text, vector in zip(situations, vectors, strict=True):
        t0 = time.perf_counter()
        query = embedder.embed([text])[0] if with_embed else vector
        index.search(query, now, weights, K)
        samples.append(time.perf_counter() - t0)
    return percentiles_ms(samples)


def bytes_per_1k(index: NumpyIndex) -> dict[str, int]:
    n = len(index)
    ids = sum(sys.getsizeof(f"m{i}") for i in range(n))  # the id strings the index holds
    tight = n * (index.dim * 4 + 8 + 4 + 8)  # vector, step, importance, list slot
    return {
        "allocated": round(index.nbytes * 1000 / n),
        "used": round(tight * 1000 / n),
        "with_id_strings": round((index.nbytes + ids) * 1000 / n),
    }


def engine_overhead(rounds: int) -> dict[str, float]:
    """The town hall (9 agents, 12 steps) run with memory off, on with the default embedder
    (WordLlama) and on with the hashing one, in a fresh database each time: what forming,
    recalling and reflecting cost per decision."""
    from aegntix.engine import Runner, start_scenario
    from aegntix.memory.embedding import default_embedder
    from aegntix.model.loading import load_scenario, validate_scenario
    from aegntix.timeline import open_sqlite_store

    plain = load_scenario(Path(__file__).resolve().parent.parent / "examples" / "town-hall.yaml")
    data = plain.model_dump(mode="json")
    data["memory"] = {"enabled": True}
    remembering = validate_scenario(data)
    data["memory"] = {"enabled": True, "embedder": "hash"}
    hashing = validate_scenario(data)
    default_embedder()  # loaded once per process: not part of a run
    decisions = len(plain.agents) * (plain.termination.max_steps or 0)
    runs = (("off", plain), ("on", remembering), ("on_hash", hashing))
    best: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(rounds):
            for name, scenario in runs:
                with open_sqlite_store(Path(tmp) / f"{name}-{i}.db") as store:
                    branch = start_scenario(store, scenario)
                    t0 = time.perf_counter()
                    asyncio.run(Runner(store, branch.id).run())
                    elapsed = time.perf_counter() - t0
                best[name] = min(best.get(name, math.inf), elapsed)
    return {
        "decisions": decisions,
        "embedder": default_embedder().name,
        "off_ms": round(best["off"] * 1000, 1),
        "on_ms": round(best["on"] * 1000, 1),
        "on_hash_ms": round(best["on_hash"] * 1000, 1),
        "extra_ms_per_decision": round((best["on"] - best["off"]) * 1000 / decisions, 3),
        "extra_ms_per_decision_hash": round((best["on_hash"] - best["off"]) * 1000 / decisions, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k memories only, 200 queries")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    sizes = [10_000] if args.quick else [10_000, 100_000]
    queries = 200 if args.quick else 1_000
    corpus = Corpus(args.seed)

    embed = embed_throughput([corpus.sentence(60, 140) for _ in range(10_000)])
    print(
        f"embed 10k texts (~100 chars): {embed['cold_texts_per_s']:,} texts/s cold cache, "
        f"{embed['warm_texts_per_s']:,} texts/s warm"
    )
    probe = HashingEmbedder().embed([corpus.sentence(150, 300) for _ in range(200)])
    nnz = float(np.count_nonzero(probe, axis=1).mean())
    print(f"situation queries set {nnz:.0f} of 256 dims on average\n")

    rows: list[list[Any]] = []
    results: dict[str, Any] = {}
    for n in sizes:
        index, embed_s, add_s = build(corpus, n)
        size = bytes_per_1k(index)
        search = latency(index, corpus, queries, with_embed=False)
        recall = latency(index, corpus, queries // 2, with_embed=True)
        forced = {}
        default = index.sparse_limit
        for path, limit in (("dense", 0), ("sparse", index.dim + 1)):
            index.sparse_limit = limit
            forced[path] = latency(index, corpus, queries // 2, with_embed=False)
        index.sparse_limit = default
        results[str(n)] = {
            "embed_s": round(embed_s, 3),
            "add_s": round(add_s, 3),
            "bytes_per_1k": size,
            "search": search,
            "recall": recall,
            "forced_dense": forced["dense"],
            "forced_sparse": forced["sparse"],
        }
        for name, lat in (
            ("search", search),
            ("embed+search", recall),
            ("search, dense path", forced["dense"]),
            ("search, sparse path", forced["sparse"]),
        ):
            rows.append([f"{n:,}", name, lat["p50_ms"], lat["p99_ms"], lat["max_ms"], lat["n"]])
        print(
            f"{n:,} memories: embed {embed_s:.2f} s, add {add_s:.2f} s "
            f"({n // PER_STEP:,} adds of {PER_STEP}); bytes per 1k memories: "
            f"{size['allocated']:,} allocated, {size['used']:,} used, "
            f"{size['with_id_strings']:,} with id strings"
        )
        del index
        gc.collect()
    print()
    table(["memories", "k=20", "p50 ms", "p99 ms", "max ms", "n"], rows)
    engine = engine_overhead(2 if args.quick else 5)
    print(
        f"\nengine, town hall ({engine['decisions']} decisions): memory off "
        f"{engine['off_ms']} ms, on {engine['on_ms']} ms ({engine['embedder']}) -> "
        f"{engine['extra_ms_per_decision']} ms more per decision; on with hashing "
        f"{engine['on_hash_ms']} ms -> {engine['extra_ms_per_decision_hash']} ms (best of runs)"
    )
    at_target = results.get("100000", {}).get("search")  # the target is for 100k memories
    emit(
        "memory",
        embedder=HashingEmbedder().name,
        k=K,
        blas_threads=os.environ["OPENBLAS_NUM_THREADS"],
        embed=embed,
        query_nnz=round(nnz, 1),
        sizes=results,
        engine=engine,
        target_p99_ms=TARGET_P99_MS,
        ok=None if at_target is None else at_target["p99_ms"] < TARGET_P99_MS,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
