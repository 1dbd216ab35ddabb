"""Memory retrieval quality of each embedder on paraphrases, and what each costs.

``benchmarks/data/paraphrases.yaml`` holds queries (situations an agent faces), each with the
one memory that answers it in other words, among distractor memories from the same kinds of
scenarios. Every memory is embedded; each query ranks all of them by cosine (the relevance
part of the retrieval score). Reported per embedder: recall@1, recall@5 (the relevant memory
in the top 5), MRR; the cost of embedding one text alone (p50/p99, as a decision embeds its
situation) and texts/s in a batch; and the load time of the default embedder in a fresh
process (imports included). MiniLM is measured only if its extra is installed. Prints a table
and one JSON line ``{"bench": "retrieval_quality", ...}``.

    .venv/bin/python benchmarks/retrieval_quality.py
    .venv/bin/python benchmarks/retrieval_quality.py --quick   # fewer latency samples
"""

from __future__ import annotations

import os

# before NumPy loads OpenBLAS (see benchmarks/memory.py): one thread, as the CLI runs; torch
# (MiniLM) too: its OpenMP threads spin-wait, which on 2 busy cores costs far more than it saves
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import gc
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from _common import emit, percentiles_ms, table
from aegntix.errors import InvalidRequest
from aegntix.memory.embedding import Embedder, HashingEmbedder, MiniLMEmbedder, tokens
from aegntix.memory.semantic import WordLlamaEmbedder

DATA = Path(__file__).resolve().parent / "data" / "paraphrases.yaml"
LOAD_CODE = (
    "import time; t = time.perf_counter(); "
    "from aegntix.memory.embedding import default_embedder; e = default_embedder(); "
    "print(time.perf_counter() - t, e.name)"
)


def load_set() -> tuple[list[str], list[str]]:
    """The queries, and the memories (query ``i``'s relevant memory is memory ``i``)."""
    data = yaml.safe_load(DATA.read_text())
    queries = [p["query"] for p in data["pairs"]]
    memories = [p["memory"] for p in data["pairs"]] + list(data["distractors"])
    return queries, memories


def word_overlap(queries: list[str], memories: list[str]) -> float:
    """Mean Jaccard of the content words (hashing's tokens) of each query and its memory."""
    scores = []
    for q, m in zip(queries, memories, strict=False):
        a, b = set(tokens(q)), set(tokens(m))
        scores.append(len(a & b) / len(a | b) if a | b else 0.0)
    return statistics.fmean(scores)


def quality(embedder: Embedder, queries: list[str], memories: list[str]) -> dict[str, float]:
    q = embedder.embed(queries)
    m = embedder.embed(memories)
    scores = q @ m.T
    ranks = []
    for i, row in enumerate(scores):
        # rank of the relevant memory: 1 + how many score strictly higher (ties favour nobody)
        ranks.append(1 + int(np.count_nonzero(row > row[i])))
    n = len(ranks)
    return {
        "recall_at_1": round(sum(r == 1 for r in ranks) / n, 3),
        "recall_at_5": round(sum(r <= 5 for r in ranks) / n, 3),
        "mrr": round(statistics.fmean(1 / r for r in ranks), 3),
        "median_rank": statistics.median(ranks),
    }


def latency(embedder: Embedder, texts: list[str], rounds: int) -> dict[str, Any]:
    embedder.embed(texts[:20])  # warm-up, not timed
    gc.collect()
    samples = []
    for _ in range(rounds):
        for text in texts:
            t0 = time.perf_counter()
            embedder.embed([text])
            samples.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    for _ in range(rounds):
        embedder.embed(texts)
    batch = (time.perf_counter() - t0) / rounds
    return {"one_text": percentiles_ms(samples), "batch_texts_per_s": round(len(texts) / batch)}


def load_seconds(runs: int) -> dict[str, Any]:
    """``default_embedder()``'s first call in a fresh interpreter, imports included."""
    times: list[float] = []
    name = ""
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", LOAD_CODE], capture_output=True, text=True, check=True
        )
        seconds, name = out.stdout.split()
        times.append(float(seconds))
    return {
        "name": name,
        "min_s": round(min(times), 3),
        "median_s": round(statistics.median(times), 3),
    }


def candidates() -> list[tuple[str, Callable[[], Embedder]]]:
    return [
        ("hash-256", HashingEmbedder),
        ("wordllama-64", lambda: WordLlamaEmbedder(64)),
        ("wordllama-128", lambda: WordLlamaEmbedder(128)),
        ("wordllama-256", WordLlamaEmbedder),
        ("minilm-384", MiniLMEmbedder),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer latency rounds")
    parser.add_argument("--only", nargs="*", default=None, help="embedder labels to measure")
    args = parser.parse_args(argv)
    queries, memories = load_set()
    overlap = word_overlap(queries, memories)
    print(
        f"{len(queries)} queries, {len(memories)} memories ({len(memories) - len(queries)} "
        f"distractors); query/answer content-word overlap (Jaccard) {overlap:.3f} on average\n"
    )
    rows: list[list[Any]] = []
    results: dict[str, Any] = {}
    for label, make in candidates():
        if args.only is not None and label not in args.only:
            continue
        t0 = time.perf_counter()
        try:
            embedder = make()
        except InvalidRequest as exc:
            print(f"{label}: not measured ({exc})")
            continue
        built_s = time.perf_counter() - t0
        q = quality(embedder, queries, memories)
        rounds = 1 if label.startswith("minilm") else (2 if args.quick else 10)
        lat = latency(embedder, queries + memories, rounds)
        tax, taxes, flood = embedder.embed(["tax rise", "new taxes", "the river flooded"])
        results[label] = {
            "name": embedder.name,
            **q,
            "one_text": lat["one_text"],
            "batch_texts_per_s": lat["batch_texts_per_s"],
            "construct_s": round(built_s, 3),
            "tax_rise_vs_new_taxes": round(float(tax @ taxes), 3),
            "tax_rise_vs_river_flooded": round(float(tax @ flood), 3),
        }
        one = lat["one_text"]
        rows.append(
            [
                label,
                q["recall_at_1"],
                q["recall_at_5"],
                q["mrr"],
                one["p50_ms"],
                one["p99_ms"],
                lat["batch_texts_per_s"],
                round(built_s, 2),
            ]
        )
        del embedder
        gc.collect()
    table(
        ["embedder", "R@1", "R@5", "MRR", "1 text p50 ms", "p99 ms", "batch texts/s", "load s"],
        rows,
    )
    load = None
    if args.only is None:
        load = load_seconds(2 if args.quick else 5)
        print(
            f"\ndefault_embedder() first call in a fresh process ({load['name']}): "
            f"min {load['min_s']} s, median {load['median_s']} s (imports included)"
        )
    for label, r in results.items():
        print(
            f"{label}: cos('tax rise', 'new taxes') = {r['tax_rise_vs_new_taxes']}, "
            f"cos('tax rise', 'the river flooded') = {r['tax_rise_vs_river_flooded']}"
        )
    emit(
        "retrieval_quality",
        queries=len(queries),
        memories=len(memories),
        word_overlap=round(overlap, 3),
        embedders=results,
        default_load=load,
        blas_threads=os.environ["OPENBLAS_NUM_THREADS"],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
