"""Alembic environment, run only through ``Database.migrate()`` (or ``Database.migration()``,
for another command), which passes the connection.

There is no alembic.ini: the caller sets ``script_location`` and hands over an open
connection in ``config.attributes["connection"]``.
"""

from alembic import context

from watchkeeper.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with watchkeeper.store.Database(url).migrate()")

context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
