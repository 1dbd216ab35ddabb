"""``Sandbox``: the in-process Python surface over one timeline database (a notebook's or a
script's entry point). It opens the store as the CLI does, scopes it to one tenant, and runs
the engine's async work blocking — on a private loop when the caller already runs one
(Jupyter), see ``_sync.py``."""

from __future__ import annotations

import tempfile
import weakref
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import Any, cast

from aegntix.analysis.records import SqlRollouts
from aegntix.analysis.rollouts import (
    DEFAULT_CONCURRENCY,
    InjectionSpec,
    ProgressCallback,
    create_set,
    extend_set,
    fork_with,
    repository,
    run_sets,
    with_control,
)
from aegntix.client._sync import run_blocking
from aegntix.client.branch import Branch
from aegntix.client.sets import RolloutSet
from aegntix.engine import Runner, RunSummary, start_scenario
from aegntix.engine.failures import as_project_error
from aegntix.errors import InvalidRequest, RunFailed, StoreError
from aegntix.model.loading import load_scenario, validate_scenario
from aegntix.model.scenario import Scenario
from aegntix.timeline import SqlStore
from aegntix.timeline.leases import RunLeases, holding
from aegntix.timeline.opening import describe, opened, resolve_branch
from aegntix.timeline.prepare import check_seed
from aegntix.timeline.tenancy import TenantStore

ScenarioSource = str | Path | dict[str, Any] | Scenario


class Sandbox:
    """One timeline database, seen as one tenant.

    ``Sandbox("study.db")`` opens (or creates) a SQLite file the CLI, server and web UI can
    open too, ``Sandbox("postgresql://host/db")`` a PostgreSQL database; ``Sandbox()`` (or
    ``":memory:"``) uses a temporary database deleted by ``close()``. Use it as a context
    manager, or call ``close()`` (a sandbox dropped without it is closed when
    garbage-collected).
    """

    def __init__(self, db: str | Path | None = None, *, tenant: str = "default") -> None:
        self._exit = ExitStack()
        try:
            if db is None or str(db) == ":memory:":  # SQLite in WAL mode needs a file
                folder = self._exit.enter_context(tempfile.TemporaryDirectory(prefix="aegntix-"))
                db = Path(folder) / "sandbox.db"
            self.path = Path(db)  # a SQLite file (for a URL, see ``database``)
            self.database = describe(str(db))  # as shown: a URL without its password
            backend: SqlStore = self._exit.enter_context(opened(str(db), create=True))
            self._store = TenantStore(backend, tenant)
        except BaseException:
            self._exit.close()
            raise
        self._rollouts = repository(self._store)
        self._finalizer = weakref.finalize(self, self._exit.close)

    # -- lifetime --------------------------------------------------------------------------
    def close(self) -> None:
        """Close the database (and delete it, if temporary). Idempotent."""
        self._finalizer()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "open" if self._finalizer.alive else "closed"
        return f"<Sandbox {self.database!r} tenant={self.tenant!r} {state}>"

    @property
    def tenant(self) -> str:
        return self._store.tenant_id

    @property
    def store(self) -> TenantStore:
        """The tenant-scoped timeline store (the engine's ``Store``), for anything the
        handles do not cover."""
        self._check_open()
        return self._store

    @property
    def rollout_records(self) -> SqlRollouts:
        """The tenant's rollout-set records."""
        self._check_open()
        return self._rollouts

    def _check_open(self) -> None:
        if not self._finalizer.alive:
            raise StoreError(f"the sandbox on '{self.database}' is closed")

    # -- branches --------------------------------------------------------------------------
    def run(
        self,
        scenario: ScenarioSource,
        *,
        seed: int | None = None,
        steps: int | None = None,
        label: str = "main",
    ) -> Branch:
        """Record a scenario (a file path, a dict as in the file, or a ``Scenario``) on a new
        root branch and run it ``steps`` steps (default: to the end)."""
        loaded = _load(scenario)  # validated before anything is written
        if seed is not None:
            check_seed(seed, "seed")
        _check_steps(steps)
        record = start_scenario(self.store, loaded, seed=seed, label=label)
        if steps != 0:
            self.run_branch(record.id, steps)
        return Branch(self, record.id)

    def branch(self, ref: str) -> Branch:
        """A branch by id, unique id prefix (4+ characters) or label."""
        # resolve_branch needs only the store methods TenantStore shares with SqlStore
        found = resolve_branch(cast(SqlStore, self.store), ref)
        return Branch(self, found.id)

    def branches(self) -> list[Branch]:
        """Every branch, oldest first."""
        return [Branch(self, b.id) for b in self.store.list_branches()]

    def rollout_set(self, ref: str) -> RolloutSet:
        """A rollout set by id or unique id prefix (4+ characters)."""
        return RolloutSet(self, self.rollout_records.resolve(ref))

    def rollout_sets(self) -> list[RolloutSet]:
        """Every rollout set, oldest first."""
        return [RolloutSet(self, s.id) for s in self.rollout_records.list_sets()]

    # -- the engine (used by the handles) --------------------------------------------------
    def run_branch(self, branch_id: str, steps: int | None) -> None:
        """Run a branch; a failed step raises :class:`RunFailed` naming the branch, the step
        and the reason (recorded on the branch), as ``aegntix run`` says it."""
        _check_steps(steps)
        runner = Runner(self.store, branch_id)
        leases = RunLeases(self._store.backend)

        async def leased() -> RunSummary:  # BranchBusy if another process runs it
            async with holding(leases, branch_id):
                return await runner.run(steps)

        try:
            run_blocking(leased())
        except Exception as exc:
            error = as_project_error(exc)
            if runner.failure is None:  # not a step failure (another writer took the branch)
                raise error from None
            raise RunFailed(runner.failure.line(branch_id), error.exit_code) from None

    def fork_branch(
        self,
        branch_id: str,
        at: int,
        injection: InjectionSpec | None,
        *,
        seed: int | None = None,
        label: str | None = None,
    ) -> str:
        """Fork after step ``at``, with the injection as the new branch's first event."""
        if seed is not None:
            check_seed(seed, "seed")
        if injection is None:
            label = label or f"fork@{at}"
        # validates everything before it forks: bad input writes nothing
        return fork_with(self.store, branch_id, at, injection, seed=seed, label=label).id

    def create_rollouts(
        self,
        parent_id: str,
        at: int,
        n: int,
        injection: InjectionSpec | None,
        *,
        seed_base: int | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        on_progress: ProgressCallback | None = None,
    ) -> RolloutSet:
        _check_concurrency(concurrency)
        made = create_set(
            self.store, parent_id, at, n, injection, seed_base=seed_base, repo=self._rollouts
        )
        self._run_sets(made.id, concurrency, on_progress)
        return RolloutSet(self, made.id)

    def extend_rollouts(
        self,
        set_id: str,
        n: int,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        """Grow to ``n`` (the current size: fork what a crash left out) and run what is
        unfinished, control too."""
        _check_concurrency(concurrency)
        extend_set(self.store, set_id, n, repo=self._rollouts)
        self._run_sets(set_id, concurrency, on_progress)

    def _run_sets(
        self, set_id: str, concurrency: int, on_progress: ProgressCallback | None
    ) -> None:
        sets = with_control(self._rollouts, set_id)
        run_blocking(
            run_sets(
                self.store,
                sets,
                repo=self._rollouts,
                concurrency=concurrency,
                on_progress=on_progress,
            )
        )


def _load(scenario: ScenarioSource) -> Scenario:
    if isinstance(scenario, Scenario):
        return scenario
    if isinstance(scenario, str | Path):
        return load_scenario(scenario)
    if isinstance(scenario, dict):
        return validate_scenario(scenario, source="<dict>")
    raise InvalidRequest(
        f"scenario: give a file path, a dict or a Scenario, not {type(scenario).__name__}"
    )


def _check_steps(steps: int | None) -> None:
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 0):
        raise InvalidRequest(f"steps: must be a whole number from 0 up, not {steps!r}")


def _check_concurrency(concurrency: int) -> None:
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise InvalidRequest(f"concurrency: must be a whole number from 1 up, not {concurrency!r}")
