"""Tables for pandas: events, a branch's outcomes and a rollout set's members as DataFrames.

pandas is optional (``pip install 'aegntix[notebook]'``): it is imported only when a
``to_pandas()`` is called, and its absence is one clear :class:`MissingExtra` error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from aegntix.errors import MissingExtra
from aegntix.model.events import Event

INSTALL_HINT = "pip install 'aegntix[notebook]'"

#: Columns of an events table, in order.
EVENT_COLUMNS = (
    "seq",
    "step",
    "kind",
    "agent_id",
    "text",
    "payload",
    "branch_id",
    "hash",
    "created_at",
)


def pandas() -> Any:
    """The pandas module, or :class:`MissingExtra` saying how to install it."""
    try:
        import pandas as pd
    except ImportError:
        raise MissingExtra(
            f".to_pandas() needs pandas, an optional extra: {INSTALL_HINT}"
        ) from None
    return pd


def flat_outcomes(outcomes: Mapping[str, Any], suffix: str = "") -> dict[str, Any]:
    """One column per outcome; a per-agent outcome becomes one column per agent
    (``stance.mayor``)."""
    flat: dict[str, Any] = {}
    for name, value in outcomes.items():
        if isinstance(value, Mapping):
            for agent, own in value.items():
                flat[f"{name}.{agent}{suffix}"] = own
        else:
            flat[f"{name}{suffix}"] = value
    return flat


def events_frame(events: Iterable[Event]) -> Any:
    """One row per event; ``text`` is what was said or injected (if anything)."""
    pd = pandas()
    rows = [
        (
            e.seq,
            e.step,
            e.kind.value,
            e.agent_id,
            _text(e.payload),
            e.payload,
            e.branch_id,
            e.hash,
            e.created_at,
        )
        for e in events
    ]
    frame = pd.DataFrame.from_records(rows, columns=list(EVENT_COLUMNS))
    return frame.astype({"seq": "int64", "step": "int64", "kind": "category"})


def _text(payload: Mapping[str, Any]) -> str | None:
    for key in ("text", "content"):
        value = payload.get(key)
        if isinstance(value, str):
            return value
    return None


def outcomes_frame(branch_id: str, outcomes: Mapping[str, Any]) -> Any:
    """One row (indexed by the branch id), one column per outcome (per agent: ``name.agent``)."""
    pd = pandas()
    frame = pd.DataFrame([flat_outcomes(outcomes)], index=pd.Index([branch_id], name="branch_id"))
    return _nullable_bools(frame)


def members_frame(
    members: Sequence[Mapping[str, Any]], control: Sequence[Mapping[str, Any]] | None
) -> Any:
    """One row per member (indexed by its index): seed, branch, status, head step, each
    outcome; for a paired set the control twin's branch, status and outcomes alongside
    (``_control`` suffix). Outcomes of unfinished members are missing (NA)."""
    pd = pandas()
    twins = {m["index"]: m for m in control or ()}
    rows = []
    for m in members:
        row = {
            "member": m["index"],
            "seed": m["seed"],
            "branch_id": m["branch_id"],
            "status": m["status"],
            "head_step": m["head_step"],
            **flat_outcomes(m["outcomes"] or {}),
        }
        if control is not None:
            twin = twins.get(m["index"])
            row["branch_id_control"] = twin["branch_id"] if twin else None
            row["status_control"] = twin["status"] if twin else None
            if twin is not None:
                row.update(flat_outcomes(twin["outcomes"] or {}, "_control"))
        rows.append(row)
    frame = pd.DataFrame.from_records(rows, columns=_columns(rows))
    frame = frame.astype({"member": "int64", "seed": "int64", "head_step": "int64"})
    return _nullable_bools(frame.set_index("member"))


def _columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every key of every row, in first-seen order (a member missing an outcome still gets
    the column)."""
    seen: dict[str, None] = dict.fromkeys(("member", "seed", "branch_id", "status", "head_step"))
    for row in rows:
        seen.update(dict.fromkeys(row))
    return list(seen)


def _nullable_bools(frame: Any) -> Any:
    """Yes/no columns with missing values become pandas' nullable ``boolean`` (not object)."""
    for column in frame.columns:
        values = frame[column].dropna()
        if (
            frame[column].dtype == object
            and len(values)
            and all(isinstance(v, bool) for v in values)
        ):
            frame[column] = frame[column].astype("boolean")
    return frame
