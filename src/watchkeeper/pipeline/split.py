"""Splitting a closed track where its embedded faces show two different people.

The tracker follows boxes, not faces: when two people cross, or one sits down where another
stood, a track can carry on from one to the other without any cut in the picture. Its
embedded faces then disagree. Taken in time order, two consecutive embedded faces whose
cosine similarity is below ``same_person`` belong to different people, and the track is cut
between them: every stretch of its life before the later face goes to the earlier part. Each
part becomes its own sighting with its own templates and its own evidence crop, so that a
sighting — and the crop an operator reviews — always shows one person.

The bound is calibrated on the deepface genuine/impostor scores
(docs/decisions/0031-track-splitting.md): it sits below almost every genuine pair, so the same
person is very rarely cut in two (which would cost a duplicate sighting, folded by alerting),
and above most impostor pairs.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from watchkeeper.pipeline.selection import Moment


def split_parts(moments: list[Moment], same_person: float) -> list[list[Moment]]:
    """The track's moments (in time order) cut into parts of one person each.

    Only embedded moments (with a template) speak; the others follow the embedded moment
    before them (or the first one).
    """
    embedded = [i for i, m in enumerate(moments) if m.observation.template is not None]
    starts = [0]
    for before, after in pairwise(embedded):
        a = moments[before].observation.template
        b = moments[after].observation.template
        assert a is not None and b is not None
        if float(np.dot(a, b)) < same_person:
            starts.append(after)
    bounds = [*starts, len(moments)]
    return [moments[start:end] for start, end in pairwise(bounds)]
