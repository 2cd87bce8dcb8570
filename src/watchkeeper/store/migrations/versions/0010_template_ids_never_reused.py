"""Templates: ids never handed out again (SQLite ``AUTOINCREMENT``).

SQLite gives a new row the highest id plus one, so deleting the newest templates freed their
ids for the next enrolment; a gallery in memory could not then tell a deleted template from a
new one by id, and rebuilt itself after every delete. ``AUTOINCREMENT`` keeps the highest id
ever used and never goes below it. SQLite cannot add it to a table in place: the table is
rebuilt, with its rows, indexes and foreign keys. PostgreSQL's sequences never reuse an id, so
there is nothing to do there.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _rebuild_templates(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table(
        "templates", recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
    ):
        pass


def upgrade() -> None:
    _rebuild_templates(autoincrement=True)


def downgrade() -> None:
    _rebuild_templates(autoincrement=False)
