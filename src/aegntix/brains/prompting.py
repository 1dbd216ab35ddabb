"""Prompts for model-backed brains: an :class:`Observation` in, chat messages out; a model's
reply in, a validated :class:`Decision` out.

The system prompt depends only on the scenario and the agent (persona traits rendered as
behaviour, role, goals, backstory, negotiation terms, the answer format), so it is built once
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
from aegntix.model.scenario import BUILTIN_NAMES, AgentSpec

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": ...}

_FIELD_NOTES = {
    "action": '"say" to speak, "act" to take one of your actions, "pass" to do nothing',
    "content": "what you say (for say) or a one-line narration of what you do (for act)",
    "to": "ids of the people you address, or null for everyone",
    "act": "for act: the id of the action, exactly as listed",
    "offer": "negotiators only: your price now (never past your walk-away price)",
    "accept": "negotiators only: true to accept the other side's standing offer (offer = it)",
    "stance": "your opinion on the topic now, from -1 (strongly against) to 1 (strongly for)",
    "fields": "optional extra structured facts about your move",
    "importance": "optional: how much what you just saw matters to you, 1 (mundane) to 10 "
    "(life-changing); your memory keeps it with this weight",
}


def decision_schema() -> dict[str, Any]:
    """The JSON Schema a model's answer must match: :class:`Decision` without ``meta``."""
    schema = Decision.model_json_schema()
    props = {k: dict(v) for k, v in schema["properties"].items() if k != "meta"}
    for name, prop in props.items():
        prop.pop("title", None)
        prop["description"] = _FIELD_NOTES[name]
    return {
        "type": "object",
        "properties": props,
        "required": ["action"],
        "additionalProperties": False,
    }


DECISION_SCHEMA = decision_schema()
_SCHEMA_TEXT = json.dumps(DECISION_SCHEMA, separators=(",", ":"))
_KEYS = frozenset(DECISION_SCHEMA["properties"])

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


def system_prompt(scenario: str, topic: str, agent: AgentSpec) -> str:
    """Who the agent is and how to answer (constant across steps)."""
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
    terms = agent.negotiation
    if terms is not None:
        if terms.side == "mediate":
            lines.append(
                "You mediate the negotiation: propose fair prices as offer; you cannot accept."
            )
        else:
            verb = "buying" if terms.side == "buy" else "selling"
            lines.append(
                f"You are {verb}. You open near {num(terms.target)}; your walk-away price is "
                f"{num(terms.reservation)} and you never go past it. To accept the other "
                "side's standing offer, answer accept: true with offer equal to it."
            )
    if agent.objective:
        lines.append(f"You are judged by: {agent.objective}")
    lines.append(
        "Stay in character. Each turn, answer with ONE JSON object and nothing else, "
        "matching this JSON Schema:"
    )
    lines.append(_SCHEMA_TEXT)
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


def _state(values: Mapping[str, Any]) -> str:
    shown = [f"{k} {num(v)}" for k, v in sorted(values.items()) if v is not None]
    return ", ".join(shown)


def user_prompt(obs: Observation) -> str:
    """This step, as the agent sees it."""
    total = f" of {obs.max_steps}" if obs.max_steps else ""
    lines = [f"Step {obs.step}{total}."]
    world = [
        f"{k} = {num(v)}"
        for k, v in sorted(obs.world.items())
        if not k.startswith("_") and k not in BUILTIN_NAMES
    ]
    if world:
        lines.append("Facts: " + "; ".join(world))
    own = _state(obs.own)
    lines.append(f"You ({obs.agent.id}): {own}" if own else f"You (id {obs.agent.id}).")
    lines.append("The others:")
    for agent_id, spec in obs.roster.items():
        if agent_id == obs.agent.id:
            continue
        public = _state(obs.others.get(agent_id, {}))
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
    lines.append("Your move? Answer with the JSON object only.")
    return "\n".join(lines)


def messages(obs: Observation, system: str | None = None) -> list[Message]:
    """The chat for one decision (``system``: a prebuilt :func:`system_prompt`)."""
    if system is None:
        system = system_prompt(obs.scenario, obs.topic, obs.agent)
    return [{"role": "system", "content": system}, {"role": "user", "content": user_prompt(obs)}]


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
    the observation can check (the action exists; addressees are people in the scenario)."""
    data = parse_json_object(text)
    data = {k: v for k, v in data.items() if k in _KEYS}  # tolerate chatter like "reasoning"
    try:
        decision = Decision.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "answer"
        raise InvalidReply(f"{where}: {first['msg']}") from None
    return _checked(decision, obs)


def _checked(d: Decision, obs: Observation) -> Decision:
    if d.action == "act" and d.act not in obs.actions:
        choices = ", ".join(obs.actions) or "none"
        raise InvalidReply(f"act must be one of your actions now ({choices}), not {d.act!r}")
    if d.action == "say" and not d.content.strip():
        raise InvalidReply("say needs some content")
    for value in (d.offer, d.stance):
        if value is not None and not math.isfinite(value):
            raise InvalidReply("numbers must be finite")
    update: dict[str, Any] = {}
    if d.to is not None:
        by_name = {spec.name.lower(): i for i, spec in obs.roster.items()}
        to = [t if t in obs.roster else by_name.get(t.lower(), "") for t in d.to]
        update["to"] = [t for t in to if t and t != obs.agent.id] or None
    if d.accept:
        update["offer"] = _standing_offer(obs, d.offer)
    return d.model_copy(update=update) if update else d


def _standing_offer(obs: Observation, offer: float | None) -> float | None:
    """An accept names the other side's standing offer; models round, so take the nearest."""
    me = obs.agent.negotiation
    if me is None or me.side == "mediate":
        return offer
    wanted = "sell" if me.side == "buy" else "buy"
    standing = [
        float(obs.others[i]["offer"])
        for i, spec in obs.roster.items()
        if spec.negotiation is not None
        and spec.negotiation.side == wanted
        and obs.others.get(i, {}).get("offer") is not None
    ]
    if not standing:
        return offer
    if offer is None:
        return min(standing) if wanted == "sell" else max(standing)
    nearest = min(standing, key=lambda s: abs(s - offer))
    return nearest if abs(nearest - offer) <= max(1.0, abs(nearest) * 0.005) else offer
