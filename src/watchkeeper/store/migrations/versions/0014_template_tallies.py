"""The store keeps each model's count and sum of template ids, so that no replica counts them.

Every refresh of a running gallery that sees a change compares the store's count and sum of
the model's template ids with its own (0043, 0044). Computed by a query, that is one pass over
the model's templates in every camera worker's replica, for every change: on PostgreSQL at a
million templates a parallel scan of the whole table (600 MB with the vectors, 0.13–0.15 s and
about 0.4 CPU-second), times the 200–400 replicas of a city. Triggers on ``templates`` now keep
both numbers in ``template_tallies`` in the transaction that inserts, deletes or renumbers a
row, so a replica reads a handful of rows instead.

The rows are parts that add up: on PostgreSQL each statement that changes ``templates``
appends one row (a statement-level trigger over the rows it changed), so no row is updated
by every template of a large delete — a row updated once per template made such a delete
quadratic (20,000 in 3.0 s; the first version of this migration, reverted). The retention
purge folds the parts into one row per model. SQLite has no statement-level triggers and no
row versions to chain: there a row trigger keeps one row per model up to date in place.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# PostgreSQL: one row per model per statement, from the statement's transition tables. An
# update adds a row only where it moved ids between models or renumbered them: re-encrypting
# every vector (a key rotation) changes no tally and adds nothing.
POSTGRESQL_FUNCTION = """
CREATE FUNCTION tally_templates() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO template_tallies (model, templates, id_sum)
        SELECT model, count(*), sum(id) FROM added GROUP BY model;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO template_tallies (model, templates, id_sum)
        SELECT model, -count(*), -sum(id) FROM gone GROUP BY model;
    ELSE
        INSERT INTO template_tallies (model, templates, id_sum)
        SELECT model, sum(n), sum(id_sum) FROM (
            SELECT model, -1 AS n, -id AS id_sum FROM gone
            UNION ALL SELECT model, 1, id FROM added
        ) AS moved GROUP BY model HAVING sum(n) <> 0 OR sum(id_sum) <> 0;
    END IF;
    RETURN NULL;
END $$
"""
POSTGRESQL_FORGET = """
CREATE FUNCTION forget_template_tallies() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM template_tallies;
    RETURN NULL;
END $$
"""
POSTGRESQL_TRIGGERS = {
    "templates_tallied_in": "AFTER INSERT ON templates REFERENCING NEW TABLE AS added",
    "templates_tallied_out": "AFTER DELETE ON templates REFERENCING OLD TABLE AS gone",
    "templates_tallied_moved": (
        "AFTER UPDATE ON templates REFERENCING OLD TABLE AS gone NEW TABLE AS added"
    ),
}


def _sqlite_change(row: str, sign: str) -> str:
    """Add (sign '+') or take (sign '-') one template to its model's row, made if missing."""
    return (
        f"UPDATE template_tallies SET templates = templates {sign} 1, "
        f"id_sum = id_sum {sign} {row}.id "
        f"WHERE seq = (SELECT min(seq) FROM template_tallies WHERE model = {row}.model); "
        "INSERT INTO template_tallies (model, templates, id_sum) "
        f"SELECT {row}.model, {sign}1, {sign}{row}.id WHERE NOT EXISTS "
        f"(SELECT 1 FROM template_tallies WHERE model = {row}.model)"
    )


SQLITE_TRIGGERS = {
    "template_tallied_in": f"AFTER INSERT ON templates BEGIN {_sqlite_change('NEW', '+')}; END",
    "template_tallied_out": f"AFTER DELETE ON templates BEGIN {_sqlite_change('OLD', '-')}; END",
    "template_tallied_moved": (
        "AFTER UPDATE OF id, model ON templates BEGIN "
        f"{_sqlite_change('OLD', '-')}; {_sqlite_change('NEW', '+')}; END"
    ),
}


def upgrade() -> None:
    op.create_table(
        "template_tallies",
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("templates", sa.BigInteger(), nullable=False),
        sa.Column("id_sum", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_template_tallies")),
    )
    op.create_index(op.f("ix_template_tallies_model"), "template_tallies", ["model"])
    op.execute(
        "INSERT INTO template_tallies (model, templates, id_sum) "
        "SELECT model, count(*), sum(id) FROM templates GROUP BY model"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRESQL_FUNCTION)
        op.execute(POSTGRESQL_FORGET)
        for name, when in POSTGRESQL_TRIGGERS.items():
            op.execute(
                f"CREATE TRIGGER {name} {when} "
                "FOR EACH STATEMENT EXECUTE FUNCTION tally_templates()"
            )
        op.execute(
            "CREATE TRIGGER templates_truncated AFTER TRUNCATE ON templates "
            "FOR EACH STATEMENT EXECUTE FUNCTION forget_template_tallies()"
        )
    else:
        for name, body in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in [*POSTGRESQL_TRIGGERS, "templates_truncated"]:
            op.execute(f"DROP TRIGGER {name} ON templates")
        op.execute("DROP FUNCTION tally_templates()")
        op.execute("DROP FUNCTION forget_template_tallies()")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER {name}")
    op.drop_index(op.f("ix_template_tallies_model"), table_name="template_tallies")
    op.drop_table("template_tallies")
