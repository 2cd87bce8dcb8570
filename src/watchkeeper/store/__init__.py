"""Persistence: the database (SQLite by default, PostgreSQL at scale) and the media files.

Only this package talks SQL. ``Database`` opens and migrates the database and hands out
sessions, ``MediaStore`` keeps photos and crops as content-addressed files, ``repository``
holds the queries the rest of the system needs, ``models`` the tables.

All-or-nothing across rows and files::

    with media.transaction() as tx, db.session() as s:
        sha = tx.put(jpeg, ".jpg")
        repository.add_photo(s, person, sha, w, h, box, quality)
"""

from watchkeeper.store.db import Database
from watchkeeper.store.errors import NotFound, StoreError
from watchkeeper.store.media import MediaStore, MediaTransaction

__all__ = ["Database", "MediaStore", "MediaTransaction", "NotFound", "StoreError"]
