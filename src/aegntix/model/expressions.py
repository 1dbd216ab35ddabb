"""A tiny, safe expression language for scenario rules and end conditions.

Scenarios say things like ``customer_impact + severity * (1 - containment)`` or
``deal_reached or mean_stance > 0.5``. We parse them with :mod:`ast` and evaluate only
arithmetic, comparisons, boolean logic, ``min``/``max``/``abs`` and names from a mapping —
never ``eval``.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from aegntix.errors import ExpressionFailed

_BIN: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Mod: operator.mod,
}
_CMP: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_FUNCS: dict[str, Callable[..., Any]] = {"min": min, "max": max, "abs": abs}
_CONSTS = {"true": True, "false": False, "null": None}


class ExpressionError(ValueError):
    """An expression is not in the allowed subset or names something unknown."""


class ExpressionFailedError(ExpressionError, ExpressionFailed):
    """A valid expression failed on the values it met (``1 / x`` with ``x`` 0). Still an
    :class:`ExpressionError`, so callers that tolerate a failing expression (an action's
    effect is rejected) keep doing so; elsewhere it fails the step as an ``AegntixError``."""


@lru_cache(maxsize=1024)
def compile_expression(source: str) -> ast.Expression:
    """Parse and check an expression once; raises :class:`ExpressionError`."""
    if len(source) > 500:
        raise ExpressionError("expression longer than 500 characters")
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"not a valid expression: {exc.msg}") from None
    for node in ast.walk(tree):
        allowed = (
            ast.Expression,
            ast.BoolOp,
            ast.And,
            ast.Or,
            ast.UnaryOp,
            ast.Not,
            ast.USub,
            ast.BinOp,
            ast.Compare,
            ast.Name,
            ast.Load,
            ast.Constant,
            ast.Call,
            *_BIN,
            *_CMP,
        )
        if not isinstance(node, allowed):
            raise ExpressionError(f"'{type(node).__name__}' is not allowed in expressions")
        if isinstance(node, ast.Call) and not (
            isinstance(node.func, ast.Name) and node.func.id in _FUNCS and not node.keywords
        ):
            raise ExpressionError("only min(), max() and abs() may be called")
    return tree


def names_in(source: str) -> set[str]:
    """The variable names an expression reads (for validation against known names)."""
    tree = compile_expression(source)
    called = {
        n.func.id
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    }
    return {
        n.id
        for n in ast.walk(tree)
        if isinstance(n, ast.Name) and n.id not in _CONSTS and n.id not in called
    }


def evaluate(source: str, names: Mapping[str, Any]) -> Any:
    """Evaluate ``source`` with ``names`` as its variables. Unknown names are an error."""
    try:
        return _eval(compile_expression(source).body, names)
    except ExpressionFailedError as exc:  # name the expression: "1 / x: division by zero"
        raise ExpressionFailedError(f"{source}: {exc}") from None


def _eval(node: ast.expr, names: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in _CONSTS:
            return _CONSTS[node.id]
        if node.id not in names:
            raise ExpressionError(f"unknown name '{node.id}'")
        return names[node.id]
    if isinstance(node, ast.BoolOp):
        values = (_eval(v, names) for v in node.values)
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.UnaryOp):
        value = _eval(node.operand, names)
        return (not value) if isinstance(node.op, ast.Not) else -value
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left, names), _eval(node.right, names)
        try:
            return _BIN[type(node.op)](left, right)
        except (TypeError, ZeroDivisionError, OverflowError) as exc:
            raise ExpressionFailedError(str(exc)) from None
    if isinstance(node, ast.Compare):
        left = _eval(node.left, names)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = _eval(comparator, names)
            try:
                if not _CMP[type(op)](left, right):
                    return False
            except TypeError:
                return False
            left = right
        return True
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return _FUNCS[node.func.id](*(_eval(a, names) for a in node.args))
    raise ExpressionError(f"'{type(node).__name__}' is not allowed")  # pragma: no cover
