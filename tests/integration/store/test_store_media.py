import errno
import hashlib
import os

import pytest

from watchkeeper.store import MediaStore, NotFound, StoreError

DATA = b"\xff\xd8 not really a jpeg, but bytes are bytes \xff\xd9"
SHA = hashlib.sha256(DATA).hexdigest()


@pytest.fixture
def media(tmp_path):
    return MediaStore(tmp_path / "media")


def files_under(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_put_stores_the_bytes_under_their_sha256(media):
    sha = media.put(DATA, ".jpg")
    assert sha == SHA
    assert media.path(sha) == media.root / SHA[:2] / SHA[2:4] / f"{SHA}.jpg"
    assert media.read(sha) == DATA


def test_putting_the_same_bytes_again_keeps_the_first_file_untouched(media):
    media.put(DATA, "jpg")
    before = media.path(SHA).stat()
    assert media.put(DATA, ".jpg") == SHA
    assert media.put(DATA, ".png") == SHA  # content decides, not the extension
    after = media.path(SHA).stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert files_under(media.root) == [f"{SHA[:2]}/{SHA[2:4]}/{SHA}.jpg"]


def test_a_full_disk_is_a_clear_error_and_leaves_no_partial_file(media, monkeypatch):
    def disk_full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(StoreError, match="disk full"):
        media.put(DATA, ".jpg")
    assert files_under(media.root) == []
    assert not media.exists(SHA)


def test_files_created_in_a_failed_transaction_are_removed_and_older_ones_kept(media):
    kept = media.put(b"enrolled last week", ".jpg")
    with pytest.raises(RuntimeError), media.transaction() as tx:
        assert tx.put(b"enrolled last week", ".jpg") == kept
        new = tx.put(DATA, ".jpg")
        assert media.exists(new)
        raise RuntimeError("the database write failed")
    assert not media.exists(new)
    assert media.read(kept) == b"enrolled last week"


def test_files_of_a_successful_transaction_stay(media):
    with media.transaction() as tx:
        sha = tx.put(DATA, ".jpg")
    assert media.read(sha) == DATA


def test_delete_removes_the_file_and_tolerates_a_missing_one(media):
    media.put(DATA, ".jpg")
    media.delete(SHA)
    media.delete(SHA)
    with pytest.raises(NotFound, match=SHA):
        media.path(SHA)


def test_names_that_are_not_sha256_or_safe_extensions_are_refused(media):
    with pytest.raises(StoreError, match="SHA-256"):
        media.path("../../etc/passwd")
    with pytest.raises(StoreError, match="extension"):
        media.put(DATA, ".jpg/../../x")
