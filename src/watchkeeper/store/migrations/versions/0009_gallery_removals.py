"""A counter of deletions from the gallery, beside its version.

A gallery in memory follows the store's enrolments by their ids (those above the newest it
holds); a deletion can free the newest id for reuse (SQLite) and must be seen as such, so
every delete of persons or watchlists also moves this counter, and a gallery that sees it move
is rebuilt from the store.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

META = sa.table("meta", sa.column("key", sa.String), sa.column("value", sa.Text))


def upgrade() -> None:
    op.bulk_insert(META, [{"key": "gallery_removals", "value": "0"}])


def downgrade() -> None:
    op.execute(META.delete().where(META.c.key == "gallery_removals"))
