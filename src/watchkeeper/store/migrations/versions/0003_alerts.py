"""Live service: per-camera analysis settings, alerts with reviews, the notification outbox.

Revision ID: 0003
Revises: 0002
Create Date: 2025-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATES = ("new", "confirmed", "rejected", "escalated")
DECISIONS = ("confirm", "reject", "escalate")


def _time(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(column: str, table: str, target: str, ondelete: str | None = "CASCADE") -> sa.Constraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete=ondelete
    )


def _check(table: str, name: str, column: str, values: tuple[str, ...]) -> sa.Constraint:
    return sa.CheckConstraint(
        f"{column} IN ({', '.join(repr(v) for v in values)})", name=op.f(f"ck_{table}_{name}")
    )


def upgrade() -> None:
    with op.batch_alter_table("cameras") as batch:
        batch.add_column(sa.Column("min_face_size", sa.Integer, nullable=True))
        batch.add_column(sa.Column("detection_threshold", sa.Double, nullable=True))
        batch.add_column(sa.Column("roi", sa.JSON, nullable=True))
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("camera_id", sa.Integer, nullable=False),
        sa.Column("person_id", sa.Integer, nullable=False),
        sa.Column("watchlist_id", sa.Integer, nullable=False),
        sa.Column("sighting_id", sa.Integer, nullable=False),
        sa.Column("photo_id", sa.Integer, nullable=True),
        sa.Column("score", sa.Double, nullable=False),
        sa.Column("threshold", sa.Double, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("confirmations_required", sa.Integer, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        _time("first_seen"),
        _time("last_seen"),
        _time("created_at"),
        _time("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
        _check("alerts", "state", "state", STATES),
        _fk("camera_id", "alerts", "cameras", ondelete=None),
        _fk("person_id", "alerts", "persons"),
        _fk("watchlist_id", "alerts", "watchlists"),
        _fk("sighting_id", "alerts", "sightings"),
    )
    for column in ("person_id", "watchlist_id", "state", "created_at"):
        op.create_index(f"ix_alerts_{column}", "alerts", [column])
    op.create_index(
        "ix_alerts_camera_id_person_id_last_seen",
        "alerts",
        ["camera_id", "person_id", "last_seen"],
    )
    op.create_table(
        "alert_sightings",
        sa.Column("alert_id", sa.Integer, nullable=False),
        sa.Column("sighting_id", sa.Integer, nullable=False),
        sa.Column("match_id", sa.Integer, nullable=False),
        sa.Column("score", sa.Double, nullable=False),
        sa.PrimaryKeyConstraint("alert_id", "sighting_id", name="pk_alert_sightings"),
        _fk("alert_id", "alert_sightings", "alerts"),
        _fk("sighting_id", "alert_sightings", "sightings"),
    )
    op.create_index("ix_alert_sightings_sighting_id", "alert_sightings", ["sighting_id"])
    op.create_table(
        "alert_reviews",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("alert_id", sa.Integer, nullable=False),
        sa.Column("user_id", sa.Integer, nullable=True),
        sa.Column("reviewer", sa.String(200), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("comment", sa.Text, nullable=True),
        _time("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_alert_reviews"),
        _check("alert_reviews", "decision", "decision", DECISIONS),
        _fk("alert_id", "alert_reviews", "alerts"),
    )
    op.create_index("ix_alert_reviews_alert_id", "alert_reviews", ["alert_id"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("alert_id", sa.Integer, nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("idempotency_key", sa.String(100), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        _time("next_attempt_at"),
        _time("delivered_at", nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        _time("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint("idempotency_key", name="uq_outbox_idempotency_key"),
        _fk("alert_id", "outbox", "alerts"),
    )
    for column in ("alert_id", "next_attempt_at", "delivered_at"):
        op.create_index(f"ix_outbox_{column}", "outbox", [column])


def downgrade() -> None:
    for table in ("outbox", "alert_reviews", "alert_sightings", "alerts"):
        op.drop_table(table)
    with op.batch_alter_table("cameras") as batch:
        for column in ("roi", "detection_threshold", "min_face_size"):
            batch.drop_column(column)
