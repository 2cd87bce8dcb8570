"""Photos and face crops as content-addressed files: ``root/ab/cd/<sha256><ext>``.

A file's name is the SHA-256 of its bytes, so the same photo enrolled twice is stored once,
a row can check that its file is intact, and writing is idempotent. Files are written to a
temporary name in the target folder, flushed to disk and renamed into place, so a reader
never sees half a file, even after a crash or a full disk.

Rows and files together, all or nothing::

    with db.session() as s, media.transaction() as tx:
        sha = tx.put(jpeg, ".jpg")
        repository.add_photo(s, person, sha, ...)

If the block raises, the files it created are removed and the session rolls back. Put
``media.transaction()`` first (outermost) to also remove them when the commit itself fails.
Files are deleted only after the rows that referenced them are committed (the repository's
delete functions return the shas that became unreferenced), so a rollback never loses a file.

With a ``cipher`` (the configured key, see ``store.crypto``) files are written encrypted and
read back decrypted; the name stays the SHA-256 of the plaintext, so deduplication and the
integrity check work the same. The encryption is bound to that name (AES-GCM associated
data), and every read checks the plaintext against it: a file copied over another one (a
swap on disk) is refused with :class:`CipherError` instead of being served as the other
person's photo.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from watchkeeper.store.crypto import MEDIA, Cipher, CipherError, seal, unseal
from watchkeeper.store.errors import NotFound, StoreError

log = logging.getLogger(__name__)

_SHA256 = re.compile(r"[0-9a-f]{64}")
_EXT = re.compile(r"\.[a-z0-9]{1,8}")


class MediaStore:
    """A folder of content-addressed files."""

    def __init__(self, root: Path, cipher: Cipher | None = None) -> None:
        self.root = Path(root)
        self.cipher = cipher

    def put(self, data: bytes, ext: str) -> str:
        """Store ``data`` (if not already there) and return its SHA-256."""
        return self._put(data, ext)[0]

    def path(self, sha: str) -> Path:
        """The file of ``sha``; :class:`NotFound` if it is not stored."""
        for candidate in self._folder(sha).glob(f"{sha}.*"):
            if not candidate.name.startswith(".tmp-"):
                return candidate
        raise NotFound(f"media file {sha} is not in {self.root}")

    def read(self, sha: str) -> bytes:
        """The plaintext of ``sha``, checked against its name (:class:`CipherError` if not)."""
        what = f"media file {sha}"
        data = unseal(self.cipher, self.path(sha).read_bytes(), MEDIA, what, subject=sha)
        if hashlib.sha256(data).hexdigest() != sha:
            raise CipherError(
                f"{what} does not match its SHA-256 name: it was swapped with another file or "
                f"altered on disk; restore {self.path(sha)} from a backup"
            )
        return data

    def shas(self) -> list[str]:
        """Every stored file's SHA-256 (what a key rotation must rewrite)."""
        return sorted(
            p.name.split(".")[0]
            for p in self.root.glob("??/??/*")
            if p.is_file() and not p.name.startswith(".tmp-")
        )

    def exists(self, sha: str) -> bool:
        try:
            self.path(sha)
        except NotFound:
            return False
        return True

    def delete(self, sha: str) -> None:
        """Remove the file of ``sha``; a file that is already gone is not an error."""
        for candidate in self._folder(sha).glob(f"{sha}.*"):
            candidate.unlink(missing_ok=True)

    @contextmanager
    def transaction(self) -> Iterator[MediaTransaction]:
        """Files put through the yielded object are removed again if the block raises."""
        tx = MediaTransaction(self)
        try:
            yield tx
        except BaseException:
            tx.discard()
            raise

    def _folder(self, sha: str) -> Path:
        if not _SHA256.fullmatch(sha):
            raise StoreError(f"{sha!r} is not a SHA-256 hex digest")
        return self.root / sha[:2] / sha[2:4]

    def _put(self, data: bytes, ext: str) -> tuple[str, bool]:
        """Returns the SHA-256 and whether this call created the file."""
        ext = ext.lower() if ext.startswith(".") else f".{ext.lower()}"
        if not _EXT.fullmatch(ext):
            raise StoreError(f"media extension {ext!r} must be 1-8 letters or digits")
        sha = hashlib.sha256(data).hexdigest()
        if self.exists(sha):
            return sha, False
        target = self._folder(sha) / f"{sha}{ext}"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
        except OSError as exc:
            raise _media_error(exc, self.root) from exc
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(seal(self.cipher, data, MEDIA, subject=sha))
                file.flush()
                os.fsync(file.fileno())
            os.replace(tmp_name, target)
        except OSError as exc:
            Path(tmp_name).unlink(missing_ok=True)
            raise _media_error(exc, self.root) from exc
        return sha, True


class MediaTransaction:
    """Remembers the files it created, so that they can be removed if the work fails."""

    def __init__(self, store: MediaStore) -> None:
        self.store = store
        self.created: list[str] = []

    def put(self, data: bytes, ext: str) -> str:
        sha, created = self.store._put(data, ext)
        if created:
            self.created.append(sha)
        return sha

    def discard(self) -> None:
        """Remove the files this transaction created (pre-existing identical files stay)."""
        for sha in self.created:
            self.store.delete(sha)
        if self.created:
            log.info("removed %d media files of a failed operation", len(self.created))
        self.created.clear()


def _media_error(exc: OSError, root: Path) -> StoreError:
    if exc.errno == errno.ENOSPC:
        return StoreError(f"disk full: cannot write media files under {root}; free some space")
    return StoreError(f"cannot write media files under {root}: {exc}")
