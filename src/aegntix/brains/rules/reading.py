"""How the rules brain reads an injection: per agent, a direction, a strength, a relevance
and a one-line reason.

* **Direction** (−1..1): with declared ``arguments`` (``Scenario.arguments`` or the agent's
  own), the injection is embedded and compared with each argument; the margin between the
  closest ``pro`` and the closest ``con`` argument, discounted by how on-topic the text is,
  is added to the lexicon's reading (:func:`lexicon_direction`). Without arguments the
  lexicon alone decides, exactly as before arguments existed.
* **Relevance** (0..1): how close the text comes to the arguments or to the agent's role and
  goals; it sets the **salience** — how much the reading moves this agent.
* **Strength** (0..1): the size of the direction; ``weight = strength × salience`` is what
  the mechanics apply.

An explicit ``fields["stance"]`` (a target stance) or ``fields["pressure"/"leverage"]`` wins
over the words. Everything is a pure function of its inputs and cached; numbers are rounded
so the same text gives the same reading in every process.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from aegntix.brains.rules.lexicon import leverage, pressure, valence
from aegntix.memory.embedding import Embedder, default_embedder
from aegntix.model.scenario import AgentSpec, Arguments

Mechanic = Literal["opinion", "negotiation", "incident", "discussion"]

#: A cosine margin (pro − con) of this size reads as full strength.
MARGIN_FULL = 0.08
#: Weights of the embedder's and the lexicon's direction when arguments are declared.
SEMANTIC_WEIGHT = 1.0
LEXICON_WEIGHT = 0.25
#: Similarity (to the arguments or the agent's profile) below LOW is off-topic (relevance 0),
#: above HIGH fully relevant; the embedder's scale differs, so each family has its own.
_RELEVANCE_BANDS = {"hash": (0.05, 0.30), "default": (0.15, 0.45)}
#: Similarity of the text to the agent's role, goals and moves: below LOW it touches nothing
#: personal, above HIGH it is squarely the agent's business.
_PERSONAL_BANDS = {"hash": (0.0, 0.25), "default": (0.05, 0.35)}
#: The share of relevance that depends on the agent (the rest: how on-topic the text is).
PERSONAL_SHARE = 0.4
#: An action is only called for by a text this close to it: weak matches are noise here
#: (measured: "the cafeteria is closed" is 0.24 from "notify customers").
_ACTION_BAND = {"hash": (0.25, 0.5), "default": (0.3, 0.6)}
#: Salience of a fully irrelevant text (a reading is never silenced entirely by relevance).
SALIENCE_FLOOR = 0.5
#: Below this weight the brain reads no direction (the preview's verdict, and the tests).
NO_EFFECT = 0.05
_DECIMALS = 4
#: How much of the arguments' mean is removed before comparing (1: all of it).
CENTRE = 1.0
#: Each side's score is the mean similarity of its TOP_K closest arguments.
TOP_K = 1


@functools.cache
def embedder() -> Embedder:
    """The embedder injections are read with: the process's default semantic embedder
    (WordLlama; it falls back to hashing by itself, and says so once, if that cannot load)."""
    return default_embedder()


def _band() -> tuple[float, float]:
    name = embedder().name
    return _RELEVANCE_BANDS["hash" if name.startswith("hash") else "default"]


@functools.lru_cache(maxsize=4096)
def _vectors(texts: tuple[str, ...]) -> npt.NDArray[np.float32]:
    """Unit rows for ``texts`` (argument sets and profiles are cached per scenario)."""
    return embedder().embed(list(texts))


@functools.lru_cache(maxsize=8192)
def _text_vector(text: str) -> npt.NDArray[np.float32]:
    row: npt.NDArray[np.float32] = embedder().embed([text])[0]
    return row


@dataclass(frozen=True, slots=True)
class Reading:
    """How one agent reads one injection."""

    agent_id: str
    direction: float  # -1..1: + toward the pro side (or leverage / escalation)
    strength: float  # 0..1
    relevance: float  # 0..1
    salience: float  # 0..1: how much it moves this agent
    reason: str
    source: Literal["stance", "fields", "arguments", "lexicon", "none"]

    @property
    def weight(self) -> float:
        """What the mechanics apply: strength × salience."""
        return round(self.strength * self.salience, _DECIMALS)

    @property
    def effective(self) -> bool:
        return self.weight >= NO_EFFECT

    def json(self) -> dict[str, Any]:
        return {**asdict(self), "weight": self.weight, "effective": self.effective}


def lexicon_direction(text: str, mechanic: Mechanic) -> float:
    """The word lists' direction: valence for a debate, leverage − pressure for a negotiator,
    bad news (−valence) as escalation for a tabletop exercise."""
    if mechanic == "negotiation":
        return leverage(text) - pressure(text)
    if mechanic == "incident":
        return -valence(text)
    return valence(text)


def _clip(value: float, low: float = -1.0, high: float = 1.0) -> float:
    return low if value < low else high if value > high else value


def _short(text: str, limit: int = 48) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _profile(agent: AgentSpec) -> str:
    """What the agent is about: role, goals and the moves it can make."""
    moves = ", ".join(a.replace("_", " ") for a in agent.actions)
    return ". ".join([agent.role, *agent.goals, *([moves] if moves else [])])


@functools.lru_cache(maxsize=1024)
def _centred(pro: tuple[str, ...], con: tuple[str, ...]) -> tuple[Any, Any, Any]:
    """Argument vectors minus their mean, renormalised: what pro and con share (the topic)
    drops out, so the margin measures the side, not the subject."""
    both = _vectors(pro + con).astype(np.float64)
    mean = both.mean(axis=0)
    centred = both - CENTRE * mean
    centred /= np.maximum(np.linalg.norm(centred, axis=1, keepdims=True), 1e-9)
    return centred[: len(pro)], centred[len(pro) :], mean


def _contrast(
    pro: tuple[str, ...], con: tuple[str, ...], vector: npt.NDArray[np.float32]
) -> tuple[tuple[float, int], tuple[float, int]]:
    """((score, closest argument), ...) for pro and con: the mean similarity of the TOP_K
    closest centred arguments of each side."""
    p, c, mean = _centred(pro, con)
    v = vector.astype(np.float64) - CENTRE * mean
    norm = float(np.linalg.norm(v))
    if norm == 0.0:
        return (0.0, 0), (0.0, 0)
    v /= norm
    sims_p, sims_c = p @ v, c @ v
    top_p, top_c = np.sort(sims_p)[::-1][:TOP_K], np.sort(sims_c)[::-1][:TOP_K]
    best_p, best_c = int(np.argmax(sims_p)), int(np.argmax(sims_c))
    return (float(top_p.mean()), best_p), (float(top_c.mean()), best_c)


@functools.lru_cache(maxsize=16384)
def _read(
    text: str,
    agent_id: str,
    profile: str,
    pro: tuple[str, ...],
    con: tuple[str, ...],
    mechanic: Mechanic,
) -> Reading:
    lex = lexicon_direction(text, mechanic)
    vector = _text_vector(text)
    low, high = _band()
    profile_sim = float(_vectors((profile,))[0] @ vector) if profile.strip() else 0.0
    sims_pro = _vectors(pro) @ vector
    sims_con = _vectors(con) @ vector
    s_pro, s_con = float(sims_pro.max()), float(sims_con.max())
    on_topic = _clip((max(s_pro, s_con) - low) / (high - low), 0.0, 1.0)
    # on-topic news matters to everyone; more to those whose role, goals and moves it touches
    p_low, p_high = _PERSONAL_BANDS["hash" if embedder().name.startswith("hash") else "default"]
    personal = _clip((profile_sim - p_low) / (p_high - p_low), 0.0, 1.0)
    relevance = on_topic * (1.0 - PERSONAL_SHARE + PERSONAL_SHARE * personal)
    (c_pro, i_pro), (c_con, i_con) = _contrast(pro, con, vector)
    semantic = _clip((c_pro - c_con) / MARGIN_FULL) * on_topic
    direction = _clip(SEMANTIC_WEIGHT * semantic + LEXICON_WEIGHT * lex * on_topic)
    salience = SALIENCE_FLOOR + (1.0 - SALIENCE_FLOOR) * relevance
    # the side the contrast picks, quoted with its plain similarity
    if c_pro >= c_con:
        side, argument, sim = "pro", pro[i_pro], float(sims_pro[i_pro])
    else:
        side, argument, sim = "con", con[i_con], float(sims_con[i_con])
    reason = f"closest to {side} argument: '{_short(argument)}' ({sim:.2f})"
    if on_topic == 0.0:
        reason = f"off-topic: nearest argument '{_short(argument)}' only {sim:.2f}"
    if lex:
        reason += f"; word lists {lex:+.2f}"
    return _made(agent_id, direction, relevance, salience, reason, "arguments")


def _made(
    agent_id: str,
    direction: float,
    relevance: float,
    salience: float,
    reason: str,
    source: Literal["stance", "fields", "arguments", "lexicon", "none"],
) -> Reading:
    d = round(direction, _DECIMALS)
    return Reading(
        agent_id=agent_id,
        direction=d,
        strength=abs(d),
        relevance=round(relevance, _DECIMALS),
        salience=round(salience, _DECIMALS),
        reason=reason,
        source=source,
    )


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if np.isfinite(value) else None


def read(
    text: str,
    agent: AgentSpec,
    arguments: Arguments | None,
    mechanic: Mechanic,
    fields: Mapping[str, Any] | None = None,
) -> Reading:
    """How ``agent`` (driven by ``mechanic``) reads an injection of ``text`` (and ``fields``)."""
    fields = fields or {}
    stance = _number(fields.get("stance"))
    if stance is not None and mechanic in ("opinion", "incident"):
        target = _clip(stance)
        return Reading(
            agent.id, target, 1.0, 1.0, 1.0, f"stance push toward {target:+.2f}", "stance"
        )
    if mechanic == "negotiation":
        push, hold = _number(fields.get("pressure")), _number(fields.get("leverage"))
        if push is not None or hold is not None:
            net = _clip(hold or 0.0, 0.0, 1.0) - _clip(push or 0.0, 0.0, 1.0)
            return Reading(
                agent.id, net, abs(net), 1.0, 1.0, "explicit pressure/leverage", "fields"
            )
    if arguments is None:
        return _lexical(text, agent.id, mechanic)
    pro, con = tuple(arguments.pro), tuple(arguments.con)
    return _read(text, agent.id, _profile(agent), pro, con, mechanic)


@functools.lru_cache(maxsize=16384)
def _lexical(text: str, agent_id: str, mechanic: Mechanic) -> Reading:
    """No arguments: the word lists alone, at full salience, as before arguments existed (and
    no embedder is loaded for such a scenario)."""
    direction = _clip(lexicon_direction(text, mechanic))
    if direction:
        reason = f"word lists read {direction:+.2f} (no arguments declared)"
        return _made(agent_id, direction, 1.0, 1.0, reason, "lexicon")
    return _made(agent_id, 0.0, 0.0, 1.0, "no arguments declared, no telling words", "none")


def read_all(
    text: str,
    agents: Sequence[tuple[AgentSpec, Arguments | None, Mechanic]],
    fields: Mapping[str, Any] | None = None,
) -> list[Reading]:
    return [read(text, agent, args, mechanic, fields) for agent, args, mechanic in agents]


@functools.lru_cache(maxsize=16384)
def action_salience(text: str, name: str, description: str, keywords: tuple[str, ...]) -> float:
    """How close ``text`` comes in meaning to an action (its name, description and keywords),
    0..1 on the embedder's relevance band: "they are encrypting the file shares" calls for
    isolating hosts without naming a keyword."""
    words = name.replace("_", " ").replace("-", " ")
    about = "; ".join(part for part in (words, description, ", ".join(keywords)) if part)
    low, high = _ACTION_BAND["hash" if embedder().name.startswith("hash") else "default"]
    similarity = float(_vectors((about,))[0] @ _text_vector(text))
    return round(_clip((similarity - low) / (high - low), 0.0, 1.0), _DECIMALS)
