"""Voting: each voter's ballot (``vote``: one of the options, or ``abstain``) stands until it
changes; every ``every`` steps a round counts the standing ballots.

A round is held only if ``quorum`` voters have a ballot (abstentions count toward it, as in
an assembly). Then each option's weight is summed (``weights``: 1 each, declared per voter,
``degree`` in the scenario's topology, or another registered source) over the ballots that are not
abstentions; the leading option is decided when its share of that weight is more than half
(``majority``) or at least ``threshold`` (``supermajority``, default 2/3). Otherwise the
round ends in a ``tie`` (two or more options share the lead) or ``short`` (the leader is
below the rule); ``no_quorum`` and ``no_votes`` (only abstentions) decide nothing either.
Rounds stop once an option is decided or after ``max_rounds``.

``agreement`` is the leading option's share of the weight cast (1: unanimous).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field

from aegntix.mechanics.base import DecisionField, Loc, State, Turn
from aegntix.mechanics.consensus import (
    WEIGHT_SOURCES,
    Options,
    Protocol,
    clean,
    option_problems,
    parsed,
    unknown_ids,
)
from aegntix.model.events import EventKind, NewEvent

if TYPE_CHECKING:
    import random

    from aegntix.model.scenario import AgentSpec, Scenario

ABSTAIN = "abstain"
OptionName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,99}$")]


class VoteOptions(Options):
    rule: Literal["majority", "supermajority"] = "majority"
    #: supermajority: the share of the weight cast the leading option needs (0.5 < t <= 1).
    threshold: float | None = None
    #: Voters with a ballot (abstentions included) for a round to count; unset: more than
    #: half the voters.
    quorum: int | None = Field(default=None, ge=0)
    options: list[OptionName] = Field(
        default_factory=lambda: ["yes", "no"], min_length=2, max_length=50
    )
    #: Who votes (default: every agent).
    voters: list[str] | None = Field(default=None, min_length=1)
    #: ``equal``, a weight per voter (unlisted voters weigh 1), or a registered source.
    weights: dict[str, float] | str = "equal"
    every: int = Field(default=1, ge=1, le=10_000)
    max_rounds: int | None = Field(default=None, ge=1, le=1_000_000)

    def threshold_value(self) -> float:
        if self.rule == "majority":
            return 0.5
        return self.threshold if self.threshold is not None else 2 / 3


def _ballot(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ValueError("a ballot is the name of an option, or abstain")


VOTE = DecisionField(
    "vote",
    {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
    "your ballot: one of the options in the facts' vote_options, or abstain; it stands "
    "until you change it (null: leave it as it is)",
    parse=_ballot,
)


class Vote(Protocol):
    name = "vote"
    prefix = "vote_"
    decision_fields = (VOTE,)
    agent_names = frozenset({"vote"})

    def options(self, scenario: Scenario) -> VoteOptions:
        return parsed(scenario, self.name, VoteOptions)

    def problems(self, scenario: Scenario) -> list[tuple[Loc, str]]:
        opts, found = option_problems(scenario, self.name, VoteOptions)
        if opts is None:
            return found
        here: Loc = ("mechanics", self.name)
        if opts.threshold is not None:
            if opts.rule == "majority":
                found.append(
                    (
                        (*here, "threshold"),
                        "a threshold is for rule: supermajority (majority is more than half)",
                    )
                )
            elif not 0.5 < opts.threshold <= 1.0:
                found.append(
                    (
                        (*here, "threshold"),
                        f"threshold {opts.threshold} is out of range: above 0.5, at most 1",
                    )
                )
        if len(set(opts.options)) != len(opts.options) or ABSTAIN in opts.options:
            found.append(((*here, "options"), "options must differ and may not be 'abstain'"))
        voters = opts.voters if opts.voters is not None else [a.id for a in scenario.agents]
        found.extend(unknown_ids(scenario, self.name, "voters", opts.voters or []))
        if opts.quorum is not None and opts.quorum > len(voters):
            found.append(
                (
                    (*here, "quorum"),
                    f"quorum {opts.quorum} is more than the {len(voters)} voters",
                )
            )
        if isinstance(opts.weights, dict):
            found.extend(unknown_ids(scenario, self.name, "weights", list(opts.weights)))
            for who, weight in opts.weights.items():
                if weight < 0:
                    found.append(((*here, "weights", who), "a weight may not be negative"))
        elif opts.weights == "degree" and (scenario.topology is None or scenario.topology.is_mesh):
            found.append(
                (
                    (*here, "weights"),
                    "weights 'degree' needs a topology (on a mesh every voter has the same "
                    "degree): add topology: {kind: ...}",
                )
            )
        elif opts.weights != "equal" and opts.weights not in WEIGHT_SOURCES:
            known = ", ".join(["equal", "a mapping of voter: weight", *sorted(WEIGHT_SOURCES)])
            found.append(((*here, "weights"), f"unknown weights '{opts.weights}' (known: {known})"))
        return found

    def initial_agent(self, agent: AgentSpec) -> dict[str, Any]:
        return {"vote": None}

    def world_defaults(self, scenario: Scenario) -> dict[str, Any]:
        opts, _ = option_problems(scenario, self.name, VoteOptions)
        shown = list(opts.options) if opts is not None else ["yes", "no"]
        voters = {"vote_voters": list(opts.voters)} if opts and opts.voters else {}
        return {
            **voters,
            "vote_options": shown,
            "vote_tally": None,
            "vote_result": None,
            **self.result_defaults(),
        }

    def on_decision(self, turn: Turn) -> None:
        ballot = turn.value("vote")
        if ballot is None:
            return
        opts = self.options(turn.scenario)
        if opts.voters is not None and turn.agent.id not in opts.voters:
            turn.fields.pop("vote", None)
            turn.reject(f"'{turn.agent.id}' is not a voter")
        elif ballot != ABSTAIN and ballot not in opts.options:
            turn.fields.pop("vote", None)
            turn.reject(f"'{ballot}' is not an option ({', '.join(opts.options)} or abstain)")
        else:
            turn.fields["vote"] = ballot
            if ballot != turn.own.get("vote"):
                turn.patch[f"agents.{turn.agent.id}.vote"] = ballot

    def on_step_end(
        self, scenario: Scenario, state: State, step: int, rng: random.Random
    ) -> list[NewEvent]:
        opts = self.options(scenario)
        if step % opts.every or self.concluded(state):
            return []
        round_ = self.next_round(state)
        voters = opts.voters if opts.voters is not None else [a.id for a in scenario.agents]
        agents = state["agents"]
        ballots = {v: agents.get(v, {}).get("vote") for v in voters}
        ballots = {v: b for v, b in ballots.items() if b is not None}
        result = tally(ballots, weights_for(scenario, opts, voters), opts, len(voters))
        decided = result["result"] == "decided"
        out_of_rounds = opts.max_rounds is not None and round_ >= opts.max_rounds
        patch: dict[str, Any] = {
            "world.vote_round": round_,
            "world.vote_tally": result["tally"],
            "world.vote_result": result["result"],
            "world.vote_agreement": result["agreement"],
        }
        if decided:
            patch["world.vote_decision"] = result["leader"]
            patch["world.vote_decided_round"] = round_
        if decided or out_of_rounds:
            patch["world.vote_concluded"] = True
        payload = {"set": patch, "cause": "vote", "round": round_, "ballots": ballots, **result}
        return [NewEvent(step, EventKind.WORLD, payload)]

    def prompt_lines(self, agent: AgentSpec) -> list[str]:
        return [
            "Decisions here are taken by vote: give your ballot as vote (an option named in "
            "vote_options, or abstain). It stands until you change it; at the end of a round "
            "the facts show the tally (vote_tally) and the result (vote_result)."
        ]

    def describe(self, fields: Mapping[str, Any]) -> str:
        ballot = fields.get("vote")
        return f" (votes {ballot})" if isinstance(ballot, str) else ""


def weights_for(scenario: Scenario, opts: VoteOptions, voters: list[str]) -> dict[str, float]:
    """Each voter's weight: 1, declared (unlisted voters 1), or the registered source's."""
    if opts.weights == "equal":
        return dict.fromkeys(voters, 1.0)
    if isinstance(opts.weights, dict):
        declared = opts.weights
        return {v: float(declared.get(v, 1.0)) for v in voters}
    source = WEIGHT_SOURCES[opts.weights](scenario)
    return {v: float(source.get(v, 0.0)) for v in voters}


def tally(
    ballots: Mapping[str, str],
    weights: Mapping[str, float],
    opts: VoteOptions,
    n_voters: int,
) -> dict[str, Any]:
    """One round's count: ``tally`` (weight per option, in the options' order), ``cast``
    (voters with a ballot), ``quorum``, ``result`` (decided, tie, short, no_quorum,
    no_votes), ``leader`` and ``agreement`` (the leader's share of the weight cast)."""
    quorum = opts.quorum if opts.quorum is not None else n_voters // 2 + 1
    counts = dict.fromkeys(opts.options, 0.0)
    for voter, ballot in ballots.items():
        if ballot in counts:
            counts[ballot] += weights.get(voter, 1.0)
    counts = {k: clean(v) for k, v in counts.items()}
    cast = len(ballots)
    total = sum(counts.values())
    top = max(counts.values())
    leaders = [k for k, v in counts.items() if v == top]
    share = clean(top / total) if total > 0 else None
    base = {"tally": counts, "cast": cast, "quorum": quorum, "agreement": share}
    if cast < quorum:
        return {**base, "result": "no_quorum", "leader": None}
    if total <= 0:
        return {**base, "result": "no_votes", "leader": None}
    needed = opts.threshold_value()
    assert share is not None
    won = share > needed if opts.rule == "majority" else share >= needed - 1e-9
    if won and len(leaders) == 1:
        return {**base, "result": "decided", "leader": leaders[0]}
    return {**base, "result": "tie" if len(leaders) > 1 else "short", "leader": None}
