"""Initial schema: what `create_all` made before migrations (sites .. audit log).

Revision ID: 0001
Revises:
Create Date: 2026-11-24 20:36:23.650784
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "app_user",
        sa.Column("username", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("password_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_app_user_username"), ["username"], unique=True)

    op.create_table(
        "auditlog",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("target", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("auditlog", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_auditlog_at"), ["at"], unique=False)

    op.create_table(
        "site",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("site", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_site_name"), ["name"], unique=True)

    op.create_table(
        "probe",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("last_seen_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["site.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("probe", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_probe_name"), ["name"], unique=True)
        batch_op.create_index(batch_op.f("ix_probe_site_id"), ["site_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_probe_token_hash"), ["token_hash"], unique=True)

    op.create_table(
        "scan",
        sa.Column("scan_uid", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("started", sa.Float(), nullable=False),
        sa.Column("finished", sa.Float(), nullable=False),
        sa.Column("targets", sa.JSON(), nullable=False),
        sa.Column("stats", sa.JSON(), nullable=False),
        sa.Column("camaudit_version", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("probe_id", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.Float(), nullable=False),
        sa.Column("device_count", sa.Integer(), nullable=False),
        sa.Column("finding_count", sa.Integer(), nullable=False),
        sa.Column("observation_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["probe_id"],
            ["probe.id"],
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["site.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("probe_id", "scan_uid", name="uq_scan_probe_uid"),
    )
    with op.batch_alter_table("scan", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_scan_probe_id"), ["probe_id"], unique=False)
        batch_op.create_index("ix_scan_site_started", ["site_id", "started"], unique=False)

    op.create_table(
        "device",
        sa.Column("ip", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("mac", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("vendor", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("oem", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("model", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("firmware", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("serial", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("hardware_id", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("endpoint_uuid", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("hostname", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("device_type", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("first_seen", sa.Float(), nullable=False),
        sa.Column("last_seen", sa.Float(), nullable=False),
        sa.Column("last_scan_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["last_scan_id"],
            ["scan.id"],
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["site.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_device_device_type"), ["device_type"], unique=False)
        batch_op.create_index(batch_op.f("ix_device_ip"), ["ip"], unique=False)
        batch_op.create_index(batch_op.f("ix_device_oem"), ["oem"], unique=False)
        batch_op.create_index("ix_device_site_last_seen", ["site_id", "last_seen"], unique=False)
        batch_op.create_index(batch_op.f("ix_device_vendor"), ["vendor"], unique=False)

    op.create_table(
        "observation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scan_id", sa.Integer(), nullable=False),
        sa.Column("probe", sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
        sa.Column("ip", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("port", sa.Integer(), nullable=True),
        sa.Column("mac", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["scan_id"],
            ["scan.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("observation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_observation_scan_id"), ["scan_id"], unique=False)

    op.create_table(
        "deviceidentity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["device.id"],
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["site.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("site_id", "key", name="uq_identity_site_key"),
    )
    with op.batch_alter_table("deviceidentity", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_deviceidentity_device_id"), ["device_id"], unique=False
        )

    op.create_table(
        "devicesighting",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("scan_id", sa.Integer(), nullable=False),
        sa.Column("ip", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("seen_at", sa.Float(), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["device.id"],
        ),
        sa.ForeignKeyConstraint(
            ["scan_id"],
            ["scan.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("scan_id", "device_id", name="uq_sighting_scan_device"),
    )
    with op.batch_alter_table("devicesighting", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_devicesighting_device_id"), ["device_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_devicesighting_scan_id"), ["scan_id"], unique=False)

    op.create_table(
        "finding",
        sa.Column("rule", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("severity", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("rationale", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("remediation", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("severity_rank", sa.Integer(), nullable=False),
        sa.Column("first_seen", sa.Float(), nullable=False),
        sa.Column("last_seen", sa.Float(), nullable=False),
        sa.Column("first_scan_id", sa.Integer(), nullable=True),
        sa.Column("last_scan_id", sa.Integer(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("justification", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("expires_at", sa.Float(), nullable=True),
        sa.Column("acknowledged_by", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("acknowledged_at", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["device.id"],
        ),
        sa.ForeignKeyConstraint(
            ["first_scan_id"],
            ["scan.id"],
        ),
        sa.ForeignKeyConstraint(
            ["last_scan_id"],
            ["scan.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("device_id", "rule", "key", name="uq_finding_device_rule_key"),
    )
    with op.batch_alter_table("finding", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_finding_device_id"), ["device_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_finding_last_scan_id"), ["last_scan_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_finding_rule"), ["rule"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_finding_severity_rank"), ["severity_rank"], unique=False
        )
        batch_op.create_index("ix_finding_status_rank", ["status", "severity_rank"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("finding", schema=None) as batch_op:
        batch_op.drop_index("ix_finding_status_rank")
        batch_op.drop_index(batch_op.f("ix_finding_severity_rank"))
        batch_op.drop_index(batch_op.f("ix_finding_rule"))
        batch_op.drop_index(batch_op.f("ix_finding_last_scan_id"))
        batch_op.drop_index(batch_op.f("ix_finding_device_id"))

    op.drop_table("finding")
    with op.batch_alter_table("devicesighting", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_devicesighting_scan_id"))
        batch_op.drop_index(batch_op.f("ix_devicesighting_device_id"))

    op.drop_table("devicesighting")
    with op.batch_alter_table("deviceidentity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deviceidentity_device_id"))

    op.drop_table("deviceidentity")
    with op.batch_alter_table("observation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_observation_scan_id"))

    op.drop_table("observation")
    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_vendor"))
        batch_op.drop_index("ix_device_site_last_seen")
        batch_op.drop_index(batch_op.f("ix_device_oem"))
        batch_op.drop_index(batch_op.f("ix_device_ip"))
        batch_op.drop_index(batch_op.f("ix_device_device_type"))

    op.drop_table("device")
    with op.batch_alter_table("scan", schema=None) as batch_op:
        batch_op.drop_index("ix_scan_site_started")
        batch_op.drop_index(batch_op.f("ix_scan_probe_id"))

    op.drop_table("scan")
    with op.batch_alter_table("probe", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_probe_token_hash"))
        batch_op.drop_index(batch_op.f("ix_probe_site_id"))
        batch_op.drop_index(batch_op.f("ix_probe_name"))

    op.drop_table("probe")
    with op.batch_alter_table("site", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_site_name"))

    op.drop_table("site")
    with op.batch_alter_table("auditlog", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_auditlog_at"))

    op.drop_table("auditlog")
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_app_user_username"))

    op.drop_table("app_user")
