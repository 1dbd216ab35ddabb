"""The shared LLM brain: prompt, cache, call with retries and limits, validate, repair once,
fall back; the same for every provider (``openai.py``, ``anthropic.py`` supply the wire).

One decision:

1. the observation becomes chat messages (``prompting``), the provider turns them into a
   request, and the request's digest is the cache key;
2. a cached reply (memory, then the ``llm_cache`` table, then the replies recorded in the
   scenario's timeline) is used as is: no call;
3. otherwise the provider is called under its concurrency limit and rate limiter; timeouts,
   dropped connections, 429/5xx and malformed bodies are retried with exponential backoff and
   jitter (at least ``Retry-After``), up to ``max_retries`` times; with tools
   (``Observation.tools``) the model may call them first, in up to ``max_tool_rounds``
   rounds, each model call of that loop cached, limited and recorded as in 2 and 3
   (``tool_use``);
4. the reply is validated as a :class:`Decision`; an invalid one is shown back to the model
   once with what was wrong; if the second is invalid too, the rules brain decides, and the
   decision says so (``fallback: invalid_output``);
5. a provider that still fails raises :class:`ProviderError` (the run stops as ``failed``,
   nothing of the step is written), or with ``fallback: rules`` the rules brain decides
   (``fallback: provider_error``). A refused key always raises.

The decision carries ``meta``: each call's digest, reply, tokens and cost. The engine records
it as a ``decision`` event, so the timeline holds every reply it depends on.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import structlog

from aegntix.brains.accounting import call_cost
from aegntix.brains.base import Decision, Observation, Reflection, ReflectionRequest
from aegntix.brains.cache import (
    CachedReply,
    Payer,
    RecordedReplies,
    ResponseCache,
    request_digest,
)
from aegntix.brains.credentials import redact
from aegntix.brains.limits import (
    LOCAL,
    LimitBackend,
    ProviderRuntime,
    backoff_delay,
    runtime_for,
)
from aegntix.brains.prompting import (
    DECISION_SCHEMA,
    InvalidReply,
    Message,
    decision_schema,
    messages,
    parse_decision,
    repair_messages,
    system_prompt,
)
from aegntix.brains.reachability import Unreachable, origin
from aegntix.brains.reflecting import REFLECTION_SCHEMA, parse_reflection, reflection_messages
from aegntix.brains.rules import RulesBrain
from aegntix.brains.tool_use import Offer, ToolSession
from aegntix.errors import ProviderError, ProviderUnavailable
from aegntix.mechanics import Mechanics
from aegntix.model.scenario import AgentSpec, BrainConfig
from aegntix.observability import metrics
from aegntix.tools.base import listing_record

T = TypeVar("T")


def _log() -> Any:
    """The configured logger; unconfigured, stderr (stdout may carry ``--json`` output): the
    stream of the moment, not the one at import (a test's captured stream is closed later)."""
    if structlog.is_configured():
        return structlog.get_logger(__name__)
    return structlog.wrap_logger(structlog.PrintLogger(sys.stderr))


#: Cache rows being written (kept referenced until done; asyncio.run waits for them).
_background: set[asyncio.Future[None]] = set()


def _settled(job: asyncio.Future[None]) -> None:
    _background.discard(job)
    if not job.cancelled() and job.exception() is not None:
        _log().warning("could not store a model reply in the cache", error=str(job.exception()))


@dataclass(frozen=True, slots=True)
class Completion:
    """What one successful provider call returned."""

    text: str
    tokens_in: int
    tokens_out: int


class TransientFailure(Exception):
    """One attempt failed in a way worth retrying (timeout, connection, 429, 5xx, bad body)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentFailure(Exception):
    """Retrying cannot help (400, 404, ...); ``config``: the key itself was refused."""

    def __init__(self, message: str, *, config: bool = False) -> None:
        super().__init__(message)
        self.config = config


class ProviderMisconfigured(ProviderError):
    """The provider refused the credentials: no fallback brain hides this."""


@dataclass(frozen=True, slots=True)
class Task:
    """What a call asks for: its structured-output name, description and JSON Schema (the
    tool of a tool-use API, the ``json_schema`` response format of a chat API)."""

    name: str
    description: str
    schema: dict[str, Any]


DECIDE = Task("decide", "Record your move for this turn.", DECISION_SCHEMA)


def decide_task(mechanics: Mechanics | None) -> Task:
    """The decide task for a scenario's mechanics (:data:`DECIDE` for the default kinds)."""
    schema = decision_schema(mechanics)
    return DECIDE if schema == DECISION_SCHEMA else Task(DECIDE.name, DECIDE.description, schema)


REFLECT = Task("reflect", "Record the insights you draw.", REFLECTION_SCHEMA)


class Provider(Protocol):
    """The wire format of one provider family."""

    kind: str

    def client(self, api_key: str, config: BrainConfig) -> Any: ...

    def request(
        self,
        chat: list[Message],
        config: BrainConfig,
        sample: int | None,
        task: Task = DECIDE,
        offer: Offer | None = None,
    ) -> dict[str, Any]:
        """The request body (``sample``: a seed for sampling, when temperature > 0; ``offer``:
        the agent's tools, None: the body is exactly as without tools)."""
        ...

    async def send(self, client: Any, request: dict[str, Any], timeout: float) -> Completion: ...


@dataclass(frozen=True, slots=True)
class ModelCall:
    """One model call of a decision (a cache hit counts: it stands for the original call)."""

    digest: str
    reply: CachedReply
    cost: float
    cached: bool
    attempts: int

    def record(self) -> dict[str, Any]:
        return {
            "digest": self.digest,
            "reply": self.reply.text,
            "tokens_in": self.reply.tokens_in,
            "tokens_out": self.reply.tokens_out,
            "cost": self.cost,
        }


class LLMBrain:
    """A :class:`~aegntix.brains.base.Brain` backed by a language model. One per agent."""

    def __init__(
        self,
        config: BrainConfig,
        provider: Provider,
        *,
        api_key: str,
        cache: ResponseCache,
        payer: Payer,
        recorded: RecordedReplies | None = None,
        limits: LimitBackend = LOCAL,
    ) -> None:
        if not config.model:
            raise ProviderError(f"{config.kind} brain: no model configured")
        self.name: str = config.kind
        self.config = config
        self.model = config.model
        self.provider = provider
        self.cache = cache
        self.payer = payer
        self.recorded = recorded
        #: Where the provider's concurrency and rate limits are kept (shared on PostgreSQL).
        self.limits = limits
        self._api_key = api_key
        self._rules = RulesBrain()
        self._system: tuple[AgentSpec, str] | None = None
        self._mechanics: Mechanics | None = None  # the scenario's (seen in an observation)
        endpoint = config.base_url or "the default endpoint"
        self._where = f"{config.kind} model '{config.model}' at {endpoint}"
        #: The server the connection check tries (None: the provider's cloud default).
        self.endpoint: str | None = origin(config.base_url)
        #: Set by the connection check when the server does not answer.
        self.unreachable: Unreachable | None = None
        #: Provider calls this brain made (cache hits excluded).
        self.provider_calls = 0

    async def decide(self, observation: Observation, rng: random.Random) -> Decision:
        started = time.perf_counter()
        sample = rng.getrandbits(32) if self.config.temperature > 0 else None
        self._mechanics = observation.mechanics
        tools = observation.tools
        session = None
        if tools is not None and tools.available and self.config.max_tool_rounds > 0:
            session = ToolSession(tools, self.config.max_tool_rounds)
        chat = messages(
            observation,
            self._system_for(observation.scenario, observation.topic, observation.agent),
            tools=session is not None,
        )
        decision, calls, meta = await self._answer(
            chat,
            sample,
            decide_task(observation.mechanics),
            lambda text: parse_decision(text, observation),
            session,
        )
        if decision is None:
            decision = self._rules.decide_now(observation, rng)
        # Runtime facts (not recorded in the event; see RUNTIME_META_KEYS):
        meta["cached"] = bool(calls) and all(c.cached for c in calls)
        meta["attempts"] = sum(c.attempts for c in calls)
        meta["latency_ms"] = round((time.perf_counter() - started) * 1000, 3)
        return decision.model_copy(update={"meta": meta})

    def _system_for(self, scenario: str, topic: str, agent: AgentSpec) -> str:
        if self._system is None or self._system[0] is not agent:
            # rebuilt when the persona drifts (memory on): the engine hands a new AgentSpec
            self._system = (agent, system_prompt(scenario, topic, agent, self._mechanics))
        return self._system[1]

    async def reflect(self, request: ReflectionRequest, rng: random.Random) -> Reflection | None:
        """Insights from the agent's recent memories, by the model (repaired once). On an
        invalid answer or a provider failure with ``fallback: rules``, the attempt's record
        with no insights: the memory stream's rules reflect instead."""
        sample = rng.getrandbits(32) if self.config.temperature > 0 else None
        system = self._system_for(request.scenario, request.topic, request.agent)
        count = len(request.memories)
        reflection, _, meta = await self._answer(
            reflection_messages(request, system),
            sample,
            REFLECT,
            lambda text: parse_reflection(text, count),
        )
        meta["purpose"] = "reflect"
        insights = list(reflection.insights) if reflection is not None else []
        return Reflection(insights=insights, meta=meta)

    async def _answer(
        self,
        chat: list[Message],
        sample: int | None,
        task: Task,
        parse: Callable[[str], T],
        session: ToolSession | None = None,
    ) -> tuple[T | None, list[ModelCall], dict[str, Any]]:
        """Ask (with ``session``: let the model call tools first), and if the reply does not
        ``parse``, show it back once with what was wrong. Returns the parsed answer (None: the
        rules take over, ``meta`` says why), the calls and their record. A refused key, or any
        failure with ``fallback: fail``, raises."""
        calls: list[ModelCall] = []
        answer: T | None = None
        fallback: str | None = None
        error: str | None = None
        offer: Offer | None = None

        async def ask(chat: list[Message], tools: Offer | None) -> str:
            call = await self._call(chat, sample, task, tools)
            calls.append(call)
            return call.reply.text

        try:
            if session is None:
                text = await ask(chat, None)
            else:
                chat, text = await session.run(chat, ask)
                offer, parse = session.closed, session.answer(parse)
            try:
                answer = parse(text)
            except InvalidReply as exc:
                retry = repair_messages(chat, text, str(exc))
                answer = parse(await ask(retry, offer))
        except ProviderMisconfigured:
            raise
        except ProviderError as exc:
            if self.config.fallback == "fail":
                raise
            fallback, error = "provider_error", str(exc)
        except InvalidReply as exc:
            fallback, error = "invalid_output", str(exc)
        meta = self._meta(calls, fallback, error)
        if session is not None:
            meta["tool_rounds"] = session.rounds
            # What it was offered, so a replay offers the same (the recorder reads it back).
            meta["tools"] = listing_record(list(session.by_wire.values()))
        return answer, calls, meta

    def _meta(
        self, calls: list[ModelCall], fallback: str | None, error: str | None
    ) -> dict[str, Any]:
        meta: dict[str, Any] = {
            "provider": self.provider.kind,
            "model": self.model,
            "calls": [c.record() for c in calls],
            "tokens_in": sum(c.reply.tokens_in for c in calls),
            "tokens_out": sum(c.reply.tokens_out for c in calls),
            "cost": round(sum(c.cost for c in calls), 10),
            "fallback": fallback,
        }
        if error is not None:
            meta["error"] = redact(error, self._api_key)
        return meta

    def _cost(self, reply: CachedReply) -> float:
        return call_cost(self.config.prices, reply.tokens_in, reply.tokens_out)

    async def _call(
        self,
        chat: list[Message],
        sample: int | None,
        task: Task = DECIDE,
        offer: Offer | None = None,
    ) -> ModelCall:
        request = self.provider.request(chat, self.config, sample, task, offer)
        # Sampling: different branch seeds ask (and cache) different replies, whether or not
        # the provider takes a seed.
        key = request_digest(
            self.provider.kind,
            {**request, "sample": sample} if sample is not None else request,
            self.config.base_url,
        )
        tenant = self.payer.tenant_id
        # Inline (one indexed read, ~0.2 ms): a thread hop would cost more latency than it
        # frees the loop (measured both ways in benchmarks/brain_overhead.py).
        hit = self.cache.get(tenant, key)
        if hit is None and self.recorded is not None and not self.recorded.loaded:
            hit = await asyncio.to_thread(self.recorded.lookup, key)
        if hit is not None:
            metrics.llm_cached(self.provider.kind)
            return ModelCall(key, hit, self._cost(hit), cached=True, attempts=0)
        if self.unreachable is not None:  # the connection check found no server: fail now
            raise self.unreachable.error()
        runtime = await runtime_for(
            self.config,
            self._api_key,
            lambda: self.provider.client(self._api_key, self.config),
            self.limits,
        )
        slot = f"{tenant}|{key}"
        pending = runtime.inflight.get(slot)
        if pending is not None:  # the same request is on its way (sibling forks): share it
            try:
                reply = await asyncio.shield(pending)
                return ModelCall(key, reply, self._cost(reply), cached=True, attempts=0)
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if not pending.cancelled() or (current is not None and current.cancelling()):
                    raise
            return await self._call(chat, sample, task, offer)  # its owner was cancelled
        future: asyncio.Future[CachedReply] = asyncio.get_running_loop().create_future()
        runtime.inflight[slot] = future
        try:
            completion, attempts = await self._send(runtime, request)
            reply = CachedReply(completion.text, completion.tokens_in, completion.tokens_out)
            cost = self._cost(reply)
            self._store(key, reply, cost)
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # nobody may be waiting: mark it retrieved
            raise
        except BaseException:
            future.cancel()
            raise
        finally:
            runtime.inflight.pop(slot, None)
        future.set_result(reply)
        return ModelCall(key, reply, cost, cached=False, attempts=attempts)

    def _store(self, key: str, reply: CachedReply, cost: float) -> None:
        """Memory now; the database row in the background (the decision needs only memory,
        and the timeline records the reply anyway), so a commit never delays a decision."""
        self.cache.remember(self.payer.tenant_id, key, reply)
        if not self.cache.persistent:
            return
        args = (self.payer, key, self.provider.kind, self.model, reply, cost)
        job = asyncio.get_running_loop().run_in_executor(None, self.cache.persist, *args)
        _background.add(job)
        job.add_done_callback(_settled)

    async def _attempt(self, runtime: ProviderRuntime, request: dict[str, Any]) -> Completion:
        """One call to the provider, counted by outcome (``aegntix_llm_calls_total``)."""
        self.provider_calls += 1
        started = time.perf_counter()
        outcome = "cancelled"  # unless one of the lines below says otherwise
        try:
            completion = await self.provider.send(
                runtime.next_client(), request, self.config.timeout
            )
            outcome = "ok"
            return completion
        except TransientFailure:
            outcome = "transient_error"
            raise
        except PermanentFailure:
            outcome = "permanent_error"
            raise
        except Exception:
            outcome = "error"
            raise
        finally:
            metrics.llm_attempt(self.provider.kind, outcome, time.perf_counter() - started)

    async def _send(
        self, runtime: ProviderRuntime, request: dict[str, Any]
    ) -> tuple[Completion, int]:
        attempt = 0
        while True:
            attempt += 1
            try:
                waiting = time.perf_counter()
                async with runtime.gate.hold():
                    metrics.llm_waited(self.provider.kind, time.perf_counter() - waiting)
                    completion = await self._attempt(runtime, request)
                return completion, attempt
            except TransientFailure as exc:
                reason = redact(str(exc), self._api_key)
                if attempt > self.config.max_retries:
                    raise ProviderUnavailable(
                        f"{self._where} failed after {attempt} attempts: {reason}"
                    ) from None
                delay = backoff_delay(attempt, self.config.backoff, exc.retry_after)
                _log().warning(
                    "model call failed; retrying",
                    provider=self.provider.kind,
                    model=self.model,
                    attempt=attempt,
                    delay_s=round(delay, 3),
                    error=reason,
                )
                await asyncio.sleep(delay)
            except PermanentFailure as exc:
                kind = ProviderMisconfigured if exc.config else ProviderError
                raise kind(redact(f"{self._where}: {exc}", self._api_key)) from None
