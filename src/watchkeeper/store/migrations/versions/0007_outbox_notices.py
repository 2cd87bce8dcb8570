"""Outbox notices that belong to no alert (the audit chain's published head).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("alert_id", existing_type=sa.Integer, nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM outbox WHERE alert_id IS NULL")
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("alert_id", existing_type=sa.Integer, nullable=False)
