"""The open-set decision: thresholds per watchlist, fusion, eligibility, crowding, near misses."""

from __future__ import annotations

import numpy as np
import pytest

from watchkeeper.domain import Sighting
from watchkeeper.matching import Gallery, decide

MODEL = "test-embedder@1"
DIM = 8
E = np.eye(DIM, dtype=np.float32)


def at_cosine(probe_axis: int, other_axis: int, cosine: float) -> np.ndarray:
    """A unit vector whose cosine with basis vector ``probe_axis`` is exactly ``cosine``."""
    return cosine * E[probe_axis] + np.sqrt(1 - cosine**2) * E[other_axis]


def gallery_of(rows: list[tuple[int, int, int, np.ndarray]]) -> Gallery:
    """Rows of (template_id, person_id, watchlist_id, vector)."""
    gallery = Gallery(MODEL, DIM)
    gallery.add(
        [r[0] for r in rows],
        [r[1] for r in rows],
        [r[2] for r in rows],
        np.stack([r[3] for r in rows]).astype(np.float32),
        model=MODEL,
    )
    return gallery


def sighting(templates: np.ndarray) -> Sighting:
    return Sighting(
        camera="gate-3",
        track_id=12,
        started_at=0.0,
        ended_at=1.0,
        first_frame=0,
        last_frame=5,
        detections=6,
        best_frame=2,
        best_box=np.zeros(4, np.float32),
        best_crop=np.zeros((4, 4, 3), np.uint8),
        best_quality=0.9,
        templates=templates,
        model=MODEL,
    )


def test_the_same_score_matches_a_lenient_list_but_not_a_strict_one() -> None:
    gallery = gallery_of([(1, 100, 7, at_cosine(0, 1, 0.4)), (2, 200, 8, at_cosine(0, 2, 0.4))])

    decision = decide(E[:1], gallery, {7: 0.3, 8: 0.5}, default_threshold=0.9, model=MODEL)

    by_list = {v.candidate.watchlist_id: v for v in decision.ranked}
    assert by_list[7].candidate.score == pytest.approx(0.4, abs=1e-5)
    assert by_list[8].candidate.score == pytest.approx(0.4, abs=1e-5)
    assert (by_list[7].matched, by_list[7].threshold) == (True, 0.3)
    assert (by_list[8].matched, by_list[8].threshold) == (False, 0.5)
    assert [v.candidate.person_id for v in decision.matches] == [100]


def test_lists_without_their_own_threshold_use_the_default() -> None:
    gallery = gallery_of([(1, 100, 7, at_cosine(0, 1, 0.4))])

    lenient = decide(E[:1], gallery, {}, default_threshold=0.35, model=MODEL)
    strict = decide(E[:1], gallery, {}, default_threshold=0.45, model=MODEL)

    assert lenient.ranked[0].matched and lenient.ranked[0].threshold == 0.35
    assert not strict.ranked[0].matched


def test_max_fusion_takes_the_best_pair_and_mean_the_average_best() -> None:
    # Two probe frames (axes 0 and 1). Person A is identical to frame 0 and orthogonal to
    # frame 1; person B is halfway between both frames.
    gallery = gallery_of([(1, 1, 1, E[0]), (2, 2, 1, (E[0] + E[1]) / np.sqrt(2))])
    probes = E[:2]

    by_max = decide(probes, gallery, {}, 0.6, fusion="max", model=MODEL)
    by_mean = decide(probes, gallery, {}, 0.6, fusion="mean", model=MODEL)

    assert [v.candidate.person_id for v in by_max.ranked] == [1, 2]
    assert [v.candidate.score for v in by_max.ranked] == pytest.approx([1.0, 0.7071], abs=1e-4)
    assert [v.candidate.person_id for v in by_mean.ranked] == [2, 1]
    assert [v.candidate.score for v in by_mean.ranked] == pytest.approx([0.7071, 0.5], abs=1e-4)
    assert [v.candidate.person_id for v in by_max.matches] == [1, 2]
    assert [v.candidate.person_id for v in by_mean.matches] == [2]


def test_mean_fusion_uses_each_frames_best_template_of_the_person() -> None:
    # Person 1 has one template per frame: each frame finds its own twin (score 1).
    gallery = gallery_of([(11, 1, 1, E[0]), (12, 1, 1, E[1]), (21, 2, 1, E[2])])

    decision = decide(E[:2], gallery, {}, 0.5, fusion="mean", model=MODEL)

    assert decision.ranked[0].candidate.person_id == 1
    assert decision.ranked[0].candidate.score == pytest.approx(1.0, abs=1e-5)
    assert decision.ranked[0].candidate.template_id in (11, 12)


def test_ineligible_entries_are_never_candidates_and_take_no_place() -> None:
    gallery = gallery_of(
        [(i, i, 1 if i < 5 else 2, at_cosine(0, 1 + i % 7, 0.9 - 0.05 * i)) for i in range(10)]
    )

    decision = decide(
        E[:1],
        gallery,
        {},
        0.3,
        top_k=3,
        eligible=lambda person, watchlist: watchlist == 2,
        model=MODEL,
    )

    assert [v.candidate.person_id for v in decision.ranked] == [5, 6, 7]
    assert all(v.candidate.watchlist_id == 2 for v in decision.ranked)


def test_a_person_with_many_templates_does_not_crowd_out_the_others() -> None:
    rng = np.random.default_rng(0)
    close = [E[0] + 0.02 * rng.standard_normal(DIM) for _ in range(60)]
    rows = [(1000 + i, 1, 1, v) for i, v in enumerate(close)]
    rows += [(i, 10 + i, 1, at_cosine(0, 1 + i, 0.8 - 0.05 * i)) for i in range(6)]
    gallery = gallery_of(rows)

    decision = decide(E[:1], gallery, {}, 0.5, top_k=5, model=MODEL)

    assert [v.candidate.person_id for v in decision.ranked] == [1, 10, 11, 12, 13]
    assert decision.ranked[0].candidate.template_id >= 1000


def test_a_person_on_two_watchlists_is_judged_against_each_list() -> None:
    vector = at_cosine(0, 1, 0.45)
    gallery = gallery_of([(1, 100, 7, vector), (1, 100, 8, vector)])

    decision = decide(E[:1], gallery, {7: 0.4, 8: 0.5}, 0.9, model=MODEL)

    assert sorted((v.candidate.watchlist_id, v.matched) for v in decision.ranked) == [
        (7, True),
        (8, False),
    ]


def test_near_miss_is_the_non_match_closest_to_its_threshold() -> None:
    gallery = gallery_of(
        [
            (1, 1, 1, at_cosine(0, 1, 0.6)),  # matches list 1 (0.5)
            (2, 2, 2, at_cosine(0, 2, 0.55)),  # misses list 2 (0.7) by 0.15
            (3, 3, 1, at_cosine(0, 3, 0.45)),  # misses list 1 (0.5) by 0.05
        ]
    )

    decision = decide(E[:1], gallery, {1: 0.5, 2: 0.7}, 0.9, model=MODEL)

    assert decision.near_miss is not None
    assert decision.near_miss.candidate.person_id == 3
    assert decision.near_miss.margin == pytest.approx(-0.05, abs=1e-5)


def test_matches_carry_the_sighting_threshold_and_best_template() -> None:
    gallery = gallery_of([(31, 1, 4, E[0]), (32, 1, 4, at_cosine(0, 1, 0.5))])
    probes = np.stack([E[0], E[1]])

    matches = decide(probes, gallery, {4: 0.42}, 0.9, model=MODEL).matches_for(sighting(probes))

    assert len(matches) == 1
    match = matches[0]
    assert (match.camera, match.track_id, match.model) == ("gate-3", 12, MODEL)
    assert (match.person_id, match.watchlist_id, match.template_id) == (1, 4, 31)
    assert (match.score, match.threshold) == (pytest.approx(1.0, abs=1e-5), 0.42)


def test_an_empty_gallery_decides_nobody() -> None:
    decision = decide(E[:2], Gallery(MODEL, DIM), {}, 0.3, model=MODEL)

    assert decision.ranked == ()
    assert decision.matches == ()
    assert decision.near_miss is None


def test_probes_of_another_model_and_unknown_fusion_are_refused() -> None:
    gallery = gallery_of([(1, 1, 1, E[0])])

    with pytest.raises(ValueError, match="cannot be compared"):
        decide(E[:1], gallery, {}, 0.3, model="other@1")
    with pytest.raises(ValueError, match="fusion"):
        decide(E[:1], gallery, {}, 0.3, fusion="median", model=MODEL)  # type: ignore[arg-type]
