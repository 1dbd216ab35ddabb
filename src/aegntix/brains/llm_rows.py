"""The ``llm_cache`` table, SQL side: :class:`SqlReplies` (the reply cache's rows) and
:class:`SqlUsageLedger` (the same rows read as the ledger of provider spend). Both are
tenant-scoped :class:`~aegntix.repository.TenantRows`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from aegntix.brains.replies import CachedReply, PaidCall, Payer
from aegntix.repository import TenantRows
from aegntix.timeline.inserts import insert_new
from aegntix.timeline.schema import llm_cache

_C = llm_cache.c


class SqlReplies(TenantRows):
    """A :class:`~aegntix.brains.replies.ReplyRepository` on ``llm_cache``."""

    def find(self, key: str) -> CachedReply | None:
        query = select(_C.reply, _C.tokens_in, _C.tokens_out).where(
            self.mine(llm_cache), _C.key == key
        )
        with self.reading() as conn:
            row = conn.execute(query).first()
        return None if row is None else CachedReply(row[0], int(row[1]), int(row[2]))

    def add(self, key: str, call: PaidCall, payer: Payer) -> bool:
        row = self.stamped(
            key=key,
            provider=call.provider,
            model=call.model,
            reply=call.reply.text,
            tokens_in=call.reply.tokens_in,
            tokens_out=call.reply.tokens_out,
            cost=call.cost,
            scenario_id=payer.scenario_id,
            branch_id=payer.branch_id,
            agent_id=payer.agent_id,
            created_at=datetime.now(UTC),
        )
        # The first writer of a key keeps the row: a second paid call for it (another
        # process raced this one) is not billed twice.
        return self.write(lambda conn: insert_new(conn, llm_cache, row)) == 1


def _sums(count: Any, tin: Any, tout: Any, cost: Any) -> dict[str, Any]:
    return {
        "calls": int(count or 0),
        "tokens_in": int(tin or 0),
        "tokens_out": int(tout or 0),
        "cost": round(float(cost or 0.0), 10),
    }


_SUMS = (func.count(), func.sum(_C.tokens_in), func.sum(_C.tokens_out), func.sum(_C.cost))


class SqlUsageLedger(TenantRows):
    """A :class:`~aegntix.brains.replies.UsageLedger` on ``llm_cache``."""

    def billed(self, **where: str) -> dict[str, Any]:
        query = select(*_SUMS).where(self.mine(llm_cache), *(_C[k] == v for k, v in where.items()))
        with self.reading() as conn:
            return _sums(*conn.execute(query).one())

    def grouped(self, by: str, **where: str) -> dict[str, dict[str, Any]]:
        query = (
            select(_C[by], *_SUMS)
            .where(self.mine(llm_cache), *(_C[k] == v for k, v in where.items()))
            .group_by(_C[by])
        )
        with self.reading() as conn:
            rows = conn.execute(query).all()
        return {
            str(key or ""): _sums(n, tin, tout, cost)
            for key, n, tin, tout, cost in sorted(rows, key=lambda r: str(r[0] or ""))
        }
