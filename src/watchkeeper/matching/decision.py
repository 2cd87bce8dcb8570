"""The open-set decision for a sighting: who, if anyone, on which watchlist, did we see?

Open-set means most faces a camera sees belong to nobody in the gallery, so the nearest
enrolled person is only a *candidate*: it becomes a match only at or above the threshold of
its watchlist (lists differ in how costly a false alert is, so each may set its own).

A sighting brings its track's K best templates. Their scores against one identity are fused:

- ``"max"`` (default): the best pair. A track's frames differ in pose, blur and light, and the
  person is recognisable in the best of them; averaging lets one profile frame sink a true
  match. The price is that an impostor also gets K chances, which raises the false-match rate
  at a given threshold — so the threshold must be calibrated on max-fused tracks (the
  evaluation package does so), not on single images.
- ``"mean"``: the mean over the probe templates of each one's best score against that
  identity. Steadier against one odd frame that happens to resemble someone, at the cost of
  true matches seen well in only one frame.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

from watchkeeper.domain import Candidate, FloatArray, Match, Sighting
from watchkeeper.matching.gallery import Eligible, Gallery

Fusion = Literal["max", "mean"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """One ranked candidate and the threshold of its watchlist."""

    candidate: Candidate
    threshold: float

    @property
    def matched(self) -> bool:
        return self.candidate.score >= self.threshold

    @property
    def margin(self) -> float:
        """Score minus threshold: how far above (or below, when negative) the line it fell."""
        return self.candidate.score - self.threshold


@dataclass(frozen=True, slots=True)
class Decision:
    """The candidates of one sighting, best first, each judged against its watchlist.

    ``ranked`` holds at most ``top_k`` eligible identities. Build alerts from
    :meth:`matches_for`; report :attr:`near_miss` only as a count, since a non-match is about
    someone who is not on any list.
    """

    ranked: tuple[Verdict, ...]

    @property
    def matches(self) -> tuple[Verdict, ...]:
        return tuple(verdict for verdict in self.ranked if verdict.matched)

    @property
    def near_miss(self) -> Verdict | None:
        """The below-threshold candidate that came closest to its own watchlist's threshold."""
        misses = [verdict for verdict in self.ranked if not verdict.matched]
        return max(misses, key=lambda verdict: verdict.margin, default=None)

    def matches_for(self, sighting: Sighting) -> list[Match]:
        return [
            Match(
                camera=sighting.camera,
                track_id=sighting.track_id,
                person_id=verdict.candidate.person_id,
                watchlist_id=verdict.candidate.watchlist_id,
                score=verdict.candidate.score,
                threshold=verdict.threshold,
                template_id=verdict.candidate.template_id,
                model=sighting.model,
            )
            for verdict in self.matches
        ]


def decide(
    probe_templates: FloatArray,
    gallery: Gallery,
    thresholds: Mapping[int, float],
    default_threshold: float,
    fusion: Fusion = "max",
    top_k: int = 5,
    eligible: Eligible | None = None,
    *,
    model: str,
) -> Decision:
    """Rank the gallery's identities for a track's (K, D) templates and apply the thresholds.

    ``thresholds`` maps a watchlist id to its threshold; lists not in it use
    ``default_threshold``. ``eligible(person_id, watchlist_id)`` is the policy's say: an
    expired entry or a list outside the caller's authorisation returns False and is never a
    candidate (it is filtered before ranking, so it takes no place in the top_k). ``model``
    names the probe's embedder and must be the gallery's.
    """
    if fusion not in ("max", "mean"):
        raise ValueError(f"fusion must be 'max' or 'mean', got {fusion!r}")
    probes = np.atleast_2d(np.asarray(probe_templates, np.float32))
    identities = gallery.identity_scores(probes, top_k, model=model, eligible=eligible)
    if not len(identities):
        return Decision(ranked=())
    scores = identities.scores  # (K, P)
    fused = scores.max(axis=0) if fusion == "max" else scores.mean(axis=0)
    best_probe = scores.argmax(axis=0)
    best_template = identities.template_ids[best_probe, np.arange(scores.shape[1])]
    limits = np.array(
        [thresholds.get(int(w), default_threshold) for w in identities.watchlist_ids], np.float64
    )
    order = np.argsort(-fused, kind="stable")[:top_k]
    return Decision(
        ranked=tuple(
            Verdict(
                candidate=Candidate(
                    person_id=int(identities.person_ids[i]),
                    watchlist_id=int(identities.watchlist_ids[i]),
                    score=float(fused[i]),
                    template_id=int(best_template[i]),
                ),
                threshold=float(limits[i]),
            )
            for i in order
        )
    )
