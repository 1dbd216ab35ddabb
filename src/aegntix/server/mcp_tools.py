"""The MCP tools of AegntiX (served by ``server/mcp.py``): each calls the same route
functions and role checks as the REST API, on the caller's tenant. Ids may be unique
prefixes; another tenant's id is not found, exactly as a missing one. Errors raised here
become typed tool errors (``server/mcp_errors.py``); :func:`naming` ties one to the argument
it is about.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import FastAPI
from mcp.server.mcpserver import Context
from pydantic import Field

from aegntix.analysis.records import MAX_ROLLOUTS
from aegntix.analysis.rollouts import repository
from aegntix.errors import ForkOutOfRange, InvalidRequest, NotFound
from aegntix.model.events import EventKind
from aegntix.model.loading import MAX_FILE_BYTES, check_text
from aegntix.security.roles import Action, Principal
from aegntix.server.auth import check_role
from aegntix.server.deps import get_runs, resolved, tenant_store
from aegntix.server.hub import EventHub, Subscription
from aegntix.server.mcp_errors import naming
from aegntix.server.problems import Problem
from aegntix.server.rollout_stream import set_out
from aegntix.server.routes import branches, metrics, rollouts, scenarios
from aegntix.server.schemas import (
    INT64,
    MAX_ID,
    MAX_LABEL,
    ForkRequest,
    Injection,
    RunRequest,
    branch_json,
)
from aegntix.timeline.leases import as_running
from aegntix.timeline.tenancy import TenantStore

#: Who calls a tool: the request's API key (HTTP) or the local owner (stdio).
Caller = Callable[[Context], Principal]

BranchRef = Annotated[
    str,
    Field(min_length=1, max_length=MAX_ID, description="Branch id, or a unique prefix of it."),
]
Step = Annotated[int, Field(ge=0, le=INT64)]


class Tools:
    """The tools, on ``app``'s store, runs and rollout tasks; ``caller`` says who calls."""

    def __init__(self, app: FastAPI, caller: Caller) -> None:
        self._app = app
        self._caller = caller

    def _store(self, ctx: Context, action: Action) -> TenantStore:
        principal = self._caller(ctx)
        check_role(principal, action)
        return tenant_store(self._app, principal)

    @staticmethod
    async def _branch(store: TenantStore, ref: str, field: str = "branch_id") -> str:
        with naming(field, NotFound):
            return await asyncio.to_thread(resolved, store, ref, field, "branch")

    # -- scenarios -----------------------------------------------------------------------
    async def list_examples(self, ctx: Context) -> dict[str, Any]:
        """The example scenarios shipped with AegntiX (name, title, description, whether
        they need a language model). Pass a name to create_scenario(example=...)."""
        store = self._store(ctx, Action.READ)
        return {"examples": await scenarios.list_examples(store)}

    async def list_scenarios(self, ctx: Context) -> dict[str, Any]:
        """This tenant's scenarios, oldest first (id, name, agents, description)."""
        store = self._store(ctx, Action.READ)
        return {"scenarios": await asyncio.to_thread(scenarios.list_scenarios, store)}

    async def create_scenario(
        self,
        ctx: Context,
        text: Annotated[
            str | None,
            Field(description="A scenario as YAML (or JSON) text; see `aegntix schema`."),
        ] = None,
        example: Annotated[
            str | None,
            Field(max_length=100, description="Or the name of an example (list_examples)."),
        ] = None,
        format: Annotated[
            Literal["yaml", "json"], Field(description="How `text` is written.")
        ] = "yaml",
    ) -> dict[str, Any]:
        """Record a scenario and its root branch (step 0), from `text` or an `example` name
        (exactly one). Returns the scenario, its root_branch (run it next) and warnings. An
        invalid scenario is an error listing every problem (field, reason, line)."""
        store = self._store(ctx, Action.WRITE)
        if (text is None) == (example is None):
            raise InvalidRequest("give exactly one of text and example", field="text")
        if example is not None:
            with naming("example", NotFound, Problem):
                return await scenarios.create_example(example, store)
        assert text is not None
        if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
            raise InvalidRequest(f"a scenario is at most {MAX_FILE_BYTES:,} bytes", field="text")
        checked = await asyncio.to_thread(
            check_text, text, source="<text>", as_json=format == "json"
        )
        return await asyncio.to_thread(scenarios.create_checked, store, checked)

    # -- branches ------------------------------------------------------------------------
    async def list_branches(
        self,
        ctx: Context,
        scenario_id: Annotated[
            str | None,
            Field(min_length=1, max_length=MAX_ID, description="Only this scenario's."),
        ] = None,
    ) -> dict[str, Any]:
        """This tenant's branches (of one scenario, if given), oldest first: id, parent,
        fork_step, label, status, head_step."""
        store = self._store(ctx, Action.READ)
        found = await asyncio.to_thread(branches.list_branches, store, scenario_id)
        return {"branches": found}

    async def get_branch(self, ctx: Context, branch_id: BranchRef) -> dict[str, Any]:
        """A branch: status, whether it is running now, head (seq, step), failure if any,
        and its scenario's outcomes at the head."""
        store = self._store(ctx, Action.READ)
        branch_id = await self._branch(store, branch_id)
        return await self._described(store, branch_id)

    async def _described(self, store: TenantStore, branch_id: str) -> dict[str, Any]:
        # status and running from ONE read of the row and its lease (as GET /branches/{id})
        leases = get_runs(self._app).leases
        stored, lease = await asyncio.to_thread(leases.read, branch_id, store.tenant_id)
        branch, running = as_running(stored, lease, time.time())
        outcomes = await asyncio.to_thread(branches.branch_outcomes, branch_id, store)
        return {**branch_json(branch), "running": running, "outcomes": outcomes["outcomes"]}

    async def run(
        self,
        ctx: Context,
        branch_id: BranchRef,
        steps: Annotated[
            int | None,
            Field(ge=1, le=1_000_000, description="Run this many steps (default: to the end)."),
        ] = None,
        wait: Annotated[bool, Field(description="Wait for the run to stop.")] = True,
        timeout: Annotated[
            float, Field(gt=0, le=600, description="Seconds to wait at most.")
        ] = 60.0,
    ) -> dict[str, Any]:
        """Run a branch from its head (for `steps` steps, or until the scenario ends). With
        `wait`, returns once it stopped (or after `timeout` s: `timed_out`, still running)
        with its status, head and outcomes; else at once (`running`)."""
        store = self._store(ctx, Action.WRITE)
        branch_id = await self._branch(store, branch_id)
        hub: EventHub = self._app.state.hub
        feed = hub.subscribe(branch_id) if wait else None  # before the start: nothing missed
        try:
            body = RunRequest(steps=steps)
            started = await branches.run_branch(branch_id, store, get_runs(self._app), body)
            stopped = feed is None or await self._stopped(store, branch_id, feed, timeout)
        finally:
            if feed is not None:
                feed.close()
        described = await self._described(store, branch_id)
        return {**described, "started": started["status"], "timed_out": not stopped}

    async def _stopped(
        self, store: TenantStore, branch_id: str, feed: Subscription, timeout: float
    ) -> bool:
        """Whether the branch stopped running within ``timeout`` seconds."""
        runs = get_runs(self._app)
        deadline = time.monotonic() + timeout
        while (await runs.status(store, branch_id)).running:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            # woken by each step's events and by the final status; read again at least once
            # a second all the same (a status another process set may come late)
            await feed.wait(min(left, 1.0))
            feed.take()
        return True

    async def pause(self, ctx: Context, branch_id: BranchRef) -> dict[str, Any]:
        """Ask a running branch to stop after its step in progress (it ends `paused`)."""
        store = self._store(ctx, Action.WRITE)
        branch_id = await self._branch(store, branch_id)
        return await branches.pause_branch(branch_id, store, get_runs(self._app))

    async def fork(
        self,
        ctx: Context,
        branch_id: BranchRef,
        at_step: Annotated[
            Step, Field(description="Share the branch's history up to this completed step.")
        ],
        injection: Annotated[
            Injection | None,
            Field(
                description="What to inject into the new branch after at_step: content, "
                "targets (agent ids; default all), strategy (direct, broadcast, organic, "
                "gradual), urgency 0..1, ..."
            ),
        ] = None,
        label: Annotated[
            str | None, Field(min_length=1, max_length=MAX_LABEL, description="Its name.")
        ] = None,
        seed: Annotated[
            int | None, Field(ge=0, le=INT64, description="Another seed (default: the same).")
        ] = None,
    ) -> dict[str, Any]:
        """A new branch sharing this one's history up to `at_step` (O(1), nothing copied),
        with an optional `injection` as its first event. Run it next, then compare it with
        the original. A fork with no injection and the same seed replays the original."""
        store = self._store(ctx, Action.WRITE)
        branch_id = await self._branch(store, branch_id)
        body = ForkRequest(at_step=at_step, label=label, seed=seed, injection=injection)
        with naming("at_step", ForkOutOfRange):
            return await branches.fork_branch(branch_id, body, store)

    async def compare(self, ctx: Context, a: BranchRef, b: BranchRef) -> dict[str, Any]:
        """Where two branches part (common ancestor, divergence step), how their worlds and
        outcomes differ, and the outcome distance step by step."""
        store = self._store(ctx, Action.READ)
        return await asyncio.to_thread(branches.compare, store, a, b)

    async def read_events(
        self,
        ctx: Context,
        branch_id: BranchRef,
        from_seq: Annotated[int, Field(ge=1, le=INT64, description="First seq to read.")] = 1,
        limit: Annotated[int, Field(ge=1, le=1000, description="Events at most.")] = 50,
        kind: Annotated[
            Literal[
                "message",
                "action",
                "tool_call",
                "tool_result",
                "injection",
                "world",
                "memory",
                "system",
                "decision",
            ]
            | None,
            Field(description="Only events of this kind."),
        ] = None,
        agent_id: Annotated[
            str | None, Field(min_length=1, max_length=MAX_ID, description="Only this agent's.")
        ] = None,
    ) -> dict[str, Any]:
        """A page of the branch's events (its ancestors' up to each fork, then its own) from
        `from_seq`; `next_seq` continues it (null: nothing more yet)."""
        store = self._store(ctx, Action.READ)
        branch_id = await self._branch(store, branch_id)
        chosen = None if kind is None else EventKind(kind)
        return await asyncio.to_thread(
            branches.branch_events, branch_id, store, from_seq, limit, chosen, agent_id
        )

    async def state_at(
        self,
        ctx: Context,
        branch_id: BranchRef,
        step: Annotated[Step | None, Field(description="A completed step (default: head).")] = None,
    ) -> dict[str, Any]:
        """The world, the agents and the scenario's outcomes after `step`."""
        store = self._store(ctx, Action.READ)
        branch_id = await self._branch(store, branch_id)
        with naming("step", ForkOutOfRange):
            state = await asyncio.to_thread(branches.branch_state, branch_id, store, step)
            outcomes = await asyncio.to_thread(branches.branch_outcomes, branch_id, store, step)
        return {**state, "outcomes": outcomes["outcomes"]}

    async def metrics(self, ctx: Context, branch_id: BranchRef) -> dict[str, Any]:
        """Emergence metrics per step and at the head: polarization, opinion clusters,
        consensus step, influence per speaker, echo chamber."""
        store = self._store(ctx, Action.READ)
        branch_id = await self._branch(store, branch_id)
        return await metrics.get_metrics(branch_id, store)

    # -- rollout sets --------------------------------------------------------------------
    async def start_rollouts(
        self,
        ctx: Context,
        branch_id: BranchRef,
        at_step: Annotated[Step, Field(description="Fork every member at this step.")],
        n: Annotated[int, Field(ge=1, le=MAX_ROLLOUTS, description="How many futures.")],
        injection: Annotated[
            Injection | None,
            Field(description="Inject into every member; a control set without it runs too."),
        ] = None,
        seed_base: Annotated[int | None, Field(ge=0, le=INT64)] = None,
    ) -> dict[str, Any]:
        """Start a rollout set: `n` futures forked from the branch at `at_step`, each with
        its own seed, run to the end in the background. With an `injection`, a control set
        of the same seeds runs without it, so get_rollouts reports the injection's effect.
        Returns the set (its `id`) at once; follow it with get_rollouts."""
        store = self._store(ctx, Action.WRITE)
        branch_id = await self._branch(store, branch_id)
        body = rollouts.RolloutRequest(
            at_step=at_step, n=n, injection=injection, seed_base=seed_base
        )
        with naming("at_step", ForkOutOfRange):
            return await rollouts.start_set(self._app, store, branch_id, body)

    async def get_rollouts(
        self,
        ctx: Context,
        set_id: Annotated[str, Field(min_length=1, max_length=MAX_ID)],
        stats: Annotated[bool, Field(description="Add the outcome statistics.")] = True,
        members: Annotated[bool, Field(description="Add each member's branch.")] = False,
    ) -> dict[str, Any]:
        """A rollout set's progress (done / total, running) and, with `stats`, each
        outcome's distribution over the finished members and the injection's effect
        against the control (CI, effect size, p-value, a sentence)."""
        store = self._store(ctx, Action.READ)
        repo = repository(store)
        with naming("set_id", NotFound):
            set_id = await asyncio.to_thread(repo.resolve, set_id)
        found = await asyncio.to_thread(repo.get, set_id)
        out: dict[str, Any] = {"set": await asyncio.to_thread(set_out, self._app, store, found)}
        if stats:
            out["stats"] = await rollouts.rollout_stats(set_id, store)
        if members:
            out["members"] = await asyncio.to_thread(rollouts.rollout_members, set_id, store)
        return out
