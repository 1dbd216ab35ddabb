"""Retrieval: the score formula on hand-checked cases, a property against a naive
per-memory computation, tie-breaks, the sparse and dense paths, and fill_budget."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aegntix.errors import InvalidRequest
from aegntix.memory.embedding import HashingEmbedder
from aegntix.memory.index import (
    NumpyIndex,
    RetrievalWeights,
    Scored,
    VectorIndex,
    fill_budget,
)

R2 = math.sqrt(0.5)


def hand_index() -> NumpyIndex:
    """Four memories in 4 dims; a query along e0; now = 10, decay 0.5 below.

    id  step  importance  vector        recency      importance/10  relevance
    A   0     8           e0            0.5**10      0.8            1
    B   5     2           e1            0.5**5       0.2            0
    C   8     5           (e0+e1)/√2    0.5**2       0.5            √½
    D   10    1           e2            1            0.1            0
    """
    index = NumpyIndex(4)
    index.add(
        ["A", "B", "C", "D"],
        [[1, 0, 0, 0], [0, 1, 0, 0], [R2, R2, 0, 0], [0, 0, 1, 0]],
        [0, 5, 8, 10],
        [8, 2, 5, 1],
    )
    return index


QUERY = [1.0, 0.0, 0.0, 0.0]


def ranking(found: list[Scored]) -> list[str]:
    return [s.id for s in found]


def test_equal_weights_follow_the_formula_by_hand() -> None:
    found = hand_index().search(QUERY, 10, RetrievalWeights(decay=0.5), k=4)
    expected = {
        "A": 0.5**10 + 0.8 + 1,  # 1.8009765625
        "C": 0.25 + 0.5 + R2,  # 1.4571
        "D": 1 + 0.1 + 0,  # 1.1
        "B": 0.5**5 + 0.2 + 0,  # 0.23125
    }
    assert ranking(found) == ["A", "C", "D", "B"]
    for s in found:
        assert s.score == pytest.approx(expected[s.id], abs=1e-6)
    a, c = found[0], found[1]
    assert (a.recency, a.importance, a.relevance) == pytest.approx((0.5**10, 0.8, 1.0), abs=1e-6)
    assert (c.recency, c.importance, c.relevance) == pytest.approx((0.25, 0.5, R2), abs=1e-6)


def test_recency_wins_when_weighted_up() -> None:
    # recency 10x: D 10+0.1, C 2.5+0.5+0.71, B 0.3125+0.2, A 0.0098+0.8+1
    weights = RetrievalWeights(recency=10, decay=0.5)
    found = hand_index().search(QUERY, 10, weights, k=4)
    assert ranking(found) == ["D", "C", "A", "B"]
    assert found[0].score == pytest.approx(10.1, abs=1e-5)
    assert found[1].score == pytest.approx(2.5 + 0.5 + R2, abs=1e-5)


def test_importance_wins_alone() -> None:
    weights = RetrievalWeights(recency=0, importance=1, relevance=0, decay=0.5)
    found = hand_index().search(QUERY, 10, weights, k=4)
    assert ranking(found) == ["A", "C", "B", "D"]
    assert [s.score for s in found] == pytest.approx([0.8, 0.5, 0.2, 0.1], abs=1e-6)
    # the unweighted components are still reported, so one can see why
    assert found[3].recency == pytest.approx(1.0)
    assert found[1].relevance == pytest.approx(R2, abs=1e-6)


def test_relevance_wins_alone_and_ties_go_to_the_older_memory() -> None:
    weights = RetrievalWeights(recency=0, importance=0, relevance=1)
    found = hand_index().search(QUERY, 10, weights, k=4)
    # B and D both score exactly 0: B was added first
    assert ranking(found) == ["A", "C", "B", "D"]
    assert [s.score for s in found] == pytest.approx([1.0, R2, 0.0, 0.0], abs=1e-6)


def test_relevance_overtakes_recency_when_weighted_up() -> None:
    index = hand_index()
    # without relevance the newest memory leads: D 1+0.1, A 0.001+0.8, C 0.25+0.5, B 0.03+0.2
    plain = index.search(QUERY, 10, RetrievalWeights(relevance=0, decay=0.5), k=4)
    assert ranking(plain) == ["D", "A", "C", "B"]
    assert [s.score for s in plain] == pytest.approx([1.1, 0.5**10 + 0.8, 0.75, 0.23125])
    # relevance x3: A 3.80, C 2.87 pass D 1.1
    found = index.search(QUERY, 10, RetrievalWeights(relevance=3, decay=0.5), k=4)
    assert ranking(found) == ["A", "C", "D", "B"]
    assert found[1].score == pytest.approx(0.25 + 0.5 + 3 * R2, abs=1e-5)


def test_k_limits_and_empty_cases() -> None:
    index = hand_index()
    w = RetrievalWeights(decay=0.5)
    assert ranking(index.search(QUERY, 10, w, k=2)) == ["A", "C"]
    assert len(index.search(QUERY, 10, w, k=99)) == 4
    assert index.search(QUERY, 10, w, k=0) == []
    assert NumpyIndex(4).search(QUERY, 10, w, k=5) == []


def test_negative_cosine_is_clamped_to_zero() -> None:
    index = NumpyIndex(2)
    index.add(["against", "orthogonal"], [[-1, 0], [0, 1]], [0, 0], [5, 5])
    found = index.search([1, 0], 0, RetrievalWeights(recency=0, importance=0), k=2)
    assert [s.relevance for s in found] == [0.0, 0.0]
    assert ranking(found) == ["against", "orthogonal"]  # a tie: insertion order


def test_vectors_and_query_are_normalised_and_zero_is_irrelevant() -> None:
    index = NumpyIndex(3)
    index.add(["big", "zero"], [[3, 0, 0], [0, 0, 0]], [0, 0], [0, 0])
    w = RetrievalWeights(recency=0, importance=0)
    found = index.search([0.5, 0, 0], 0, w, k=2)
    assert [(s.id, s.relevance) for s in found] == [("big", pytest.approx(1.0)), ("zero", 0.0)]
    blank = index.search([0, 0, 0], 0, w, k=2)  # a blank situation: nothing is relevant
    assert [s.relevance for s in blank] == [0.0, 0.0]


def test_steps_are_floats_and_future_memories_count_as_new() -> None:
    index = NumpyIndex(2)
    index.add(["past", "later"], [[1, 0], [1, 0]], [1.5, 7.25], [0, 0])
    w = RetrievalWeights(importance=0, relevance=0, decay=0.9)
    found = index.search([1, 0], 3.5, w, k=2)
    assert ranking(found) == ["later", "past"]
    assert found[0].recency == 1.0  # from after `now`: not more than brand new
    assert found[1].recency == pytest.approx(0.9**2.0, rel=1e-6)


def test_growth_one_at_a_time_matches_one_bulk_add() -> None:
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((300, 16)).astype(np.float32)
    steps, imp = rng.uniform(0, 50, 300), rng.integers(0, 11, 300).astype(float)
    ids = [f"m{i}" for i in range(300)]
    bulk, grown = NumpyIndex(16), NumpyIndex(16, capacity=1)
    bulk.add(ids, vectors, steps, imp)
    for i in range(300):
        grown.add([ids[i]], vectors[i], [steps[i]], [imp[i]])
    assert len(bulk) == len(grown) == 300
    for q in rng.standard_normal((5, 16)):
        assert bulk.search(q, 50, RetrievalWeights(), 25) == grown.search(
            q, 50, RetrievalWeights(), 25
        )


def test_bad_input_is_refused() -> None:
    index = NumpyIndex(3)
    with pytest.raises(InvalidRequest, match="shape"):
        index.add(["a"], [[1, 0]], [0], [1])
    with pytest.raises(InvalidRequest, match="one per id"):
        index.add(["a", "b"], [[1, 0, 0], [0, 1, 0]], [0], [1, 1])
    with pytest.raises(InvalidRequest, match="between 0 and 10"):
        index.add(["a"], [[1, 0, 0]], [0], [11])
    with pytest.raises(InvalidRequest, match="finite"):
        index.add(["a"], [[math.nan, 0, 0]], [0], [1])
    with pytest.raises(InvalidRequest, match="finite"):
        index.add(["a"], [[1, 0, 0]], [math.inf], [1])
    assert len(index) == 0  # nothing half-added
    index.add(["a"], [[1, 0, 0]], [0], [1])
    with pytest.raises(InvalidRequest, match="dimensions"):
        index.search([1, 0], 0, RetrievalWeights(), 1)
    with pytest.raises(InvalidRequest, match="now"):
        index.search([1, 0, 0], math.nan, RetrievalWeights(), 1)
    for bad in ({"recency": -1.0}, {"relevance": math.inf}, {"decay": 0.0}, {"decay": 1.5}):
        with pytest.raises(InvalidRequest):
            RetrievalWeights(**bad)


def test_numpy_index_satisfies_the_protocol() -> None:
    assert isinstance(NumpyIndex(8), VectorIndex)


def test_many_ties_keep_the_oldest_through_the_sampled_path() -> None:
    """10,000 memories (the sampled top-k path) of which 3,000 tie for best."""
    n = 10_000
    importance = np.full(n, 3.0)
    best = np.arange(5, n, 3)[:3000]
    importance[best] = 9.0
    index = NumpyIndex(2)
    index.add([str(i) for i in range(n)], np.tile([1.0, 0.0], (n, 1)), np.zeros(n), importance)
    w = RetrievalWeights(recency=0, relevance=0)
    found = index.search([1, 0], 0, w, k=50)
    assert [int(s.id) for s in found] == best[:50].tolist()


# -- the formula against a naive computation ------------------------------------------------


def naive(
    vectors: list[list[float]],
    steps: list[float],
    importance: list[float],
    query: list[float],
    now: float,
    w: RetrievalWeights,
) -> list[tuple[float, float, float, float]]:
    """(score, recency, importance/10, relevance) per memory, one at a time in plain Python."""

    def cosine(a: list[float], b: list[float]) -> float:
        na, nb = math.sqrt(sum(x * x for x in a)), math.sqrt(sum(x * x for x in b))
        return (
            0.0 if na == 0 or nb == 0 else sum(x * y for x, y in zip(a, b, strict=True)) / (na * nb)
        )

    out = []
    for v, step, imp in zip(vectors, steps, importance, strict=True):
        recency = w.decay ** max(0.0, now - step)
        relevance = max(0.0, cosine(v, query))
        score = w.recency * recency + w.importance * imp / 10 + w.relevance * relevance
        out.append((score, recency, imp / 10, relevance))
    return out


coordinate = st.one_of(st.just(0.0), st.floats(-1, 1, allow_nan=False, width=32))
weight = st.one_of(st.just(0.0), st.floats(0, 3))


@st.composite
def cases(draw: st.DrawFn) -> dict:
    dim = draw(st.integers(1, 8))
    n = draw(st.integers(0, 40))
    vector = st.lists(coordinate, min_size=dim, max_size=dim)
    return {
        "dim": dim,
        "vectors": draw(st.lists(vector, min_size=n, max_size=n)),
        "steps": draw(st.lists(st.floats(0, 100), min_size=n, max_size=n)),
        "importance": draw(st.lists(st.floats(0, 10), min_size=n, max_size=n)),
        "query": draw(vector),
        "now": draw(st.floats(0, 120)),
        "weights": RetrievalWeights(
            draw(weight), draw(weight), draw(weight), draw(st.floats(0.01, 1))
        ),
        "k": draw(st.integers(1, n + 3)),
        "sparse": draw(st.booleans()),
    }


@given(cases())
def test_search_matches_the_formula_and_returns_the_true_top_k(case: dict) -> None:
    index = NumpyIndex(case["dim"], capacity=1)
    if case["sparse"]:
        index.sparse_limit = case["dim"] + 1
    n = len(case["vectors"])
    vectors = case["vectors"] or np.zeros((0, case["dim"]))
    index.add([f"m{i}" for i in range(n)], vectors, case["steps"], case["importance"])
    w = case["weights"]
    found = index.search(case["query"], case["now"], w, case["k"])
    # float32 vectors through a float64 oracle: agree to float32 precision
    want = naive(case["vectors"], case["steps"], case["importance"], case["query"], case["now"], w)
    tol = 2e-5 * (1 + w.recency + w.importance + w.relevance)
    assert len(found) == min(case["k"], n)
    for s in found:
        score, recency, imp, relevance = want[int(s.id[1:])]
        assert s.score == pytest.approx(score, abs=tol)
        assert s.recency == pytest.approx(recency, abs=2e-5)
        assert s.importance == pytest.approx(imp, abs=1e-6)
        assert s.relevance == pytest.approx(relevance, abs=2e-5)
    # best first; equal scores in insertion order
    for a, b in itertools.pairwise(found):
        assert a.score > b.score or (a.score == b.score and int(a.id[1:]) < int(b.id[1:]))
    # the true top k: nothing left out scores (beyond rounding) above anything returned
    chosen = {int(s.id[1:]) for s in found}
    if found:
        floor = min(want[i][0] for i in chosen)
        assert all(want[i][0] <= floor + 2 * tol for i in range(n) if i not in chosen)


@given(st.integers(0, 2**32 - 1), st.integers(1, 60))
def test_large_indexes_return_the_exact_top_k(seed: int, k: int) -> None:
    """Past 4,096 memories the top-k is found from a sample's bound: still exact."""
    rng = np.random.default_rng(seed)
    n, dim = int(rng.integers(4096, 9000)), 24
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    vectors[rng.random((n, dim)) < 0.7] = 0  # sparse, like hashed text
    steps = rng.integers(0, 500, n).astype(float)
    importance = rng.integers(1, 11, n).astype(float)
    index = NumpyIndex(dim)
    index.add([str(i) for i in range(n)], vectors, steps, importance)
    w = RetrievalWeights(*rng.uniform(0, 2, 3), decay=float(rng.uniform(0.5, 1)))
    query = vectors[rng.integers(n)] + rng.standard_normal(dim).astype(np.float32) * 0.3
    found = index.search(query, 500, w, k)
    # oracle: the same formula in float64 over all memories at once
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-30)
    rel = np.maximum(unit @ (query / np.linalg.norm(query)), 0)
    scores = (
        w.recency * w.decay ** (500 - steps) + w.importance * importance / 10 + w.relevance * rel
    )
    got = np.array([int(s.id) for s in found])
    np.testing.assert_allclose([s.score for s in found], scores[got], atol=1e-5)
    left_out = np.ones(n, dtype=bool)
    left_out[got] = False
    assert scores[left_out].max() <= scores[got].min() + 1e-5  # nothing better left out


# -- sparse and dense relevance paths -------------------------------------------------------


def test_sparse_and_dense_paths_agree_on_hashed_text() -> None:
    rng = np.random.default_rng(11)
    words = [f"w{i}" for i in range(400)]
    texts = [" ".join(rng.choice(words, size=rng.integers(3, 15))) for _ in range(3000)]
    embedder = HashingEmbedder()
    vectors = embedder.embed(texts)
    steps = np.arange(3000) // 8
    importance = rng.integers(1, 11, 3000)
    queries = embedder.embed([" ".join(rng.choice(words, size=s)) for s in (1, 2, 4, 8, 20, 60)])
    nnz = np.count_nonzero(queries, axis=1)
    assert nnz.min() < 256 * 0.25 < nnz.max()  # both paths are taken by default
    results = {}
    for path, limit in (("dense", 0), ("sparse", 257), ("auto", None)):
        index = NumpyIndex(256)
        if limit is not None:
            index.sparse_limit = limit
        index.add([f"m{i}" for i in range(3000)], vectors, steps, importance)
        results[path] = [index.search(q, 375, RetrievalWeights(), 30) for q in queries]
    for dense, sparse, auto in zip(
        results["dense"], results["sparse"], results["auto"], strict=True
    ):
        for a, b, c in zip(dense, sparse, auto, strict=True):
            assert a.id == b.id == c.id
            assert a.score == pytest.approx(b.score, abs=1e-6)
            assert a.score == pytest.approx(c.score, abs=1e-6)


def test_embedded_memories_are_recalled_by_topic() -> None:
    embedder = HashingEmbedder()
    memories = [
        "Engineers say the flood barrier will cost twelve million",
        "The buyer wants the car below 14000",
        "Dana thinks the river flooding will get worse every year",
        "The ransomware group leaked a sample of customer data",
        "Lunch was late again today",
    ]
    index = NumpyIndex(embedder.dim)
    index.add([str(i) for i in range(5)], embedder.embed(memories), [1, 2, 3, 4, 5], [5] * 5)
    query = embedder.embed(["Should we pay for a flood barrier on the river?"])[0]
    found = index.search(query, 5, RetrievalWeights(recency=0, importance=0), k=2)
    assert {s.id for s in found} == {"0", "2"}


def test_same_index_same_answer() -> None:
    def build() -> NumpyIndex:
        rng = np.random.default_rng(5)
        index = NumpyIndex(32)
        vectors, steps = rng.standard_normal((500, 32)), rng.uniform(0, 9, 500)
        index.add([f"m{i}" for i in range(500)], vectors, steps, rng.integers(0, 11, 500))
        return index

    q = np.random.default_rng(6).standard_normal(32)
    assert build().search(q, 9, RetrievalWeights(), 40) == build().search(
        q, 9, RetrievalWeights(), 40
    )


# -- fill_budget ----------------------------------------------------------------------------


def scored(*ids: str) -> list[Scored]:
    return [Scored(i, 1.0 - n / 10, 1.0, 0.5, 0.5) for n, i in enumerate(ids)]


TEXT = {"a": "x" * 40, "b": "y" * 70, "c": "z" * 25, "d": "w" * 10, "e": ""}


def test_fill_budget_takes_in_order_and_skips_what_does_not_fit() -> None:
    taken = fill_budget(scored("a", "b", "c", "d"), TEXT, 80)
    # a (40) fits; b (70) would overflow; c (25) fits (65); d (10) fits (75)
    assert [s.id for s in taken] == ["a", "c", "d"]


def test_fill_budget_exact_fit_callable_and_overhead() -> None:
    assert [s.id for s in fill_budget(scored("a", "c"), TEXT, 65)] == ["a", "c"]
    assert [s.id for s in fill_budget(scored("a", "c"), TEXT.__getitem__, 64)] == ["a"]
    # each taken memory also costs 2 characters ("- "), 42 + 27 > 68
    assert [s.id for s in fill_budget(scored("a", "c", "d"), TEXT, 68, overhead=2)] == ["a", "d"]
    assert fill_budget(scored("a", "b"), TEXT, 0) == []
    assert [s.id for s in fill_budget(scored("e", "a"), TEXT, 0)] == ["e"]


@given(
    st.lists(st.integers(0, 60), max_size=30),
    st.integers(0, 300),
    st.integers(0, 5),
)
def test_fill_budget_respects_the_budget_and_is_greedy(
    sizes: list[int], budget: int, overhead: int
) -> None:
    items = scored(*[f"m{i}" for i in range(len(sizes))])
    text = {s.id: "t" * size for s, size in zip(items, sizes, strict=True)}
    taken = fill_budget(items, text, budget, overhead=overhead)
    assert sum(len(text[s.id]) + overhead for s in taken) <= budget
    chosen = {s.id for s in taken}
    assert [s for s in items if s.id in chosen] == taken  # a subsequence, same order
    used = 0
    for s in items:  # each one left out did not fit at its turn
        cost = len(text[s.id]) + overhead
        if s.id in chosen:
            used += cost
        else:
            assert used + cost > budget
