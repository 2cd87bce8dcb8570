"""Run a verification (1:1) or an open-set identification (1:N) test and keep every number.

The results are dataclasses that hold the raw scores (for the plots) and whose ``summary()``
is plain JSON: what the report, the CLI table and an auditor's archive all read.

Failures to enrol are reported, and the comparisons they would have taken part in are left
out of the error rates (and counted), as ISO/IEC 19795-1 reports FTE separately from FMR and
FNMR. Groups (demographic or any other attribute) are compared at one threshold, as NIST and
the UK NPL report differentials: a verification pair belongs to a group when both of its
images do; an identification probe belongs to its own image's group.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from watchkeeper.domain import FloatArray
from watchkeeper.evaluation import metrics
from watchkeeper.evaluation.datasets import DatasetError, PairSet, group_of
from watchkeeper.evaluation.templates import Probes, Progress, TemplateStore

FAR_TARGETS = (1e-2, 1e-3, 1e-4)
FPIR_TARGETS = (0.1, 0.01, 0.003)
LISTED = 10  # hardest cases listed in a summary, for a person to look at

FloatVector = npt.NDArray[np.float64]


def _rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


@dataclass(frozen=True, slots=True)
class GroupRates:
    """Error rates of one group at the common threshold."""

    group: str
    genuine: int  # genuine pairs / mated probes of the group
    impostor: int  # impostor pairs / non-mated probes of the group
    false_negative_rate: float | None  # FNMR (verify) or FNIR (identify)
    false_positive_rate: float | None  # FMR (verify) or FPIR (identify)


@dataclass(frozen=True, slots=True)
class PairScore:
    """One scored pair, listed in a summary for a person to inspect (a mislabel shows here)."""

    left: str
    right: str
    score: float


@dataclass(slots=True)
class VerificationResult:
    """A 1:1 test: scores of genuine and impostor pairs and the rates derived from them."""

    model: str
    dataset: str
    threshold: float
    images: int
    failures: dict[str, str]
    genuine: FloatVector
    impostor: FloatVector
    pairs_unscored: int
    highest_impostors: list[PairScore] = field(default_factory=list)
    lowest_genuine: list[PairScore] = field(default_factory=list)
    groups: list[GroupRates] = field(default_factory=list)

    @property
    def roc(self) -> metrics.RocCurve:
        return metrics.roc(self.genuine, self.impostor)

    @property
    def at_threshold(self) -> metrics.OperatingPoint:
        return metrics.rates_at(self.genuine, self.impostor, self.threshold)

    @property
    def accuracy(self) -> float:
        """Share of scored pairs decided correctly at ``threshold``."""
        point = self.at_threshold
        correct = point.tar * self.genuine.size + (1 - point.fmr) * self.impostor.size
        return float(correct / (self.genuine.size + self.impostor.size))

    def summary(self) -> dict[str, Any]:
        point = self.at_threshold
        eer = metrics.eer(self.genuine, self.impostor)
        tar = {
            f"{far:g}": None
            if p is None
            else {"tar": p.tar, "fmr": p.fmr, "threshold": p.threshold}
            for far in FAR_TARGETS
            for p in [metrics.tar_at_far(self.genuine, self.impostor, far)]
        }
        return {
            "kind": "verify",
            "model": self.model,
            "dataset": self.dataset,
            "images": self.images,
            "failure_to_enrol": len(self.failures),
            "failure_to_enrol_rate": _rate(len(self.failures), self.images),
            "failures": self.failures,
            "genuine_pairs": int(self.genuine.size),
            "impostor_pairs": int(self.impostor.size),
            "pairs_unscored": self.pairs_unscored,
            "threshold": self.threshold,
            "accuracy": self.accuracy,
            "tar": point.tar,
            "fnmr": point.fnmr,
            "fmr": point.fmr,
            "eer": eer.rate,
            "eer_threshold": eer.threshold,
            "tar_at_far": tar,
            "genuine_score_mean": float(self.genuine.mean()),
            "impostor_score_mean": float(self.impostor.mean()),
            "highest_impostors": [_pair_dict(p) for p in self.highest_impostors],
            "lowest_genuine": [_pair_dict(p) for p in self.lowest_genuine],
            "groups": [_group_dict(g) for g in self.groups],
        }


def _pair_dict(pair: PairScore) -> dict[str, Any]:
    return {"left": pair.left, "right": pair.right, "score": pair.score}


def _group_dict(group: GroupRates) -> dict[str, Any]:
    return {
        "group": group.group,
        "genuine": group.genuine,
        "impostor": group.impostor,
        "false_negative_rate": group.false_negative_rate,
        "false_positive_rate": group.false_positive_rate,
    }


def _groups(
    labels: Sequence[str],
    positive_scores: FloatVector,
    positive_groups: npt.NDArray[np.int64],
    negative_scores: FloatVector,
    negative_groups: npt.NDArray[np.int64],
    threshold: float,
) -> list[GroupRates]:
    """Rates per group at ``threshold``; ``*_groups`` index ``labels`` (−1: no group)."""
    rows = []
    for g, name in enumerate(labels):
        pos = positive_scores[positive_groups == g]
        neg = negative_scores[negative_groups == g]
        rows.append(
            GroupRates(
                group=name,
                genuine=int(pos.size),
                impostor=int(neg.size),
                false_negative_rate=_rate(int((pos < threshold).sum()), pos.size),
                false_positive_rate=_rate(int((neg >= threshold).sum()), neg.size),
            )
        )
    return rows


def _group_index(
    paths: Sequence[Path | None], attributes: dict[str, str]
) -> tuple[list[str], npt.NDArray[np.int64]]:
    """Each path's group as an index into a sorted list of group names (−1: none)."""
    found = [group_of(p, attributes) if p is not None else None for p in paths]
    names = sorted({g for g in found if g is not None})
    lookup = {name: i for i, name in enumerate(names)}
    return names, np.array([lookup.get(g, -1) if g else -1 for g in found], np.int64)


def verify(
    pairs: PairSet,
    store: TemplateStore,
    threshold: float,
    *,
    dataset: str = "",
    attributes: dict[str, str] | None = None,
    on_progress: Progress | None = None,
) -> VerificationResult:
    """Score every pair of ``pairs`` with ``store``'s templates and collect the rates."""
    vectors, ok = store.matrix(pairs.images, on_progress)
    scored = ok[pairs.left] & ok[pairs.right]
    left, right, mated = pairs.left[scored], pairs.right[scored], pairs.mated[scored]
    scores = np.einsum("ij,ij->i", vectors[left], vectors[right]).astype(np.float64)
    if not mated.any() or mated.all():
        raise DatasetError("verification needs both genuine and impostor pairs with faces")

    def listed(rows: np.ndarray) -> list[PairScore]:
        return [
            PairScore(str(pairs.images[left[k]]), str(pairs.images[right[k]]), float(scores[k]))
            for k in rows[:LISTED]
        ]

    impostor_rows, genuine_rows = np.flatnonzero(~mated), np.flatnonzero(mated)
    groups: list[GroupRates] = []
    if attributes:
        names, index = _group_index(pairs.images, attributes)
        same = np.where(index[left] == index[right], index[left], -1)
        groups = _groups(names, scores[mated], same[mated], scores[~mated], same[~mated], threshold)
    return VerificationResult(
        model=store.model,
        dataset=dataset,
        threshold=threshold,
        images=len(pairs.images),
        failures=store.failed(pairs.images),
        genuine=scores[mated],
        impostor=scores[~mated],
        pairs_unscored=int((~scored).sum()),
        highest_impostors=listed(impostor_rows[np.argsort(-scores[impostor_rows])]),
        lowest_genuine=listed(genuine_rows[np.argsort(scores[genuine_rows])]),
        groups=groups,
    )


# ---- identification -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Candidate:
    """A probe's rank-1 candidate, listed in a summary for a person to inspect."""

    probe: str
    identity: str
    score: float


@dataclass(slots=True)
class IdentificationResult:
    """An open-set 1:N test: rank-1 outcomes of mated and non-mated probes, and their rates."""

    model: str
    dataset: str
    threshold: float
    target_fpir: float
    gallery_identities: int
    gallery_templates: int
    distractors: int
    images: int
    failures: dict[str, str]
    mated: FloatVector  # mate's score where it is rank 1, else −inf
    rank1_rate: float
    nonmated: FloatVector  # rank-1 score of each non-mated probe
    nonmated_failures: dict[str, str]  # non-mated images without a usable face
    highest_nonmated: list[Candidate]
    missed_mated: list[Candidate]
    groups: list[GroupRates] = field(default_factory=list)

    @property
    def curve(self) -> metrics.IdentificationCurve:
        return metrics.identification_curve(self.mated, self.nonmated)

    def summary(self) -> dict[str, Any]:
        at = metrics.identification_rates_at(self.mated, self.nonmated, self.threshold)
        run = metrics.fnir_at_fpir(self.mated, self.nonmated, self.target_fpir)
        fnir = {
            f"{fpir:g}": None
            if p is None
            else {"fnir": p.fnir, "fpir": p.fpir, "threshold": p.threshold}
            for fpir in FPIR_TARGETS
            for p in [metrics.fnir_at_fpir(self.mated, self.nonmated, fpir)]
        }
        finite = self.nonmated[np.isfinite(self.nonmated)]
        return {
            "kind": "identify",
            "model": self.model,
            "dataset": self.dataset,
            "gallery_identities": self.gallery_identities,
            "gallery_templates": self.gallery_templates,
            "distractors": self.distractors,
            "images": self.images,
            "failure_to_enrol": len(self.failures),
            "failure_to_enrol_rate": _rate(len(self.failures), self.images),
            "failures": self.failures,
            "mated_probes": int(self.mated.size),
            "nonmated_probes": int(self.nonmated.size),
            "nonmated_unusable": len(self.nonmated_failures),
            "nonmated_failures": self.nonmated_failures,
            "rank1_rate": self.rank1_rate,
            "threshold": self.threshold,
            "fnir": at.fnir,
            "fpir": at.fpir,
            "fnir_at_fpir": fnir,
            "target_fpir": self.target_fpir,
            "threshold_for_target_fpir": None if run is None else run.threshold,
            "nonmated_score_max": _finite(float(finite.max())) if finite.size else None,
            "highest_nonmated": [_cand(c) for c in self.highest_nonmated],
            "missed_mated": [_cand(c) for c in self.missed_mated],
            "groups": [_group_dict(g) for g in self.groups],
        }


def _cand(c: Candidate) -> dict[str, Any]:
    return {"probe": c.probe, "identity": c.identity, "score": c.score}


def random_distractors(count: int, dimension: int, seed: int = 0) -> FloatArray:
    """Synthetic distractor templates: unit vectors uniform on the sphere.

    They grow the gallery to any size in seconds. Against any face a random unit vector in D
    dimensions scores about N(0, 1/D), so the best of n of them scores about √(2·ln n / D):
    ≈ 0.39 for n = 100 000 and D = 128 (SFace). That is a real rise in FPIR with gallery size,
    but a model of it, not a measurement: real non-mated faces score higher on average (their
    mean is ≈ 0.14 here) and have their own tail. Real faces of other people are the more
    honest distractors when they are available.
    """
    vectors = np.random.default_rng(seed).standard_normal((count, dimension), dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


class _Gallery:
    """Templates sorted by identity, searched by fused (max) score per identity."""

    def __init__(
        self, vectors: FloatArray, owners: npt.NDArray[np.int64], names: list[str]
    ) -> None:
        order = np.argsort(owners, kind="stable")
        self.vectors = np.ascontiguousarray(vectors[order])
        owners = owners[order]
        self.starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])
        self.names = names

    def rank1(
        self, probes: FloatArray, chunk_cells: int = 32_000_000
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rank-1 identity and score per probe, in chunks so that memory stays bounded."""
        step = max(1, chunk_cells // max(1, len(self.vectors)))
        best_ids, best_scores = [], []
        for start in range(0, len(probes), step):
            scores = probes[start : start + step] @ self.vectors.T
            per_identity = np.maximum.reduceat(scores, self.starts, axis=1)
            ids, top = metrics.rank1(per_identity)
            best_ids.append(ids)
            best_scores.append(top)
        if not best_ids:
            return np.zeros(0, np.int64), np.zeros(0, np.float64)
        return np.concatenate(best_ids), np.concatenate(best_scores)


def _hardest(
    sources: Sequence[str], ids: np.ndarray, scores: np.ndarray, names: list[str], order: np.ndarray
) -> list[Candidate]:
    return [Candidate(sources[i], names[ids[i]], float(scores[i])) for i in order[:LISTED]]


def identify(
    identities: dict[str, list[Path]],
    store: TemplateStore,
    nonmated: Probes,
    threshold: float,
    *,
    enrol_per_identity: int = 1,
    distractors: int = 0,
    seed: int = 0,
    target_fpir: float = 0.01,
    dataset: str = "",
    attributes: dict[str, str] | None = None,
    on_progress: Progress | None = None,
) -> IdentificationResult:
    """Enrol the first ``enrol_per_identity`` photos of each identity, search the rest.

    The remaining photos of an enrolled identity are its mated probes; ``nonmated`` are probes
    of people not enrolled. ``distractors`` synthetic identities (see :func:`random_distractors`,
    drawn with ``seed``) grow the gallery.
    """
    if enrol_per_identity < 1:
        raise ValueError("enrol at least one photo per identity")
    paths = [p for files in identities.values() for p in files]
    vectors, ok = store.matrix(paths, on_progress)
    names: list[str] = []
    gallery, owners, probe_rows, mates = [], [], [], []
    row = 0
    for name, files in identities.items():
        usable = [row + k for k in range(len(files)) if ok[row + k]]
        row += len(files)
        if not usable:
            continue
        gallery += usable[:enrol_per_identity]
        owners += [len(names)] * len(usable[:enrol_per_identity])
        probe_rows += usable[enrol_per_identity:]
        mates += [len(names)] * len(usable[enrol_per_identity:])
        names.append(name)
    if not probe_rows:
        raise DatasetError(
            f"no mated probes: every identity needs more than {enrol_per_identity} photo(s) "
            "with a face, the first enrolled and the rest searched"
        )
    gallery_vectors = vectors[gallery]
    owner_ids = np.array(owners, np.int64)
    if distractors:
        extra = random_distractors(distractors, vectors.shape[1], seed)
        gallery_vectors = np.concatenate([gallery_vectors, extra])
        owner_ids = np.r_[owner_ids, len(names) + np.arange(distractors)]
    labels = names + [f"distractor-{k}" for k in range(distractors)]
    search = _Gallery(gallery_vectors, owner_ids, labels)

    mate_ids = np.array(mates, np.int64)
    mated_best, mated_top = search.rank1(vectors[probe_rows])
    mated_scores = np.where(mated_best == mate_ids, mated_top, -np.inf)
    if len(nonmated):
        non_best, non_top = search.rank1(nonmated.vectors)
    else:
        non_best, non_top = np.zeros(0, np.int64), np.zeros(0, np.float64)

    probe_paths = [paths[r] for r in probe_rows]
    missed = np.flatnonzero(mated_scores < threshold)
    missed = missed[np.argsort(mated_top[missed])]
    groups: list[GroupRates] = []
    if attributes:
        group_names, index = _group_index(probe_paths + nonmated.paths, attributes)
        groups = _groups(
            group_names,
            mated_scores,
            index[: len(probe_paths)],
            non_top,
            index[len(probe_paths) :],
            threshold,
        )
    return IdentificationResult(
        model=store.model,
        dataset=dataset,
        threshold=threshold,
        target_fpir=target_fpir,
        gallery_identities=len(names),
        gallery_templates=len(gallery),
        distractors=distractors,
        images=len(paths),
        failures=store.failed(paths),
        mated=mated_scores,
        rank1_rate=float(np.mean(mated_best == mate_ids)),
        nonmated=non_top,
        nonmated_failures=nonmated.failures,
        highest_nonmated=_hardest(
            nonmated.sources, non_best, non_top, labels, np.argsort(-non_top)
        ),
        missed_mated=_hardest([str(p) for p in probe_paths], mated_best, mated_top, labels, missed),
        groups=groups,
    )
