"""Encryption at rest: templates and photos unreadable on disk, loud failures, rotation."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from support.policy_world import World, make_world, sighting_of
from watchkeeper.policy import keys
from watchkeeper.store import MediaStore, repository
from watchkeeper.store.crypto import (
    BOUND_MAGIC,
    MAGIC,
    Cipher,
    CipherError,
    generate_key,
    parse_key,
)
from watchkeeper.vision import FaceAnalyzer

NOW = datetime.now(UTC)
KEY = parse_key(generate_key(), "test")
OTHER_KEY = parse_key(generate_key(), "test")


@pytest.fixture
def world(tmp_path: Path, analyzer: FaceAnalyzer) -> World:
    world = make_world(tmp_path, analyzer, cipher=Cipher(KEY))
    world.watchlist("missing")
    world.authorise("missing", "default")
    return world


def raw_vectors(world: World) -> list[bytes]:
    path = world.db.url.database
    with sqlite3.connect(str(path)) as connection:
        return [row[0] for row in connection.execute("SELECT vector FROM templates")]


def gallery(world: World, cipher: Cipher | None) -> np.ndarray:
    with world.db.session(readonly=True) as s:
        return repository.gallery_templates(s, world.analyzer.model, cipher=cipher)[3]


def test_templates_and_photos_are_encrypted_on_disk_and_read_back_intact(world: World):
    enrolled = world.enrol("missing")
    photo = enrolled.photos[0]
    (vector,) = raw_vectors(world)
    assert vector.startswith(MAGIC)
    assert np.float32(photo.template[0]).tobytes() not in vector
    (sha,) = world.media.shas()
    on_disk = world.media.path(sha).read_bytes()
    assert on_disk.startswith(BOUND_MAGIC) and photo.data[:64] not in on_disk
    assert world.media.read(sha) == photo.data
    np.testing.assert_allclose(gallery(world, Cipher(KEY))[0], photo.template, rtol=1e-6)
    assert world.recogniser().match(sighting_of(enrolled, "cam", NOW, world.analyzer.model))


def test_a_missing_key_is_a_clear_error_never_garbage(world: World):
    world.enrol("missing")
    with pytest.raises(CipherError, match="no key is configured"):
        gallery(world, None)
    (sha,) = world.media.shas()
    with pytest.raises(CipherError, match="WATCHKEEPER_KEY"):
        MediaStore(world.media.root).read(sha)


def test_a_wrong_key_fails_loudly(world: World):
    world.enrol("missing")
    with pytest.raises(CipherError, match="wrong key"):
        gallery(world, Cipher(OTHER_KEY))
    (sha,) = world.media.shas()
    with pytest.raises(CipherError, match="wrong key"):
        MediaStore(world.media.root, Cipher(OTHER_KEY)).read(sha)


def test_an_altered_blob_fails_its_integrity_check(world: World):
    world.enrol("missing")
    (sha,) = world.media.shas()
    path = world.media.path(sha)
    data = bytearray(path.read_bytes())
    data[-1] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(CipherError, match="altered"):
        world.media.read(sha)


def test_rotation_re_encrypts_everything_and_matching_keeps_working(world: World):
    enrolled = world.enrol("missing")
    report = keys.rotate(world.db, world.media, KEY, OTHER_KEY, "cli:admin")
    assert (report.templates, report.files, report.skipped) == (1, 1, 0)
    with pytest.raises(CipherError, match="wrong key"):
        gallery(world, Cipher(KEY))
    world.media = MediaStore(world.media.root, Cipher(OTHER_KEY))
    assert world.media.read(world.media.shas()[0]) == enrolled.photos[0].data
    matched = world.recogniser().match(sighting_of(enrolled, "cam", NOW, world.analyzer.model))
    assert [m.person_id for m in matched] == [enrolled.person_id]
    again = keys.rotate(world.db, world.media, KEY, OTHER_KEY, "cli:admin")
    assert (again.templates, again.files, again.skipped) == (0, 0, 2)
    assert world.actions().count("keys.rotate") == 2
    assert world.audit_ok()


def test_a_failed_rotation_changes_nothing(world: World):
    world.enrol("missing")
    world.enrol("missing", who="paul_rudd")
    corrupt = world.media.path(world.media.shas()[1])
    corrupt.write_bytes(corrupt.read_bytes()[:-1] + b"\0")
    before = raw_vectors(world)
    with pytest.raises(CipherError):
        keys.rotate(world.db, world.media, KEY, OTHER_KEY, "cli:admin")
    assert raw_vectors(world) == before
    assert not [p for p in world.media.root.rglob(".tmp-*")]
    assert gallery(world, Cipher(KEY)).shape[0] == 2
    assert "keys.rotate" not in world.actions()


def test_the_first_rotation_encrypts_data_written_without_a_key(
    tmp_path: Path, analyzer: FaceAnalyzer
):
    world = make_world(tmp_path, analyzer)
    world.watchlist("missing")
    world.enrol("missing")
    assert keys.plaintext_left(world.db, world.media) == 2
    keys.rotate(world.db, world.media, None, KEY, "cli:admin")
    assert keys.plaintext_left(world.db, world.media) == 0
    assert all(v.startswith(MAGIC) for v in raw_vectors(world))


def test_the_command_line_names_the_missing_key(world: World, tmp_path: Path):
    world.enrol("missing")
    env = {k: v for k, v in os.environ.items() if k != "WATCHKEEPER_KEY"}
    result = subprocess.run(
        [sys.executable, "-m", "watchkeeper", "--data-dir", str(tmp_path), "keys", "rotate",
         "--new-key-file", str(_key_file(tmp_path))],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert result.returncode == 2
    assert "no key is configured" in result.stderr
    assert result.stderr.count("\n") == 1


def _key_file(folder: Path) -> Path:
    path = folder / "new.key"
    path.write_text(generate_key())
    return path
