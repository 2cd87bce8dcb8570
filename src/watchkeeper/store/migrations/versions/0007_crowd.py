"""Crowd counting: zones, per-zone-per-minute counts, crowd alerts, and their outbox rows.

Revision ID: 0007_crowd
Revises: 0006
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_crowd"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(column: str, table: str, target: str) -> sa.Constraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete="CASCADE"
    )


def upgrade() -> None:
    with op.batch_alter_table("cameras") as batch:
        batch.add_column(
            sa.Column("face_recognition", sa.Boolean, nullable=False, server_default=sa.true())
        )
    op.create_table(
        "crowd_zones",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("camera_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        _time("created_at"),
        _time("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_crowd_zones"),
        sa.UniqueConstraint("camera_id", "name", name="uq_crowd_zones_camera_name"),
        _fk("camera_id", "crowd_zones", "cameras"),
    )
    op.create_index("ix_crowd_zones_camera_id", "crowd_zones", ["camera_id"])
    op.create_table(
        "crowd_minutes",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("zone_id", sa.Integer, nullable=False),
        sa.Column("camera_id", sa.Integer, nullable=False),
        _time("minute"),
        sa.Column("frames", sa.Integer, nullable=False),
        sa.Column("people_mean", sa.Double, nullable=False),
        sa.Column("people_max", sa.Double, nullable=False),
        sa.Column("density_max", sa.Double, nullable=True),
        sa.Column("entered", sa.Integer, nullable=False),
        sa.Column("left", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_crowd_minutes"),
        sa.UniqueConstraint("zone_id", "minute", name="uq_crowd_minutes_zone_minute"),
        _fk("zone_id", "crowd_minutes", "crowd_zones"),
        _fk("camera_id", "crowd_minutes", "cameras"),
    )
    op.create_index("ix_crowd_minutes_camera_id", "crowd_minutes", ["camera_id"])
    op.create_index("ix_crowd_minutes_minute", "crowd_minutes", ["minute"])
    op.create_table(
        "crowd_alerts",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("camera_id", sa.Integer, nullable=False),
        sa.Column("zone_id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.Double, nullable=False),
        sa.Column("limit", sa.Double, nullable=False),
        sa.Column("peak", sa.Double, nullable=False),
        _time("raised_at"),
        _time("released_at", nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("acknowledged_by", sa.String(200), nullable=True),
        _time("acknowledged_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_crowd_alerts"),
        sa.CheckConstraint(
            "kind IN ('people', 'density', 'inflow')", name=op.f("ck_crowd_alerts_kind")
        ),
        sa.CheckConstraint("state IN ('new', 'acknowledged')", name=op.f("ck_crowd_alerts_state")),
        _fk("camera_id", "crowd_alerts", "cameras"),
        _fk("zone_id", "crowd_alerts", "crowd_zones"),
    )
    op.create_index("ix_crowd_alerts_zone_id", "crowd_alerts", ["zone_id"])
    op.create_index("ix_crowd_alerts_raised_at", "crowd_alerts", ["raised_at"])
    op.create_index("ix_crowd_alerts_state", "crowd_alerts", ["state"])
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("alert_id", existing_type=sa.Integer, nullable=True)
        batch.add_column(sa.Column("crowd_alert_id", sa.Integer, nullable=True))
        batch.create_foreign_key(
            "fk_outbox_crowd_alert_id_crowd_alerts",
            "crowd_alerts",
            ["crowd_alert_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch.create_index("ix_outbox_crowd_alert_id", ["crowd_alert_id"])


def downgrade() -> None:
    op.execute("DELETE FROM outbox WHERE alert_id IS NULL")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_crowd_alert_id")
        batch.drop_constraint("fk_outbox_crowd_alert_id_crowd_alerts", type_="foreignkey")
        batch.drop_column("crowd_alert_id")
        batch.alter_column("alert_id", existing_type=sa.Integer, nullable=False)
    op.drop_table("crowd_alerts")
    op.drop_table("crowd_minutes")
    op.drop_table("crowd_zones")
    with op.batch_alter_table("cameras") as batch:
        batch.drop_column("face_recognition")
