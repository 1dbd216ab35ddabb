"""The timeline: branches of append-only, hash-chained events; fork, state at a step, compare,
verify. ``Store`` is the backend contract; ``SqlStore`` implements it on SQLAlchemy Core;
``open_store`` opens one on a SQLite file or a PostgreSQL URL."""

from aegntix.timeline.compare import Comparison, compare
from aegntix.timeline.opening import open_store
from aegntix.timeline.postgres import open_postgres_store
from aegntix.timeline.sqlite import open_sqlite_store
from aegntix.timeline.sqlstore import SqlStore
from aegntix.timeline.state import state_at
from aegntix.timeline.store import Snapshot, Store
from aegntix.timeline.verify import Problem, VerifyReport, verify

__all__ = [
    "Comparison",
    "Problem",
    "Snapshot",
    "SqlStore",
    "Store",
    "VerifyReport",
    "compare",
    "open_postgres_store",
    "open_sqlite_store",
    "open_store",
    "state_at",
    "verify",
]
