"""The gallery index: exact, IVF and HNSW search, padding, removal, refusal, rebuild under load."""

from __future__ import annotations

import threading
from pathlib import Path

import faiss
import numpy as np
import pytest

from watchkeeper.matching import Gallery

MODEL = "test-embedder@1"
DIM = 32


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def clustered(
    rng: np.random.Generator, identities: int, per: int, dim: int = DIM, spread: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """Identities as random unit centres, each with ``per`` noisy templates (face-like)."""
    centres = unit(rng.standard_normal((identities, dim)))
    vectors = unit(
        np.repeat(centres, per, axis=0) + spread * rng.standard_normal((identities * per, dim))
    )
    return vectors, np.repeat(np.arange(identities), per)


# (exact_limit, ann): the same small gallery searched exactly and by each approximate index
KINDS = [(200_000, "ivf"), (100, "ivf"), (100, "hnsw")]
KIND_IDS = ["exact", "ivf", "hnsw"]


def filled(
    vectors: np.ndarray, persons: np.ndarray, exact_limit: int = 200_000, ann: str = "ivf"
) -> Gallery:
    gallery = Gallery(MODEL, vectors.shape[1], exact_limit, ann=ann)  # type: ignore[arg-type]
    ids = np.arange(len(vectors))
    gallery.add(ids + 1000, persons, persons % 3, vectors, model=MODEL)
    return gallery


def test_exact_search_returns_the_true_nearest_template() -> None:
    rng = np.random.default_rng(1)
    vectors, persons = clustered(rng, 100, 5)
    gallery = filled(vectors, persons)
    queries = unit(vectors[::7] + 0.1 * rng.standard_normal((len(vectors[::7]), DIM)))

    result = gallery.search(queries, k=1, model=MODEL)

    truth = np.argmax(queries @ vectors.T, axis=1)
    assert gallery.kind == "exact"
    np.testing.assert_array_equal(result.template_ids[:, 0], truth + 1000)
    np.testing.assert_array_equal(result.person_ids[:, 0], persons[truth])
    np.testing.assert_allclose(result.scores[:, 0], np.max(queries @ vectors.T, axis=1), atol=1e-5)


def test_top_k_is_the_k_best_in_descending_order() -> None:
    rng = np.random.default_rng(2)
    vectors, persons = clustered(rng, 50, 4)
    gallery = filled(vectors, persons)
    query = unit(rng.standard_normal((1, DIM)))

    result = gallery.search(query, k=10, model=MODEL)

    expected = np.argsort(-(query @ vectors.T)[0])[:10] + 1000
    assert np.all(np.diff(result.scores[0]) <= 0)
    np.testing.assert_array_equal(result.template_ids[0], expected)


def test_vectors_are_renormalised_so_scores_stay_cosines() -> None:
    rng = np.random.default_rng(3)
    vectors = unit(rng.standard_normal((3, DIM)))
    gallery = Gallery(MODEL, DIM)
    gallery.add([1, 2, 3], [1, 2, 3], [1, 1, 1], vectors * 7.5, model=MODEL)

    result = gallery.search(vectors[1:2] * 0.2, k=1, model=MODEL)

    assert result.template_ids[0, 0] == 2
    assert result.scores[0, 0] == pytest.approx(1.0, abs=1e-5)


def test_small_gallery_pads_missing_places() -> None:
    rng = np.random.default_rng(4)
    gallery = Gallery(MODEL, DIM)
    gallery.add([10, 11], [1, 2], [5, 5], unit(rng.standard_normal((2, DIM))), model=MODEL)

    result = gallery.search(unit(rng.standard_normal((3, DIM))), k=5, model=MODEL)

    assert result.scores.shape == (3, 5)
    assert np.isfinite(result.scores[:, :2]).all()
    assert np.all(result.scores[:, 2:] == -np.inf)
    for ids in (result.template_ids, result.person_ids, result.watchlist_ids):
        assert np.all(ids[:, 2:] == -1)
        assert np.all(ids[:, :2] >= 0)


def test_empty_gallery_returns_only_padding() -> None:
    gallery = Gallery(MODEL, DIM)

    result = gallery.search(np.ones((2, DIM), np.float32), k=3, model=MODEL)

    assert len(gallery) == 0
    assert np.all(result.template_ids == -1)
    assert np.all(result.scores == -np.inf)


@pytest.mark.parametrize(("exact_limit", "ann"), KINDS, ids=KIND_IDS)
def test_removed_persons_and_watchlists_are_never_returned(exact_limit: int, ann: str) -> None:
    rng = np.random.default_rng(5)
    vectors, persons = clustered(rng, 60, 3)
    gallery = filled(vectors, persons, exact_limit, ann)

    assert gallery.remove_persons([0, 1]) == 6
    assert gallery.remove_watchlists([2]) == 20 * 3  # persons 2, 5, ..., 59 (% 3 == 2)
    assert gallery.remove_templates([1000 + 3 * 3]) == 1  # first template of person 3
    assert gallery.remove_persons([0]) == 0

    result = gallery.search(vectors, k=len(vectors), model=MODEL)
    kept = result.person_ids[result.person_ids >= 0]
    assert len(gallery) == 180 - 6 - 60 - 1
    assert not np.isin(kept, [0, 1]).any()
    assert not np.any(result.watchlist_ids == 2)
    assert not np.any(result.template_ids == 1009)
    assert np.all((result.template_ids >= 0).sum(axis=1) == len(gallery))
    # The removed person's own photo now finds someone else.
    assert result.person_ids[0, 0] != 0


@pytest.mark.parametrize("ann", ["ivf", "hnsw"])
def test_compaction_drops_masked_rows_and_returns_to_exact_search(ann: str) -> None:
    rng = np.random.default_rng(6)
    vectors, persons = clustered(rng, 100, 3)
    gallery = filled(vectors, persons, exact_limit=250, ann=ann)
    gallery.remove_persons(np.arange(50))
    assert (gallery.kind, gallery.masked, len(gallery)) == (ann, 150, 150)
    before = gallery.search(vectors[150:], k=1, model=MODEL)

    gallery.compact()

    after = gallery.search(vectors[150:], k=1, model=MODEL)
    assert (gallery.kind, gallery.masked, len(gallery)) == ("exact", 0, 150)
    np.testing.assert_array_equal(after.template_ids, before.template_ids)


@pytest.mark.parametrize("ann", ["ivf", "hnsw"])
def test_a_removed_template_leaves_no_readable_trace_in_the_index(ann: str, tmp_path) -> None:
    """Masked rows stay in an approximate index until compaction, but erased: a deleted
    person's face must not be readable from a replica's memory (here, its snapshot)."""
    rng = np.random.default_rng(7)
    vectors, persons = clustered(rng, 100, 3)
    gallery = filled(vectors, persons, exact_limit=250, ann=ann)
    removed, kept = np.flatnonzero(persons == 0), np.flatnonzero(persons == 1)
    before, after = tmp_path / "before.npz", tmp_path / "after.npz"
    gallery.save(before)
    with np.load(before) as snapshot:
        loaded = faiss.deserialize_index(snapshot["index"])  # owns what the casts below view
    stored = loaded.reconstruct_n(0, loaded.ntotal)  # the templates as the index holds them
    traces = [stored[r].tobytes() for r in removed]
    if ann == "ivf":  # the inverted lists hold one-byte codes of each template as well
        lists = faiss.downcast_index(faiss.downcast_index(loaded).base_index)
        codes = lists.sa_encode(stored[removed])[:, lists.coarse_code_size() :]  # list no. first
        traces += [code.tobytes() for code in codes]
    assert all(trace in before.read_bytes() for trace in traces)  # the check can see them

    gallery.remove_persons([0])

    gallery.save(after)
    written = after.read_bytes()
    assert not any(trace in written for trace in traces)
    assert all(stored[r].tobytes() in written for r in kept)
    found = gallery.search(vectors[kept], k=1, model=MODEL)
    np.testing.assert_array_equal(found.template_ids[:, 0], kept + 1000)


def test_templates_of_another_model_are_refused() -> None:
    gallery = Gallery(MODEL, DIM)
    vectors = np.ones((1, DIM), np.float32)

    with pytest.raises(ValueError, match="other-model@2"):
        gallery.add([1], [1], [1], vectors, model="other-model@2")
    with pytest.raises(ValueError, match="re-enrol"):
        gallery.search(vectors, k=1, model="other-model@2")
    assert len(gallery) == 0


@pytest.mark.parametrize(
    ("vectors", "message"),
    [
        (np.ones((2, DIM + 1), np.float32), r"\(N, 32\)"),
        (np.ones(DIM, np.float32), r"\(N, 32\)"),
        (np.full((2, DIM), np.nan, np.float32), "NaN or infinite"),
        (np.where(np.eye(2, DIM) > 0, np.inf, 0).astype(np.float32), "NaN or infinite"),
        (np.zeros((2, DIM), np.float32), "all-zero"),
    ],
    ids=["wrong-dimension", "one-dimensional", "nan", "inf", "zero"],
)
def test_unusable_vectors_are_refused(vectors: np.ndarray, message: str) -> None:
    gallery = Gallery(MODEL, DIM)

    with pytest.raises(ValueError, match=message):
        gallery.add([1, 2], [1, 2], [1, 1], vectors, model=MODEL)
    with pytest.raises(ValueError, match=message):
        gallery.search(vectors, k=1, model=MODEL)
    assert len(gallery) == 0


def test_ids_must_match_the_vectors_one_to_one() -> None:
    gallery = Gallery(MODEL, DIM)

    with pytest.raises(ValueError, match="one entry per vector"):
        gallery.add([1, 2], [1], [1, 1], np.ones((2, DIM), np.float32), model=MODEL)


@pytest.mark.parametrize("ann", ["ivf", "hnsw"])
def test_ann_index_above_exact_limit_keeps_recall_at_one(ann: str) -> None:
    rng = np.random.default_rng(7)
    vectors, persons = clustered(rng, 1000, 5, dim=128)
    gallery = filled(vectors, persons, exact_limit=1000, ann=ann)
    probe_persons = rng.choice(1000, 300, replace=False)
    queries = unit(vectors[probe_persons * 5] + 0.05 * rng.standard_normal((300, 128)))

    result = gallery.search(queries, k=1, model=MODEL)

    truth = np.argmax(queries @ vectors.T, axis=1) + 1000
    assert gallery.kind == ann
    assert np.mean(result.template_ids[:, 0] == truth) >= 0.99


@pytest.mark.parametrize("ann", ["ivf", "hnsw"])
def test_ann_index_scores_are_the_exact_cosines_of_the_templates_it_returns(ann: str) -> None:
    # The IVF lists hold one-byte codes; a threshold a few hundredths from impostor scores
    # must still be compared with exact cosines, so what it found is re-ranked exactly.
    rng = np.random.default_rng(8)
    vectors, persons = clustered(rng, 300, 5, dim=128)
    gallery = filled(vectors, persons, exact_limit=100, ann=ann)
    queries = unit(rng.standard_normal((50, 128)) + 2 * vectors[::30])

    result = gallery.search(queries, k=5, model=MODEL)

    exact = np.take_along_axis(queries @ vectors.T, result.template_ids - 1000, axis=1)
    assert gallery.kind == ann
    np.testing.assert_allclose(result.scores, exact, atol=1e-5)


@pytest.mark.parametrize("ann", ["ivf", "hnsw"])
def test_adding_past_the_exact_limit_switches_to_the_ann_index_and_keeps_everything(
    ann: str,
) -> None:
    rng = np.random.default_rng(8)
    vectors, persons = clustered(rng, 100, 3)
    gallery = filled(vectors[:240], persons[:240], exact_limit=250, ann=ann)
    assert gallery.kind == "exact"

    gallery.add(
        np.arange(240, 300) + 1000, persons[240:], persons[240:] % 3, vectors[240:], model=MODEL
    )

    result = gallery.search(vectors, k=1, model=MODEL)
    assert (gallery.kind, len(gallery)) == (ann, 300)
    np.testing.assert_array_equal(result.template_ids[:, 0], np.arange(300) + 1000)


def test_rebuild_while_searching_shows_old_or_new_content_never_a_mix() -> None:
    rng = np.random.default_rng(9)
    old_vectors, old_persons = clustered(rng, 200, 3)
    new_vectors, new_persons = clustered(rng, 200, 3)
    new_persons = new_persons + 10_000
    gallery = filled(old_vectors, old_persons)
    queries = unit(rng.standard_normal((4, DIM)))
    seen: list[np.ndarray] = []
    failures: list[BaseException] = []
    stop = threading.Event()

    def search_constantly() -> None:
        try:
            while not stop.is_set():
                seen.append(gallery.search(queries, k=20, model=MODEL).person_ids)
        except BaseException as exc:  # reported to the main thread below
            failures.append(exc)

    searcher = threading.Thread(target=search_constantly)
    searcher.start()
    for version in range(1, 21):
        vectors, persons = (new_vectors, new_persons) if version % 2 else (old_vectors, old_persons)
        gallery.rebuild(
            np.arange(len(vectors)), persons, persons % 3, vectors, model=MODEL, version=version
        )
    stop.set()
    searcher.join(timeout=10)

    assert not failures
    assert gallery.version == 20
    assert len(seen) > 0
    for persons_seen in seen:
        assert (persons_seen < 10_000).all() or (persons_seen >= 10_000).all()


@pytest.mark.parametrize(("exact_limit", "ann"), KINDS, ids=KIND_IDS)
def test_snapshot_round_trip_keeps_results_removals_and_version(
    tmp_path: Path, exact_limit: int, ann: str
) -> None:
    rng = np.random.default_rng(10)
    vectors, persons = clustered(rng, 60, 3)
    gallery = filled(vectors, persons, exact_limit, ann)
    gallery.remove_persons([4])
    gallery.version = 17
    expected = gallery.search(vectors, k=3, model=MODEL)

    gallery.save(tmp_path / "gallery.npz")
    loaded = Gallery.load(tmp_path / "gallery.npz")

    result = loaded.search(vectors, k=3, model=MODEL)
    assert (loaded.model, loaded.version, loaded.kind, len(loaded)) == (
        MODEL,
        17,
        gallery.kind,
        len(gallery),
    )
    np.testing.assert_array_equal(result.template_ids, expected.template_ids)
    np.testing.assert_array_equal(result.watchlist_ids, expected.watchlist_ids)
    assert not (result.person_ids == 4).any()


def test_templates_added_to_a_built_ivf_index_are_found_and_rescored_exactly() -> None:
    rng = np.random.default_rng(11)
    vectors, persons = clustered(rng, 100, 4)
    gallery = filled(vectors[:300], persons[:300], exact_limit=100, ann="ivf")
    assert gallery.kind == "ivf"

    gallery.add(
        np.arange(300, 400) + 1000, persons[300:], persons[300:] % 3, vectors[300:], model=MODEL
    )
    newcomer = vectors[350:351]
    scores = gallery.identity_scores(newcomer, top_k=3, model=MODEL)

    result = gallery.search(vectors, k=1, model=MODEL)
    np.testing.assert_array_equal(result.template_ids[:, 0], np.arange(400) + 1000)
    assert scores.person_ids[0] == persons[350]
    assert scores.scores[0, 0] == pytest.approx(1.0, abs=1e-5)
    assert scores.template_ids[0, 0] == 1350
