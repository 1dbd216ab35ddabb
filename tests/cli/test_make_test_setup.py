"""`make test` on a fresh machine: scripts/ensure-chromium provides the browser tests' Chromium
(installs it as root, otherwise says the one command to run and fails) — never a skip."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import ROOT, assert_make_test_runs_first

SCRIPT = ROOT / "scripts" / "ensure-chromium"


@pytest.fixture
def world() -> Iterator[Path]:
    """A folder anyone may read (the non-root case runs as nobody) with a copy of the script."""
    folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"ensure-chromium-{os.getpid()}"
    folder.mkdir()
    folder.chmod(0o777)
    shutil.copy(SCRIPT, folder / "ensure-chromium")
    (folder / "ensure-chromium").chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder)


def run(
    folder: Path, chromium: Path, *, prefix: list[str] | None = None, path: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": path or os.environ["PATH"],
        "AEGNTIX_CHROMIUM": str(chromium),
        "HOME": str(folder),
    }
    return subprocess.run(
        [*(prefix or []), str(folder / "ensure-chromium")],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_make_test_runs_it_before_the_tests() -> None:
    assert_make_test_runs_first("ensure-chromium")


def test_chromium_present_is_nothing_to_do(world: Path) -> None:
    chromium = world / "chromium"
    chromium.write_text("#!/bin/sh\n")
    chromium.chmod(0o755)
    done = run(world, chromium)
    assert done.returncode == 0 and done.stdout == done.stderr == ""


def test_missing_and_not_root_says_the_one_command(world: Path) -> None:
    prefix = []
    if os.geteuid() == 0:  # be someone else
        prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
    done = run(world, world / "chromium", prefix=prefix)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "sudo apt-get install -y chromium" in lines[0], done.stderr
    assert str(world / "chromium") in lines[0]


def test_missing_and_root_installs_it(world: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("the install path runs only as root; this test process is not root")
    # apt-get itself is the system's: a stand-in records the calls and "installs" the file
    chromium = world / "chromium"
    bin_dir = world / "bin"
    bin_dir.mkdir()
    apt = bin_dir / "apt-get"
    apt.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> {world}/apt.log\n'
        f'case "$*" in *install*) printf "#!/bin/sh\\n" > {chromium}; chmod +x {chromium};; esac\n'
    )
    apt.chmod(apt.stat().st_mode | stat.S_IXUSR)
    done = run(world, chromium, path=f"{bin_dir}:{os.environ['PATH']}")
    assert done.returncode == 0, done.stderr
    calls = (world / "apt.log").read_text().splitlines()
    assert calls[0].startswith("update")
    assert calls[1].split() == ["install", "-y", "-qq", "--no-install-recommends", "chromium"]
    assert os.access(chromium, os.X_OK)
