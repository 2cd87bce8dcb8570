from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from watchkeeper import domain
from watchkeeper.store import MediaStore, NotFound, StoreError, models, repository

MODEL = "sface-2021dec-int8bq@1"


@pytest.fixture
def media(tmp_path):
    return MediaStore(tmp_path / "media")


def unit_vectors(n, d=128, seed=0):
    v = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def enrol(s, watchlist, name, sha, vectors, expires_at=None):
    person = repository.add_person(s, watchlist, name, "reason", expires_at, "officer")
    photo = repository.add_photo(s, person, sha, 640, 480, [10, 20, 110, 140], 0.9)
    for vector in vectors:
        repository.add_template(s, person, photo, MODEL, vector)
    return person


def domain_sighting(camera="gate", track_id=1):
    return domain.Sighting(
        camera=camera,
        track_id=track_id,
        started_at=1_750_000_000.25,
        ended_at=1_750_000_004.5,
        first_frame=10,
        last_frame=30,
        detections=12,
        best_frame=20,
        best_box=np.zeros(4, np.float32),
        best_crop=np.zeros((8, 8, 3), np.uint8),
        best_quality=0.8,
        templates=unit_vectors(1),
        model=MODEL,
    )


def store_match(s, person, crop_sha, template_id=None, camera="gate"):
    cam = repository.get_or_create_camera(s, camera, "file:///clip.mp4")
    row = repository.save_sighting(s, cam, domain_sighting(camera), crop_sha)
    match = domain.Match(camera, 1, person.id, person.watchlist_id, 0.71, 0.363, template_id, MODEL)
    return repository.save_match(s, row, match)


def test_watchlists_are_found_by_name_or_id_and_listed_with_person_counts(db):
    with db.session() as s:
        wanted = repository.create_watchlist(s, "wanted", "wanted_person", "warrant", "ops")
        repository.create_watchlist(s, "missing", "missing_person", "family request", "ops")
        enrol(s, wanted, "A", "a" * 64, [])
        enrol(s, wanted, "B", "b" * 64, [])
    with db.session() as s:
        assert repository.get_watchlist(s, "wanted").id == wanted.id
        assert repository.get_watchlist(s, wanted.id).name == "wanted"
        assert repository.get_watchlist(s, str(wanted.id)).name == "wanted"
        listed = [(w.name, n) for w, n in repository.list_watchlists(s)]
    assert listed == [("missing", 0), ("wanted", 2)]


def test_a_duplicate_watchlist_name_is_refused_by_name(db):
    with db.session() as s:
        repository.create_watchlist(s, "wanted", "wanted_person", "warrant", "ops")
    with pytest.raises(StoreError, match='watchlist "wanted" already exists'), db.session() as s:
        repository.create_watchlist(s, "wanted", "security", "other basis", "ops")


def test_a_missing_watchlist_is_not_found_by_name(db):
    with pytest.raises(NotFound, match='"nobody"'), db.session() as s:
        repository.get_watchlist(s, "nobody")


def test_an_unknown_purpose_is_refused_with_the_allowed_ones(db):
    with pytest.raises(StoreError, match="missing_person"), db.session() as s:
        repository.create_watchlist(s, "w", "curiosity", "none", "ops")


def test_deleting_a_watchlist_deletes_its_gallery_and_matches_and_frees_its_media(db):
    shared, own, crop = "1" * 64, "2" * 64, "3" * 64
    with db.session() as s:
        doomed = repository.create_watchlist(s, "doomed", "security", "basis", "ops")
        kept = repository.create_watchlist(s, "kept", "security", "basis", "ops")
        a = enrol(s, doomed, "A", shared, unit_vectors(2))
        enrol(s, doomed, "B", own, unit_vectors(1, seed=1))
        enrol(s, kept, "C", shared, unit_vectors(1, seed=2))
        store_match(s, a, crop)
    with db.session() as s:
        freed = repository.delete_watchlist(s, repository.get_watchlist(s, "doomed"))
    with db.session() as s:
        left = repository.counts(s)
        names = [p.name for p in repository.list_persons(s)]
    assert sorted(freed) == [own, crop]  # the shared photo is still used by "kept"
    assert names == ["C"]
    assert left["persons"] == 1 and left["photos"] == 1 and left["templates"] == 1
    assert left["matches"] == 0 and left["sightings"] == 0  # unmatched sightings are not kept
    assert left["cameras"] == 1


def test_deleting_a_person_keeps_a_sighting_that_still_matches_someone_else(db):
    crop = "4" * 64
    with db.session() as s:
        w = repository.create_watchlist(s, "w", "security", "basis", "ops")
        a, b = enrol(s, w, "A", "5" * 64, []), enrol(s, w, "B", "6" * 64, [])
        first = store_match(s, a, crop)
        s.add(
            models.Match(
                sighting_id=first.sighting_id,
                person_id=b.id,
                watchlist_id=w.id,
                score=0.5,
                threshold=0.363,
            )
        )
    with db.session() as s:
        freed = repository.delete_person(s, repository.get_person(s, a.id))
        assert repository.counts(s)["sightings"] == 1
    assert freed == ["5" * 64]


def test_gallery_templates_return_the_stored_float32_vectors_of_one_model(db):
    vectors = unit_vectors(5)
    with db.session() as s:
        w = repository.create_watchlist(s, "w", "security", "basis", "ops")
        a = enrol(s, w, "A", "a" * 64, vectors[:2])
        b = enrol(s, w, "B", "b" * 64, vectors[2:])
        photo = a.photos[0]
        repository.add_template(s, a, photo, "arcface@1", unit_vectors(1, d=512)[0])
    with db.session() as s:
        template_ids, person_ids, watchlist_ids, got = repository.gallery_templates(s, MODEL)
    assert got.dtype == np.float32 and got.shape == (5, 128)
    np.testing.assert_array_equal(got, vectors)
    assert person_ids.tolist() == [a.id] * 2 + [b.id] * 3
    assert watchlist_ids.tolist() == [w.id] * 5
    assert len(set(template_ids.tolist())) == 5


def test_gallery_templates_can_leave_out_expired_persons(db):
    now = datetime.now(UTC)
    with db.session() as s:
        w = repository.create_watchlist(s, "w", "security", "basis", "ops")
        enrol(s, w, "expired", "a" * 64, unit_vectors(1), expires_at=now - timedelta(days=1))
        current = enrol(s, w, "current", "b" * 64, unit_vectors(1), expires_at=now + timedelta(1))
    with db.session() as s:
        _, everyone, _, _ = repository.gallery_templates(s, MODEL)
        _, active, _, _ = repository.gallery_templates(s, MODEL, active_at=now)
    assert len(everyone) == 2
    assert active.tolist() == [current.id]


def test_an_empty_gallery_has_no_vectors(db):
    with db.session() as s:
        ids, _, _, vectors = repository.gallery_templates(s, MODEL)
    assert len(ids) == 0 and vectors.shape[0] == 0 and vectors.dtype == np.float32


def test_changing_the_gallery_bumps_its_version(db):
    with db.session() as s:
        start = repository.gallery_version(s)
        w = repository.create_watchlist(s, "w", "security", "basis", "ops")
        person = enrol(s, w, "A", "a" * 64, unit_vectors(1))
        after_enrol = repository.gallery_version(s)
        repository.delete_person(s, person)
        after_delete = repository.gallery_version(s)
    assert start == 0
    assert start < after_enrol < after_delete


def test_matches_are_listed_newest_first_with_names_and_utc_times(db):
    with db.session() as s:
        w = repository.create_watchlist(s, "wanted", "wanted_person", "warrant", "ops")
        person = enrol(s, w, "A. Person", "a" * 64, [])
        store_match(s, person, "c" * 64, camera="gate")
        store_match(s, person, None, camera="hall")
    with db.session() as s:
        newest, oldest = repository.list_matches(s, limit=10)
        assert len(repository.list_matches(s, limit=1)) == 1
    assert (newest.camera, oldest.camera) == ("hall", "gate")
    assert (oldest.person, oldest.watchlist, oldest.crop_sha256) == (
        "A. Person",
        "wanted",
        "c" * 64,
    )
    assert oldest.started_at == datetime.fromtimestamp(1_750_000_000.25, UTC)
    assert oldest.score == pytest.approx(0.71)


def test_a_camera_is_created_once(db):
    with db.session() as s:
        first = repository.get_or_create_camera(s, "gate", "rtsp://cam/1", analysis_fps=2.0)
        again = repository.get_or_create_camera(s, "gate", "rtsp://elsewhere")
        assert first.id == again.id and again.uri == "rtsp://cam/1" and again.group == "default"


def test_a_failed_enrolment_leaves_neither_rows_nor_files(db, media):
    with db.session() as s:
        w = repository.create_watchlist(s, "w", "security", "basis", "ops")
        before = repository.counts(s)
    with pytest.raises(RuntimeError), db.session() as s, media.transaction() as tx:
        sha = tx.put(b"photo bytes", ".jpg")
        enrol(s, repository.get_watchlist(s, w.id), "A", sha, unit_vectors(1))
        raise RuntimeError("the embedder crashed")
    with db.session() as s:
        assert repository.counts(s) == before
    assert not media.exists(sha)


def test_a_failed_commit_also_removes_the_files_when_media_is_the_outer_block(db, media):
    with db.session() as s:
        repository.get_or_create_camera(s, "gate", "rtsp://cam/1")
    with pytest.raises(StoreError, match="UNIQUE"), media.transaction() as tx, db.session() as s:
        sha = tx.put(b"crop bytes", ".jpg")
        s.add(models.Camera(name="gate", uri="rtsp://cam/2", analysis_fps=5.0))  # fails at commit
    assert not media.exists(sha)
    with db.session() as s:
        assert repository.counts(s)["cameras"] == 1
