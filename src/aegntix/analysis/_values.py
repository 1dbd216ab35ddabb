"""Input checking and number formatting shared by the rollout statistics.

Outcome values arrive from rollouts as bools (yes/no outcomes) or numbers. NaN, infinities,
``None`` and anything else are refused with :class:`InvalidRequest` naming the offending
position: a statistic silently computed over fewer futures than the caller thinks would lie.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

from aegntix.errors import InvalidRequest

Kind = Literal["yes/no", "number"]
FloatArray = npt.NDArray[np.float64]


def clean(values: Sequence[object], field: str) -> tuple[FloatArray, Kind]:
    """``values`` as a float array (bools as 0/1) and its kind: "yes/no" when every value is
    a bool (and there is at least one), otherwise "number"."""
    if isinstance(values, str | bytes) or not isinstance(values, Sequence | np.ndarray):
        raise InvalidRequest(f"{field}: expected a list of numbers or yes/no values")
    fast = _fast(values)
    if fast is not None:
        return fast
    out = np.empty(len(values), dtype=np.float64)
    all_bool = len(values) > 0
    for i, v in enumerate(values):
        if isinstance(v, bool | np.bool_):
            out[i] = float(v)
            continue
        all_bool = False
        if not isinstance(v, int | float | np.integer | np.floating):
            shown = "null" if v is None else type(v).__name__
            raise InvalidRequest(f"{field}[{i}]: not a number ({shown})")
        f = float(v)
        if not math.isfinite(f):
            raise InvalidRequest(f"{field}[{i}]: not a finite number ({f})")
        out[i] = f
    return out, ("yes/no" if all_bool else "number")


def _fast(values: Sequence[object]) -> tuple[FloatArray, Kind] | None:
    """The vectorised path for plain lists of bools or of finite numbers (most calls); None
    sends anything else through the per-value loop that names the bad position."""
    if len(values) == 0:
        return None
    try:
        arr = np.asarray(values)
    except ValueError:  # ragged nesting
        return None
    if arr.ndim != 1:
        return None
    if arr.dtype == np.bool_:
        return arr.astype(np.float64), "yes/no"
    if arr.dtype.kind not in "iuf":
        return None
    out = arr.astype(np.float64)
    if not np.isfinite(out).all():
        return None
    return out, "number"


def check_confidence(confidence: float) -> None:
    if not (isinstance(confidence, int | float) and 0 < confidence < 1):
        raise InvalidRequest(f"confidence: must be between 0 and 1 (exclusive), got {confidence}")


def check_seed(seed: int) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InvalidRequest(f"seed: must be a non-negative integer, got {seed!r}")


def num(value: float | np.floating | None) -> float | None:
    """A plain Python float for JSON (``None`` stays ``None``)."""
    return None if value is None else float(value)


def fmt(value: float) -> str:
    """A number for a sentence: thousands separators, about three significant digits below
    100 (16,309 / 4.25 / 0.0312)."""
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return minus(f"{value:,.0f}")
    digits = max(0, 2 - math.floor(math.log10(abs(value))))
    return minus(f"{value:,.{digits}f}")


def minus(text: str) -> str:
    """A typographic minus sign in place of the hyphen."""
    return text.replace("-", "−")


def signed(value: float, text: str) -> str:
    """``text`` (already formatted ``value``) with an explicit + for positive values."""
    return f"+{text}" if value > 0 else minus(text)


def pct(rate: float) -> str:
    return f"{rate * 100:.0f}%"
