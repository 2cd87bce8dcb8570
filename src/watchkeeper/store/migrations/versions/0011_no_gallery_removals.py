"""Meta: the ``gallery_removals`` counter of 0009 goes.

It told a running gallery that a delete had happened, because a deleted template's id could
be handed out again. Since 0010 ids are never reused, so the store's count and sum of
template ids, which a gallery compares with its own at every change, already show a delete.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

META = sa.table("meta", sa.column("key", sa.String), sa.column("value", sa.Text))


def upgrade() -> None:
    op.execute(META.delete().where(META.c.key == "gallery_removals"))


def downgrade() -> None:
    op.bulk_insert(META, [{"key": "gallery_removals", "value": "0"}])
