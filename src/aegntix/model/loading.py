"""Load scenario files (YAML or JSON) with errors that point at the file, line and field."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from aegntix.errors import ScenarioInvalid
from aegntix.model.scenario import Scenario

MAX_FILE_BYTES = 1_000_000
#: Upper bound on YAML nodes after alias expansion (stops "billion laughs" documents).
MAX_NODES = 200_000

Path_ = tuple[str | int, ...]


def load_scenario(path: str | Path) -> Scenario:
    """Read, parse and validate a scenario file; raises :class:`ScenarioInvalid`."""
    source = str(path)
    file = Path(path)
    try:
        size = file.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ScenarioInvalid(
                f"file is {size:,} bytes; the limit is {MAX_FILE_BYTES:,}", file=source
            )
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioInvalid("no such file", file=source) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioInvalid(f"cannot read: {exc}", file=source) from None
    return parse_scenario(text, source=source, as_json=file.suffix.lower() == ".json")


def parse_scenario(text: str, *, source: str = "<scenario>", as_json: bool = False) -> Scenario:
    """Parse scenario text; ``as_json`` selects strict JSON, else YAML (a JSON superset)."""
    if len(text.encode("utf-8")) > MAX_FILE_BYTES:
        raise ScenarioInvalid(f"larger than {MAX_FILE_BYTES:,} bytes", file=source)
    lines = _line_map(text, source, as_json)
    data = _parse(text, source, as_json)
    if not isinstance(data, dict):
        raise ScenarioInvalid("the top level must be a mapping of fields", file=source, line=1)
    return validate_scenario(data, source=source, lines=lines)


def validate_scenario(
    data: dict[str, Any], *, source: str = "<scenario>", lines: dict[Path_, int] | None = None
) -> Scenario:
    """Validate already-parsed data (from a file, the API or an importer)."""
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        first = errors[0]
        loc = tuple(first["loc"])
        line = _nearest_line(lines or {}, loc)
        message = _reason(first)
        if len(errors) > 1:
            message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
        field = ".".join(str(p) for p in loc) or None
        raise ScenarioInvalid(message, file=source, line=line, field=field) from None


def _reason(error: Any) -> str:
    msg = str(error["msg"])
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if error["type"] == "extra_forbidden":
        return "unknown field (check the spelling; see `aegntix schema`)"
    if error["type"] == "missing":
        return "required field is missing"
    value = error.get("input")
    if error["loc"] and error["loc"][-1] == "api_key_env":
        return msg  # never echo it: it may be a key pasted where a variable name belongs
    if error["type"] not in {"model_type", "dict_type"} and not isinstance(value, dict | list):
        msg += f" (got {value!r})"
    return msg


def _parse(text: str, source: str, as_json: bool) -> Any:
    if as_json:
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ScenarioInvalid(
                f"invalid JSON: {exc.msg}", file=source, line=exc.lineno
            ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:  # pragma: no cover - _line_map parses first and reports
        raise ScenarioInvalid(f"invalid YAML: {exc}", file=source) from None


def _line_map(text: str, source: str, as_json: bool) -> dict[Path_, int]:
    """Map each field path to its 1-based line, by composing the YAML node tree
    (JSON files parse as YAML for this purpose). Also rejects duplicate keys and
    documents that expand past :data:`MAX_NODES`."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        if as_json:
            return {}  # json.loads reports the syntax error with its own line
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        problem = exc.problem or "cannot parse"
        raise ScenarioInvalid(f"invalid YAML: {problem}", file=source, line=line) from None
    except yaml.YAMLError as exc:
        raise ScenarioInvalid(f"invalid YAML: {exc}", file=source) from None
    lines: dict[Path_, int] = {}
    if root is None:
        return lines
    _check_size(root, source)
    for path, node in _walk(root, (), source):
        lines[path] = node.start_mark.line + 1
    return lines


def _check_size(root: yaml.Node, source: str) -> None:
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        sizes[id(node)] = 1  # guards against recursive aliases
        total = 1
        if isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            total += sum(size(v) for v in node.value)
        if total > MAX_NODES:
            raise ScenarioInvalid(f"document expands past {MAX_NODES:,} nodes", file=source)
        sizes[id(node)] = total
        return total

    size(root)


def _walk(node: yaml.Node, path: Path_, source: str) -> Iterator[tuple[Path_, yaml.Node]]:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                raise ScenarioInvalid(
                    "duplicate key",
                    file=source,
                    line=key_node.start_mark.line + 1,
                    field=".".join(str(p) for p in (*path, key)),
                )
            seen.add(key)
            yield (*path, key), key_node
            yield from _walk(value_node, (*path, key), source)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield (*path, index), item
            yield from _walk(item, (*path, index), source)


def _nearest_line(lines: dict[Path_, int], loc: Path_) -> int | None:
    for end in range(len(loc), 0, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def scenario_json_schema() -> dict[str, Any]:
    """The published JSON Schema of scenario files."""
    schema = Scenario.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "AegntiX scenario"
    return schema
