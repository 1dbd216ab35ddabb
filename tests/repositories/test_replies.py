"""Contract of the reply cache's rows and the usage ledger read from them."""

from __future__ import annotations

from sqlalchemy import func, select

from aegntix.brains.replies import CachedReply, PaidCall, Payer, ReplyRepository
from aegntix.tenant_data import TenantData
from aegntix.timeline import SqlStore
from aegntix.timeline.schema import llm_cache

from .racing import race

REPLY = CachedReply("hello", 12, 3)


def _call(text: str = "hello", cost: float = 0.5) -> PaidCall:
    return PaidCall("openai", "gpt-test", CachedReply(text, 12, 3), cost)


def _rows(database: SqlStore) -> int:
    with database.reading() as conn:
        return int(conn.execute(select(func.count()).select_from(llm_cache)).scalar_one())


def test_a_reply_is_found_by_its_key(database: SqlStore):
    replies = TenantData(database, "acme").replies
    assert replies.find("k1") is None
    assert replies.add("k1", _call(), Payer("acme", "s1", "b1", "seller")) is True
    assert replies.find("k1") == REPLY


def test_the_first_row_of_a_key_stays(database: SqlStore):
    replies = TenantData(database, "acme").replies
    assert replies.add("k1", _call("first"), Payer("acme"))
    assert replies.add("k1", _call("second"), Payer("acme")) is False
    assert replies.find("k1") == CachedReply("first", 12, 3)
    assert _rows(database) == 1


def test_two_writers_of_the_same_keys_end_with_one_row_each(
    database: SqlStore, other_writer: SqlStore
):
    keys = [f"k{i}" for i in range(40)]
    mine, theirs = TenantData(database, "acme").replies, TenantData(other_writer, "acme").replies

    def fill(replies: ReplyRepository) -> int:
        return sum(replies.add(k, _call(), Payer("acme")) for k in keys)

    won = race(lambda: fill(mine), lambda: fill(theirs))
    assert sum(won) == len(keys)  # every key inserted exactly once, by one of them
    assert _rows(database) == len(keys)


def test_tenant_b_never_sees_tenant_a_replies(database: SqlStore):
    TenantData(database, "acme").replies.add("k1", _call(), Payer("acme"))
    globex = TenantData(database, "globex").replies
    assert globex.find("k1") is None
    # the same key is free for another tenant, and stays apart
    assert globex.add("k1", _call("theirs"), Payer("globex"))
    assert TenantData(database, "acme").replies.find("k1") == REPLY


def test_the_ledger_sums_a_tenants_paid_calls(database: SqlStore):
    replies = TenantData(database, "acme").replies
    replies.add("k1", _call(cost=0.25), Payer("acme", "s1", "b1", "seller"))
    replies.add("k2", _call(cost=0.5), Payer("acme", "s1", "b2", "buyer"))
    replies.add("k2", _call(cost=9.0), Payer("acme", "s1", "b2", "buyer"))  # not billed twice
    ledger = TenantData(database, "acme").usage
    assert ledger.billed() == {"calls": 2, "tokens_in": 24, "tokens_out": 6, "cost": 0.75}
    assert ledger.billed(branch_id="b1")["cost"] == 0.25
    assert set(ledger.grouped("agent_id", scenario_id="s1")) == {"seller", "buyer"}


def test_tenant_b_is_billed_nothing_of_tenant_a(database: SqlStore):
    TenantData(database, "acme").replies.add("k1", _call(), Payer("acme", "s1", "b1"))
    ledger = TenantData(database, "globex").usage
    assert ledger.billed()["calls"] == 0
    assert ledger.billed(branch_id="b1")["calls"] == 0
    assert ledger.grouped("branch_id") == {}
