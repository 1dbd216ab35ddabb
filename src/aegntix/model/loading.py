"""Load scenario files (YAML or JSON) with errors that point at the file, line and field.

Every problem is reported, not just the first: a :class:`ScenarioInvalid` carries the list
(``problems``), each with file, line, field and reason. :func:`check_file` and
:func:`check_text` also return warnings: what validates but will probably fail at run time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from aegntix.errors import Problem, ScenarioInvalid
from aegntix.model import checks
from aegntix.model.parsing import MAX_NODES, Path_, parse_text
from aegntix.model.scenario import Scenario

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "Checked",
    "check_file",
    "check_text",
    "load_scenario",
    "parse_scenario",
    "scenario_json_schema",
    "validate_scenario",
]

MAX_FILE_BYTES = 1_000_000


@dataclass(frozen=True, slots=True)
class Checked:
    """A valid scenario and the warnings about it."""

    scenario: Scenario
    warnings: list[Problem] = field(default_factory=list)


def load_scenario(path: str | Path) -> Scenario:
    """Read, parse and validate a scenario file; raises :class:`ScenarioInvalid`."""
    return check_file(path).scenario


def check_file(path: str | Path) -> Checked:
    """:func:`load_scenario` with the warnings."""
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
    except UnicodeDecodeError:
        raise ScenarioInvalid("not UTF-8 text", file=source) from None
    except OSError as exc:
        raise ScenarioInvalid(f"cannot read: {exc.strerror or exc}", file=source) from None
    return check_text(text, source=source, as_json=file.suffix.lower() == ".json")


def parse_scenario(text: str, *, source: str = "<scenario>", as_json: bool = False) -> Scenario:
    """Parse scenario text; ``as_json`` selects strict JSON, else YAML (a JSON superset)."""
    return check_text(text, source=source, as_json=as_json).scenario


def check_text(text: str, *, source: str = "<scenario>", as_json: bool = False) -> Checked:
    """:func:`parse_scenario` with the warnings."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise ScenarioInvalid(f"larger than {MAX_FILE_BYTES:,} bytes", file=source)
    data, lines = parse_text(text, source, as_json)
    if not isinstance(data, dict):
        raise ScenarioInvalid("the top level must be a mapping of fields", file=source, line=1)
    scenario = validate_scenario(data, source=source, lines=lines)
    warnings = [
        Problem(reason, file=source, line=_nearest_line(lines, loc), field=_dotted(loc))
        for loc, reason in checks.warnings(scenario)
    ]
    return Checked(scenario, warnings)


def validate_scenario(
    data: dict[str, Any], *, source: str = "<scenario>", lines: dict[Path_, int] | None = None
) -> Scenario:
    """Validate already-parsed data (from a file, the API or an importer): every problem."""
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        found = list(_problems(errors, source, lines or {}, data))
        if not any(e["type"] == "consistency" for e in errors):
            # Cross-field checks run only on well-typed data; repeated ids are cheap to
            # find in the raw data, so they are listed with the field problems.
            found += [
                Problem(why, file=source, line=_nearest_line(lines or {}, loc), field=_dotted(loc))
                for loc, why in checks.repeated_ids(data)
            ]
        found.sort(key=lambda p: p.line or 0)  # stable: in file order, as an editor shows
        raise ScenarioInvalid(problems=found) from None
    except RecursionError:
        raise ScenarioInvalid("nested too deeply", file=source) from None


def _problems(
    errors: Iterable[Any], source: str, lines: dict[Path_, int], data: dict[str, Any]
) -> Iterable[Problem]:
    for error in errors:
        loc = _as_written(tuple(error["loc"]), data)
        context = error.get("ctx") or {}
        if error["type"] == "consistency" and isinstance(context.get("problems"), list):
            for sub_loc, reason in context["problems"]:
                yield Problem(
                    reason, file=source, line=_nearest_line(lines, sub_loc), field=_dotted(sub_loc)
                )
            continue
        yield Problem(
            _reason(error), file=source, line=_nearest_line(lines, loc), field=_dotted(loc)
        )


def _as_written(loc: Path_, data: dict[str, Any]) -> Path_:
    """The path as the user wrote it: ``outcomes.x``, not ``outcomes.x.expr``, for the
    short form ``outcomes: {x: "expr"}``."""
    outcomes = data.get("outcomes")
    if (
        len(loc) == 3
        and loc[0] == "outcomes"
        and loc[2] == "expr"
        and isinstance(outcomes, dict)
        and isinstance(outcomes.get(loc[1]), str)
    ):
        return loc[:2]
    return loc


def _dotted(loc: Path_) -> str | None:
    return ".".join(str(p) for p in loc) or None


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
        shown = (
            repr(value)
            if not isinstance(value, int) or value.bit_length() < 200
            else "a huge integer"
        )
        msg += f" (got {shown[:80]}{'…' if len(shown) > 80 else ''})"
    return msg


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
