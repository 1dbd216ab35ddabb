"""A tiny, safe expression language for scenario rules and end conditions.

Scenarios say things like ``customer_impact + severity * (1 - containment)`` or
``deal_reached or mean_stance > 0.5``. We parse them with :mod:`ast` and evaluate only
arithmetic, comparisons, boolean logic, ``min``/``max``/``abs`` and names from a mapping —
never ``eval``. Results are bounded (no text/list repetition, no ``%`` on text, 64-bit
integers, finite floats, joined text and lists capped); anything that must fail whatever the
world holds is refused when compiled, and evaluation fails only with ``ExpressionFailed``.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from aegntix.errors import ExpressionFailed
from aegntix.model.text import MAX_INT, MAX_ITEMS, MAX_STRING

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
        if isinstance(node, ast.Constant) and (problem := _constant_problem(node.value)):
            raise ExpressionError(problem)
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp | ast.UnaryOp | ast.Call):
            _check_constant_parts(node)
    return tree


def _constant_problem(value: Any) -> str | None:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return None
    if isinstance(value, int):
        return None if abs(value) <= MAX_INT else f"number out of range (at most ±{MAX_INT})"
    if isinstance(value, float):
        return None if math.isfinite(value) else "numbers must be finite"
    return f"{type(value).__name__} constants are not allowed"


_NO_VALUE = object()


def _constant_value(node: ast.expr) -> Any:
    """The value of a sub-expression that reads no names, else ``_NO_VALUE``."""
    if any(isinstance(n, ast.Name) and n.id not in _CONSTS for n in ast.walk(node)):
        return _NO_VALUE
    try:
        return _eval(node, {})
    except (_Failed, RecursionError):
        return _NO_VALUE


def _check_constant_parts(node: ast.BinOp | ast.UnaryOp | ast.Call) -> None:
    """Refuse what must fail whatever the world holds: a constant part that fails, a
    divisor that is always 0, text repeated by a number."""
    if not any(isinstance(n, ast.Name) and n.id not in _CONSTS for n in ast.walk(node)):
        try:
            _eval(node, {})
        except _Failed as exc:
            raise ExpressionError(f"always fails: {exc}") from None
        return
    if isinstance(node, ast.BinOp):
        right = _constant_value(node.right)
        if isinstance(node.op, ast.Div | ast.Mod) and _is_number(right) and right == 0:
            raise ExpressionError("division by zero: the divisor is always 0")
        if isinstance(node.op, ast.Mult) and (
            isinstance(right, str) or isinstance(_constant_value(node.left), str)
        ):
            raise ExpressionError("text cannot be repeated (multiplied)")
        if isinstance(node.op, ast.Mod) and isinstance(_constant_value(node.left), str):
            raise ExpressionError("text cannot be formatted with %")


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


def arithmetic_names(source: str) -> set[str]:
    """Names an expression uses as numbers: operands of ``- * / %``, of unary minus, of
    ``abs()``, or of ``+`` beside a number (validation warns when such a world key starts
    as something else)."""
    found: set[str] = set()
    for node in ast.walk(compile_expression(source)):
        operands: list[ast.expr] = []
        if isinstance(node, ast.BinOp):
            if (
                not isinstance(node.op, ast.Add)
                or _is_number(_constant_value(node.left))
                or _is_number(_constant_value(node.right))
            ):
                operands = [node.left, node.right]
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            operands = [node.operand]
        elif (
            isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "abs"
        ):
            operands = list(node.args)
        found.update(o.id for o in operands if isinstance(o, ast.Name) and o.id not in _CONSTS)
    return found


def divisor_names(source: str) -> set[str]:
    """Names an expression divides by (the right side of ``/`` or ``%``)."""
    return {
        node.right.id
        for node in ast.walk(compile_expression(source))
        if isinstance(node, ast.BinOp)
        and isinstance(node.op, ast.Div | ast.Mod)
        and isinstance(node.right, ast.Name)
    }


def evaluate(source: str, names: Mapping[str, Any], *, field: str | None = None) -> Any:
    """Evaluate ``source`` with ``names`` as its variables. Any failure (unknown name, division
    by zero, bad types, a result out of bounds) raises :class:`ExpressionFailed` naming the
    expression and ``field``, never a bare Python error."""
    try:
        return _eval(compile_expression(source).body, names)
    except (_Failed, ExpressionError) as exc:
        raise ExpressionFailed(str(exc), expression=source, field=field) from None
    except RecursionError:
        raise ExpressionFailed("nested too deeply", expression=source, field=field) from None


class _Failed(Exception):
    """Internal: evaluation failed with this reason (re-raised as ExpressionFailed)."""


def _eval(node: ast.expr, names: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in _CONSTS:
            return _CONSTS[node.id]
        if node.id not in names:
            raise _Failed(f"unknown name '{node.id}'")
        return names[node.id]
    if isinstance(node, ast.BoolOp):
        values = (_eval(v, names) for v in node.values)
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.UnaryOp):
        value = _eval(node.operand, names)
        if isinstance(node.op, ast.Not):
            return not value
        if not _is_number(value):
            raise _Failed(f"cannot negate {_kind(value)}")
        return _bounded(-value)
    if isinstance(node, ast.BinOp):
        return arithmetic(node.op, _eval(node.left, names), _eval(node.right, names))
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
        return _call(node.func.id, [_eval(a, names) for a in node.args])
    raise _Failed(f"'{type(node).__name__}' is not allowed")  # pragma: no cover


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float)  # bool is an int: true + 1 == 2


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "a number" if _is_number(value) else type(value).__name__


_VERBS = {ast.Add: "add", ast.Sub: "subtract", ast.Mult: "multiply", ast.Div: "divide"}


def arithmetic(op: ast.operator, left: Any, right: Any) -> Any:
    """``left op right`` within bounds: numbers with numbers; ``+`` also joins two texts or
    two lists (up to :data:`MAX_STRING` characters / :data:`MAX_ITEMS` items). Repetition
    (text or list times a number) and ``%`` formatting of text are refused."""
    if _is_number(left) and _is_number(right):
        try:
            return _bounded(_BIN[type(op)](left, right))
        except ZeroDivisionError:
            raise _Failed("division by zero") from None
        except OverflowError:
            raise _Failed("number too large") from None
    if isinstance(op, ast.Add) and isinstance(left, str) and isinstance(right, str):
        if len(left) + len(right) > MAX_STRING:
            raise _Failed(f"text longer than {MAX_STRING:,} characters")
        return left + right
    if isinstance(op, ast.Add) and isinstance(left, list) and isinstance(right, list):
        if len(left) + len(right) > MAX_ITEMS:
            raise _Failed(f"list longer than {MAX_ITEMS:,} items")
        return left + right
    if isinstance(op, ast.Mult) and (isinstance(left, str | list) or isinstance(right, str | list)):
        raise _Failed("text and lists cannot be repeated (multiplied)")
    verb = _VERBS.get(type(op), "take the remainder of")
    raise _Failed(f"cannot {verb} {_kind(left)} and {_kind(right)}")


def _bounded(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and abs(value) > MAX_INT:
        raise _Failed(f"integer result out of range (at most ±{MAX_INT})")
    if isinstance(value, float) and not math.isfinite(value):
        raise _Failed("result is not a finite number (overflow)")
    return value


def _call(name: str, args: list[Any]) -> Any:
    if name == "abs":
        if len(args) != 1 or not _is_number(args[0]):
            raise _Failed("abs() takes one number")
        return _bounded(abs(args[0]))
    if not args:
        raise _Failed(f"{name}() needs at least one value")
    try:
        return _FUNCS[name](*args)
    except (TypeError, ValueError) as exc:
        raise _Failed(f"{name}(): {exc}") from None
