"""The store every SQLite test of this folder starts from: a new file, migrated."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from watchkeeper.store import Database


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path}/watchkeeper.db")
    database.migrate()
    yield database
    database.close()
