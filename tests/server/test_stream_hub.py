"""EventHub unit tests: fan-out, one serialization per publish, bounded buffers, overflow."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aegntix.model.events import Event, EventKind
from aegntix.server.hub import EventHub


def ev(seq: int, branch: str = "b1") -> Event:
    return Event(branch, seq, seq // 3, EventKind.MESSAGE, "a0", {"n": seq}, "h", "p")


def seqs(batches: list[tuple[tuple[int, str], ...]]) -> list[int]:
    return [seq for batch in batches for seq, _ in batch]


def test_publish_reaches_every_subscriber_of_the_branch_only() -> None:
    hub = EventHub()
    a, b = hub.subscribe("b1"), hub.subscribe("b1")
    other = hub.subscribe("b2")
    hub.publish_events("b1", [ev(1), ev(2)])
    hub.publish_status("b1", "running")
    for sub in (a, b):
        batches, overflowed = sub.take()
        assert not overflowed
        assert seqs(batches) == [1, 2, 0]
        messages = [json.loads(text) for batch in batches for _, text in batch]
        assert messages[0] == {
            "type": "event",
            "event": {
                "branch_id": "b1",
                "seq": 1,
                "step": 0,
                "kind": "message",
                "agent_id": "a0",
                "payload": {"n": 1},
                "hash": "h",
                "prev_hash": "p",
                "created_at": None,
            },
        }
        assert messages[2] == {"type": "status", "status": "running"}
    assert other.take() == ([], False)
    assert hub.last_seq("b1") == 2 and hub.last_seq("b2") == 0


def test_each_event_is_serialized_once_per_publish() -> None:
    hub = EventHub()
    subs = [hub.subscribe("b1") for _ in range(5)]
    hub.publish_events("b1", [ev(1)])
    texts = [sub.take()[0][0][0][1] for sub in subs]
    assert all(t is texts[0] for t in texts)  # the same str object, not equal copies


def test_non_finite_numbers_are_sent_as_null() -> None:
    hub = EventHub()
    sub = hub.subscribe("b1")
    bad = Event("b1", 1, 0, EventKind.SYSTEM, None, {"x": float("nan"), "y": [1e999]}, "h", "p")
    hub.publish_events("b1", [bad])
    text = sub.take()[0][0][0][1]
    message = json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} is not JSON"))
    assert message["event"]["payload"] == {"x": None, "y": [None]}


def test_overflow_drops_the_buffer_and_rearms_on_take() -> None:
    hub = EventHub(max_queue=3)
    slow, fast = hub.subscribe("b1"), hub.subscribe("b1")
    hub.publish_events("b1", [ev(1), ev(2)])
    assert seqs(fast.take()[0]) == [1, 2]
    hub.publish_events("b1", [ev(3), ev(4)])  # slow would hold 4 > 3
    assert slow.overflowed and slow.pending == 0
    assert seqs(fast.take()[0]) == [3, 4]  # the fast one lost nothing
    hub.publish_events("b1", [ev(5)])  # ignored while overflowed
    assert slow.take() == ([], True)
    assert not slow.overflowed
    hub.publish_events("b1", [ev(6)])
    assert seqs(slow.take()[0]) == [6]
    assert seqs(fast.take()[0]) == [5, 6]
    assert hub.stats.overflows == 1


def test_unsubscribe_and_counts() -> None:
    hub = EventHub()
    a, b = hub.subscribe("b1"), hub.subscribe("b2")
    assert hub.subscriber_count() == 2 and hub.subscriber_count("b1") == 1
    hub.unsubscribe(a)
    a.close()  # idempotent
    assert hub.subscriber_count() == 1 and hub.subscriber_count("b1") == 0
    hub.publish_events("b1", [ev(1)])
    assert a.take() == ([], False)
    hub.close()
    assert b.closed and hub.subscriber_count() == 0


async def test_wait_wakes_on_publish_and_times_out() -> None:
    hub = EventHub()
    sub = hub.subscribe("b1")
    assert await sub.wait(0.01) is False
    waiter = asyncio.create_task(sub.wait())
    await asyncio.sleep(0)
    assert not waiter.done()
    hub.publish_events("b1", [ev(1)])
    assert await asyncio.wait_for(waiter, 1) is True
    sub.take()
    closer = asyncio.create_task(sub.wait())
    await asyncio.sleep(0)
    sub.close()
    assert await asyncio.wait_for(closer, 1) is True and sub.closed


def test_a_full_subscriber_does_not_slow_publishing() -> None:
    """Publishing to 1,000 subscribers, one of them never read, stays O(subscribers)."""
    hub = EventHub(max_queue=100)
    subs = [hub.subscribe("b1") for _ in range(1000)]
    start = time.perf_counter()
    for seq in range(1, 301):
        hub.publish_events("b1", [ev(seq)])
        for sub in subs[1:]:
            sub.take()
    elapsed = time.perf_counter() - start
    assert subs[0].overflowed and subs[0].pending == 0
    assert hub.stats.overflows == 1
    assert elapsed < 30  # sanity only (timings are for benchmarks/ws_latency.py)


@given(
    ops=st.lists(
        st.one_of(st.integers(min_value=1, max_value=4), st.just(0)), min_size=1, max_size=60
    ),
    max_queue=st.integers(min_value=1, max_value=6),
)
def test_taken_messages_are_in_order_and_gaps_only_follow_an_overflow(
    ops: list[int], max_queue: int
) -> None:
    """Ops: n > 0 publishes n events, 0 takes. Whatever was taken is strictly increasing; a
    seq is skipped only across a take that reported an overflow, and nothing is lost
    otherwise."""
    hub = EventHub(max_queue=max_queue)
    sub = hub.subscribe("b1")
    next_seq, expected_next = 1, 1
    for op in [*ops, 0]:
        if op:
            hub.publish_events("b1", [ev(s) for s in range(next_seq, next_seq + op)])
            next_seq += op
            assert sub.pending <= max_queue
            continue
        batches, overflowed = sub.take()
        got = seqs(batches)
        assert not (overflowed and got)  # an overflow hands nothing over
        if overflowed:
            expected_next = next_seq  # everything published so far must come from the store
        else:
            assert got == list(range(expected_next, expected_next + len(got)))
            expected_next += len(got)
            assert expected_next == next_seq  # nothing held back
