"""Tools in the step loop: each decision's view gets the agent's tools, and the calls it made
(plus the call of a tool-bound action it takes) become ``tool_call``/``tool_result`` events
recorded before the decision's own events. Calls go through the recorder, so a replay or a
fork reads recorded results and calls no server."""

from __future__ import annotations

import dataclasses
from typing import Any

from aegntix.brains.base import Decision, Observation
from aegntix.errors import ExpressionFailed
from aegntix.model.events import EventKind, NewEvent
from aegntix.model.expressions import evaluate
from aegntix.model.outcomes import expression_names
from aegntix.model.scenario import Scenario
from aegntix.model.state import State
from aegntix.model.tools import argument_expression, literal_argument
from aegntix.timeline.store import Store
from aegntix.tools.base import ToolCaller, ToolOutcome
from aegntix.tools.recorded import DecisionTools, RecordedTools
from aegntix.tools.results import short
from aegntix.tools.router import ToolRouter, process_router

#: What a runner may be given: a caller (a test double, wrapped by the recorder), a router
#: (whose servers to use), or None (the process's router, when the scenario declares tools).
ToolsSource = ToolCaller | ToolRouter | None


class EngineTools:
    """One runner's tools. ``prepare`` once per run, before its first step."""

    def __init__(
        self,
        scenario: Scenario,
        store: Store,
        branch_id: str,
        source: ToolsSource = None,
        tenant_id: str = "default",
    ) -> None:
        self.scenario = scenario
        self.tenant_id = tenant_id
        self.store = store
        self.branch_id = branch_id
        self.source = source
        self.recorder: RecordedTools | None = None

    @property
    def enabled(self) -> bool:
        return self.scenario.tools is not None or isinstance(self.source, ToolCaller)

    async def prepare(self) -> None:
        """A fresh recorder per run (it loads the recorded results once); servers start
        here (secrets resolved, exactly named tools checked)."""
        if not self.enabled:
            return
        if isinstance(self.source, ToolCaller):
            live: ToolCaller = self.source
        else:
            router = self.source if self.source is not None else process_router()
            live = router.for_run(self.scenario, self.tenant_id)
        self.recorder = RecordedTools(live, self.store, self.branch_id)
        await self.recorder.prepare()

    def view(self, view: Observation) -> Observation:
        """``view`` with the agent's tools for this decision."""
        if self.recorder is None:
            return view
        return dataclasses.replace(view, tools=self.recorder.decision(view.agent.id, view.step))

    async def events_for(
        self, view: Observation, decision: Decision, state: State
    ) -> list[NewEvent]:
        """The tool events of a decision: the brain's calls, then a tool-bound action's
        call and (if it returned) the world patch putting its result ``into`` the world."""
        tools = view.tools
        if not isinstance(tools, DecisionTools):
            return []
        agent_id, step = view.agent.id, view.step
        bound = await self._bound_action(tools, decision, state, agent_id)
        events: list[NewEvent] = []
        for index, outcome in tools.numbered():
            events.extend(tool_events(agent_id, step, index, outcome))
        if bound is not None:
            into, outcome = bound
            if outcome.ok and into is not None:
                patch = {f"world.{into}": world_value(outcome.result)}
                events.append(
                    NewEvent(step, EventKind.WORLD, {"set": patch, "cause": "tool"}, agent_id)
                )
        return events

    async def _bound_action(
        self, tools: DecisionTools, decision: Decision, state: State, agent_id: str
    ) -> tuple[str | None, ToolOutcome] | None:
        if decision.action != "act" or decision.act is None:
            return None
        spec = self.scenario.actions.get(decision.act)
        agent = self.scenario.agent(agent_id)
        if spec is None or spec.tool is None or decision.act not in agent.actions:
            return None
        if spec.once and decision.act in state["world"].get("_actions_taken", {}):
            return None  # refused by the effects anyway: no call
        names = expression_names(self.scenario, state)
        arguments: dict[str, Any] = {}
        for key, value in (spec.arguments or {}).items():
            source = argument_expression(value)
            if source is None:
                arguments[key] = literal_argument(value)
                continue
            field = f"actions.{decision.act}.arguments.{key}"
            try:
                arguments[key] = plain(evaluate(source, names, field=field))
            except ExpressionFailed as exc:  # recorded as the call's error; no call is made
                failed = ToolOutcome(spec.tool, dict(spec.arguments or {}), error=short(str(exc)))
                tools.failed(failed)
                return spec.into, failed
        outcome = await tools.call(spec.tool, arguments)
        return spec.into, outcome


def tool_events(agent_id: str, step: int, index: int, outcome: ToolOutcome) -> list[NewEvent]:
    """The ``tool_call`` and ``tool_result`` of one call (payloads: ``tools/base.py``)."""
    server, _, tool = outcome.name.partition(".")
    named = {"call": index, "name": outcome.name, "server": server, "tool": tool}
    call = {**named, "arguments": dict(outcome.arguments)}
    result: dict[str, Any] = dict(named)
    if outcome.error is not None:
        result["error"] = outcome.error
    else:
        result["result"] = outcome.result
    result["latency_ms"] = outcome.latency_ms
    result["truncated"] = outcome.truncated
    return [
        NewEvent(step, EventKind.TOOL_CALL, call, agent_id),
        NewEvent(step, EventKind.TOOL_RESULT, result, agent_id),
    ]


def plain(value: Any) -> Any:
    """An evaluated argument as JSON keeps it (floats without platform noise)."""
    return round(value, 9) if isinstance(value, float) else value


def world_value(result: Any) -> Any:
    """A result as a world value: a server's wrapped scalar (``{"result": x}``, how MCP
    servers return a number or a text) is unwrapped, so expressions can compute with it."""
    if isinstance(result, dict) and list(result) == ["result"]:
        return result["result"]
    return result
