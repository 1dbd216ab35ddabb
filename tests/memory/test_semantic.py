"""The WordLlama embedder: the embedder contract, semantic matching, loading offline from the
installed wheel, being the default, and the hashing fallback when it cannot load."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml

from aegntix.engine import start_scenario
from aegntix.errors import InvalidRequest
from aegntix.memory.embedding import (
    CachedEmbedder,
    Embedder,
    HashingEmbedder,
    WordLlamaEmbedder,
    default_embedder,
    embedder_for,
    shared_embedder,
)
from aegntix.memory.records import memory_events
from aegntix.memory.semantic import wordllama_dir
from aegntix.timeline import SqlStore, open_sqlite_store
from tests.engine.helpers import own_events, run, signature
from tests.memory.support import with_memory

TEXTS = [
    "The river flooded the lower town after the storm.",
    "Seller offers the car for 15,000 dollars; the buyer hesitates.",
    "Überschwemmung am Fluss: die Stadt ist überflutet",
    "洪水が町を襲った",
    "x",
]

# (a text, the same thing in other words, something else): no content word in common
PARAPHRASES = [
    (
        "Will residents accept a tax rise to pay for the barrier?",
        "Most homeowners would rather not see their council levies go up.",
        "The mechanic says the motor burns oil.",
    ),
    (
        "Is the buyer about to walk away from the deal?",
        "Dana has another dealer lined up and will leave if we don't move soon.",
        "Inspectors closed the rusted bridge to heavy trucks.",
    ),
    (
        "Has the attacker been locked out of the network?",
        "We revoked every compromised credential and cut off the intruder's remote access.",
        "The jury asked for a break after lunch.",
    ),
]


@pytest.fixture(scope="module")
def wordllama() -> WordLlamaEmbedder:
    embedder = embedder_for("wordllama")
    assert isinstance(embedder, WordLlamaEmbedder)
    return embedder


def digest(matrix: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(matrix).tobytes()).hexdigest()


def python(code: str, *, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
        timeout=300,
    )


def recalls(store: SqlStore, branch_id: str) -> list[dict]:
    return [r for e in memory_events(store.events(branch_id)) for r in e.payload["recalled"]]


# -- the Embedder contract ------------------------------------------------------------------


def test_unit_float32_rows_of_256_dims(wordllama: WordLlamaEmbedder) -> None:
    m = wordllama.embed(TEXTS)
    assert (m.shape, m.dtype, wordllama.dim) == ((len(TEXTS), 256), np.float32, 256)
    np.testing.assert_allclose(np.linalg.norm(m, axis=1), 1.0, atol=1e-6)
    assert isinstance(wordllama, Embedder)


@pytest.mark.parametrize("blank", ["", "   \n\t"])
def test_blank_text_is_a_zero_row(wordllama: WordLlamaEmbedder, blank: str) -> None:
    m = wordllama.embed([blank, "flood"])
    assert not m[0].any()
    assert np.linalg.norm(m[1]) == pytest.approx(1.0, abs=1e-6)


def test_no_texts_and_a_single_string(wordllama: WordLlamaEmbedder) -> None:
    assert wordllama.embed([]).shape == (0, 256)
    with pytest.raises(InvalidRequest, match="sequence"):
        wordllama.embed("flood")  # type: ignore[arg-type]


def test_same_bits_in_any_batch(wordllama: WordLlamaEmbedder) -> None:
    alone = wordllama.embed([TEXTS[0]])[0]
    batch = wordllama.embed(["", *TEXTS[1:], TEXTS[0], "a much longer text " * 30, TEXTS[0]])
    assert alone.tobytes() == batch[len(TEXTS)].tobytes() == batch[-1].tobytes()


def test_same_vectors_in_another_process(wordllama: WordLlamaEmbedder) -> None:
    out = python(
        f"""
        import hashlib, numpy as np
        from aegntix.memory.semantic import WordLlamaEmbedder
        m = WordLlamaEmbedder().embed({TEXTS!r})
        print(hashlib.sha256(np.ascontiguousarray(m).tobytes()).hexdigest())
        """,
        env={"PYTHONHASHSEED": "4242"},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == digest(wordllama.embed(TEXTS))


def test_the_vectors_are_wordllamas_own(wordllama: WordLlamaEmbedder) -> None:
    """The library's WordLlamaInference, given the same shipped files, embeds the same (in a
    subprocess: importing wordllama configures the root logger)."""
    out = python(
        f"""
        import json
        from pathlib import Path
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer
        from wordllama import WordLlamaInference
        from aegntix.memory.semantic import wordllama_dir
        root = wordllama_dir()
        table = load_file(str(root / "weights" / "l2_supercat_256.safetensors"))
        vocabulary = root / "tokenizers" / "l2_supercat_tokenizer_config.json"
        tokenizer = Tokenizer.from_file(str(vocabulary))
        model = WordLlamaInference(table["embedding.weight"], tokenizer)
        print(json.dumps(model.embed({TEXTS!r}, norm=True).tolist()))
        """
    )
    assert out.returncode == 0, out.stderr
    theirs = np.asarray(json.loads(out.stdout.splitlines()[-1]), dtype=np.float32)
    np.testing.assert_allclose(wordllama.embed(TEXTS), theirs, atol=1e-5)


def test_names_dims_and_lookup(wordllama: WordLlamaEmbedder) -> None:
    assert wordllama.name.startswith("wordllama-l2_supercat-256-v1-")
    small = embedder_for("wordllama-128")
    assert (small.dim, small.name) == (128, wordllama.name.replace("-256-", "-128-"))
    assert embedder_for(wordllama.name) is wordllama  # an embedder's name round-trips
    assert embedder_for("WordLlama") is wordllama  # loaded once, shared
    # a Matryoshka prefix: the 128-dim vector is the normalised first half of the 256-dim one
    full, half = wordllama.embed(["flood barrier"])[0], small.embed(["flood barrier"])[0]
    np.testing.assert_allclose(half, full[:128] / np.linalg.norm(full[:128]), atol=1e-6)
    for bad in ("wordllama-100", "wordllama-l2_supercat-256-v1-00000000"):
        with pytest.raises(InvalidRequest, match="wordllama"):
            embedder_for(bad)


def test_missing_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match=r"lacks .*l2_supercat_256\.safetensors"):
        WordLlamaEmbedder(package_dir=tmp_path)
    with pytest.raises(InvalidRequest, match="dim must be one of"):
        WordLlamaEmbedder(100)


# -- semantic -------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "same", "other"), PARAPHRASES)
def test_a_paraphrase_scores_above_an_unrelated_text(
    wordllama: WordLlamaEmbedder, text: str, same: str, other: str
) -> None:
    v, s, o = wordllama.embed([text, same, other])
    assert float(v @ s) > float(v @ o) + 0.15


def test_tax_rise_matches_new_taxes_where_hashing_cannot(wordllama: WordLlamaEmbedder) -> None:
    pair = ["tax rise", "new taxes"]
    a, b = wordllama.embed(pair)
    h1, h2 = HashingEmbedder().embed(pair)
    assert float(a @ b) > 0.5 > float(h1 @ h2) + 0.3


# -- loaded offline, from the installed wheel -----------------------------------------------

GUARD = """
import sys
def _no_network(event, args):
    if event.startswith(("socket.", "urllib.Request", "http.client")):
        raise RuntimeError(f"network attempt: {event} {args!r}")
sys.addaudithook(_no_network)
"""


def offline_env(home: Path) -> dict[str, str]:
    closed = "http://127.0.0.1:9"  # the discard port: nothing listens
    return {
        "HOME": str(home),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "HF_HOME": str(home / "hf"),
        "HF_HUB_OFFLINE": "1",
        "HTTP_PROXY": closed,
        "HTTPS_PROXY": closed,
        "ALL_PROXY": closed,
        "NO_PROXY": "",
    }


def test_default_embedder_loads_without_any_network_access(tmp_path: Path) -> None:
    """Any socket use fails the subprocess (an audit hook), proxies point at a closed port
    and the home and caches are empty; nothing may be downloaded or created there."""
    home = tmp_path / "home"
    home.mkdir()
    out = python(
        GUARD
        + """
from aegntix.memory.embedding import default_embedder
e = default_embedder()
v = e.embed(["tax rise", "new taxes"])
print(e.name, float(v[0] @ v[1]))
""",
        env=offline_env(home),
    )
    assert out.returncode == 0, out.stderr
    name, score = out.stdout.split()
    assert name.startswith("wordllama-") and float(score) > 0.5
    assert "fall" not in out.stderr  # no fallback happened
    assert list(home.iterdir()) == []


def test_the_offline_guard_catches_what_upstream_load_does(tmp_path: Path) -> None:
    """The control: in the same sandbox wordllama's own ``WordLlama.load()`` misses the
    shipped tokenizer and tries to download it, and the guard stops it."""
    home = tmp_path / "home"
    home.mkdir()
    out = python(GUARD + "import wordllama\nwordllama.WordLlama.load()\n", env=offline_env(home))
    assert out.returncode != 0
    assert "network attempt" in out.stderr


# -- the default, and the fallback ----------------------------------------------------------


def test_default_embedder_is_one_cached_shared_wordllama() -> None:
    first = default_embedder()
    assert isinstance(first, CachedEmbedder) and isinstance(first.inner, WordLlamaEmbedder)
    assert default_embedder() is first is shared_embedder("wordllama")
    assert first.name == embedder_for("wordllama").name


def test_a_new_scenario_records_wordllama_and_an_old_hash_one_keeps_hashing(
    store: SqlStore,
) -> None:
    new = start_scenario(store, with_memory("town-hall"))
    assert store.get_scenario(new.scenario_id).spec["memory"]["embedder"] == "wordllama"
    old = start_scenario(store, with_memory("town-hall", embedder="hash"))
    assert store.get_scenario(old.scenario_id).spec["memory"]["embedder"] == "hash"
    relevance = {}
    for branch in (new, old):
        run(store, branch.id, 3)
        child = store.fork(branch.id, 1)
        run(store, child.id, 2)
        assert signature(own_events(store, child.id, child.fork_seq)) == signature(
            list(store.events(branch.id, from_seq=child.fork_seq + 1))
        )
        relevance[branch.id] = [
            r["relevance"]
            for e in memory_events(store.events(branch.id))
            for r in e.payload["recalled"]
        ]
    # same run, different embedders: the recorded relevances differ
    assert relevance[new.id] and relevance[new.id] != relevance[old.id]


@pytest.mark.parametrize("blocked", ["tokenizers", "wordllama"])
def test_without_wordllama_a_run_falls_back_to_hashing_and_records_it(
    tmp_path: Path, blocked: str
) -> None:
    """The CLI in a process where an import is blocked: the run completes, the log says so
    once (on stderr, not in the JSON on stdout), and the scenario records ``hash``."""
    scenario = with_memory("town-hall", reflect_threshold=25)
    assert scenario.memory.embedder == "wordllama"
    spec = tmp_path / "town.yaml"
    spec.write_text(yaml.safe_dump(scenario.model_dump(mode="json")))
    db = tmp_path / "t.db"
    out = python(
        f"""
        import sys
        sys.modules[{blocked!r}] = None  # import (and find_spec) of it now fail
        from aegntix.cli import main
        sys.argv = ["aegntix", "run", {str(spec)!r}, "--db", {str(db)!r}, "--steps", "4", "--json"]
        main()
        """
    )
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("falls back to the lexical hashing embedder") == 1
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert lines[-1]["type"] == "summary" and lines[-1]["completed_step"] == 4
    with open_sqlite_store(db) as store:
        (record,) = store.list_scenarios()
        assert store.get_scenario(record.id).spec["memory"]["embedder"] == "hash"
        (branch,) = store.list_branches(record.id)
        recalled = [
            r for e in memory_events(store.events(branch.id)) for r in e.payload["recalled"]
        ]
        assert recalled


def test_the_package_is_found_without_being_imported() -> None:
    out = python(
        """
        import sys
        from aegntix.memory.embedding import default_embedder
        default_embedder()
        print("wordllama" in sys.modules)
        """
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False"]  # its __init__ would configure the root logger
    assert wordllama_dir().name == "wordllama"
