"""What every command needs, opened once and only when first used.

The database, the media folder and the models are opened lazily so that a command that needs
none of them (``--help``, ``config docs``) starts instantly and a command that fails early
(a missing photo) never touches the data directory.
"""

from __future__ import annotations

import getpass
import logging
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from watchkeeper.config import Settings
from watchkeeper.policy.anchors import publisher_for
from watchkeeper.store import Database, MediaStore
from watchkeeper.store.crypto import Cipher, configured_key
from watchkeeper.vision import FaceAnalyzer

log = logging.getLogger(__name__)


@dataclass
class AppContext:
    settings: Settings
    actor: str = field(default_factory=lambda: f"cli:{getpass.getuser()}")

    @cached_property
    def db(self) -> Database:
        make_private_dir(self.settings.data_dir)
        database = Database(self.settings.database, cipher=self.cipher)
        database.migrate()
        database.after_commit.append(publisher_for(self.settings).after_commit)
        return database

    @cached_property
    def cipher(self) -> Cipher | None:
        """The key for data at rest (``WATCHKEEPER_KEY`` or ``policy.key_file``), if set."""
        key = configured_key(self.settings.policy.key_file)
        return None if key is None else Cipher(key)

    @cached_property
    def media(self) -> MediaStore:
        make_private_dir(self.settings.data_dir)
        return MediaStore(self.settings.data_dir / "media", cipher=self.cipher)

    @cached_property
    def analyzer(self) -> FaceAnalyzer:
        return FaceAnalyzer.from_config(self.settings.vision)

    def close(self) -> None:
        if "db" in self.__dict__:
            self.db.close()


def make_private_dir(folder: Path) -> None:
    """Create the data folder for its owner only (0700), and tighten an older one.

    It holds the database, photos and crops: nobody else on the machine may list or read it.
    """
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if folder.stat().st_mode & 0o077:
        try:
            folder.chmod(0o700)
        except OSError as exc:  # not ours (a shared mount): say so, the data still works
            log.warning("cannot restrict data folder %s to its owner (mode 0700): %s", folder, exc)
            return
        log.info("restricted data folder %s to its owner (mode 0700)", folder)
