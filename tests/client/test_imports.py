"""``import aegntix`` stays light (the surface loads on first use); a plain script runs the
surface with no event loop; without pandas, ``.to_pandas()`` is one clear error that says
what to install (a subprocess with pandas blocked). SQLite only: these are the scripts a
newcomer runs first, a file beside them (test_sandbox.py runs the surface on PostgreSQL)."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.support import EXAMPLES, ROOT


def python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        check=False,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "HOME": str(cwd)},
    )


def test_import_is_light_until_the_surface_is_used(tmp_path: Path) -> None:
    done = python(
        """
        import sys
        import aegntix
        heavy = ("numpy", "scipy", "pandas", "wordllama", "aegntix.client", "sqlalchemy")
        print(sorted(m for m in heavy if m in sys.modules))
        sandbox_type = aegntix.Sandbox
        print(sandbox_type.__module__, "aegntix.client" in sys.modules)
        print("Effect" in dir(aegntix))
        try:
            aegntix.Nothing
        except AttributeError as exc:
            print(exc)
        """,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "[]",
        "aegntix.client.sandbox True",
        "True",
        "module 'aegntix' has no attribute 'Nothing'",
    ]


def test_a_plain_script_and_no_pandas(tmp_path: Path) -> None:
    done = python(
        f"""
        import sys
        sys.modules["pandas"] = None  # as if pandas were not installed
        import aegntix
        from aegntix.errors import MissingExtra

        with aegntix.Sandbox("plain.db") as sandbox:
            main = sandbox.run({str(EXAMPLES / "town-hall.yaml")!r}, steps=2)
            flood = main.rollouts(1, 2, "The river flooded the car park.", stance=0.9)
            print(main.status, flood.status, len(flood.members()))
            for table in (main.events(), main.outcomes(), flood):
                try:
                    table.to_pandas()
                except MissingExtra as exc:
                    print(exc)
        """,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "idle done 2"
    hint = ".to_pandas() needs pandas, an optional extra: pip install 'aegntix[notebook]'"
    assert lines[1:] == [hint] * 3
    assert (tmp_path / "plain.db").exists()


def test_the_docs_example_runs_as_a_plain_script(tmp_path: Path) -> None:
    page = (ROOT / "docs" / "python.md").read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?)```", page, re.DOTALL)
    assert code is not None
    script = code.group(1).replace('"examples/', f'"{EXAMPLES}/')
    done = python(script, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "approved in " in done.stdout
    assert "of futures with the intervention vs" in done.stdout
    assert (tmp_path / "study.db").exists()
