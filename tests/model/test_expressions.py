"""Expression evaluation is bounded and fails only with ExpressionFailed (naming the
expression and its field), never a bare Python error or an unbounded result."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aegntix.errors import ExpressionFailed
from aegntix.model.expressions import ExpressionError, compile_expression, evaluate
from aegntix.model.text import MAX_INT, MAX_STRING


@pytest.mark.parametrize(
    ("expr", "names", "reason"),
    [
        ("1 / x", {"x": 0}, "division by zero"),
        ("y % x", {"x": 0.0, "y": 1}, "division by zero"),
        ("s * n", {"s": "ab", "n": 3}, "cannot be repeated"),
        ("n * s", {"s": [1], "n": 3}, "cannot be repeated"),
        ("s % n", {"s": "%099999999d", "n": 1}, "cannot take the remainder of text"),
        ("s + s", {"s": "x" * (MAX_STRING // 2 + 1)}, "text longer than"),
        ("n * n", {"n": 2**40}, "integer result out of range"),
        ("n * n", {"n": 1e300}, "not a finite number"),
        ("n * 1.0", {"n": MAX_INT}, None),
        ("-s", {"s": "x"}, "cannot negate text"),
        ("abs(s)", {"s": "x"}, "abs() takes one number"),
        ("min(n)", {"n": 1}, "min()"),
        ("max(l)", {"l": []}, "max()"),
        ("a + b", {"a": None, "b": 1}, "cannot add null and a number"),
        ("a - b", {"a": {"k": 1}, "b": 1}, "cannot subtract a mapping and a number"),
        ("nope + 1", {}, "unknown name 'nope'"),
    ],
)
def test_failures_raise_expression_failed(expr: str, names: dict[str, Any], reason: str | None):
    if reason is None:
        assert evaluate(expr, names) == float(MAX_INT)
        return
    with pytest.raises(ExpressionFailed) as info:
        evaluate(expr, names, field="dynamics.x")
    err = info.value
    assert reason in err.reason and err.expression == expr and err.field == "dynamics.x"
    assert str(err).startswith(f"dynamics.x: '{expr}': ")


@pytest.mark.parametrize(
    ("expr", "reason"),
    [
        ("x / 0", "the divisor is always 0"),
        ("x % (3 - 3)", "the divisor is always 0"),
        ("'ab' * x", "text cannot be repeated"),
        ("x * 'ab'", "text cannot be repeated"),
        ("'%d' % x", "cannot be formatted"),
        ("1 / 0 + x", "always fails: division by zero"),
        ("1e999 + x", "numbers must be finite"),
        ("b'x' + x", "bytes constants are not allowed"),
        ("x ** 2", "'Pow' is not allowed"),
    ],
)
def test_provable_failures_are_refused_when_compiled(expr: str, reason: str) -> None:
    with pytest.raises(ExpressionError, match=reason):
        compile_expression(expr)


def test_allowed_arithmetic_still_works() -> None:
    names = {"a": 2, "b": 0.5, "s": "ab", "l": [1], "t": True}
    assert evaluate("a * b + max(a, 3) - abs(-1) + t", names) == 4.0
    assert evaluate("s + 'cd'", names) == "abcd" and evaluate("l + l", names) == [1, 1]
    assert evaluate("a > b and not (s == 'x')", names) is True
    assert evaluate("s < a", names) is False  # comparing unlike types is false, not an error


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=10,
)
_EXPRS = [
    "a + b",
    "a - b",
    "a * b",
    "a / b",
    "a % b",
    "-a",
    "min(a, b)",
    "max(a)",
    "abs(a)",
    "a * b * a * b",
    "a < b",
    "a and b or not a",
]


@settings(max_examples=300, deadline=None)
@given(a=_json, b=_json, expr=st.sampled_from(_EXPRS))
def test_any_values_give_a_value_or_expression_failed(a: Any, b: Any, expr: str) -> None:
    try:
        result = evaluate(expr, {"a": a, "b": b})
    except ExpressionFailed:
        return
    if isinstance(result, int) and not isinstance(result, bool):
        assert abs(result) <= max(MAX_INT, abs(a) if isinstance(a, int) else 0)
    if isinstance(result, str):
        assert len(result) <= max(MAX_STRING, len(str(a)), len(str(b)))
