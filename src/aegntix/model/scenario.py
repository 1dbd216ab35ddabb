"""The scenario file's schema (pydantic v2): what a user writes to describe a sandbox."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from aegntix.model.checks import consistency_problems
from aegntix.model.expressions import ExpressionError, compile_expression
from aegntix.model.text import PlainData, SafeLine, SafeText, stored
from aegntix.model.tools import AllowList, ToolsConfig
from aegntix.model.topology import TopologySpec

Trait = Annotated[float, Field(ge=0.0, le=1.0)]
Stance = Annotated[float, Field(ge=-1.0, le=1.0)]
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")]


def _compiles(value: str) -> str:
    try:
        compile_expression(value)
    except ExpressionError as exc:
        raise ValueError(str(exc)) from None
    return value


Expression = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_compiles)]

MAX_AGENTS = 1000
MAX_STEPS = 1_000_000

MechanicsName = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")]
#: A kind's options in the scenario file (its own model checks them: ``Mechanics.problems``).
MechanicsOptions = dict[Identifier, PlainData] | None


class _Strict(BaseModel):
    # NaN and infinities are refused in every float field (free-form data: PlainData).
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class TurnOrder(StrEnum):
    ROUND_ROBIN = "round_robin"  # every agent each step, in file order, each seeing the previous
    SIMULTANEOUS = "simultaneous"  # every agent sees the state at the start of the step
    RANDOM = "random"  # every agent each step, in a seeded shuffled order


BigFive = Literal["openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism"]
BIG_FIVE: tuple[BigFive, ...] = (
    "openness",
    "conscientiousness",
    "extraversion",
    "agreeableness",
    "neuroticism",
)

#: Traits that drift with experience unless a persona says otherwise.
ADAPTIVE: tuple[BigFive, ...] = ("openness", "agreeableness", "neuroticism")


class Persona(_Strict):
    """Big Five traits in 0..1 plus free-form traits. The Big Five given here are the *core*
    persona; with memory on, the ``adaptive`` ones drift from experience by at most
    ``adaptation_rate`` per reflection, and a drift that would take the consistency with the
    core below ``stability_threshold`` is refused (``aegntix.memory.persona``)."""

    openness: Trait = 0.5
    conscientiousness: Trait = 0.5
    extraversion: Trait = 0.5
    agreeableness: Trait = 0.5
    neuroticism: Trait = 0.5
    traits: dict[Annotated[SafeLine, Field(max_length=100)], SafeText | float | int | bool] = Field(
        default_factory=dict, max_length=100
    )
    adaptive: list[BigFive] = Field(default_factory=lambda: list(ADAPTIVE), max_length=5)
    adaptation_rate: Trait = 0.1
    stability_threshold: Trait = 0.8

    def big_five(self) -> dict[str, float]:
        return {t: float(getattr(self, t)) for t in BIG_FIVE}


class ProfileRef(_Strict):
    """A persistent agent (``aegntix agents``). ``version`` pins which of its committed
    experiences the scenario starts from; unset, the newest when the scenario is created
    (and the stored scenario records that number, so replays never change)."""

    id: Identifier
    version: int | None = Field(default=None, ge=0)
    #: Filled in when the scenario is created (from that version): the Big Five it starts
    #: with and the steps it had lived, so a replay needs nothing from the profile table.
    traits: dict[BigFive, Trait] | None = None
    lived_steps: int | None = Field(default=None, ge=0)


class MemoryWeights(_Strict):
    """Retrieval score = recency·decay^age + importance·(importance/10) + relevance·cosine."""

    recency: float = Field(default=1.0, ge=0.0, le=100.0)
    importance: float = Field(default=1.0, ge=0.0, le=100.0)
    relevance: float = Field(default=1.0, ge=0.0, le=100.0)
    decay: float = Field(default=0.95, gt=0.0, le=1.0)  # per step


class MemoryConfig(_Strict):
    """The memory stream (``aegntix.memory``): what agents remember and recall."""

    #: None: on when any agent has a ``profile``; true/false to force it.
    enabled: bool | None = None
    short_term: int = Field(default=1000, ge=1, le=1_000_000)  # recent memories recallable
    top_k: int = Field(default=8, ge=1, le=200)  # memories recalled per decision, at most
    budget_chars: int = Field(default=1200, ge=1, le=100_000)  # ... and their text, at most
    weights: MemoryWeights = Field(default_factory=MemoryWeights)
    #: Reflect when the importance of memories since the last reflection reaches this.
    reflect_threshold: float = Field(default=40.0, gt=0.0, le=1_000_000.0)
    #: How memories are embedded for relevance: ``wordllama`` (semantic, offline; the default),
    #: ``hash`` (lexical; what older scenarios recorded) or ``minilm`` (the optional extra).
    #: Pinned when the scenario is created: the default is recorded as ``hash`` if WordLlama
    #: could not be loaded, so a replay embeds the way the original run did.
    embedder: Literal["wordllama", "hash", "minilm"] = "wordllama"


class NegotiationTerms(_Strict):
    """What a party to a negotiation wants. ``reservation`` is the walk-away price,
    ``target`` the opening aspiration."""

    side: Literal["buy", "sell", "mediate"]
    reservation: float | None = None
    target: float | None = None

    @model_validator(mode="after")
    def _prices(self) -> Self:
        if self.side == "mediate":
            return self
        if self.reservation is None or self.target is None:
            raise ValueError(f"a '{self.side}' side needs both 'reservation' and 'target'")
        if self.side == "sell" and self.target < self.reservation:
            raise ValueError("a seller's target must be at or above the reservation price")
        if self.side == "buy" and self.target > self.reservation:
            raise ValueError("a buyer's target must be at or below the reservation price")
        return self


class Prices(_Strict):
    """What a provider charges, per 1,000 tokens (any currency; reports just sum it)."""

    input: float = Field(default=0.0, ge=0.0)
    output: float = Field(default=0.0, ge=0.0)


BrainKind = Literal["rules", "openai", "anthropic"]
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


class BrainConfig(_Strict):
    """How an agent thinks. A scenario's ``brain`` applies to every agent; an agent's
    ``brain`` overrides the fields it sets (only set fields are stored, so overrides survive
    a round trip through the database). ``provider`` is accepted as another name for
    ``kind``. API keys are never part of a config: ``api_key_env`` names the environment
    variable (or secrets-file entry) that holds one (see ``docs/brains.md``)."""

    kind: BrainKind = Field(default="rules", validation_alias=AliasChoices("kind", "provider"))
    model: SafeLine | None = Field(default=None, min_length=1, max_length=200)
    base_url: SafeLine | None = Field(default=None, max_length=500, pattern=r"^https?://\S+$")
    api_key_env: str | None = None
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    timeout: float = Field(default=60.0, gt=0.0, le=3600.0)  # seconds, per request
    max_retries: int = Field(default=4, ge=0, le=20)
    backoff: float = Field(default=0.5, ge=0.0, le=60.0)  # first retry delay (s); doubles
    concurrency: int = Field(default=8, ge=1, le=10_000)  # requests in flight per provider
    requests_per_minute: float | None = Field(default=None, gt=0.0)
    fallback: Literal["rules", "fail"] = "rules"
    prices: Prices = Field(default_factory=Prices)
    structured_output: Literal["json_schema", "json_object", "none"] = "json_object"
    options: dict[SafeLine, PlainData] = Field(default_factory=dict)
    #: Rounds of tool calls a model may make before it must decide (0: tools not offered).
    max_tool_rounds: int = Field(default=3, ge=0, le=20)

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        # The message never repeats the value: it might be a key pasted in by mistake.
        if value is not None and not _ENV_NAME.match(value):
            raise ValueError(
                "must name an environment variable (like OPENAI_API_KEY), not hold the key"
            )
        return value

    @model_serializer(mode="wrap")
    def _set_fields_only(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        return {k: v for k, v in data.items() if k in self.model_fields_set}

    def merged(self, override: BrainConfig | None) -> BrainConfig:
        """This config with the fields ``override`` sets replacing its own."""
        if override is None or not override.model_fields_set:
            return self
        return BrainConfig.model_validate({**self.model_dump(), **override.model_dump()})


ArgumentText = Annotated[SafeLine, Field(min_length=3, max_length=300)]


class Arguments(_Strict):
    """What speaks for (``pro``) and against (``con``) the topic, in plain words. The rules
    brain reads an injection's direction by how close its meaning is to each side
    (``aegntix.brains.rules.reading``). Per mechanics: in a debate ``pro`` moves a stance
    toward +1; for a negotiator ``pro`` strengthens its hand (leverage: hold firm) and ``con``
    weakens it (pressure: concede); in a tabletop exercise ``pro`` escalates (worse, more
    urgent) and ``con`` de-escalates."""

    pro: list[ArgumentText] = Field(min_length=1, max_length=50)
    con: list[ArgumentText] = Field(min_length=1, max_length=50)

    @field_validator("pro", "con")
    @classmethod
    def _words(cls, value: list[str]) -> list[str]:
        cleaned = [v.strip() for v in value]
        for i, text in enumerate(cleaned):
            if len(text.split()) < 2:
                raise ValueError(f"argument {i} ({text!r}) needs a few words, not one")
        if len(set(cleaned)) != len(cleaned):
            raise ValueError("an argument is listed twice")
        return cleaned

    @model_validator(mode="after")
    def _apart(self) -> Self:
        both = sorted(set(self.pro) & set(self.con))
        if both:
            raise ValueError(f"an argument cannot be both pro and con: {both[0]!r}")
        return self


class AgentSpec(_Strict):
    id: Identifier
    name: SafeLine = Field(min_length=1, max_length=200)
    role: SafeLine = Field(min_length=1, max_length=200)
    goals: list[Annotated[SafeText, Field(max_length=1000)]] = Field(
        default_factory=list, max_length=50
    )
    backstory: SafeText = Field(default="", max_length=10_000)
    persona: Persona = Field(default_factory=Persona)
    stance: Stance | None = None
    #: A Delphi panelist's own estimate before the panel meets (``mechanics: delphi``).
    estimate: float | None = None
    negotiation: NegotiationTerms | None = None
    actions: list[Identifier] = Field(default_factory=list, max_length=200)
    objective: Expression | None = None
    brain: BrainConfig | None = None
    profile: ProfileRef | None = None
    #: This agent's own arguments (a negotiator's leverage vs pressure); else the scenario's.
    arguments: Arguments | None = None
    #: The tools it may call (``server.tool``, ``server.*``, ``*``); unset: the scenario's
    #: ``tools.default_allow``.
    tools: AllowList | None = None

    @model_serializer(mode="wrap")
    def _without_unset_estimate(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Unset stays out of the stored spec, so agents stored before the key existed keep
        # their scenario's spec hash.
        data: dict[str, Any] = handler(self)
        for key in ("estimate", "tools"):
            if getattr(self, key) is None:
                data.pop(key, None)
        return data

    @field_validator("goals", mode="before")
    @classmethod
    def _one_goal(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("profile", mode="before")
    @classmethod
    def _profile_id(cls, value: Any) -> Any:
        return {"id": value} if isinstance(value, str) else value


class ActionSpec(_Strict):
    """A move agents may make: its effects are expressions over the world, applied in order."""

    description: SafeText = Field(default="", max_length=1000)
    effects: dict[Identifier, Expression] = Field(default_factory=dict)
    once: bool = False
    keywords: list[Annotated[SafeLine, Field(max_length=200)]] = Field(
        default_factory=list, max_length=50
    )
    #: A tool the engine calls when an agent takes this action (``server.tool``), with
    #: these arguments; the result goes into world key ``into`` before the effects apply.
    tool: str | None = Field(default=None, max_length=200)
    arguments: dict[Identifier, PlainData] | None = None
    into: Identifier | None = None

    @model_serializer(mode="wrap")
    def _without_unset_tool(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # As for agents: actions stored before tools existed keep their spec hash.
        data: dict[str, Any] = handler(self)
        for key in ("tool", "arguments", "into"):
            if getattr(self, key) is None:
                data.pop(key, None)
        return data


class Termination(_Strict):
    max_steps: int | None = Field(default=None, ge=1, le=MAX_STEPS)
    when: Expression | None = None

    @model_validator(mode="after")
    def _something(self) -> Self:
        if self.max_steps is None and self.when is None:
            raise ValueError("set 'max_steps', 'when', or both")
        return self


class OutcomeSpec(_Strict):
    expr: Expression
    per_agent: bool = False
    description: SafeText = Field(default="", max_length=1000)


class Scenario(_Strict):
    name: SafeLine = Field(min_length=1, max_length=200)
    description: SafeText = Field(default="", max_length=20_000)
    topic: SafeLine = Field(default="", max_length=1000)
    #: The arguments on each side of the topic (how injections are read; docs/scenarios.md).
    arguments: Arguments | None = None
    seed: int = Field(default=0, ge=0, lt=2**63)
    world: dict[Identifier, PlainData] = Field(default_factory=dict)
    agents: list[AgentSpec] = Field(min_length=1, max_length=MAX_AGENTS)
    turn_order: TurnOrder = TurnOrder.ROUND_ROBIN
    memory_window: int = Field(default=3, ge=0, le=100)
    termination: Termination
    outcomes: dict[Identifier, OutcomeSpec] = Field(default_factory=dict)
    actions: dict[Identifier, ActionSpec] = Field(default_factory=dict)
    dynamics: dict[Identifier, Expression] = Field(default_factory=dict)
    brain: BrainConfig = Field(default_factory=BrainConfig)
    memory: MemoryConfig = Field(default_factory=MemoryConfig)
    #: The scenario's kind(s) (``aegntix.mechanics``): one registered name or several acting
    #: together; as a mapping, each name with its options (``vote: {rule: majority}``),
    #: checked by the kind, the kinds acting in the order of their names. Unset: every
    #: built-in kind, each on the agents that declare its terms.
    mechanics: (
        MechanicsName | list[MechanicsName] | dict[MechanicsName, MechanicsOptions] | None
    ) = None

    @field_validator("mechanics")
    @classmethod
    def _registered(
        cls, value: str | list[str] | dict[str, Any] | None, info: ValidationInfo
    ) -> str | list[str] | dict[str, Any] | None:
        if value is None or stored(info):
            return value
        from aegntix.errors import ScenarioInvalid
        from aegntix.mechanics import combined

        if isinstance(value, str):
            names = [value]
        elif isinstance(value, dict):
            names = sorted(value)  # as registry.names_of: a mapping acts in name order
        else:
            names = value
        try:
            combined(names)
        except ScenarioInvalid as exc:
            raise ValueError(exc.reason) from None
        return value

    #: Who hears whom (``aegntix.swarm``); unset: everyone hears everyone (mesh).
    topology: TopologySpec | None = None
    #: MCP servers whose tools agents may call (``aegntix.tools``, docs/tools.md).
    tools: ToolsConfig | None = None

    @model_serializer(mode="wrap")
    def _without_defaults(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Unset stays out of the stored spec, so scenarios stored before the key existed
        # keep their spec hash (and their timelines' start events).
        data: dict[str, Any] = handler(self)
        if self.mechanics is None:
            data.pop("mechanics", None)
        if self.topology is None:
            data.pop("topology", None)
        if self.tools is None:
            data.pop("tools", None)
        return data

    @field_validator("outcomes", mode="before")
    @classmethod
    def _short_outcomes(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: {"expr": v} if isinstance(v, str) else v for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> Self:
        from aegntix.mechanics import mechanics_of

        # The world facts its mechanics keep (a negotiation's deal and price).
        for key, default in mechanics_of(self).world_defaults(self).items():
            self.world.setdefault(key, default)
        problems = [] if stored(info) else consistency_problems(self)
        if problems:
            # One error carrying every problem with its field path (the loader lists them).
            summary = "; ".join(f"{'.'.join(map(str, loc))}: {why}" for loc, why in problems)
            raise PydanticCustomError(
                "consistency", "{summary}", {"summary": summary, "problems": problems}
            )
        return self

    @property
    def memory_on(self) -> bool:
        """Whether agents form and recall memories in this scenario."""
        if self.memory.enabled is not None:
            return self.memory.enabled
        return any(a.profile is not None for a in self.agents)

    def brain_for(self, agent: AgentSpec) -> BrainConfig:
        """The agent's effective brain: the scenario's, with the agent's overrides."""
        return self.brain.merged(agent.brain)

    def arguments_for(self, agent: AgentSpec) -> Arguments | None:
        """The arguments an agent reads injections against: its own, else the scenario's."""
        return agent.arguments if agent.arguments is not None else self.arguments

    def agent(self, agent_id: str) -> AgentSpec:
        # By id, not a scan: the engine asks for every decision (1,000 agents: 1,000² scans)
        hit = _agents_by_id.get(id(self))
        if hit is None or hit[0] is not self:
            if len(_agents_by_id) >= 256:
                _agents_by_id.clear()
            hit = _agents_by_id[id(self)] = (self, {a.id: a for a in self.agents})
        return hit[1][agent_id]


#: id(scenario) -> (the scenario, its agents by id); holding the scenario keeps its id unique.
_agents_by_id: dict[int, tuple[Scenario, dict[str, AgentSpec]]] = {}


def stored_scenario(spec: dict[str, Any]) -> Scenario:
    """A scenario the database already holds, read back. It was validated when it was stored;
    text, data and cross-field rules added since are not applied again, so a newer rule never
    locks an older scenario (and its branches) out."""
    return Scenario.model_validate(spec, context={"stored": True})
