"""Threshold suggestions from reviewed scores: the arithmetic, on numbers worked by hand."""

from __future__ import annotations

import pytest

from watchkeeper.investigations.thresholds import suggest
from watchkeeper.store.investigations import ReviewedScore


def _scores(group: str, threshold: float, rejected: list[float], confirmed: list[float]):
    return [ReviewedScore(group, threshold, s, False) for s in rejected] + [
        ReviewedScore(group, threshold, s, True) for s in confirmed
    ]


def test_the_lowest_threshold_meeting_the_target_and_the_misses_it_costs():
    # 10 reviewed at 0.40: 3 rejected (0.41, 0.43, 0.52), 7 confirmed.
    scores = _scores("wanted", 0.40, [0.41, 0.43, 0.52], [0.45, 0.5, 0.6, 0.62, 0.7, 0.8, 0.9])
    (row,) = suggest(scores, target=0.15)
    assert (row.reviewed, row.rejected) == (10, 3)
    assert row.false_rate == pytest.approx(0.3)
    # Just above 0.43: 8 left, 1 rejected = 12.5 % <= 15 %; confirmed 0.45 and up all kept.
    assert row.suggested == pytest.approx(0.4301)
    assert row.suggested_false_rate == pytest.approx(1 / 8)
    assert row.miss_rate == 0.0
    (strict,) = suggest(scores, target=0.0)
    # Just above 0.52: 5 confirmed left, 0.45 and 0.5 missed = 2 of 7.
    assert strict.suggested == pytest.approx(0.5201)
    assert strict.miss_rate == pytest.approx(2 / 7)


def test_a_threshold_already_meeting_the_target_is_kept_and_groups_stay_apart():
    scores = _scores("missing", 0.36, [], [0.5, 0.7]) + _scores("case:MP-1", 0.3, [0.9], [])
    by_group = {row.group: row for row in suggest(scores, target=0.05)}
    assert by_group["missing"].suggested == pytest.approx(0.36)
    assert by_group["missing"].false_rate == 0.0
    # Only a rejection: no threshold keeps a confirmed match, so none is suggested.
    assert by_group["case:MP-1"].suggested is None
    assert by_group["case:MP-1"].false_rate == 1.0


def test_scores_below_the_threshold_in_force_do_not_count_as_alerts():
    scores = _scores("w", 0.5, [0.45], [0.55])
    (row,) = suggest(scores, target=0.0)
    assert (row.reviewed, row.rejected, row.false_rate) == (1, 0, 0.0)


def test_a_target_outside_zero_to_one_is_refused():
    with pytest.raises(ValueError, match="target false-alert rate"):
        suggest([], target=1.5)
