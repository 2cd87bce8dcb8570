"""Accountability: deployments, camera group retention, approvals, archive, activity counts.

Revision ID: 0004
Revises: 0003
Create Date: 2025-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPROVAL_KINDS = ("enrol_wanted", "export")


def _time(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(column: str, table: str, target: str) -> sa.Constraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete="CASCADE"
    )


def _count(name: str) -> sa.Column:
    return sa.Column(name, sa.Integer, nullable=False)


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("watchlist_id", sa.Integer, nullable=False),
        sa.Column("camera_group", sa.String(100), nullable=False),
        _time("starts_at"),
        _time("ends_at"),
        sa.Column("authorised_by", sa.String(200), nullable=False),
        sa.Column("authorisation_ref", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        _time("created_at"),
        _time("revoked_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_deployments"),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_deployments_period")),
        _fk("watchlist_id", "deployments", "watchlists"),
    )
    op.create_index("ix_deployments_watchlist_id", "deployments", ["watchlist_id"])
    op.create_index("ix_deployments_camera_group", "deployments", ["camera_group"])
    op.create_table(
        "camera_group_policies",
        sa.Column("group", sa.String(100), nullable=False),
        sa.Column("archive_days", sa.Integer, nullable=True),
        sa.Column("updated_by", sa.String(200), nullable=False),
        _time("updated_at"),
        sa.PrimaryKeyConstraint("group", name="pk_camera_group_policies"),
    )
    op.create_table(
        "approvals",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("object_type", sa.String(100), nullable=False),
        sa.Column("object_id", sa.String(200), nullable=False),
        sa.Column("details", sa.Text, nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("requested_by", sa.String(200), nullable=False),
        _time("requested_at"),
        sa.Column("approved_by", sa.String(200), nullable=True),
        _time("approved_at", nullable=True),
        sa.Column("rejected_by", sa.String(200), nullable=True),
        _time("rejected_at", nullable=True),
        sa.Column("decision_reason", sa.Text, nullable=True),
        _time("used_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_approvals"),
        sa.CheckConstraint(
            f"kind IN ({', '.join(repr(k) for k in APPROVAL_KINDS)})",
            name=op.f("ck_approvals_kind"),
        ),
    )
    op.create_index("ix_approvals_kind", "approvals", ["kind"])
    op.create_index("ix_approvals_object_id", "approvals", ["object_id"])
    op.create_table(
        "archived_sightings",
        sa.Column("sighting_id", sa.Integer, nullable=False),
        sa.Column("camera_group", sa.String(100), nullable=False),
        _time("expires_at"),
        _time("created_at"),
        sa.PrimaryKeyConstraint("sighting_id", name="pk_archived_sightings"),
        _fk("sighting_id", "archived_sightings", "sightings"),
    )
    op.create_index("ix_archived_sightings_expires_at", "archived_sightings", ["expires_at"])
    op.create_table(
        "sighting_templates",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("sighting_id", sa.Integer, nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("dimension", sa.Integer, nullable=False),
        sa.Column("vector", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_sighting_templates"),
        _fk("sighting_id", "sighting_templates", "sightings"),
    )
    op.create_index("ix_sighting_templates_sighting_id", "sighting_templates", ["sighting_id"])
    op.create_index("ix_sighting_templates_model", "sighting_templates", ["model"])
    op.create_table(
        "activity_counts",
        _time("hour"),
        sa.Column("camera", sa.String(200), nullable=False),
        _count("frames"),
        _count("faces"),
        _count("sightings"),
        _count("blocked_expired"),
        _count("blocked_not_authorised"),
        _count("blocked_review_overdue"),
        _count("blocked_pending_approval"),
        sa.PrimaryKeyConstraint("hour", "camera", name="pk_activity_counts"),
    )
    meta = sa.table("meta", sa.column("key", sa.String), sa.column("value", sa.Text))
    op.bulk_insert(meta, [{"key": "policy_version", "value": "0"}])


def downgrade() -> None:
    op.execute("DELETE FROM meta WHERE key = 'policy_version'")
    for table in (
        "activity_counts",
        "sighting_templates",
        "archived_sightings",
        "approvals",
        "camera_group_policies",
        "deployments",
    ):
        op.drop_table(table)
