"""The load of ``soak.py``, run in one client process (or each of several): run slots that keep
runs in flight, and WebSocket followers that watch them.

A **slot** forks the example's root branch at step 0 (a new seed each time; the next fork is
made while the current run runs), hands the fork to its followers, waits until they are
connected (at most ``follow_wait`` s), starts the run over REST, waits for its end (a follower
hears the final status, or ``GET /status`` says so) and tells its followers the final head
seq; then it starts the next run, until the soak's time is up.

A **follower** connects to its slot's current branch from seq 1 (replicas taken in turn),
checks every event's seq (exactly once, in order: duplicates, gaps, a missing tail), stamps
each frame as its bytes are parsed (``process_event``, before the message waits in the
client's queue), and keeps ``arrival - created_at`` of each event appended after its
``hello`` (live delivery; ``created_at`` is stamped by the store's writer as it builds the
append's rows, just before the commit, so the figure includes the commit). Its handshake is
from the start of the TCP connect to the arrival of ``hello`` (the stream usable), and to the
``101`` alone.

The process also measures itself: CPU time over wall time, and how late a 50 ms ticker wakes
(event-loop lag), so the report can say whether the client kept up.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import resource
import ssl
import time
from array import array
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.frames import Frame, Opcode

TERMINAL = frozenset({"done", "failed", "paused", "idle"})
TAIL_TIMEOUT = 60.0  # how long a follower waits for the last events once the run has ended
DRAIN_TIMEOUT = 180.0  # how long a run still in flight at the end may take to finish
TICK = 0.05
_DATA = frozenset({Opcode.TEXT, Opcode.BINARY, Opcode.CONT})


@dataclass(frozen=True, slots=True)
class Plan:
    """What one client process does (picklable: sent to the spawned process)."""

    bases: list[str]  # http://127.0.0.1:PORT of each replica
    key: str
    root: str  # the branch every run forks (at step 0)
    root_head: int  # its head seq: a fork's own events come after it
    slots: list[int]  # global slot numbers (seeds, and the replica that starts the run)
    followers: list[int]  # global follower numbers (the replica they connect to)
    total_slots: int
    duration: float
    follow_wait: float
    deflate: bool
    batch: bool  # ask for batched frames (``batch=1``: JSON arrays of messages)


class StampedConnection(ClientConnection):
    """Notes when each data frame's bytes were parsed: the receipt, before any queueing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.arrivals: deque[float] = deque()

    def process_event(self, event: Any) -> None:
        if isinstance(event, Frame) and event.fin and event.opcode in _DATA:
            self.arrivals.append(time.time())
        super().process_event(event)


@dataclass
class Ticket:
    """One run, as its slot's followers see it."""

    branch: str
    expected: int  # followers that should connect
    connected: int = 0
    all_connected: asyncio.Event = field(default_factory=asyncio.Event)
    ended: asyncio.Event = field(default_factory=asyncio.Event)  # a follower heard it end
    final: asyncio.Future[int] = field(default_factory=asyncio.Future)

    def hello(self) -> None:
        self.connected += 1
        if self.connected >= self.expected:
            self.all_connected.set()


@dataclass
class Tally:
    """Everything measured in this process."""

    live_s: array[float] = field(default_factory=lambda: array("d"))
    handshake_s: array[float] = field(default_factory=lambda: array("d"))
    upgrade_s: array[float] = field(default_factory=lambda: array("d"))
    lag_s: array[float] = field(default_factory=lambda: array("d"))
    events: int = 0
    backlog: int = 0  # events at or below hello.head_seq (read from the store)
    duplicates: int = 0
    gaps: int = 0  # seqs skipped over (arrived later out of order, or never)
    out_of_order: int = 0  # events that arrived after a higher seq
    missing_tail: int = 0  # seqs up to the final head never received
    streams: int = 0
    bad_streams: int = 0  # streams with any duplicate, gap or missing tail
    resyncs: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    runs: list[dict[str, Any]] = field(default_factory=list)
    connected: int = 0
    connected_samples: list[int] = field(default_factory=list)
    skipped_runs: int = 0  # runs a follower never joined (it was still on an older one)


class Follower:
    def __init__(self, number: int, plan: Plan, tally: Tally) -> None:
        base = plan.bases[number % len(plan.bases)].replace("http://", "ws://")
        self.url = base + "/v1/branches/{branch}/stream?api_key=" + plan.key
        self.url += "&batch=1" if plan.batch else ""
        self.deflate, self.tally = plan.deflate, tally
        self.inbox: asyncio.Queue[Ticket | None] = asyncio.Queue()

    async def run(self) -> None:
        while True:
            ticket = await self.inbox.get()
            while not self.inbox.empty():  # behind: join the newest run only
                if ticket is not None:
                    self.tally.skipped_runs += 1
                ticket = self.inbox.get_nowait()
            if ticket is None:
                return
            try:
                await self.follow(ticket)
            except Exception as exc:  # counted, and the follower goes on with the next run
                self.tally.errors[f"follow: {type(exc).__name__}"] += 1

    async def follow(self, ticket: Ticket) -> None:
        t0 = time.time()
        ws = await connect(
            self.url.format(branch=ticket.branch),
            create_connection=StampedConnection,
            open_timeout=120,
            ping_interval=None,  # the app pings; uvicorn's protocol pings are answered anyway
            compression="deflate" if self.deflate else None,
            proxy=None,
        )
        assert isinstance(ws, StampedConnection)
        self.tally.upgrade_s.append(time.time() - t0)
        try:
            hello = json.loads(await asyncio.wait_for(ws.recv(), 120))
            self.tally.handshake_s.append(ws.arrivals.popleft() - t0)
            if hello.get("type") != "hello":
                raise RuntimeError(f"first message {hello.get('type')!r}, not hello")
            self.tally.connected += 1
            ticket.hello()
            try:
                await self._stream(ws, ticket, int(hello["head_seq"]))
            finally:
                self.tally.connected -= 1
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 5)

    async def _stream(self, ws: StampedConnection, ticket: Ticket, head: int) -> None:
        state = {"last": 0}
        caught_up = asyncio.Event()
        reader = asyncio.create_task(self._read(ws, ticket, head, state, caught_up))
        either: set[asyncio.Future[Any]] = {reader, ticket.final}
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        if ticket.final.done() and ticket.final.exception() is not None:
            final = None
        elif ticket.final.done():
            final = state["final"] = ticket.final.result()
            if state["last"] < final:
                waiter = asyncio.ensure_future(caught_up.wait())
                either = {reader, waiter}
                await asyncio.wait(
                    either, timeout=TAIL_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
                )
                waiter.cancel()
        else:  # the stream ended before the run did: what arrived still counts
            await asyncio.wait({ticket.final})
            final = None if ticket.final.exception() else ticket.final.result()
        reader.cancel()
        await asyncio.wait({reader})
        if not reader.cancelled() and reader.exception() is not None:
            self.tally.errors[f"stream: {type(reader.exception()).__name__}"] += 1
        if final is None:  # the slot counted the failed run; nothing to check this stream by
            return
        short = max(0, final - state["last"])
        self.tally.missing_tail += short
        self.tally.streams += 1
        if short or state.get("bad"):
            self.tally.bad_streams += 1

    async def _read(
        self,
        ws: StampedConnection,
        ticket: Ticket,
        head: int,
        state: dict[str, int],
        caught_up: asyncio.Event,
    ) -> None:
        async for raw in ws:
            arrived = ws.arrivals.popleft()
            frame = json.loads(raw)
            for message in frame if isinstance(frame, list) else (frame,):
                await self._take(ws, ticket, head, state, caught_up, message, arrived)

    async def _take(
        self,
        ws: StampedConnection,
        ticket: Ticket,
        head: int,
        state: dict[str, int],
        caught_up: asyncio.Event,
        message: dict[str, Any],
        arrived: float,
    ) -> None:
        tally = self.tally
        kind = message["type"]
        if kind == "event":
            event = message["event"]
            seq, last = event["seq"], state["last"]
            tally.events += 1
            if seq <= last:
                tally.duplicates += 1
                state["bad"] = 1
                return
            if seq > last + 1:
                tally.gaps += seq - last - 1
                state["bad"] = 1
            state["last"] = seq
            if seq > head:
                created = datetime.fromisoformat(event["created_at"]).timestamp()
                tally.live_s.append(arrived - created)
            else:
                tally.backlog += 1
            if seq >= state.get("final", seq + 1):
                caught_up.set()
        elif kind == "status" and message["status"] in TERMINAL:
            ticket.ended.set()
        elif kind == "ping":
            await ws.send('{"type": "pong"}')
        elif kind == "resync":
            tally.resyncs += 1


class Slot:
    def __init__(
        self, number: int, plan: Plan, followers: list[Follower], tally: Tally, tls: ssl.SSLContext
    ) -> None:
        self.number, self.plan, self.followers = number, plan, followers
        self.tally, self.end = tally, 0.0  # ``end`` is set when the load starts
        base = plan.bases[number % len(plan.bases)]
        self.http = httpx.AsyncClient(
            base_url=base,
            headers={"Authorization": f"Bearer {plan.key}"},
            timeout=120,
            # one context for every slot: a default one per client loads the CA store each
            # time (0.1 s and more on a busy machine), and the URLs are http:// anyway
            verify=tls,
            # uvicorn closes a connection idle for 5 s: give it up well before, so a request
            # rarely meets a connection the server is closing (and retry once if it does)
            limits=httpx.Limits(keepalive_expiry=1.0),
        )

    async def _request(self, method: str, path: str, body: Any = None) -> httpx.Response:
        try:
            return await self.http.request(method, path, json=body)
        except httpx.RemoteProtocolError:  # "disconnected without sending a response"
            self.tally.errors["request retried: the server closed a kept-alive connection"] += 1
            return await self.http.request(method, path, json=body)

    async def run(self) -> None:
        seeds = itertools.count(self.number * 1_000_000 + 1)
        fork = asyncio.ensure_future(self._fork(next(seeds)))
        try:
            while time.monotonic() < self.end:
                try:
                    branch = await fork
                except Exception as exc:
                    self._failed(exc)
                    await asyncio.sleep(1)  # e.g. the server refused: do not spin
                    fork = asyncio.ensure_future(self._fork(next(seeds)))
                    continue
                # the next run's branch is made while this one runs: followers move on at once
                fork = asyncio.ensure_future(self._fork(next(seeds)))
                try:
                    await self.one_run(branch)
                except Exception as exc:
                    self._failed(exc)
                    await asyncio.sleep(1)
        finally:
            fork.cancel()
            await asyncio.wait({fork})
            for follower in self.followers:
                follower.inbox.put_nowait(None)
            await self.http.aclose()

    def _failed(self, exc: Exception) -> None:
        self.tally.errors[f"run: {type(exc).__name__}: {str(exc)[:80]}"] += 1

    async def _fork(self, seed: int) -> str:
        body = {"at_step": 0, "seed": seed}
        return str((await self._post(f"/v1/branches/{self.plan.root}/fork", body))["id"])

    async def _post(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        r = await self._request("POST", path, body)
        if r.status_code >= 300:
            raise RuntimeError(f"POST {path.rpartition('/')[2]} answered {r.status_code}")
        return dict(r.json())

    async def one_run(self, branch: str) -> None:
        ticket = Ticket(branch, len(self.followers))
        for follower in self.followers:
            follower.inbox.put_nowait(ticket)
        try:
            await self._run(ticket)
        finally:  # a run that failed to start or to end: its followers must not wait for ever
            if not ticket.final.done():
                ticket.final.set_exception(RuntimeError("the run's end is unknown"))
                ticket.final.exception()  # seen here: no "never retrieved" noise at exit

    async def _run(self, ticket: Ticket) -> None:
        if not self.followers:
            ticket.all_connected.set()
        t_fork = time.monotonic()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ticket.all_connected.wait(), self.plan.follow_wait)
        t_run, on_time = time.monotonic(), ticket.connected
        await self._post(f"/v1/branches/{ticket.branch}/run")
        status = await self._until_ended(ticket, t_run)
        ticket.final.set_result(status["head_seq"])
        self.tally.runs.append(
            {
                "followers": ticket.expected,
                "followers_on_time": on_time,  # connected when the run started
                "follow_wait_s": t_run - t_fork,
                "run_s": time.monotonic() - t_run,
                # seconds since the load started: what part of the run fell within the load
                "from_s": t_run - (self.end - self.plan.duration),
                "to_s": time.monotonic() - (self.end - self.plan.duration),
                "status": status["status"],
                "steps": status["head_step"],
                "events": status["head_seq"] - self.plan.root_head,
                "ended_after_load": time.monotonic() > self.end,
            }
        )

    async def _until_ended(self, ticket: Ticket, t_run: float) -> dict[str, Any]:
        """The branch's status once it ended: a follower heard it, or a poll shows it."""
        give_up = max(self.end, t_run) + DRAIN_TIMEOUT
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ticket.ended.wait(), 2.0)
            r = await self._request("GET", f"/v1/branches/{ticket.branch}/status")
            r.raise_for_status()
            status = dict(r.json())
            if not status["running"] and status["status"] in TERMINAL:
                return status
            if time.monotonic() > give_up:
                self.tally.errors["run still going after the drain timeout"] += 1
                return status
            ticket.ended.clear()  # a follower heard a status before the lease was released


async def _ticker(tally: Tally, stop: asyncio.Event) -> None:
    """Loop lag: how late a 50 ms sleep wakes; and the open streams, once a second."""
    n = 0
    while not stop.is_set():
        before = time.perf_counter()  # not loop.time(): uvloop's has millisecond steps
        await asyncio.sleep(TICK)
        tally.lag_s.append(max(0.0, time.perf_counter() - before - TICK))
        n += 1
        if n % int(1 / TICK) == 0:
            tally.connected_samples.append(tally.connected)


async def generate(plan: Plan, start_at: float) -> Tally:
    """The whole load of this process, from wall time ``start_at`` for ``plan.duration`` s."""
    tally = Tally()
    tls = ssl.create_default_context()
    followers = {n: Follower(n, plan, tally) for n in plan.followers}
    slots = [
        Slot(s, plan, [f for n, f in followers.items() if n % plan.total_slots == s], tally, tls)
        for s in plan.slots
    ]  # made before the start: the load's clock measures the load only
    await asyncio.sleep(max(0.0, start_at - time.time()))
    end = time.monotonic() + plan.duration
    for slot in slots:
        slot.end = end
    stop = asyncio.Event()
    ticker = asyncio.create_task(_ticker(tally, stop))
    tasks = [asyncio.create_task(f.run()) for f in followers.values()]
    await asyncio.gather(*(slot.run() for slot in slots))
    await asyncio.gather(*tasks)
    stop.set()
    await ticker
    return tally


def client_main(plan: Plan, control: Connection) -> None:
    """The client process: wait for the start time, generate, send the tally back."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = len(plan.followers) + len(plan.slots) + 256
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    start_at = control.recv()
    cpu0, wall0 = _cpu(), time.monotonic()
    tally = runner(generate(plan, start_at))
    cpu, wall = _cpu() - cpu0, time.monotonic() - wall0
    samples = tally.connected_samples
    summary = {k: v for k, v in vars(tally).items() if not isinstance(v, array | list)}
    summary["runs"] = tally.runs
    summary["connected_mean"] = sum(samples) / len(samples) if samples else 0.0
    arrays = {k: v for k, v in vars(tally).items() if isinstance(v, array)}
    control.send({**summary, **arrays, "cpu_s": cpu, "wall_s": wall})


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime
