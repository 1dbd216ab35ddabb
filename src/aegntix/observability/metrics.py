"""Every Prometheus metric AegntiX exports, in one registry (``REGISTRY``).

Metrics are counted where the work happens — the runner's step, the store's commit, the
brain's provider call, the API's WebSocket connections — so any process that does the work
(``aegntix serve``, a worker, ``aegntix run``) has them without wiring. A process exposes
them with the API's ``/metrics`` (``server/observe.py``) or
:func:`~aegntix.observability.serving.serve_metrics`.

Labels never carry tenant, scenario or branch ids: a scrape shows how the system behaves,
not what anyone does with it, and the series count stays bounded. The functions below are
the only way the rest of the code touches a metric (one line at each hook).
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    Metric,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from aegntix import __version__

#: The registry every AegntiX metric is in (not prometheus_client's global one, so a library
#: that registers its own metrics there never shows up in, or clashes with, ours).
REGISTRY = CollectorRegistry()
disable_created_metrics()  # type: ignore[no-untyped-call]  # no *_created series: a start time per series is noise here
ProcessCollector(registry=REGISTRY)  # process_resident_memory_bytes, open fds, cpu seconds
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

#: Seconds: from sub-millisecond (a rules-brain step, a cached reply) to minutes (a slice of
#: slow model calls).
_LATENCY = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
            60, 120)  # fmt: skip

BUILD = Info("aegntix_build", "The AegntiX version of this process.", registry=REGISTRY)
BUILD.info({"version": __version__})

STEPS = Counter(
    "aegntix_steps",
    "Steps completed and appended by runners in this process (every agent decided, one "
    "atomic append).",
    registry=REGISTRY,
)
STEP_SECONDS = Histogram(
    "aegntix_step_seconds",
    "Time to run one step: observation, every agent's decision, the append.",
    buckets=_LATENCY,
    registry=REGISTRY,
)
EVENTS = Counter(
    "aegntix_events_appended",
    "Events committed to the timeline by this process's store writer.",
    registry=REGISTRY,
)
COMMITS = Counter(
    "aegntix_store_commits",
    "Transactions committed by this process's store writer (one per group of requests).",
    registry=REGISTRY,
)
SLICE_SECONDS = Histogram(
    "aegntix_slice_seconds",
    "Time a worker took for one slice of a branch (up to K steps or T ms).",
    buckets=_LATENCY,
    registry=REGISTRY,
)
SLICE_STEPS = Counter(
    "aegntix_slice_steps",
    "Steps run inside worker slices (with aegntix_slice_seconds_count: steps per slice).",
    registry=REGISTRY,
)
WEBSOCKET_CLIENTS = Gauge(
    "aegntix_websocket_clients",
    "WebSocket clients connected to this API process, by route template (branch events, "
    "rollout progress).",
    ["route"],
    registry=REGISTRY,
)
LLM_CALLS = Counter(
    "aegntix_llm_calls",
    "Model calls by provider kind and outcome: ok, transient_error (retried or given up), "
    "permanent_error (refused), error (a bug), cancelled, cached (answered from the reply "
    "cache, no call).",
    ["provider", "outcome"],
    registry=REGISTRY,
)
LLM_SECONDS = Histogram(
    "aegntix_llm_call_seconds",
    "Time of one model call attempt, by provider kind and outcome (cache hits excluded).",
    ["provider", "outcome"],
    buckets=_LATENCY,
    registry=REGISTRY,
)
LLM_WAIT_SECONDS = Histogram(
    "aegntix_llm_limit_wait_seconds",
    "Time a model call waited for its provider's concurrency slot and rate-limit token.",
    ["provider"],
    buckets=_LATENCY,
    registry=REGISTRY,
)
HTTP_SECONDS = Histogram(
    "aegntix_http_request_seconds",
    "HTTP request latency by method, route template (/v1/branches/{branch_id}, never the "
    "id itself) and status code.",
    ["method", "route", "status"],
    buckets=_LATENCY,
    registry=REGISTRY,
)


def step_done(seconds: float) -> None:
    """A runner appended one step that took ``seconds``."""
    STEPS.inc()
    STEP_SECONDS.observe(seconds)


def committed(events: int) -> None:
    """The store writer committed one transaction carrying ``events`` appended events."""
    COMMITS.inc()
    if events:
        EVENTS.inc(events)


def slice_done(seconds: float, steps: int) -> None:
    """A worker finished a slice of ``steps`` steps in ``seconds``."""
    SLICE_SECONDS.observe(seconds)
    if steps:
        SLICE_STEPS.inc(steps)


@contextmanager
def timed_slice() -> Iterator[list[int]]:
    """``with timed_slice() as steps: ...; steps.append(n)``: observes the slice on exit
    (failed slices too: their time was spent) with the steps appended to the list."""
    started = time.perf_counter()
    steps: list[int] = []
    try:
        yield steps
    finally:
        slice_done(time.perf_counter() - started, sum(steps))


def websocket_opened(route: str) -> None:
    WEBSOCKET_CLIENTS.labels(route).inc()


def websocket_closed(route: str) -> None:
    WEBSOCKET_CLIENTS.labels(route).dec()


@functools.cache
def _llm_series(provider: str, outcome: str) -> tuple[Counter, Histogram]:
    # ``labels()`` hashes and locks on every call (~10 µs); the children are stable objects.
    return LLM_CALLS.labels(provider, outcome), LLM_SECONDS.labels(provider, outcome)


@functools.cache
def _cache_hits(provider: str) -> Counter:
    return LLM_CALLS.labels(provider, "cached")  # no latency series: nothing was called


def llm_cached(provider: str) -> None:
    _cache_hits(provider).inc()


def llm_attempt(provider: str, outcome: str, seconds: float) -> None:
    """One provider call attempt ended with ``outcome`` (ok, transient_error,
    permanent_error, error, cancelled) after ``seconds``."""
    calls, latency = _llm_series(provider, outcome)
    calls.inc()
    latency.observe(seconds)


def llm_waited(provider: str, seconds: float) -> None:
    LLM_WAIT_SECONDS.labels(provider).observe(seconds)


def http_request(method: str, route: str, status: int, seconds: float) -> None:
    HTTP_SECONDS.labels(method, route, str(status)).observe(seconds)


# -- queue depth: read from whoever owns the queue, at scrape time -----------------------------

QueueDepth = Callable[[], Mapping[str, float]]
"""Returns the jobs waiting per queue name (``{"slices": 12}``); called at each scrape, in
the scraping thread (never the event loop: the API serves /metrics from a worker thread)."""


class _QueueDepths:
    """``aegntix_queue_depth{queue}`` from the registered sources. A source that fails is
    left out of that scrape (a database hiccup must not take /metrics down with it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sources: dict[int, QueueDepth] = {}
        self._next = 0
        #: Scrapes in which a source raised. Exported by :meth:`collect` itself, after the
        #: sources ran, so a scrape shows its own failures.
        self.failures = Counter(
            "aegntix_queue_depth_errors",
            "Scrapes in which a queue-depth source raised.",
            registry=None,
        )

    def add(self, source: QueueDepth) -> Callable[[], None]:
        with self._lock:
            key = self._next
            self._next += 1
            self._sources[key] = source

        def remove() -> None:
            with self._lock:
                self._sources.pop(key, None)

        return remove

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(
            "aegntix_queue_depth",
            "Jobs waiting to run, by queue (from the work queue's own tables).",
            labels=["queue"],
        )
        with self._lock:
            sources = list(self._sources.values())
        depths: dict[str, float] = {}
        for source in sources:
            try:
                found = source()
            except Exception:
                self.failures.inc()
                continue
            for queue, depth in found.items():
                depths[queue] = depths.get(queue, 0.0) + float(depth)
        for queue, depth in sorted(depths.items()):
            family.add_metric([queue], depth)
        yield family
        yield from self.failures.collect()

    def describe(self) -> Iterable[Metric]:
        # Describing (rather than collecting) at registration: no source is called then.
        yield GaugeMetricFamily("aegntix_queue_depth", "", labels=["queue"])
        yield from self.failures.describe()


_queue_depths = _QueueDepths()
REGISTRY.register(_queue_depths)


def register_queue_depth(source: QueueDepth) -> Callable[[], None]:
    """Report ``source()`` as ``aegntix_queue_depth`` at every scrape of this process.
    Returns the function that unregisters it (call it when the queue's owner closes)."""
    return _queue_depths.add(source)
