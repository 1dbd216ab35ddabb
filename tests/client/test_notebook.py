"""examples/rollout-study.ipynb runs end to end (so it cannot rot): executed with nbclient on
a kernel of this interpreter, registered in a temporary Jupyter path (no user or system
kernel is used, nothing touches the network), then checked cell by cell. SQLite only: the
notebook as shipped opens a temporary sandbox, a file (test_rollouts.py makes the same calls
on both backends)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from tests.support import EXAMPLES

NOTEBOOK = EXAMPLES / "rollout-study.ipynb"
KERNEL = "aegntix-test"


@pytest.fixture
def kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A kernel spec for ``sys.executable`` (the project's venv) in a private Jupyter path."""
    prefix = tmp_path / "jupyter"
    monkeypatch.setenv("JUPYTER_PATH", str(prefix / "share" / "jupyter"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))  # nothing written to HOME
    subprocess.run(
        [sys.executable, "-m", "ipykernel", "install", "--prefix", str(prefix), "--name", KERNEL],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return KERNEL


def by_tag(notebook: Any, tag: str) -> Any:
    (cell,) = [c for c in notebook.cells if tag in c.metadata.get("tags", [])]
    return cell


def text_of(cell: Any) -> str:
    """Everything a cell printed or displayed as text."""
    parts = []
    for output in cell.outputs:
        if output.output_type == "stream":
            parts.append(output.text)
        elif "data" in output:
            parts.append(output.data.get("text/plain", ""))
    return "".join(parts)


def test_the_rollout_study_notebook_runs(kernel: str) -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not c.get("outputs") for c in notebook.cells if c.cell_type == "code"), (
        "commit the notebook without outputs"
    )
    NotebookClient(
        notebook,
        kernel_name=kernel,
        timeout=180,
        resources={"metadata": {"path": str(EXAMPLES)}},
    ).execute()
    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors == []

    assert "'approved': False" in text_of(by_tag(notebook, "run"))
    sets = text_of(by_tag(notebook, "rollouts"))
    assert re.search(r"<RolloutSet \w{16} n=30 done .*inject 'The river flooded", sets)
    assert "no injection" in sets

    effect = text_of(by_tag(notebook, "effect")).splitlines()
    assert effect[0].startswith("approved in ")
    assert "of futures with the intervention vs" in effect[0]
    assert effect[1].startswith("mean mean_stance ")
    assert not any("no detectable effect" in line for line in effect)
    shown = by_tag(notebook, "effect-html").outputs[0].data
    assert "<table>" in shown["text/html"] and "paired (same seeds)" in shown["text/html"]

    members = text_of(by_tag(notebook, "members"))
    assert members.startswith("(30, ") and "approved_control" in members
    agents = text_of(by_tag(notebook, "agents"))
    assert re.search(r"futures part at step \d+", agents) and "mayor" in agents
    assert "diverge at step 3" in text_of(by_tag(notebook, "pair"))
