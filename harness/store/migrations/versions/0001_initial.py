"""The first schema: records and results.

Revision ID: 0001
Revises:
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "records",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("uid", sa.String(64), nullable=False, unique=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("schema", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("parent_id", sa.Integer, sa.ForeignKey("records.id", ondelete="CASCADE"), nullable=True),
        sa.Column("role", sa.String(32), nullable=True),
        sa.Column("verdict", sa.String(16), nullable=True),
        sa.Column("source", sa.Text, nullable=True),
        sa.Column("harness_version", sa.String(64), nullable=True),
        sa.Column("provenance", sa.Text, nullable=False),
        sa.Column("document", sa.Text, nullable=False),
    )
    op.create_index("ix_records_kind_created", "records", ["kind", "created_at"])
    op.create_index("ix_records_parent", "records", ["parent_id"])
    op.create_table(
        "results",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("record_id", sa.Integer, sa.ForeignKey("records.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("suite", sa.String(255), nullable=False),
        sa.Column("suite_hash", sa.String(128), nullable=True),
        sa.Column("rubric_hash", sa.String(128), nullable=True),
        sa.Column("model_spec", sa.Text, nullable=True),
        sa.Column("model_hash", sa.String(255), nullable=True),
        sa.Column("adapter_hash", sa.String(255), nullable=True),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=True),
        sa.Column("criterion", sa.String(255), nullable=False),
        sa.Column("mean", sa.Float, nullable=True),
        sa.Column("ci_low", sa.Float, nullable=True),
        sa.Column("ci_high", sa.Float, nullable=True),
        sa.Column("n", sa.Integer, nullable=True),
        sa.Column("delta", sa.Float, nullable=True),
        sa.Column("p_value", sa.Float, nullable=True),
    )
    op.create_index("ix_results_suite_created", "results", ["suite", "created_at"])
    op.create_index("ix_results_record", "results", ["record_id"])
    op.create_index("ix_results_model", "results", ["model_spec"])


def downgrade() -> None:
    op.drop_table("results")
    op.drop_table("records")
