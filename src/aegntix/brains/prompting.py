"""Prompts for model-backed brains: an :class:`Observation` in, chat messages out; a model's
reply in, a validated :class:`Decision` out.

The system prompt depends only on the scenario and the agent (persona traits rendered as
behaviour, role, goals, backstory, what its mechanics say of its part — negotiation terms —
and the answer format: the engine's fields plus the mechanics' own), so it is built once
per agent; the user message renders this step: world facts, the agent's own and others'
public state, its memories and the events visible to it. Both are deterministic functions of
the observation: the same observation gives the same request digest, which is what makes a
fork with no intervention a cache hit.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from aegntix.brains.base import Decision, Observation, VisibleEvent
from aegntix.mechanics import DEFAULT, Mechanics, combined
from aegntix.mechanics.base import ENGINE_NAMES
from aegntix.model.scenario import AgentSpec

#: ``{"role": "system" | "user" | "assistant", "content": str}``; with tools, also the
#: provider-neutral tool turns of :mod:`aegntix.brains.tool_use`.
Message = dict[str, Any]

_FIELD_NOTES = {
    "action": '"say" to speak, "act" to take one of your actions, "pass" to do nothing',
    "content": "what you say (for say) or a one-line narration of what you do (for act)",
    "to": "ids of the people you address, or null for everyone",
    "act": "for act: the id of the action, exactly as listed",
    "fields": "optional extra structured facts about your move",
    "importance": "optional: how much what you just saw matters to you, 1 (mundane) to 10 "
    "(life-changing); your memory keeps it with this weight",
}
_BEFORE = ("action", "content", "to", "act")  # the engine's fields, then the mechanics'
_AFTER = ("fields", "importance")


def _mechanics(mechanics: Mechanics | None) -> Mechanics:
    return combined(DEFAULT) if mechanics is None else mechanics


#: id(mechanics) -> (mechanics, schema, its text, its keys); holding the mechanics keeps its
#: id from being reused.
_SCHEMAS: dict[int, tuple[Mechanics, dict[str, Any], str, frozenset[str]]] = {}


def _schema_for(mechanics: Mechanics) -> tuple[dict[str, Any], str, frozenset[str]]:
    """(schema, its compact JSON text, its keys); built once per mechanics."""
    hit = _SCHEMAS.get(id(mechanics))
    if hit is not None and hit[0] is mechanics:
        return hit[1:]
    if len(_SCHEMAS) >= 256:
        _SCHEMAS.clear()
    base = Decision.model_json_schema()["properties"]
    props: dict[str, Any] = {}
    for name in _BEFORE:
        props[name] = {k: v for k, v in base[name].items() if k != "title"}
        props[name]["description"] = _FIELD_NOTES[name]
    for f in mechanics.decision_fields:
        props[f.name] = {**f.schema, "description": f.note}
    for name in _AFTER:
        props[name] = {k: v for k, v in base[name].items() if k != "title"}
        props[name]["description"] = _FIELD_NOTES[name]
    schema = {
        "type": "object",
        "properties": props,
        "required": ["action"],
        "additionalProperties": False,
    }
    made = schema, json.dumps(schema, separators=(",", ":")), frozenset(props)
    _SCHEMAS[id(mechanics)] = (mechanics, *made)
    return made


def decision_schema(mechanics: Mechanics | None = None) -> dict[str, Any]:
    """The JSON Schema a model's answer must match: the engine's fields (:class:`Decision`
    without ``meta``) and those of the scenario's ``mechanics`` (default: the built-in
    kinds). Do not mutate: it is shared."""
    return _schema_for(_mechanics(mechanics))[0]


DECISION_SCHEMA = decision_schema()

# Big Five traits as behaviour: (low, middle, high), split at 0.35 and 0.65.
_TRAITS = {
    "openness": (
        "conventional: you prefer proven options and are sceptical of new ideas",
        "open to new ideas when they are well argued",
        "curious and imaginative: you weigh unconventional options and new information",
    ),
    "conscientiousness": (
        "spontaneous and flexible: you improvise rather than follow a plan",
        "reasonably organised",
        "disciplined and careful: you keep commitments, follow procedure, plan ahead",
    ),
    "extraversion": (
        "reserved: you speak only when you have something to add, and often pass",
        "willing to speak up when it matters",
        "outgoing and talkative: you speak often and address people by name",
    ),
    "agreeableness": (
        "tough and competitive: you drive a hard bargain and concede slowly",
        "fair-minded but not a pushover",
        "cooperative and warm: you seek compromise and concede to keep the peace",
    ),
    "neuroticism": (
        "calm and steady under pressure",
        "somewhat affected by stress",
        "anxious and reactive: deadlines, threats and bad news weigh heavily on you",
    ),
}


def _level(value: float) -> int:
    return 0 if value < 0.35 else 2 if value > 0.65 else 1


def num(value: Any) -> str:
    """Numbers as a model should read them: stable, short, exact to the cent."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "null"
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(round(value, 4))
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def system_prompt(
    scenario: str, topic: str, agent: AgentSpec, mechanics: Mechanics | None = None
) -> str:
    """Who the agent is and how to answer (constant across steps)."""
    mechanics = _mechanics(mechanics)
    lines = [f'You are {agent.name}, the {agent.role}, in the scenario "{scenario}".']
    if topic:
        lines.append(f"The topic: {topic}.")
    if agent.goals:
        lines.append("Your goals:")
        lines.extend(f"- {g}" for g in agent.goals)
    if agent.backstory:
        lines.append(f"Your background: {agent.backstory}")
    p = agent.persona
    lines.append("Your personality, which shapes everything you do:")
    for trait, phrases in _TRAITS.items():
        lines.append(f"- {phrases[_level(float(getattr(p, trait)))]}")
    for key, value in sorted(p.traits.items()):
        shown = value if isinstance(value, str) else num(value)
        lines.append(f"- {key.replace('_', ' ')}: {shown}")
    lines.extend(mechanics.prompt_lines(agent))
    if agent.objective:
        lines.append(f"You are judged by: {agent.objective}")
    lines.append(
        "Stay in character. Each turn, answer with ONE JSON object and nothing else, "
        "matching this JSON Schema:"
    )
    lines.append(_schema_for(mechanics)[1])
    return "\n".join(lines)


def _who(obs: Observation, agent_id: str | None) -> str:
    spec = obs.roster.get(agent_id or "")
    return f"{spec.name} ({spec.role})" if spec is not None else str(agent_id)


def _event_line(obs: Observation, e: VisibleEvent) -> str:
    tags = "".join(
        f"; {k} {num(v)}" for k, v in sorted(e.fields.items()) if k != "action" and v is not None
    )
    extra = f" [{tags[2:]}]" if tags else ""
    text = json.dumps(e.text, ensure_ascii=False)
    if e.kind == "injection":
        return f"- step {e.step}, news: {text}{extra}"
    to = f" to {', '.join(_who(obs, t) for t in e.to)}" if e.to else ""
    who = _who(obs, e.agent_id)
    if e.kind == "action":
        return f"- step {e.step}, {who} took action {e.fields.get('action')}{to}: {text}{extra}"
    return f"- step {e.step}, {who}{to} said: {text}{extra}"


def _state(values: Mapping[str, Any], own: bool = True) -> str:
    # a key starting with "_" is private to its agent (a Delphi estimate): others never see it
    shown = [
        f"{k} {num(v)}"
        for k, v in sorted(values.items())
        if v is not None and (own or not k.startswith("_"))
    ]
    return ", ".join(shown)


def user_prompt(obs: Observation, tools: bool = False) -> str:
    """This step, as the agent sees it (``tools``: the request offers it tools)."""
    total = f" of {obs.max_steps}" if obs.max_steps else ""
    lines = [f"Step {obs.step}{total}."]
    builtins = ENGINE_NAMES | _mechanics(obs.mechanics).builtin_names
    world = [
        f"{k} = {num(v)}"
        for k, v in sorted(obs.world.items())
        if not k.startswith("_") and k not in builtins
    ]
    if world:
        lines.append("Facts: " + "; ".join(world))
    own = _state(obs.own)
    lines.append(f"You ({obs.agent.id}): {own}" if own else f"You (id {obs.agent.id}).")
    lines.append("The others:")
    for agent_id, spec in obs.roster.items():
        if agent_id == obs.agent.id:
            continue
        public = _state(obs.others.get(agent_id, {}), own=False)
        shown = f"- {spec.name}, {spec.role} (id {agent_id})"
        lines.append(f"{shown}: {public}" if public else shown)
    if obs.memory:
        lines.append("You remember:")
        lines.extend(f"- {m}" for m in obs.memory)
    if obs.visible:
        lines.append("What you saw recently (oldest first):")
        lines.extend(_event_line(obs, e) for e in obs.visible)
    else:
        lines.append("Nothing has been said yet.")
    if obs.actions:
        lines.append("Actions you can take now (act):")
        for name, action in obs.actions.items():
            desc = action.description
            lines.append(f"- {name}: {desc}" if desc else f"- {name}")
    if tools:
        lines.append("You may call your tools first to find out what you need.")
    lines.append("Your move? Answer with the JSON object only.")
    return "\n".join(lines)


def messages(obs: Observation, system: str | None = None, *, tools: bool = False) -> list[Message]:
    """The chat for one decision (``system``: a prebuilt :func:`system_prompt`; ``tools``:
    the request offers the agent's tools)."""
    if system is None:
        system = system_prompt(obs.scenario, obs.topic, obs.agent, obs.mechanics)
    user = user_prompt(obs, tools)
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def repair_messages(chat: list[Message], reply: str, problem: str) -> list[Message]:
    """Ask once more, showing the model its invalid answer and what was wrong with it."""
    return [
        *chat,
        {"role": "assistant", "content": reply[:4000] or "(empty)"},
        {
            "role": "user",
            "content": f"That answer was not valid: {problem}. Answer again with exactly one "
            "JSON object matching the schema, and nothing else.",
        },
    ]


class InvalidReply(ValueError):
    """A model's reply is not a valid decision (the message says why, briefly)."""


_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")


def parse_json_object(text: str) -> dict[str, Any]:
    """The JSON object in a reply (code fences and chatter around it are tolerated)."""
    raw = _FENCE.sub("", text.strip())
    if not raw.startswith("{"):
        start, end = raw.find("{"), raw.rfind("}")
        if start < 0 or end < start:
            raise InvalidReply("no JSON object found")
        raw = raw[start : end + 1]
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidReply(f"not valid JSON ({exc.msg})") from None
    except RecursionError:  # a hostile or broken reply nested thousands deep
        raise InvalidReply("the JSON is nested too deeply") from None
    if not isinstance(data, dict):
        raise InvalidReply("the JSON is not an object")
    return data


def parse_decision(text: str, obs: Observation) -> Decision:
    """Validate a reply with the same pydantic model the rules brain returns, plus what only
    the observation can check (the action exists; addressees are people in the scenario;
    what the scenario's mechanics check). A mechanics field that is not one of
    :class:`Decision`'s own is moved into ``fields``."""
    mechanics = _mechanics(obs.mechanics)
    keys = _schema_for(mechanics)[2]
    data = parse_json_object(text)
    data = {k: v for k, v in data.items() if k in keys}  # tolerate chatter like "reasoning"
    own = Decision.model_fields
    extra: dict[str, Any] = {}
    for f in mechanics.decision_fields:
        if f.name in own or f.name not in data:
            continue
        value = data.pop(f.name)
        try:
            extra[f.name] = f.parse(value) if f.parse is not None else value
        except ValueError as exc:
            raise InvalidReply(f"{f.name}: {exc}") from None
    if extra:
        fields = data.get("fields")
        data["fields"] = {**(fields if isinstance(fields, dict) else {}), **extra}
    try:
        decision = Decision.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "answer"
        raise InvalidReply(f"{where}: {first['msg']}") from None
    return _checked(decision, obs, mechanics)


def _checked(d: Decision, obs: Observation, mechanics: Mechanics) -> Decision:
    if d.action == "act" and d.act not in obs.actions:
        choices = ", ".join(obs.actions) or "none"
        raise InvalidReply(f"act must be one of your actions now ({choices}), not {d.act!r}")
    if d.action == "say" and not d.content.strip():
        raise InvalidReply("say needs some content")
    try:
        update = dict(mechanics.checked(d, obs))
    except ValueError as exc:
        raise InvalidReply(str(exc)) from None
    if d.to is not None:
        by_name = {spec.name.lower(): i for i, spec in obs.roster.items()}
        to = [t if t in obs.roster else by_name.get(t.lower(), "") for t in d.to]
        update["to"] = [t for t in to if t and t != obs.agent.id] or None
    return d.model_copy(update=update) if update else d
