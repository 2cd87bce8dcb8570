"""Key rotation: every template, media file and camera password re-encrypted, or none.

The database part is one transaction. Files cannot join it, so they are staged: each is
re-encrypted into a temporary file beside it (flushed to disk) before the transaction
commits, and renamed over the original only after it committed. If anything fails before
the commit, the staged files are removed and nothing changed. If the process dies while
renaming, some files are under the new key and some under the old: running the same
rotation again finishes it, because blobs already under the new key are skipped and the old
key still reads the rest. Every file is checked against its SHA-256 name after decryption,
so a rotation never re-encrypts a corrupted file without saying so.

Data written before any key was configured (plaintext) is encrypted by the first rotation.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from watchkeeper.policy import audit
from watchkeeper.store import Database, MediaStore, StoreError, repository
from watchkeeper.store import cameras as camera_store
from watchkeeper.store.crypto import MEDIA, TEMPLATE, Cipher, is_encrypted, key_id, unseal
from watchkeeper.store.uri_secrets import (
    has_password,
    has_plaintext_password,
    open_uri,
    seal_uri,
    sealed_with,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RotationReport:
    old_key_id: str | None
    new_key_id: str
    templates: int  # rows re-encrypted
    files: int  # media files re-encrypted
    skipped: int  # already under the new key
    passwords: int = 0  # camera URI passwords (re-)encrypted


def rotate(
    db: Database, media: MediaStore, old_key: bytes | None, new_key: bytes, actor: str
) -> RotationReport:
    """Re-encrypt everything under ``new_key``; ``old_key`` reads what is there (None: plain)."""
    cipher = Cipher(new_key)
    reader = Cipher(old_key) if old_key else None  # None: only plaintext may be left
    staged: list[tuple[Path, Path]] = []
    skipped = 0
    try:
        for sha in media.shas():
            path = media.path(sha)
            blob = path.read_bytes()
            if cipher.written_with_current_key(blob, bound=True):
                skipped += 1
                continue
            # a file under the new key but not yet bound to its name (WKE1) is read with it
            key = cipher if cipher.written_with_current_key(blob) else reader
            plain = unseal(key, blob, MEDIA, f"media file {sha}", subject=sha)
            if hashlib.sha256(plain).hexdigest() != sha:
                raise StoreError(f"media file {path} does not match its SHA-256: it is corrupt")
            staged.append((_stage(path, cipher.encrypt(plain, MEDIA, subject=sha)), path))
        with db.session() as s:
            templates = 0
            for row in repository.template_rows(s):
                if cipher.written_with_current_key(row.vector):
                    skipped += 1
                    continue
                what = f"{row.__tablename__} row {row.id}"
                plain = unseal(reader, row.vector, TEMPLATE, what, 4 * row.dimension)
                row.vector = cipher.encrypt(plain, TEMPLATE)
                templates += 1
            passwords = 0
            for camera in camera_store.list_cameras(s):
                if sealed_with(camera.uri, cipher):
                    skipped += 1
                elif has_password(camera.uri):  # plain, or under the old key
                    plain_uri = open_uri(camera.uri, reader, f'camera "{camera.name}"')
                    camera.uri = seal_uri(plain_uri, cipher)
                    passwords += 1
            report = RotationReport(
                key_id(old_key) if old_key else None,
                cipher.key_id,
                templates,
                len(staged),
                skipped,
                passwords,
            )
            audit.record(
                s,
                actor=actor,
                action="keys.rotate",
                object_type="key",
                object_id=cipher.key_id,
                details={
                    "old_key": report.old_key_id,
                    "templates": templates,
                    "files": len(staged),
                    "camera_passwords": passwords,
                    "skipped": skipped,
                },
            )
    except BaseException:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)
        raise
    for temporary, path in staged:
        os.replace(temporary, path)
    log.info("rotated to key %s: %s", cipher.key_id, report)
    return report


def plaintext_left(db: Database, media: MediaStore) -> int:
    """How many templates, files and camera passwords are still unencrypted (after a key is
    first configured)."""
    count = sum(not is_encrypted(media.path(sha).read_bytes()) for sha in media.shas())
    with db.session(readonly=True) as s:
        for vector, dimension in repository.template_vectors(s):
            count += not is_encrypted(vector, 4 * dimension)
        count += sum(has_plaintext_password(c.uri) for c in camera_store.list_cameras(s))
    return count


def _stage(path: Path, data: bytes) -> Path:
    fd, name = tempfile.mkstemp(prefix=".tmp-rotate-", dir=path.parent)
    with os.fdopen(fd, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    return Path(name)
