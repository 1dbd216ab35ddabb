"""The work queue: a procrastinate ``App`` on the timeline's own PostgreSQL database.

procrastinate's tables land in the schema the URL's ``search_path`` names, beside the
timeline's, so the queue and the timeline are one database to run, back up and fail over.
Three tasks: :data:`SLICE_TASK` (advance one branch by a slice, ``workers/slices.py``),
:data:`RETRY_TASK` (periodic: hand back the slices of workers that stopped heart-beating, as
procrastinate does not, and adopt the rollout sets waiting for a driver) and
:data:`ADOPT_TASK` (adopt them now: a set was just queued). Worker heartbeat settings are
given in code here (``worker_defaults``), as procrastinate reads them only there.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Any

import psycopg
import structlog
from procrastinate import App, PsycopgConnector, exceptions, jobs
from procrastinate.schema import SchemaManager

from aegntix.errors import InvalidRequest
from aegntix.timeline.postgres import postgres_url

log = structlog.get_logger(__name__)

SLICE_TASK = "aegntix.slice"
RETRY_TASK = "aegntix.retry_stalled"
#: Adopt the rollout sets waiting for a driver (``workers/drivers.py``).
ADOPT_TASK = "aegntix.adopt_sets"
_ADOPT_LOCK = "aegntix:adopt_sets"
QUEUE = "aegntix"
#: Any fixed key: concurrent first starts apply procrastinate's schema once.
_SCHEMA_LOCK = 0x6A0B5C11


def _positive(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InvalidRequest(f"{name}: '{raw}' is not a number") from None
    if not 0 < value < 86_400:
        raise InvalidRequest(f"{name}: {raw} is out of range (0 to 86400)")
    return value


@dataclass(frozen=True, slots=True)
class QueueSettings:
    """How big a slice is, how often workers heart-beat, when one counts as stalled.

    A slice advances a branch by at most ``slice_steps`` steps or ``slice_ms`` of wall time
    (whichever first): the queue costs a few ms per job, and a slice on another worker than
    the last one folds the branch's state afresh, so a job per step would spend more on that
    than on the step. Pause and cancel do not wait for a slice to end (the intent is read
    every 50 ms), and a crash loses only the step in progress, so slices can be long.
    Env: ``AEGNTIX_SLICE_STEPS``, ``AEGNTIX_SLICE_MS``, ``AEGNTIX_HEARTBEAT_SECONDS``,
    ``AEGNTIX_STALLED_SECONDS``."""

    slice_steps: int = 100
    slice_ms: float = 5_000.0
    heartbeat_s: float = 2.0
    stalled_s: float = 10.0

    @classmethod
    def from_env(cls) -> QueueSettings:
        base = cls()
        settings = cls(
            slice_steps=int(_positive("AEGNTIX_SLICE_STEPS", base.slice_steps)),
            slice_ms=_positive("AEGNTIX_SLICE_MS", base.slice_ms),
            heartbeat_s=_positive("AEGNTIX_HEARTBEAT_SECONDS", base.heartbeat_s),
            stalled_s=_positive("AEGNTIX_STALLED_SECONDS", base.stalled_s),
        )
        if settings.stalled_s <= 2 * settings.heartbeat_s:
            raise InvalidRequest(
                "AEGNTIX_STALLED_SECONDS must be more than twice AEGNTIX_HEARTBEAT_SECONDS"
            )
        return settings


def conninfo(db: str) -> str:
    """The libpq URL of ``db`` (a ``postgresql://`` URL; its ``search_path`` kept)."""
    url = postgres_url(db).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def slice_lock(branch_id: str) -> str:
    """One branch's lock and queueing lock: one slice running, at most one waiting."""
    return f"aegntix:branch:{branch_id}"


def make_app(db: str, settings: QueueSettings | None = None, *, pool_max: int = 4) -> App:
    """The queue app on ``db`` (not opened). Its tasks are registered by
    ``workers/slices.py`` (:func:`aegntix.workers.slices.register`)."""
    settings = settings or QueueSettings.from_env()
    connector = PsycopgConnector(conninfo=conninfo(db), min_size=1, max_size=pool_max)
    return App(
        connector=connector,
        worker_defaults={
            "update_heartbeat_interval": settings.heartbeat_s,
            "stalled_worker_timeout": settings.stalled_s,
            "queues": [QUEUE],
            # polling is only the fallback: LISTEN/NOTIFY wakes workers for new jobs/aborts
            "fetch_job_polling_interval": 1.0,
            "abort_job_polling_interval": 1.0,
            "delete_jobs": jobs.DeleteJobCondition.SUCCESSFUL.value,
        },
    )


async def ensure_schema(db: str) -> None:
    """Apply procrastinate's schema in ``db``'s schema unless it is there (under an advisory
    lock: replicas and workers starting together apply it once)."""
    async with await psycopg.AsyncConnection.connect(conninfo(db)) as conn:
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        found = await (await conn.execute("SELECT to_regclass('procrastinate_jobs')")).fetchone()
        if found is None or found[0] is None:
            await conn.execute(SchemaManager.get_schema())
            log.info("applied the work queue's schema")
        await conn.commit()


async def retry_stalled(app: App, stalled_s: float) -> int:
    """Put back the slices of workers silent for ``stalled_s``; how many. A stalled slice
    whose successor is already queued (the worker died after queueing it) is closed as
    failed instead: its branch's chain goes on from the successor."""
    stalled = await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_s)
    return await hand_back(app, list(stalled))


async def hand_back(app: App, stalled: list[jobs.Job]) -> int:
    """Put back ``stalled`` (listed a moment ago: another retrier may have been faster)."""
    handed = 0
    for job in stalled:
        try:
            await app.job_manager.retry_job(job)
        except exceptions.UniqueViolation:
            # its successor holds the queueing lock: close this one, the chain goes on
            await app.job_manager.finish_job(job, jobs.Status.FAILED, delete_job=False)
        except exceptions.ConnectorException:
            # no longer "doing": another retrier (two periodic runs overlap under load) put
            # it back already. Failing it here failed the waiting slice and ended the run.
            continue
        handed += 1
        log.warning(
            "retried a stalled slice",
            job=job.id,
            branch_id=job.task_kwargs.get("branch_id"),
            tenant_id=job.task_kwargs.get("tenant_id"),
        )
    return handed


async def defer_slice(app: App, kwargs: dict[str, Any], *, delay_s: float = 0.0) -> bool:
    """Queue a slice of ``kwargs["branch_id"]``; False if one is already waiting."""
    lock = slice_lock(str(kwargs["branch_id"]))
    options: dict[str, Any] = {"lock": lock, "queueing_lock": lock, "queue": QUEUE}
    if delay_s > 0:
        options["schedule_in"] = {"seconds": delay_s}
    try:
        await app.configure_task(SLICE_TASK, **options).defer_async(**kwargs)
    except exceptions.AlreadyEnqueued:
        return False
    return True


async def defer_adopt(app: App) -> None:
    """Ask a worker to adopt the rollout sets waiting for a driver now (at most one such
    job waits: one adoption takes them all)."""
    options: dict[str, Any] = {"queueing_lock": _ADOPT_LOCK, "queue": QUEUE}
    with contextlib.suppress(exceptions.AlreadyEnqueued):
        await app.configure_task(ADOPT_TASK, **options).defer_async()
