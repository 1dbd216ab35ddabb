"""Scenario text to data: YAML (a JSON superset) or strict JSON, with the line of every field.

Hostile input is refused with a :class:`ScenarioInvalid`, never a Python error: nesting
deeper than :data:`MAX_DEPTH` (checked while composing and, for JSON, before parsing, so
recursion never blows up), more than :data:`MAX_NODES` nodes after alias expansion
("billion laughs"), recursive aliases, duplicate keys (all of them reported).

Numbers are read as people write them: the YAML loader resolves ``1e6``, ``1.5e3``,
``-2E-3`` and ``1_000`` as numbers (PyYAML's YAML 1.1 rules read ``1e6`` as the string
"1e6"), and no longer reads ``1:30`` as the base-60 number 90.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import yaml

from aegntix.errors import Problem, ScenarioInvalid
from aegntix.model.text import MAX_DEPTH

#: Upper bound on YAML nodes after alias expansion (stops "billion laughs" documents).
MAX_NODES = 200_000

Path_ = tuple[str | int, ...]

_FLOAT = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |[-+]?\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)
_INT = re.compile(
    r"""^(?:[-+]?0b[0-1_]+
    |[-+]?0[0-7_]+
    |[-+]?(?:0|[1-9][0-9_]*)
    |[-+]?0x[0-9a-fA-F_]+)$""",
    re.X,
)


class _Depth(Exception):
    def __init__(self, line: int) -> None:
        self.line = line


_NUMBER_TAGS = frozenset({"tag:yaml.org,2002:float", "tag:yaml.org,2002:int"})


class ScenarioLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` with people's number syntax and a nesting limit while composing."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Depth(self.peek_event().start_mark.line + 1)  # type: ignore[no-untyped-call]
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


# Its own copy of SafeLoader's resolvers without the YAML 1.1 number rules, then ours.
setattr(  # noqa: B010 - the stubs declare it an instance variable; it is a class table
    ScenarioLoader,
    "yaml_implicit_resolvers",
    {
        first: [(tag, rx) for tag, rx in resolvers if tag not in _NUMBER_TAGS]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    },
)
ScenarioLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))
ScenarioLoader.add_implicit_resolver("tag:yaml.org,2002:int", _INT, list("-+0123456789"))


def load_yaml(text: str) -> Any:
    """YAML text to data with :class:`ScenarioLoader` (profiles and other YAML files use it
    too). Raises ``yaml.YAMLError`` or ``ValueError`` (nested too deeply)."""
    loader: ScenarioLoader | None = None
    try:
        loader = ScenarioLoader(text)
        return loader.get_single_data()
    except _Depth:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels") from None
    finally:
        if loader is not None:
            loader.dispose()


def yaml_error_line(exc: yaml.YAMLError) -> str:
    """A YAML error as one line: ``line N: problem`` (PyYAML's own text spans several)."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or getattr(exc, "context", None)
    if problem is None:
        problem = (str(exc).splitlines() or ["cannot parse"])[0]
    where = f"line {mark.line + 1}: " if mark is not None else ""
    return where + " ".join(str(problem).split())


def parse_text(text: str, source: str, as_json: bool) -> tuple[Any, dict[Path_, int]]:
    """(data, line of each field path); raises :class:`ScenarioInvalid`."""
    _check_bracket_depth(text, source, MAX_DEPTH if as_json else YAML_FLOW_SCAN)
    root = _compose(text, source, as_json)
    lines = _line_map(root, source) if root is not None else {}
    if as_json:
        try:
            return json.loads(text), lines
        except json.JSONDecodeError as exc:
            raise ScenarioInvalid(
                f"invalid JSON: {exc.msg}", file=source, line=exc.lineno
            ) from None
    loader = ScenarioLoader(text)
    try:
        return (loader.construct_document(root) if root is not None else None), lines
    except yaml.YAMLError as exc:
        raise _yaml_problem(exc, source, text) from None
    finally:
        loader.dispose()


def _compose(text: str, source: str, as_json: bool) -> yaml.Node | None:
    loader: ScenarioLoader | None = None
    try:
        loader = ScenarioLoader(text)  # its reader refuses control characters at once
        return loader.get_single_node()
    except _Depth as exc:
        raise ScenarioInvalid(
            f"nested deeper than {MAX_DEPTH} levels", file=source, line=exc.line
        ) from None
    except yaml.YAMLError as exc:
        if as_json:
            return None  # json.loads reports the syntax error with its own line
        raise _yaml_problem(exc, source, text) from None
    finally:
        if loader is not None:
            loader.dispose()


def _yaml_problem(exc: yaml.YAMLError, source: str, text: str) -> ScenarioInvalid:
    """One line (problem and line); the parser's full context goes in ``context``."""
    context = str(exc)
    line: int | None = None
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or exc.context or "cannot parse"
    elif isinstance(exc, yaml.reader.ReaderError):
        char = exc.character if isinstance(exc.character, int) else 0
        line = text.count("\n", 0, exc.position) + 1
        problem = f"unacceptable character U+{char:04X} ({exc.reason})"
    else:
        problem = context.splitlines()[0] if context else "cannot parse"
    return ScenarioInvalid(
        "invalid YAML: " + " ".join(problem.split()), file=source, line=line, context=context
    )


# A string (unrolled: fast on long strings; an unterminated one runs to the end), a bracket,
# or a line break.
_JSON_TOKENS = re.compile(r'"[^"\\\n]*(?:\\.[^"\\\n]*)*"?|[\[\]{}]|\n')
#: YAML flow collections deeper than this are refused before PyYAML scans them (its scanner
#: is quadratic in flow depth); the exact limit is then checked while composing.
YAML_FLOW_SCAN = 1000


def _check_bracket_depth(text: str, source: str, limit: int = MAX_DEPTH) -> None:
    """Refuse text whose brackets (outside double-quoted strings) nest past ``limit``:
    JSON before ``json.loads`` recurses into it, YAML flow collections before PyYAML's
    scanner slows down on them."""
    if text.count("[") + text.count("{") <= limit:
        return  # cannot nest deeper: skip the scan (most bodies)
    depth = 0
    line = 1
    for match in _JSON_TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > limit:
                raise ScenarioInvalid(
                    f"nested deeper than {MAX_DEPTH} levels", file=source, line=line
                )
        elif token in "]}":
            depth -= 1
        elif token == "\n":
            line += 1
        else:
            line += token.count("\n")


def json_too_deep(text: str) -> bool:
    """Whether JSON text nests past MAX_DEPTH (strings are skipped)."""
    try:
        _check_bracket_depth(text, "<json>")
    except ScenarioInvalid:
        return True
    return False


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _measure(root: yaml.Node, source: str) -> None:
    """Size and depth of the document with aliases expanded, without recursion."""
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        kids = _children(node)
        if done:
            on_path.discard(key)
            size[key] = 1 + sum(size[id(k)] for k in kids)
            nested = max((depth[id(k)] for k in kids), default=0)
            depth[key] = 0 if isinstance(node, yaml.ScalarNode) else 1 + nested
            where = node.start_mark.line + 1
            if size[key] > MAX_NODES:
                raise ScenarioInvalid(f"document expands past {MAX_NODES:,} nodes", file=source)
            if depth[key] > MAX_DEPTH:
                raise ScenarioInvalid(
                    f"nested deeper than {MAX_DEPTH} levels (with aliases expanded)",
                    file=source,
                    line=where,
                )
            continue
        if key in size:
            continue
        on_path.add(key)
        stack.append((node, True))
        for kid in kids:
            if id(kid) in on_path:
                raise ScenarioInvalid(
                    "an alias refers to a node that contains it (recursive alias)",
                    file=source,
                    line=kid.start_mark.line + 1,
                )
            if id(kid) not in size:
                stack.append((kid, False))


def _line_map(root: yaml.Node, source: str) -> dict[Path_, int]:
    """Map each field path to its 1-based line (JSON files parse as YAML for this);
    every duplicate key is reported."""
    _measure(root, source)
    lines: dict[Path_, int] = {}
    duplicates: list[Problem] = []
    for path, node in _walk(root, (), duplicates, source):
        lines.setdefault(path, node.start_mark.line + 1)
    if duplicates:
        raise ScenarioInvalid(problems=duplicates)
    return lines


def _walk(
    node: yaml.Node, path: Path_, duplicates: list[Problem], source: str
) -> Iterator[tuple[Path_, yaml.Node]]:
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in seen:
                duplicates.append(
                    Problem(
                        f"duplicate key (first on line {seen[key]})",
                        file=source,
                        line=line,
                        field=".".join(str(p) for p in (*path, key)),
                    )
                )
                continue
            seen[key] = line
            yield (*path, key), key_node
            yield from _walk(value_node, (*path, key), duplicates, source)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield (*path, index), item
            yield from _walk(item, (*path, index), duplicates, source)
