"""Probe signing keys for offline bundles (camaudit probe register-key / camaudit import).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 21:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "probekey",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("probe_id", sa.Integer(), nullable=False),
        sa.Column("key_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("public_key", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["probe_id"], ["probe.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("probekey", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_probekey_key_id"), ["key_id"], unique=True)
        batch_op.create_index(batch_op.f("ix_probekey_probe_id"), ["probe_id"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("probekey", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_probekey_probe_id"))
        batch_op.drop_index(batch_op.f("ix_probekey_key_id"))
    op.drop_table("probekey")
