"""Probe health: what each probe last reported about itself, and alerts when one goes silent.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "probestatus",
        sa.Column("probe_id", sa.Integer(), nullable=False),
        sa.Column("last_contact", sa.Float(), nullable=False),
        sa.Column("address", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("version", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=True),
        sa.Column("outbox_depth", sa.Integer(), nullable=True),
        sa.Column("quarantined", sa.Integer(), nullable=True),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
        sa.ForeignKeyConstraint(["probe_id"], ["probe.id"]),
        sa.PrimaryKeyConstraint("probe_id"),
    )
    op.create_table(
        "probealert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("probe_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("severity", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("since", sa.Float(), nullable=False),
        sa.Column("raised_at", sa.Float(), nullable=False),
        sa.Column("resolved_at", sa.Float(), nullable=True),
        sa.Column("threshold_s", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["probe_id"], ["probe.id"]),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("probe_id", "kind", "since", name="uq_probealert_probe_kind_since"),
    )
    with op.batch_alter_table("probealert", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_probealert_probe_id"), ["probe_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_probealert_resolved_at"), ["resolved_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_probealert_site_id"), ["site_id"], unique=False)
    # Probes that delivered scans before this revision start with that as their last
    # contact, so one that has since died is reported silent instead of "never seen".
    op.execute(
        "INSERT INTO probestatus (probe_id, last_contact) "
        "SELECT id, last_seen_at FROM probe WHERE last_seen_at IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("probealert", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_probealert_site_id"))
        batch_op.drop_index(batch_op.f("ix_probealert_resolved_at"))
        batch_op.drop_index(batch_op.f("ix_probealert_probe_id"))
    op.drop_table("probealert")
    op.drop_table("probestatus")
