"""Probe health: the poll interval and schedule period each probe reports, so the silence
threshold follows each probe's own pace.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 23:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable, no default: a probe that has not reported them since (an older probe)
    # keeps the server-wide threshold, exactly as before this revision.
    with op.batch_alter_table("probestatus", schema=None) as batch_op:
        batch_op.add_column(sa.Column("poll_interval_s", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("schedule_period_s", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("probestatus", schema=None) as batch_op:
        batch_op.drop_column("schedule_period_s")
        batch_op.drop_column("poll_interval_s")
