"""The store's tables (SQLAlchemy Core): one row per recorded document, one per measured criterion.

``records`` keeps each document whole (``harness.run/v1``, ``harness.comparison/v1``,
``harness.leaderboard/v1``) with where it came from; ``results`` flattens what history and
baselines filter on: suite, model identity, criterion, mean and interval, and the verdict the
model got on that suite. The runs a comparison was made of are records of their own whose
``parent_id`` is the comparison's record.

Changing a table is a new Alembic revision under ``migrations/versions``, never an edit of an
old one: a store written by this version must open in the next.
"""

from __future__ import annotations

from sqlalchemy import (
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

__all__ = ["metadata", "records", "results"]

metadata = MetaData()

records = Table(
    "records",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # sha256 of the canonical document (and its parent's uid): importing a file twice is a no-op
    Column("uid", String(64), nullable=False, unique=True),
    Column("kind", String(32), nullable=False),  # run | comparison | leaderboard
    Column("schema", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("parent_id", Integer, ForeignKey("records.id", ondelete="CASCADE"), nullable=True),
    Column("role", String(32), nullable=True),  # for a comparison's runs: base | candidate
    Column("verdict", String(16), nullable=True),
    Column("source", Text, nullable=True),  # the command line or the imported file
    Column("harness_version", String(64), nullable=True),
    Column("provenance", Text, nullable=False),  # JSON: git commit, libraries, platform, hashes
    Column("document", Text, nullable=False),  # JSON: the whole document
)
Index("ix_records_kind_created", records.c.kind, records.c.created_at)
Index("ix_records_parent", records.c.parent_id)

results = Table(
    "results",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("record_id", Integer, ForeignKey("records.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("suite", String(255), nullable=False),
    Column("suite_hash", String(128), nullable=True),
    Column("rubric_hash", String(128), nullable=True),
    Column("model_spec", Text, nullable=True),
    Column("model_hash", String(255), nullable=True),
    Column("adapter_hash", String(255), nullable=True),
    Column("role", String(32), nullable=False),  # run | base | candidate | comparison | leaderboard
    Column("verdict", String(16), nullable=True),
    Column("criterion", String(255), nullable=False),
    Column("mean", Float, nullable=True),
    Column("ci_low", Float, nullable=True),
    Column("ci_high", Float, nullable=True),
    Column("n", Integer, nullable=True),
    Column("delta", Float, nullable=True),  # comparisons: candidate − base
    Column("p_value", Float, nullable=True),
)
Index("ix_results_suite_created", results.c.suite, results.c.created_at)
Index("ix_results_record", results.c.record_id)
Index("ix_results_model", results.c.model_spec)
