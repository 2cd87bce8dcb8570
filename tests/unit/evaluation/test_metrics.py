"""The error-rate definitions, checked against cases worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from watchkeeper.evaluation import metrics

# The 10-score example. Sorted high to low (G genuine, I impostor):
#   0.9G 0.8G 0.7G 0.6I 0.55G 0.5I 0.4I 0.3G 0.2I 0.1I
# Accepting score >= t, with 5 genuine and 5 impostor scores:
#   t      accepted G  TAR   accepted I  FMR   FNMR
#   >0.9   0           0.0   0           0.0   1.0
#   0.9    1           0.2   0           0.0   0.8
#   0.8    2           0.4   0           0.0   0.6
#   0.7    3           0.6   0           0.0   0.4
#   0.6    3           0.6   1           0.2   0.4
#   0.55   4           0.8   1           0.2   0.2   <- FMR = FNMR = 0.2: the EER, at t = 0.55
#   0.5    4           0.8   2           0.4   0.2
#   0.4    4           0.8   3           0.6   0.2
#   0.3    5           1.0   3           0.6   0.0
#   0.2    5           1.0   4           0.8   0.0
#   0.1    5           1.0   5           1.0   0.0
GENUINE = [0.9, 0.8, 0.7, 0.55, 0.3]
IMPOSTOR = [0.6, 0.5, 0.4, 0.2, 0.1]


def test_roc_lists_every_threshold_with_hand_computed_rates() -> None:
    curve = metrics.roc(GENUINE, IMPOSTOR)

    assert curve.thresholds[0] > 0.9
    np.testing.assert_allclose(
        curve.thresholds[1:], [0.9, 0.8, 0.7, 0.6, 0.55, 0.5, 0.4, 0.3, 0.2, 0.1]
    )
    np.testing.assert_allclose(curve.tar, [0, 0.2, 0.4, 0.6, 0.6, 0.8, 0.8, 0.8, 1, 1, 1])
    np.testing.assert_allclose(curve.fmr, [0, 0, 0, 0, 0.2, 0.2, 0.4, 0.6, 0.6, 0.8, 1])


def test_det_points_are_fmr_and_one_minus_tar() -> None:
    fmr, fnmr = metrics.det_points(GENUINE, IMPOSTOR)

    np.testing.assert_allclose(fnmr, [1, 0.8, 0.6, 0.4, 0.4, 0.2, 0.2, 0.2, 0, 0, 0])
    np.testing.assert_allclose(fmr, metrics.roc(GENUINE, IMPOSTOR).far)


def test_eer_is_where_fmr_equals_fnmr_on_a_curve_point() -> None:
    result = metrics.eer(GENUINE, IMPOSTOR)

    assert result.rate == pytest.approx(0.2)
    assert result.threshold == pytest.approx(0.55)


def test_eer_interpolates_when_the_crossing_falls_between_points() -> None:
    # 0.9G 0.8G 0.5I 0.3G 0.2I: (FMR, FNMR) goes (0, 1/3) at t=0.8 then (1/2, 1/3) at t=0.5.
    # FNMR - FMR goes from +1/3 to -1/6: the segment crosses FMR = FNMR 2/3 of the way along,
    # at FMR = 0 + 2/3 * 1/2 = 1/3 (and FNMR = 1/3).
    result = metrics.eer([0.9, 0.8, 0.3], [0.5, 0.2])

    assert result.rate == pytest.approx(1 / 3)
    assert result.threshold == pytest.approx(0.5)


def test_eer_is_zero_when_scores_separate() -> None:
    assert metrics.eer([0.8, 0.9], [0.1, 0.2]).rate == 0.0


def test_tar_at_far_takes_the_loosest_threshold_within_the_far() -> None:
    # FMR <= 0.2 holds down to t = 0.55 (one impostor, 0.6, accepted); there TAR = 0.8.
    point = metrics.tar_at_far(GENUINE, IMPOSTOR, 0.2)

    assert point is not None
    assert (point.threshold, point.tar, point.fmr) == pytest.approx((0.55, 0.8, 0.2))
    assert point.fnmr == pytest.approx(0.2)


def test_tar_at_far_is_none_when_impostors_are_too_few_to_measure_it() -> None:
    # 5 impostor scores measure FMR in steps of 0.2; 0.1 needs at least 10.
    assert metrics.tar_at_far(GENUINE, IMPOSTOR, 0.1) is None
    assert metrics.tar_at_far(GENUINE, IMPOSTOR * 2, 0.1) is not None


def test_tar_at_far_allows_as_many_false_matches_as_the_far_permits() -> None:
    # 10 impostors, FAR 0.1 allows one: the one at 0.6 may pass, so the threshold can fall to
    # the lowest genuine score (0.3) while the other nine (0.0) stay rejected.
    point = metrics.tar_at_far(GENUINE, [0.6] + [0.0] * 9, 0.1)

    assert point is not None
    assert point.fmr == pytest.approx(0.1)
    assert point.threshold == pytest.approx(0.3)
    assert point.tar == 1.0


def test_rates_at_a_threshold_count_ties_as_accepted() -> None:
    point = metrics.rates_at(GENUINE, IMPOSTOR, 0.6)

    assert (point.tar, point.fmr) == pytest.approx((0.6, 0.2))


def test_enough_for_requires_count_times_rate_at_least_one() -> None:
    assert metrics.enough_for(1000, 1e-3)
    assert not metrics.enough_for(999, 1e-3)
    assert metrics.enough_for(334, 0.003)
    assert not metrics.enough_for(333, 0.003)
    with pytest.raises(ValueError, match="target rate"):
        metrics.enough_for(10, 0.0)


def test_nan_scores_are_refused() -> None:
    with pytest.raises(ValueError, match="NaN"):
        metrics.roc([0.5, float("nan")], [0.1])


def test_score_histogram_counts_each_score_once_over_shared_bins() -> None:
    hist = metrics.score_histogram(GENUINE, IMPOSTOR, bins=3)

    # bins [0.1, 0.367) [0.367, 0.633) [0.633, 0.9]
    np.testing.assert_allclose(hist.edges, [0.1, 0.1 + 0.8 / 3, 0.1 + 1.6 / 3, 0.9])
    assert hist.genuine.tolist() == [1, 1, 3]
    assert hist.impostor.tolist() == [2, 3, 0]


# Identification. Gallery of identities A, B, C (columns 0, 1, 2); four mated probes:
#   p0 mate A, scores (0.8, 0.1, 0.2): rank 1 = A at 0.8   -> hit at t <= 0.8
#   p1 mate B, scores (0.3, 0.6, 0.1): rank 1 = B at 0.6   -> hit at t <= 0.6
#   p2 mate C, scores (0.5, 0.2, 0.4): rank 1 = A (wrong)  -> miss at every threshold
#   p3 mate A, scores (0.45, 0.0, 0.0): rank 1 = A at 0.45 -> hit at t <= 0.45
# Rank-1 rate = 3/4. Five non-mated probes with rank-1 scores 0.7, 0.5, 0.3, 0.2, 0.1.
#   t      FNIR (misses / 4)        FPIR (accepted / 5)
#   0.8    p1 p2 p3 -> 0.75         0.0
#   0.7    0.75                     0.2
#   0.6    p2 p3 -> 0.5             0.2
#   0.5    0.5                      0.4
#   0.45   p2 -> 0.25               0.4
#   0.3    0.25                     0.6
SIMILARITY = [[0.8, 0.1, 0.2], [0.3, 0.6, 0.1], [0.5, 0.2, 0.4], [0.45, 0.0, 0.0]]
MATES = [0, 1, 2, 0]
NONMATED = [0.7, 0.5, 0.3, 0.2, 0.1]


def test_mated_rank1_scores_keep_the_mate_score_only_when_it_ranks_first() -> None:
    scores = metrics.mated_rank1_scores(SIMILARITY, MATES)

    assert scores.tolist() == [0.8, 0.6, -np.inf, 0.45]
    assert metrics.rank1_rate(SIMILARITY, MATES) == 0.75


def test_fnir_at_fpir_uses_the_loosest_threshold_within_the_fpir() -> None:
    mated = metrics.mated_rank1_scores(SIMILARITY, MATES)

    point = metrics.fnir_at_fpir(mated, NONMATED, 0.2)

    assert point is not None
    assert (point.threshold, point.fnir, point.fpir) == pytest.approx((0.6, 0.5, 0.2))


def test_fnir_at_fpir_is_none_with_too_few_nonmated_probes() -> None:
    mated = metrics.mated_rank1_scores(SIMILARITY, MATES)

    assert metrics.fnir_at_fpir(mated, NONMATED, 0.1) is None


def test_identification_curve_counts_wrong_rank1_as_a_miss_everywhere() -> None:
    mated = metrics.mated_rank1_scores(SIMILARITY, MATES)

    curve = metrics.identification_curve(mated, NONMATED)

    assert curve.fnir.min() == pytest.approx(0.25)
    at = metrics.identification_rates_at(mated, NONMATED, 0.45)
    assert (at.fnir, at.fpir) == pytest.approx((0.25, 0.4))
