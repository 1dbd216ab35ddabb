"""``aegntix report``: a rollout set as one self-contained HTML file (inline SVG and CSS, no
script, no URL) that can be attached to an email. ``svg`` has the drawing primitives,
``charts`` the charts, ``data`` gathers what a report shows, ``page`` writes the document."""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path

from aegntix.analysis.report.data import ReportInput, gather
from aegntix.analysis.report.page import render
from aegntix.errors import InvalidRequest
from aegntix.timeline.store import Store

__all__ = ["ReportInput", "build_report", "gather", "render", "write_report"]


def build_report(
    store: Store, set_id: str, *, vs: str | None = None, now: datetime | None = None
) -> str:
    """The HTML report of set ``set_id`` against ``vs`` (default: its own control)."""
    return render(gather(store, set_id, vs=vs, now=now))


def write_report(html: str, out: Path) -> int:
    """Write ``html`` to ``out`` whole or not at all (a temporary file in the same folder,
    then renamed over it); returns the number of bytes."""
    data = html.encode("utf-8")
    folder = out.parent if str(out.parent) else Path(".")
    if out.is_dir():
        raise InvalidRequest(f"--out: '{out}' is a folder; name a file (e.g. {out}/report.html)")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=folder)
    except OSError as exc:
        raise InvalidRequest(f"--out: cannot write '{out}': {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise InvalidRequest(f"--out: cannot write '{out}': {exc.strerror or exc}") from None
    return len(data)
