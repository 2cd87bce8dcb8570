"""Every id that leaves the store is never handed out again (SQLite ``AUTOINCREMENT``).

SQLite gives a new row the highest id plus one, so the newest person, watchlist, camera,
alert, case … deleted lent its id to the next one created, while the old id lived on outside
the store: in API URLs, in the audit log's events and details, in webhook notices and their
idempotency keys (by which a receiver drops a message it has seen), in cases, approvals and
exported evidence, in the archive index a search keeps in memory. An audit event that says
"person 5" must never come to mean another person. 0010 did this for templates; here it is
done for every other table whose ids leave the store. That includes ``users``, ``api_keys``
and ``approvals``, whose rows no code deletes today: their ids are in the audit log and the
API, and a row deleted by hand or by a later feature must not lend its id either. PostgreSQL's
sequences never reuse an id: there is nothing to do there.

Left as they are:

- ``crowd_minutes``: its ids never leave the store; the API and reports name a zone and a
  minute.
- ``audit_events``: ``seq`` is the hash chain's own number, given by the chain, and no event
  is ever deleted.
- ``sessions``, ``meta``, ``camera_group_policies``, ``activity_counts``, ``alert_sightings``,
  ``archived_sightings``: no number of their own (a token's hash, a name, a pair of keys, the
  sighting's id).

SQLite cannot add ``AUTOINCREMENT`` in place, so each table is rebuilt by SQLite's own recipe:
a new table from the old statement with only the primary key changed, the rows copied, the
old table dropped, the new one renamed, its indexes created again; every column, constraint
and index stays as it was, in the same order. Not by Alembic's batch mode, as 0010 did: it
reflects and renders each table again, which reorders its constraints, and on a new store (every
test's included) it added 130 ms where this adds 35. A statement this migration does not
recognise stops it, and nothing is changed.

Dropping the old table would, with foreign keys on, first delete its rows, cascading:
rebuilding ``persons`` would empty ``photos``, ``templates``, ``matches`` and ``alerts``.
``Database.migration()`` turns them off meanwhile and checks them before the commit; this
migration refuses to run with them on.

A table's ids go on from its highest, or from a higher one deleted before this upgrade that the
store still names: the audit events written as a row was created or deleted (never those whose
object id anybody may type, such as a refused login's username), and the archived sighting a
case's candidate names after the archive purged it. An id named only outside the store, or only
in an event's details, may still be handed out once more.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    "watchlists", "persons", "photos", "cameras", "sightings", "matches", "alerts",
    "alert_reviews", "users", "api_keys", "crowd_zones", "crowd_alerts", "cases",
    "case_probes", "case_sources", "case_candidates", "outbox", "deployments", "approvals",
    "sighting_templates",
)  # fmt: skip

# The audit actions whose object id is the id of a row the store's own code has just created
# or found (to delete it), by table.
NAMED_BY_AUDIT = {
    "watchlists": ("watchlist.create", "watchlist.delete"),
    "persons": ("person.enrol", "person.delete", "person.purge"),
    "photos": ("person.photo.view",),
    "cameras": ("camera.create", "camera.delete"),
    "sightings": ("match.record",),
    "alerts": ("alert.raise",),
    "users": ("user.create",),
    "api_keys": ("apikey.create",),
    "crowd_zones": ("zone.create", "zone.delete"),
    "crowd_alerts": ("crowd_alert.raise",),
    "cases": ("case.open", "case.purge"),
    "deployments": ("deployment.add",),
    "approvals": ("approval.request",),
}
# Columns that name a row of the table without a foreign key, and outlive it.
NAMED_BY_COLUMN = {"sightings": ("case_candidates", "sighting_id")}

AUDIT = sa.table("audit_events", sa.column("action", sa.String), sa.column("object_id", sa.String))
SEQUENCE = sa.table("sqlite_sequence", sa.column("name", sa.String), sa.column("seq", sa.Integer))
# the id column as SQLite takes AUTOINCREMENT: inline, where the tables had it as pk_<table>
_COLUMN_AUTOINCREMENT = "\n\tid INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, "


def _rebuild(autoincrement: bool) -> bool:
    """Rebuild the tables on SQLite (False elsewhere: nothing to do)."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return False
    if bind.exec_driver_sql("PRAGMA foreign_keys").scalar():
        raise RuntimeError(
            "migration 0012 rebuilds tables that others refer to, and with foreign keys on "
            "SQLite would delete the rows that refer to them: migrate with "
            "watchkeeper.store.Database(url).migrate(), which turns them off meanwhile"
        )
    for table in TABLES:
        _rebuild_table(bind, table, autoincrement)
    return True


def _rebuild_table(bind: sa.Connection, table: str, autoincrement: bool) -> None:
    """SQLite's own recipe for a change ALTER TABLE cannot make: the new table from the old
    statement with only the primary key changed, the rows copied, the old table dropped, the
    new one renamed, the indexes created again."""
    sql, indexes = _statements(bind, table)
    pk = f"CONSTRAINT pk_{table} PRIMARY KEY (id)"
    if autoincrement:
        new, columns = re.subn(r"\n\tid INTEGER NOT NULL, ", _COLUMN_AUTOINCREMENT, sql, count=1)
        new, constraints = re.subn(", \n\t" + re.escape(pk), "", new)
    else:
        new, columns = re.subn(re.escape(_COLUMN_AUTOINCREMENT), "\n\tid INTEGER NOT NULL, ", sql)
        new, constraints = re.subn("\n\tCONSTRAINT ", f"\n\t{pk}, \n\tCONSTRAINT ", new, count=1)
    new, named = re.subn(r'^CREATE TABLE "?\w+"? \(', f"CREATE TABLE _new_{table} (", new)
    if (columns, constraints, named) != (1, 1, 1):
        raise RuntimeError(
            f"migration 0012 does not know this statement of table {table}, left as it was:\n{sql}"
        )
    bind.exec_driver_sql(new)
    bind.exec_driver_sql(f"INSERT INTO _new_{table} SELECT * FROM {table}")
    bind.exec_driver_sql(f"DROP TABLE {table}")
    bind.exec_driver_sql(f"ALTER TABLE _new_{table} RENAME TO {table}")
    for index in indexes:
        bind.exec_driver_sql(index)


def _statements(bind: sa.Connection, table: str) -> tuple[str, list[str]]:
    """The table's CREATE statement and those of its indexes (those of its UNIQUE constraints
    are SQLite's own, without one, and come back with the table)."""
    query = sa.text("SELECT type, sql FROM sqlite_master WHERE tbl_name = :t AND sql IS NOT NULL")
    rows = bind.execute(query, {"t": table}).all()
    return next(sql for kind, sql in rows if kind == "table"), [
        sql for kind, sql in rows if kind == "index"
    ]


def _highest_named(bind: sa.Connection, table: str) -> int:
    found = [0]
    if table in NAMED_BY_AUDIT:
        object_id = AUDIT.c.object_id
        query = sa.select(sa.func.max(sa.cast(object_id, sa.Integer))).where(
            AUDIT.c.action.in_(NAMED_BY_AUDIT[table]),
            object_id.op("NOT GLOB", is_comparison=True)("*[^0-9]*"),  # digits only
        )
        found.append(bind.scalar(query) or 0)
    if table in NAMED_BY_COLUMN:
        other, column = NAMED_BY_COLUMN[table]
        found.append(
            bind.scalar(sa.select(sa.func.max(sa.column(column))).select_from(sa.table(other))) or 0
        )
    return max(found)


def upgrade() -> None:
    if not _rebuild(autoincrement=True):
        return
    bind = op.get_bind()
    for table in TABLES:
        highest = _highest_named(bind, table)
        if not highest:
            continue
        seq = bind.scalar(sa.select(SEQUENCE.c.seq).where(SEQUENCE.c.name == table))
        if seq is None:  # an empty table has no sequence yet
            bind.execute(SEQUENCE.insert().values(name=table, seq=highest))
        elif seq < highest:
            bind.execute(SEQUENCE.update().where(SEQUENCE.c.name == table).values(seq=highest))


def downgrade() -> None:
    _rebuild(autoincrement=False)
