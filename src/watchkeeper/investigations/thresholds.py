"""Learning from mistakes: what the reviewers' verdicts say about each threshold.

Every live alert a reviewer rejected, and every investigation candidate reviewed as "is not",
is a false match at the score it had; every confirmed alert or "is the person" a true one.
Per watchlist (and per case), :func:`suggest` reports the false-alert rate observed at the
threshold in force, and the lowest threshold at or above it that would have kept that rate
at or under a target — with the share of confirmed matches that threshold would have missed.

Only raising a threshold can be judged this way: the reviewers never saw what scored below
the threshold in force, so nothing here can say what lowering it would cost.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from watchkeeper.store.investigations import ReviewedScore

STEP = 1e-4  # a threshold just above a score, so that this score falls below it


@dataclass(frozen=True, slots=True)
class Suggestion:
    group: str  # watchlist name, or case:<reference>
    threshold: float  # in force
    reviewed: int  # at or above it
    rejected: int
    false_rate: float | None  # rejected / reviewed at the threshold in force
    suggested: float | None  # None: no threshold meets the target (nothing confirmed left)
    suggested_false_rate: float | None
    miss_rate: float | None  # confirmed ones the suggestion would have missed

    def json(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "threshold": _round(self.threshold),
            "reviewed": self.reviewed,
            "rejected": self.rejected,
            "false_rate": _round(self.false_rate),
            "suggested": _round(self.suggested),
            "suggested_false_rate": _round(self.suggested_false_rate),
            "miss_rate": _round(self.miss_rate),
        }


def suggest(scores: Iterable[ReviewedScore], target: float) -> list[Suggestion]:
    """One suggestion per watchlist or case that has reviewed matches, by name."""
    if not 0 <= target < 1:
        raise ValueError(f"the target false-alert rate must be in [0, 1), not {target}")
    groups: dict[str, list[ReviewedScore]] = defaultdict(list)
    for score in scores:
        groups[score.group].append(score)
    return [_suggest(name, items, target) for name, items in sorted(groups.items())]


def _suggest(name: str, items: list[ReviewedScore], target: float) -> Suggestion:
    threshold = items[0].threshold
    values = np.array([i.score for i in items], np.float64)
    correct = np.array([i.correct for i in items], bool)
    live = values >= threshold
    reviewed, rejected = int(live.sum()), int((live & ~correct).sum())
    false_rate = rejected / reviewed if reviewed else None
    confirmed = int(correct.sum())
    # Candidate thresholds: the one in force, and just above each rejected score over it.
    options = sorted({threshold, *(v + STEP for v in values[live & ~correct])})
    for option in options:
        kept = values >= option
        if not kept.any():
            break
        rate = float((kept & ~correct).sum() / kept.sum())
        if rate <= target:
            missed = int((correct & ~kept).sum())
            return Suggestion(
                name, threshold, reviewed, rejected, false_rate, float(option), rate,
                missed / confirmed if confirmed else None,
            )  # fmt: skip
    return Suggestion(name, threshold, reviewed, rejected, false_rate, None, None, None)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
