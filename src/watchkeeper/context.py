"""What every command needs, opened once and only when first used.

The database, the media folder and the models are opened lazily so that a command that needs
none of them (``--help``, ``config docs``) starts instantly and a command that fails early
(a missing photo) never touches the data directory.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field
from functools import cached_property

from watchkeeper.config import Settings
from watchkeeper.store import Database, MediaStore
from watchkeeper.store.crypto import Cipher, configured_key
from watchkeeper.vision import FaceAnalyzer


@dataclass
class AppContext:
    settings: Settings
    actor: str = field(default_factory=lambda: f"cli:{getpass.getuser()}")

    @cached_property
    def db(self) -> Database:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        database = Database(self.settings.database)
        database.migrate()
        return database

    @cached_property
    def cipher(self) -> Cipher | None:
        """The key for data at rest (``WATCHKEEPER_KEY`` or ``policy.key_file``), if set."""
        key = configured_key(self.settings.policy.key_file)
        return None if key is None else Cipher(key)

    @cached_property
    def media(self) -> MediaStore:
        return MediaStore(self.settings.data_dir / "media", cipher=self.cipher)

    @cached_property
    def analyzer(self) -> FaceAnalyzer:
        return FaceAnalyzer.from_config(self.settings.vision)

    def close(self) -> None:
        if "db" in self.__dict__:
            self.db.close()
