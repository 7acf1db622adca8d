"""Indexes for the findings list and open-finding counts at 100,000 findings.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 20:55:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("finding", schema=None) as batch_op:
        batch_op.create_index(
            "ix_finding_rank_seen", ["severity_rank", "last_seen", "id"], unique=False
        )
        batch_op.create_index(
            "ix_finding_device_state",
            ["device_id", "last_seen", "status", "expires_at", "severity"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("finding", schema=None) as batch_op:
        batch_op.drop_index("ix_finding_device_state")
        batch_op.drop_index("ix_finding_rank_seen")
