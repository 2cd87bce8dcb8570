"""The subject of a case as a one-person gallery: the same open-set decision as live matching.

A case's probe templates become a :class:`~watchkeeper.matching.Gallery` of one identity, and
every sighting of a scanned recording is decided by :func:`~watchkeeper.matching.decide` with
the case's threshold and the configured fusion — so a score in an investigation means what
it means in a live alert. A sighting below the threshold yields nothing and is dropped by the
caller, with its crop and templates: nobody else's face reaches the store.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from watchkeeper.domain import FloatArray, Sighting
from watchkeeper.investigations.errors import InvestigationError
from watchkeeper.matching import Fusion, Gallery, decide

SUBJECT = 0  # the one identity of the gallery (person and watchlist id alike)


@dataclass(frozen=True, slots=True)
class Resemblance:
    """A sighting that resembles the subject: its fused score and the probe that scored best."""

    sighting: Sighting
    score: float
    probe_id: int


class ProbeMatcher:
    """Decides which sightings resemble a case's subject."""

    def __init__(
        self,
        probe_ids: npt.NDArray[np.int64],
        probes: FloatArray,
        model: str,
        threshold: float,
        *,
        fusion: Fusion = "max",
        screening_margin: float = 0.12,
    ) -> None:
        if len(probe_ids) == 0:
            raise InvestigationError(
                f"the case has no probe photo made with model {model}: add one first"
            )
        self.model = model
        self.threshold = threshold
        self.fusion: Fusion = fusion
        self.screening_margin = screening_margin
        self.gallery = Gallery(model, int(probes.shape[1]))
        subject = np.full(len(probe_ids), SUBJECT, np.int64)
        self.gallery.add(probe_ids, subject, subject, probes, model=model)

    def screen(self, templates: FloatArray) -> npt.NDArray[np.bool_]:
        """Which closing tracks deserve more templates: only those whose best face comes near
        the subject (``CameraPipeline``'s screen; everyone else costs one embedding)."""
        if len(templates) == 0:
            return np.zeros(0, bool)
        found = self.gallery.search(templates, 1, model=self.model)
        return np.asarray(found.scores[:, 0] >= self.threshold - self.screening_margin)

    def resemblances(self, sightings: list[Sighting]) -> list[Resemblance]:
        """The sightings at or above the case's threshold; all others are left to be dropped."""
        found = []
        for sighting in sightings:
            if len(sighting.templates) == 0:
                continue
            decision = decide(
                sighting.templates,
                self.gallery,
                {SUBJECT: self.threshold},
                self.threshold,
                fusion=self.fusion,
                top_k=1,
                model=sighting.model,
            )
            for verdict in decision.matches:
                found.append(
                    Resemblance(sighting, verdict.candidate.score, verdict.candidate.template_id)
                )
        return found
