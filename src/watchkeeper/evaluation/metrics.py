"""Biometric error rates from comparison scores: the numbers an operator chooses a threshold by.

Pure NumPy and vectorised: every function takes arrays of similarity scores (higher means
more alike, e.g. cosine similarity) and sorts once, so a million impostor scores cost a sort.

Definitions (ISO/IEC 19795-1 for verification, NIST FRTE 1:N for identification). A
comparison is *accepted* at threshold ``t`` when its score is **at or above** ``t`` — the same
rule as the live matcher (``matching.default_threshold``).

Verification (1:1), from *genuine* scores (two images of the same person, "mated") and
*impostor* scores (two different people, "non-mated"):

- ``FMR(t)``  false match rate = impostor scores ≥ t / impostor scores. Called FAR in older
  literature; the same number when every attempt is one comparison.
- ``FNMR(t)`` false non-match rate = genuine scores < t / genuine scores.
- ``TAR(t)``  true accept rate = 1 − FNMR(t).
- ROC: TAR against FMR over all thresholds; DET: FNMR against FMR (usually on log axes).
- ``TAR@FAR=f``: the TAR at the lowest threshold whose FMR is at most ``f``.
- EER: the rate where FMR and FNMR are equal (see :func:`eer` for the exact construction).

Open-set identification (1:N), each probe searched against a gallery of N identities, the
decision made on the rank-1 candidate (what the live matcher alerts on):

- *mated* probe: its identity is enrolled. ``FNIR(t)`` false negative identification rate =
  mated probes whose rank-1 candidate is **not** the mate, or is the mate with score < t,
  divided by all mated probes.
- *non-mated* probe: its identity is not enrolled. ``FPIR(t)`` false positive identification
  rate = non-mated probes whose rank-1 score is ≥ t / all non-mated probes.
- rank-1 identification rate = mated probes whose rank-1 candidate is the mate (no threshold).

How much data a rate needs: with ``n`` impostor comparisons (or non-mated probes) the smallest
non-zero rate that can be observed is ``1/n``, so a target rate ``f`` is only measured when
``n ≥ 1/f`` (checked as ``n·f ≥ 1``); below that the functions return ``None`` rather than a
number that the data cannot support. (Even at ``n = 1/f`` the estimate rests on a handful of
errors; NIST's "rule of 3" says 3/f comparisons with zero errors bound the rate at f with 95 %
confidence. Read low-rate numbers with that in mind.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Scores = npt.ArrayLike
FloatVector = npt.NDArray[np.float64]

_ENOUGH_TOLERANCE = 1e-9


@dataclass(frozen=True, slots=True)
class TradeOff:
    """Both acceptance rates at every distinct threshold, strictest first.

    ``thresholds[0]`` lies just above the highest score (nothing is accepted there); after it
    come the distinct finite scores in descending order, so both rates rise along the arrays.
    ``positive_rate`` is TAR (verification) or 1 − FNIR (identification); ``negative_rate``
    is FMR or FPIR.
    """

    thresholds: FloatVector
    positive_rate: FloatVector
    negative_rate: FloatVector


@dataclass(frozen=True, slots=True)
class RocCurve:
    """The ROC / DET curve of a verification test; see the module docstring for the terms."""

    thresholds: FloatVector
    tar: FloatVector
    fmr: FloatVector

    @property
    def fnmr(self) -> FloatVector:
        """FNMR = 1 − TAR: the DET curve is (fmr, fnmr)."""
        return np.asarray(1.0 - self.tar, np.float64)

    @property
    def far(self) -> FloatVector:
        """FAR, the older name of FMR (identical for single-attempt comparisons)."""
        return self.fmr


@dataclass(frozen=True, slots=True)
class OperatingPoint:
    """One threshold and the verification rates it gives."""

    threshold: float
    tar: float
    fmr: float

    @property
    def fnmr(self) -> float:
        return 1.0 - self.tar


@dataclass(frozen=True, slots=True)
class EqualErrorRate:
    """The EER and the threshold that comes nearest to it."""

    rate: float
    threshold: float


@dataclass(frozen=True, slots=True)
class IdentificationCurve:
    """FNIR against FPIR over all thresholds (the open-set analogue of the DET curve)."""

    thresholds: FloatVector
    fnir: FloatVector
    fpir: FloatVector


@dataclass(frozen=True, slots=True)
class IdentificationPoint:
    """One threshold and the identification rates it gives."""

    threshold: float
    fnir: float
    fpir: float


@dataclass(frozen=True, slots=True)
class ScoreHistogram:
    """Genuine and impostor score counts over the same bins, for the overlap plot."""

    edges: FloatVector  # (bins + 1,)
    genuine: npt.NDArray[np.int64]  # (bins,)
    impostor: npt.NDArray[np.int64]  # (bins,)


def _as_scores(scores: Scores, name: str) -> FloatVector:
    array = np.asarray(scores, np.float64).reshape(-1)
    if np.isnan(array).any():
        raise ValueError(f"{name} scores contain NaN")
    return array


def _accept_rate(sorted_scores: FloatVector, thresholds: FloatVector) -> FloatVector:
    """Fraction of ``sorted_scores`` (ascending) at or above each threshold."""
    if sorted_scores.size == 0:
        return np.zeros_like(thresholds)
    below = np.searchsorted(sorted_scores, thresholds, side="left")
    return np.asarray((sorted_scores.size - below) / sorted_scores.size, np.float64)


def trade_off(positive: Scores, negative: Scores) -> TradeOff:
    """Acceptance rates of the positive and negative scores at every distinct threshold.

    Scores of ``-inf`` are allowed in ``positive`` (a mated search whose mate was not the
    rank-1 candidate): no finite threshold accepts them, so they count as errors everywhere.
    """
    pos = np.sort(_as_scores(positive, "positive"))
    neg = np.sort(_as_scores(negative, "negative"))
    every = np.concatenate([pos, neg])
    finite = np.unique(every[np.isfinite(every)])[::-1]
    top = finite[0] if finite.size else 0.0
    thresholds = np.concatenate([[np.nextafter(top, np.inf)], finite])
    return TradeOff(thresholds, _accept_rate(pos, thresholds), _accept_rate(neg, thresholds))


def roc(genuine: Scores, impostor: Scores) -> RocCurve:
    """The ROC curve: TAR and FMR at every distinct threshold, strictest first."""
    curve = trade_off(genuine, impostor)
    return RocCurve(curve.thresholds, curve.positive_rate, curve.negative_rate)


def det_points(genuine: Scores, impostor: Scores) -> tuple[FloatVector, FloatVector]:
    """The DET curve as (FMR, FNMR) arrays, strictest threshold first."""
    curve = roc(genuine, impostor)
    return curve.fmr, curve.fnmr


def enough_for(count: int, rate: float) -> bool:
    """Whether ``count`` negative trials can measure a rate as low as ``rate`` (count·rate ≥ 1)."""
    if not 0 < rate <= 1:
        raise ValueError(f"a target rate must be in (0, 1], got {rate}")
    return count * rate >= 1 - _ENOUGH_TOLERANCE


def _loosest_within(curve: TradeOff, limit: float) -> int:
    """Index of the lowest threshold whose negative rate stays at or below ``limit``."""
    within = np.flatnonzero(curve.negative_rate <= limit + _ENOUGH_TOLERANCE)
    return int(within[-1])  # index 0 (nothing accepted) always qualifies


def tar_at_far(genuine: Scores, impostor: Scores, far: float) -> OperatingPoint | None:
    """TAR at the lowest threshold whose FMR is at most ``far``.

    Returns ``None`` when there are fewer than ``1/far`` impostor scores: such a FMR cannot be
    observed, and a threshold chosen from it would be a guess.
    """
    imp = _as_scores(impostor, "impostor")
    if not enough_for(imp.size, far):
        return None
    curve = trade_off(genuine, imp)
    i = _loosest_within(curve, far)
    return OperatingPoint(
        float(curve.thresholds[i]), float(curve.positive_rate[i]), float(curve.negative_rate[i])
    )


def rates_at(genuine: Scores, impostor: Scores, threshold: float) -> OperatingPoint:
    """TAR and FMR at a given threshold (e.g. the one configured for the live system)."""
    gen = np.sort(_as_scores(genuine, "genuine"))
    imp = np.sort(_as_scores(impostor, "impostor"))
    t = np.array([threshold], np.float64)
    return OperatingPoint(
        float(threshold), float(_accept_rate(gen, t)[0]), float(_accept_rate(imp, t)[0])
    )


def eer(genuine: Scores, impostor: Scores) -> EqualErrorRate:
    """The equal error rate, where FMR and FNMR cross.

    Construction: walk the DET points strictest threshold first; FNMR − FMR starts at +1 and
    falls to −1. At the first point where it is ≤ 0 the curves have crossed. If it is exactly
    0 there, the EER is that FMR; otherwise it is where the straight segment from the previous
    point crosses the diagonal FMR = FNMR. The threshold reported is that first crossed
    point's, a real score at which FMR ≥ FNMR.
    """
    gen = _as_scores(genuine, "genuine")
    imp = _as_scores(impostor, "impostor")
    if gen.size == 0 or imp.size == 0:
        raise ValueError("the EER needs at least one genuine and one impostor score")
    curve = roc(gen, imp)
    diff = curve.fnmr - curve.fmr
    i = int(np.argmax(diff <= 0))
    if diff[i] == 0:
        return EqualErrorRate(float(curve.fmr[i]), float(curve.thresholds[i]))
    share = diff[i - 1] / (diff[i - 1] - diff[i])
    rate = curve.fmr[i - 1] + share * (curve.fmr[i] - curve.fmr[i - 1])
    return EqualErrorRate(float(rate), float(curve.thresholds[i]))


def score_histogram(genuine: Scores, impostor: Scores, bins: int = 40) -> ScoreHistogram:
    """Counts of genuine and impostor scores over common, equal-width bins spanning both."""
    gen = _as_scores(genuine, "genuine")
    imp = _as_scores(impostor, "impostor")
    every = np.concatenate([gen, imp])
    every = every[np.isfinite(every)]
    edges = np.histogram_bin_edges(every if every.size else [0.0, 1.0], bins=bins)
    return ScoreHistogram(
        edges=edges.astype(np.float64),
        genuine=np.histogram(gen[np.isfinite(gen)], edges)[0].astype(np.int64),
        impostor=np.histogram(imp[np.isfinite(imp)], edges)[0].astype(np.int64),
    )


# ---- open-set identification -------------------------------------------------------------


def rank1(similarity: npt.ArrayLike) -> tuple[npt.NDArray[np.int64], FloatVector]:
    """Rank-1 candidate (column index) and its score for each probe row of a score matrix.

    ``similarity`` is (probes, identities): one score per enrolled identity, already fused
    over that identity's templates (e.g. the maximum).
    """
    matrix = np.asarray(similarity, np.float64)
    if matrix.ndim != 2 or matrix.shape[1] == 0:
        raise ValueError(f"expected a (probes, identities) score matrix, got {matrix.shape}")
    best = np.argmax(matrix, axis=1)
    return best.astype(np.int64), matrix[np.arange(matrix.shape[0]), best]


def mated_rank1_scores(similarity: npt.ArrayLike, mates: npt.ArrayLike) -> FloatVector:
    """For each mated probe, its mate's score if the mate is the rank-1 candidate, else −inf.

    ``mates[p]`` is the column of probe ``p``'s true identity. A probe whose rank-1 candidate
    is someone else is a miss at every threshold, which −inf encodes for :func:`fnir_at_fpir`.
    """
    best, score = rank1(similarity)
    return np.where(best == np.asarray(mates, np.int64), score, -np.inf)


def rank1_rate(similarity: npt.ArrayLike, mates: npt.ArrayLike) -> float:
    """Share of mated probes whose rank-1 candidate is their mate, regardless of score."""
    best, _ = rank1(similarity)
    return float(np.mean(best == np.asarray(mates, np.int64))) if best.size else 0.0


def identification_curve(mated: Scores, nonmated: Scores) -> IdentificationCurve:
    """FNIR and FPIR at every distinct threshold, strictest first.

    ``mated``: per mated probe, the output of :func:`mated_rank1_scores`;
    ``nonmated``: per non-mated probe, its rank-1 score.
    """
    curve = trade_off(mated, nonmated)
    return IdentificationCurve(curve.thresholds, 1.0 - curve.positive_rate, curve.negative_rate)


def fnir_at_fpir(mated: Scores, nonmated: Scores, fpir: float) -> IdentificationPoint | None:
    """FNIR at the lowest threshold whose FPIR is at most ``fpir``: the threshold to run.

    Returns ``None`` when there are fewer than ``1/fpir`` non-mated probes (see module docs).
    """
    non = _as_scores(nonmated, "non-mated")
    if not enough_for(non.size, fpir):
        return None
    curve = trade_off(mated, non)
    i = _loosest_within(curve, fpir)
    return IdentificationPoint(
        float(curve.thresholds[i]),
        float(1.0 - curve.positive_rate[i]),
        float(curve.negative_rate[i]),
    )


def identification_rates_at(
    mated: Scores, nonmated: Scores, threshold: float
) -> IdentificationPoint:
    """FNIR and FPIR at a given threshold."""
    pos = np.sort(_as_scores(mated, "mated"))
    neg = np.sort(_as_scores(nonmated, "non-mated"))
    t = np.array([threshold], np.float64)
    return IdentificationPoint(
        float(threshold), float(1.0 - _accept_rate(pos, t)[0]), float(_accept_rate(neg, t)[0])
    )
