"""Timeline tables (SQLAlchemy Core). The Alembic migrations create them; this module is the
in-code description the store queries against. Keep both in step (a test compares them)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

#: Every table carries a tenant id now, so multi-tenancy (DESIGN §6) needs no data migration.
DEFAULT_TENANT = "default"

metadata = MetaData()


def id_string(length: int = 32) -> String:
    """An id column's type: bytewise collation on PostgreSQL (``COLLATE "C"``), so an id
    prefix is an index range scan there as under SQLite's BINARY default (``timeline/ids.py``).
    The migrations use it too; SQLite is unchanged."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


def _tenant() -> Column[str]:
    # Server-side default only: no per-row Python work on the hot insert path.
    return Column("tenant_id", String(64), nullable=False, server_default=DEFAULT_TENANT)


scenarios = Table(
    "scenarios",
    metadata,
    Column("id", id_string(), primary_key=True),
    _tenant(),
    Column("name", String(200), nullable=False),
    Column("spec", Text, nullable=False),  # canonical JSON
    Column("spec_hash", String(64), nullable=False),
    # The schema version the spec was written for (model/stored.py upgrades older ones).
    Column("spec_version", Integer, nullable=False, server_default="1"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # Soft delete: a deleted scenario and its branches disappear from the API; events stay.
    Column("deleted_at", DateTime(timezone=True), nullable=True),
)

branches = Table(
    "branches",
    metadata,
    Column("id", id_string(), primary_key=True),
    _tenant(),
    Column("scenario_id", id_string(), ForeignKey("scenarios.id"), nullable=False),
    Column("parent_id", id_string(), ForeignKey("branches.id"), nullable=True),
    Column("fork_seq", BigInteger, nullable=False),
    Column("fork_step", BigInteger, nullable=False),
    Column("seed", BigInteger, nullable=False),
    Column("label", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    # head_* caches the last logical event; updated in the transaction of every append.
    Column("head_seq", BigInteger, nullable=False),
    Column("head_step", BigInteger, nullable=False),
    Column("head_hash", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # Why the last run failed (JSON: type, detail, step); null unless status is "failed".
    Column("failure", Text, nullable=True),
    Index("ix_branches_scenario", "scenario_id"),
    Index("ix_branches_parent", "parent_id"),
)

events = Table(
    "events",
    metadata,
    Column("branch_id", id_string(), ForeignKey("branches.id"), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    _tenant(),
    Column("step", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("agent_id", String(64), nullable=True),
    Column("payload", Text, nullable=False),  # canonical JSON
    Column("hash", String(64), nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_events_branch_step", "branch_id", "step", "seq"),
)

snapshots = Table(
    "snapshots",
    metadata,
    Column("branch_id", id_string(), ForeignKey("branches.id"), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    _tenant(),
    Column("step", BigInteger, nullable=False),
    Column("state", Text, nullable=False),  # JSON
    Column("created_at", DateTime(timezone=True), nullable=False),
)

tenants = Table(
    "tenants",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("name", String(200), nullable=False),
    Column("secret_hash", String(64), nullable=False),  # SHA-256 hex of the secret part
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Index("ix_api_keys_tenant", "tenant_id"),
)

#: Model replies by request digest (``aegntix.brains.cache``): a re-run of the same prompt
#: never calls the model again. One row is one paid provider call, attributed to the
#: scenario, branch and agent that made it, so it doubles as the spend ledger.
llm_cache = Table(
    "llm_cache",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("key", String(64), primary_key=True),  # sha256 of (provider, model, messages, params)
    Column("provider", String(32), nullable=False),
    Column("model", String(200), nullable=False),
    Column("reply", Text, nullable=False),
    Column("tokens_in", BigInteger, nullable=False),
    Column("tokens_out", BigInteger, nullable=False),
    Column("cost", Float, nullable=False),
    Column("scenario_id", String(32), nullable=True),
    Column("branch_id", String(32), nullable=True),
    Column("agent_id", String(64), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_llm_cache_branch", "branch_id"),
    Index("ix_llm_cache_scenario", "scenario_id"),
)

# Persistent agents (``aegntix.memory``). A profile row holds the agent's current persona and
# version; what it has lived through is append-only: a version row per committed branch, and
# the memories that commit kept. Scenarios pin a version, so replays never see later commits.
agent_profiles = Table(
    "agent_profiles",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("persona", Text, nullable=False),  # canonical JSON of the core Persona
    Column("traits", Text, nullable=False),  # canonical JSON: current Big Five
    Column("version", BigInteger, nullable=False),
    Column("lived_steps", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("deleted_at", DateTime(timezone=True), nullable=True),
)

profile_versions = Table(
    "profile_versions",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("profile_id", String(64), primary_key=True),
    Column("version", BigInteger, primary_key=True),
    Column("traits", Text, nullable=False),
    Column("lived_steps", BigInteger, nullable=False),
    Column("scenario_id", String(32), nullable=True),  # None for version 0 (creation)
    Column("branch_id", String(32), nullable=True),
    Column("agent_id", String(64), nullable=True),
    Column("memories", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_profile_versions_scenario", "tenant_id", "profile_id", "scenario_id"),
)

profile_memories = Table(
    "profile_memories",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("profile_id", String(64), primary_key=True),
    Column("version", BigInteger, primary_key=True),
    Column("ord", BigInteger, primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("text", Text, nullable=False),
    Column("importance", Float, nullable=False),
    Column("time", Float, nullable=False),  # steps lived by the agent when it was formed
    Column("scenario_id", String(32), nullable=True),
    Column("branch_id", String(32), nullable=True),
    Column("ref", String(64), nullable=False),  # its ref in that branch's timeline
    Column("cites", Text, nullable=False),  # JSON list of refs
    Column("created_at", DateTime(timezone=True), nullable=False),
)

profile_uses = Table(
    "profile_uses",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("profile_id", String(64), primary_key=True),
    Column("scenario_id", String(32), primary_key=True),
    Column("agent_id", String(64), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

rollout_sets = Table(
    "rollout_sets",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("id", id_string(), primary_key=True),
    Column("scenario_id", String(32), nullable=False),
    Column("parent_id", String(32), nullable=False),
    Column("fork_step", BigInteger, nullable=False),
    Column("injection", Text, nullable=True),  # JSON; None for a control set
    Column("n", BigInteger, nullable=False),
    Column("seed_base", BigInteger, nullable=False),  # member seeds derive from it
    Column("status", String(16), nullable=False),
    Column("control_id", String(32), nullable=True),  # the paired control set, if any
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("error", Text, nullable=True),  # why its last drive failed, if it did
    Index("ix_rollout_sets_point", "tenant_id", "parent_id", "fork_step", "seed_base"),
)

rollout_members = Table(
    "rollout_members",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("set_id", String(32), primary_key=True),
    Column("idx", BigInteger, primary_key=True),
    Column("branch_id", String(32), nullable=False),
    Column("seed", BigInteger, nullable=False),
)

# Who runs a branch, until when (migration 0007; ``timeline/leases.py``).
run_leases = Table(
    "run_leases",
    metadata,
    Column("branch_id", String(32), primary_key=True),
    Column("tenant_id", String(64), nullable=False),  # the branch's
    Column("owner", String(64), nullable=False),
    Column("expires_at", Float, nullable=False),  # seconds since the epoch
)

# Which API replica drives a rollout set now (``analysis/driving.py``): any replica reads it.
set_leases = Table(
    "set_leases",
    metadata,
    Column("set_id", String(32), primary_key=True),
    Column("tenant_id", String(64), nullable=False),  # the set's
    Column("owner", String(64), nullable=False),
    Column("expires_at", Float, nullable=False),  # seconds since the epoch
)

# Model providers' limits shared by every process on the database (``brains/shared_limits.py``).
# Operator rows, not tenant data: a provider endpoint (its URL and the server's key) is shared
# by all tenants, and ``endpoint`` is a digest, never the URL or the key.
llm_slots = Table(
    "llm_slots",
    metadata,
    Column("endpoint", String(64), primary_key=True),
    Column("slot", Integer, primary_key=True),
    Column("holder", String(64), nullable=False),
    Column("expires_at", Float, nullable=False),  # seconds since the epoch, database clock
)
llm_rates = Table(
    "llm_rates",
    metadata,
    Column("endpoint", String(64), primary_key=True),
    # GCRA's theoretical arrival time: seconds since the epoch, database clock
    Column("tat", Float, nullable=False),
)

# What the user asked of each branch's run, read by the workers (``workers/intents.py``).
run_intents = Table(
    "run_intents",
    metadata,
    Column("branch_id", String(32), primary_key=True),
    Column("tenant_id", String(64), nullable=False),  # the branch's
    Column("want", String(16), nullable=False),  # run | pause | cancel (workers/intents.py)
    Column("steps", Integer, nullable=True),  # asked for (null: to the end)
    Column("until_step", Integer, nullable=True),  # fixed by the first slice from ``steps``
    Column("token", String(32), nullable=False),  # one per start
    Column("updated_at", Float, nullable=False),  # seconds since the epoch
)
