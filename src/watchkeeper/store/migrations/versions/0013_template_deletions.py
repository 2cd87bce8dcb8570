"""Deleted templates are noted by the store, so that running galleries need not read every id.

A running gallery follows deletes by comparing the store's count and sum of template ids with
its own (0044); where they disagreed it read every stored template id of the model: a million
ids, about half a second, in every camera worker's replica (three a node in a city), for each
refresh that saw a delete. A trigger now notes each deleted template in
``template_deletions`` in the deleting transaction, whatever deleted it (the ORM, a cascade
from a person, photo or list, a hand-written statement); a replica reads the notes after the
last it has seen. The count and sum stay the check: a note it has not seen (on PostgreSQL a
transaction may commit after one that took a later number) sends it back to reading the ids.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOTE = "INSERT INTO template_deletions (template_id, model) VALUES (OLD.id, OLD.model)"


def upgrade() -> None:
    op.create_table(
        "template_deletions",
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("template_id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column(
            "deleted_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.current_timestamp(),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_template_deletions")),
        sqlite_autoincrement=True,
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION note_template_deletion() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN {NOTE}; RETURN OLD; END $$"
        )
        op.execute(
            "CREATE TRIGGER template_deleted AFTER DELETE ON templates "
            "FOR EACH ROW EXECUTE FUNCTION note_template_deletion()"
        )
    else:
        op.execute(f"CREATE TRIGGER template_deleted AFTER DELETE ON templates BEGIN {NOTE}; END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER template_deleted ON templates")
        op.execute("DROP FUNCTION note_template_deletion()")
    else:
        op.execute("DROP TRIGGER template_deleted")
    op.drop_table("template_deletions")
