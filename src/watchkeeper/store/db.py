"""Opening the database, migrating it, and handing out all-or-nothing sessions.

SQLite (the embedded default) is opened in WAL mode so that readers never block the camera
workers that write, with foreign keys on (SQLite leaves them off, and the cascades depend on
them; only a migration turns them off, see :meth:`Database.migration`) and a busy timeout so
that two writers wait for each other instead of failing at once. The sqlite3 driver's own
transaction handling is switched off and SQLAlchemy emits ``BEGIN`` itself, because the driver
otherwise runs SELECTs and DDL outside any transaction (see the SQLAlchemy SQLite notes): with
it, a session sees one consistent snapshot and migrations are transactional.

On SQLite a session begins with ``BEGIN IMMEDIATE``: it takes the single write lock at the
start (waiting up to the busy timeout), so read-then-write work such as "check the name is
free, then insert" or "read the audit head, then append" cannot be overtaken by another
writer. A plain ``BEGIN`` would let both read, and then fail the second writer at once with
"database is locked" (measured: 88 of 100 audit appends from 4 threads). Sessions that only
read can ask for ``session(readonly=True)`` so that long reads do not hold up writers.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from watchkeeper.store import tables as _tables  # noqa: F401  (every mapper, before a session)
from watchkeeper.store.crypto import Cipher
from watchkeeper.store.errors import StoreError

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000
PG_CONNECT_TIMEOUT_S = 10
_READONLY = "watchkeeper_readonly"


class Database:
    """One database, opened from a SQLAlchemy URL (``sqlite:///path`` or ``postgresql+psycopg://``).

    The connection is tried at once, so a wrong URL or an unreachable server fails here with a
    :class:`StoreError` that names the URL (never its password).
    """

    def __init__(self, url: str, cipher: Cipher | None = None) -> None:
        self.cipher = cipher  # the key for secrets inside rows (camera passwords); None: plain
        # called with (database, Session.info) after each commit of a session that wrote
        # (the audit chain's head publisher, policy.anchors)
        self.after_commit: list[Callable[[Database, dict[str, Any]], None]] = []
        try:
            self.url: URL = make_url(url)
        except ArgumentError as exc:
            raise StoreError(
                f"database URL {url!r} is not a SQLAlchemy URL "
                "(e.g. sqlite:///watchkeeper-data/watchkeeper.db)"
            ) from exc
        self.engine = self._create_engine()
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(
            self.engine.execution_options(**{_READONLY: True}), expire_on_commit=False
        )
        try:
            with self.engine.connect():
                pass
        except DBAPIError as exc:
            self.engine.dispose()
            raise StoreError(f"cannot open database {self.safe_url}: {_first_line(exc)}") from exc

    @property
    def safe_url(self) -> str:
        return self.url.render_as_string(hide_password=True)

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    def _create_engine(self) -> Engine:
        kwargs: dict[str, Any] = {}
        if self.is_sqlite:
            database = self.url.database or ""
            if database in ("", ":memory:"):
                # One shared connection, otherwise every connection sees its own empty database.
                kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
            else:
                try:
                    path = Path(database).expanduser()
                    path.parent.mkdir(parents=True, exist_ok=True)
                    _make_private(path)
                except OSError as exc:
                    raise StoreError(
                        f"cannot create the folder of database {self.safe_url}: {exc}"
                    ) from exc
        else:
            kwargs["pool_pre_ping"] = True
            if self.url.drivername in ("postgresql", "postgresql+psycopg", "postgresql+psycopg2"):
                # libpq waits forever for a host that drops packets.
                kwargs["connect_args"] = {"connect_timeout": PG_CONNECT_TIMEOUT_S}
        try:
            engine = create_engine(self.url, **kwargs)
        except (NoSuchModuleError, ImportError) as exc:
            raise StoreError(
                f"database {self.safe_url} needs a driver that is not installed: {exc}"
            ) from exc
        if self.is_sqlite:
            event.listen(engine, "connect", _configure_sqlite)
            event.listen(engine, "begin", _begin_sqlite)
        return engine

    def migrate(self) -> None:
        """Bring the schema up to the newest migration (a no-op when it is already there)."""
        from alembic import command  # imported here: only migrations need it

        if not self._at_newest_schema():
            with self.migration() as config:
                command.upgrade(config, "head")
        log.info("database %s is at the newest schema", self.safe_url)

    def _at_newest_schema(self) -> bool:
        from alembic.migration import MigrationContext
        from alembic.script import ScriptDirectory

        newest = ScriptDirectory(str(MIGRATIONS)).get_heads()
        with self.engine.execution_options(**{_READONLY: True}).connect() as connection:
            return set(MigrationContext.configure(connection).get_current_heads()) == set(newest)

    @contextmanager
    def migration(self) -> Iterator[AlembicConfig]:
        """An Alembic config for ``alembic.command``, on one connection in one transaction.

        On SQLite the foreign keys are off meanwhile. A migration that rebuilds a table (SQLite
        alters little in place) drops the old one, and with foreign keys on that drop first
        deletes its rows, cascading: rebuilding ``persons`` would empty ``photos``,
        ``templates``, ``matches`` and ``alerts``. They are checked instead before the commit,
        and a migration that left a row pointing nowhere is rolled back.
        """
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.connect() as connection:
            if self.is_sqlite:
                _foreign_keys(connection, on=False)
            try:
                with connection.begin():
                    dangling = _dangling(connection) if self.is_sqlite else set()
                    config.attributes["connection"] = connection
                    yield config
                    if self.is_sqlite and (added := _dangling(connection) - dangling):
                        table, rowid, parent, _ = min(added)
                        raise StoreError(
                            f"a migration of {self.safe_url} left row {rowid} of {table} "
                            f"pointing at no row of {parent} ({len(added)} such); rolled back"
                        )
            finally:
                if self.is_sqlite:
                    _foreign_keys(connection, on=True)

    @contextmanager
    def session(self, *, readonly: bool = False) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back if anything raises.

        ``readonly=True`` promises not to write, so that on SQLite the session does not take
        the write lock (see the module docstring).
        """
        session = (self._read_sessions if readonly else self._sessions)()
        try:
            yield session
            session.commit()
            if session.info and not readonly:
                for hook in self.after_commit:
                    hook(self, session.info)
        except DBAPIError as exc:
            session.rollback()
            raise StoreError(f"database {self.safe_url} refused: {_first_line(exc)}") from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def close(self) -> None:
        self.engine.dispose()


def _make_private(path: Path) -> None:
    """Create the SQLite file readable by its owner only (0600), and tighten an older one.

    The file holds names, reasons and the audit log: other local users have no business
    reading it. SQLite gives its -wal and -shm files the mode of the database file.
    """
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if file.exists() and file.stat().st_mode & 0o077:
            file.chmod(0o600)
            log.info("restricted %s to its owner (mode 0600)", file)


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN, see the module docstring
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def _begin_sqlite(connection: Connection) -> None:
    readonly = connection.get_execution_options().get(_READONLY, False)
    connection.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


def _foreign_keys(connection: Connection, on: bool) -> None:
    """On the driver's connection, outside any transaction: SQLite ignores it inside one."""
    dbapi_connection = connection.connection.dbapi_connection
    if dbapi_connection is None:
        raise StoreError("the connection to migrate with is closed")
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    cursor.close()


def _dangling(connection: Connection) -> set[tuple[str, int, str, int]]:
    """SQLite's foreign key violations: (table, rowid, referred table, constraint number)."""
    return {tuple(row) for row in connection.exec_driver_sql("PRAGMA foreign_key_check")}


def _first_line(exc: DBAPIError) -> str:
    return str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
