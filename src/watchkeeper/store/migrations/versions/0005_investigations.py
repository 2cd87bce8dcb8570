"""Investigations: cases, their probes, the recordings scanned and the candidates found.

Revision ID: 0005
Revises: 0004
Create Date: 2025-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PURPOSES = ("missing_person", "wanted_person", "victim_identification")
SOURCE_STATES = ("pending", "done", "failed", "refused", "stopped")
REVIEWS = ("is_person", "is_not")
KINDS = ("recording", "archive")


def _time(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(column: str, table: str, target: str) -> sa.Constraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete="CASCADE"
    )


def _check(table: str, name: str, column: str, values: tuple[str, ...]) -> sa.Constraint:
    return sa.CheckConstraint(
        f"{column} IN ({', '.join(repr(v) for v in values)})", name=op.f(f"ck_{table}_{name}")
    )


def _text(name: str, length: int | None = None, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.String(length) if length else sa.Text, nullable=nullable)


def _int(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.Integer, nullable=nullable)


def _double(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.Double, nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "cases",
        _int("id"),
        _text("reference", 100),
        _text("purpose", 32),
        _text("legal_basis"),
        _text("requested_by", 200),
        _time("created_at"),
        _time("window_start"),
        _time("window_end"),
        sa.Column("cameras", sa.JSON, nullable=False),
        sa.Column("camera_groups", sa.JSON, nullable=False),
        _time("expires_at"),
        _double("threshold"),
        _text("approved_by", 200, nullable=True),
        _time("approved_at", nullable=True),
        _text("approval_comment", nullable=True),
        _text("closed_by", 200, nullable=True),
        _time("closed_at", nullable=True),
        _text("close_reason", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_cases"),
        sa.UniqueConstraint("reference", name="uq_cases_reference"),
        _check("cases", "purpose", "purpose", PURPOSES),
        sa.CheckConstraint("window_end > window_start", name=op.f("ck_cases_window")),
    )
    op.create_index("ix_cases_expires_at", "cases", ["expires_at"])
    op.create_table(
        "case_probes",
        _int("id"),
        _int("case_id"),
        _text("media_sha256", 64),
        _int("width"),
        _int("height"),
        sa.Column("face_box", sa.JSON, nullable=False),
        _double("quality"),
        _text("model", 100),
        _int("dimension"),
        sa.Column("vector", sa.LargeBinary, nullable=False),
        _text("created_by", 200),
        _time("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_case_probes"),
        _fk("case_id", "case_probes", "cases"),
    )
    op.create_index("ix_case_probes_case_id", "case_probes", ["case_id"])
    op.create_index("ix_case_probes_media_sha256", "case_probes", ["media_sha256"])
    op.create_table(
        "case_sources",
        _int("id"),
        _int("case_id"),
        _text("path"),
        _text("camera", 200, nullable=True),
        _text("sha256", 64, nullable=True),
        _int("size", nullable=True),
        _time("started_at", nullable=True),
        _text("time_source", 32, nullable=True),
        _double("fps", nullable=True),
        _int("frames", nullable=True),
        _double("sample_fps", nullable=True),
        _text("state", 16),
        _int("last_frame"),
        _int("resume_frame"),
        _int("resume_tracks"),
        _text("error", nullable=True),
        _time("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_case_sources"),
        sa.UniqueConstraint("case_id", "path", name="uq_case_sources_case_id"),
        _check("case_sources", "state", "state", SOURCE_STATES),
        _fk("case_id", "case_sources", "cases"),
    )
    op.create_index("ix_case_sources_case_id", "case_sources", ["case_id"])
    op.create_table(
        "case_candidates",
        _int("id"),
        _int("case_id"),
        _text("key", 100),
        _text("kind", 16),
        _int("source_id", nullable=True),
        _int("sighting_id", nullable=True),
        _text("camera", 200),
        _int("track_id"),
        _int("first_frame"),
        _int("last_frame"),
        _int("best_frame"),
        _int("detections"),
        _time("started_at"),
        _time("ended_at"),
        _double("score"),
        _double("threshold"),
        _int("probe_id", nullable=True),
        _text("model", 100),
        _text("crop_sha256", 64, nullable=True),
        sa.Column("box", sa.JSON, nullable=False),
        _double("quality"),
        _text("review", 16, nullable=True),
        _text("reviewed_by", 200, nullable=True),
        _time("reviewed_at", nullable=True),
        _time("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_case_candidates"),
        sa.UniqueConstraint("case_id", "key", name="uq_case_candidates_case_id"),
        _check("case_candidates", "kind", "kind", KINDS),
        _check("case_candidates", "review", "review", REVIEWS),
        _fk("case_id", "case_candidates", "cases"),
        _fk("source_id", "case_candidates", "case_sources"),
    )
    op.create_index("ix_case_candidates_case_id", "case_candidates", ["case_id"])
    op.create_index("ix_case_candidates_source_id", "case_candidates", ["source_id"])
    op.create_index("ix_case_candidates_crop_sha256", "case_candidates", ["crop_sha256"])


def downgrade() -> None:
    for table in ("case_candidates", "case_sources", "case_probes", "cases"):
        op.drop_table(table)
