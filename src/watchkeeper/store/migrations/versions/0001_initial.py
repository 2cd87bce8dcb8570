"""The initial schema: watchlists, gallery, cameras, matched sightings, audit chain, meta.

Revision ID: 0001
Revises:
Create Date: 2025-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PURPOSES = ("missing_person", "wanted_person", "victim_identification", "security", "other")


def _time(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(column: str, table: str, target: str, ondelete: str | None = "CASCADE") -> sa.Constraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete=ondelete
    )


def _index(table: str, *columns: str) -> None:
    for column in columns:
        op.create_index(f"ix_{table}_{column}", table, [column])


def upgrade() -> None:
    op.create_table(
        "watchlists",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("legal_basis", sa.Text, nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        _time("review_by", nullable=True),
        sa.Column("threshold", sa.Double, nullable=True),
        sa.Column("confirmations_required", sa.Integer, nullable=False),
        _time("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_watchlists"),
        sa.UniqueConstraint("name", name="uq_watchlists_name"),
        sa.CheckConstraint(
            f"purpose IN ({', '.join(repr(p) for p in PURPOSES)})",
            name=op.f("ck_watchlists_purpose"),
        ),
    )
    op.create_table(
        "persons",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("watchlist_id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        _time("expires_at", nullable=True),
        _time("created_at"),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_persons"),
        _fk("watchlist_id", "persons", "watchlists"),
    )
    _index("persons", "watchlist_id")
    op.create_table(
        "photos",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("person_id", sa.Integer, nullable=False),
        sa.Column("media_sha256", sa.String(64), nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("face_box", sa.JSON, nullable=False),
        sa.Column("quality", sa.Double, nullable=False),
        _time("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_photos"),
        _fk("person_id", "photos", "persons"),
    )
    _index("photos", "person_id", "media_sha256")
    op.create_table(
        "templates",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("person_id", sa.Integer, nullable=False),
        sa.Column("photo_id", sa.Integer, nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("dimension", sa.Integer, nullable=False),
        sa.Column("vector", sa.LargeBinary, nullable=False),
        _time("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_templates"),
        _fk("person_id", "templates", "persons"),
        _fk("photo_id", "templates", "photos"),
    )
    _index("templates", "person_id", "photo_id", "model")
    op.create_table(
        "cameras",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("uri", sa.Text, nullable=False),
        sa.Column("group", sa.String(100), nullable=False),
        sa.Column("analysis_fps", sa.Double, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        _time("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_cameras"),
        sa.UniqueConstraint("name", name="uq_cameras_name"),
    )
    op.create_table(
        "sightings",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("camera_id", sa.Integer, nullable=False),
        sa.Column("track_id", sa.Integer, nullable=False),
        _time("started_at"),
        _time("ended_at"),
        sa.Column("first_frame", sa.Integer, nullable=False),
        sa.Column("last_frame", sa.Integer, nullable=False),
        sa.Column("detections", sa.Integer, nullable=False),
        sa.Column("best_frame", sa.Integer, nullable=False),
        sa.Column("crop_sha256", sa.String(64), nullable=True),
        sa.Column("quality", sa.Double, nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        _time("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_sightings"),
        _fk("camera_id", "sightings", "cameras", ondelete=None),
    )
    _index("sightings", "camera_id", "started_at", "crop_sha256")
    op.create_table(
        "matches",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("sighting_id", sa.Integer, nullable=False),
        sa.Column("person_id", sa.Integer, nullable=False),
        sa.Column("watchlist_id", sa.Integer, nullable=False),
        sa.Column("score", sa.Double, nullable=False),
        sa.Column("threshold", sa.Double, nullable=False),
        sa.Column("template_id", sa.Integer, nullable=True),
        _time("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_matches"),
        _fk("sighting_id", "matches", "sightings"),
        _fk("person_id", "matches", "persons"),
        _fk("watchlist_id", "matches", "watchlists"),
    )
    _index("matches", "sighting_id", "person_id", "watchlist_id", "created_at")
    op.create_table(
        "audit_events",
        sa.Column("seq", sa.Integer, autoincrement=False, nullable=False),
        _time("at"),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("object_type", sa.String(100), nullable=False),
        sa.Column("object_id", sa.String(200), nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("details", sa.Text, nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_events"),
    )
    _index("audit_events", "action")
    meta = op.create_table(
        "meta",
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_meta"),
    )
    op.bulk_insert(meta, [{"key": "gallery_version", "value": "0"}])


def downgrade() -> None:
    for table in (
        "meta",
        "audit_events",
        "matches",
        "sightings",
        "cameras",
        "templates",
        "photos",
        "persons",
        "watchlists",
    ):
        op.drop_table(table)
