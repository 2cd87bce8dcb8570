"""Matching on real SFace templates of real photos (deepface's labelled pairs).

Synthetic vectors prove the mechanics; these prove them on the score distribution the
system will meet: genuine cosines around 0.5–0.98, impostors mostly below 0.36. Identities
are the connected groups of master.csv's same-person pairs (9 people, 25 photos). The
templates are made once per module by the bundled detector and recogniser (about 2 s).
"""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest

from watchkeeper.config import MatchingConfig, VisionConfig
from watchkeeper.matching import Gallery, decide
from watchkeeper.vision import FaceAnalyzer

PAIRS = Path(__file__).parents[3] / "examples" / "data" / "deepface-pairs"
THRESHOLD = MatchingConfig().default_threshold
WATCHLIST = 1


class Photos:
    """Photo names, their identity number and their template, in parallel."""

    def __init__(self, names: list[str], identities: list[int], templates: np.ndarray, model: str):
        self.names = names
        self.identities = np.array(identities)
        self.templates = templates
        self.model = model

    def of(self, identity: int) -> np.ndarray:
        return np.flatnonzero(self.identities == identity)

    def gallery(self, rows: np.ndarray) -> Gallery:
        gallery = Gallery(self.model, self.templates.shape[1])
        gallery.add(
            rows,
            self.identities[rows],
            np.full(len(rows), WATCHLIST),
            self.templates[rows],
            model=self.model,
        )
        return gallery


@pytest.fixture(scope="module")
def photos() -> Photos:
    with (PAIRS / "master.csv").open(newline="", encoding="utf-8") as handle:
        pairs = list(csv.DictReader(handle))
    names = sorted({row[column] for row in pairs for column in ("file_x", "file_y")})
    parent = {name: name for name in names}

    def root(name: str) -> str:
        while parent[name] != name:
            name = parent[name]
        return name

    for row in pairs:
        if row["Decision"] == "Yes":
            parent[root(row["file_x"])] = root(row["file_y"])
    roots = sorted({root(name) for name in names})
    analyzer = FaceAnalyzer.from_config(VisionConfig())
    templates = []
    for name in names:
        found = analyzer.analyse(cv2.imread(str(PAIRS / name)))
        largest = found.faces.largest()
        templates.append(analyzer.embed(found.aligned[largest : largest + 1])[0])
    return Photos(names, [roots.index(root(n)) for n in names], np.stack(templates), analyzer.model)


def enrolled_and_probes(photos: Photos) -> tuple[np.ndarray, np.ndarray]:
    """The first photo of each identity is enrolled; every other photo is a probe."""
    first = np.array([photos.of(identity)[0] for identity in np.unique(photos.identities)])
    return first, np.setdiff1d(np.arange(len(photos.names)), first)


def test_every_probe_photo_finds_its_person_above_the_published_threshold(photos: Photos) -> None:
    enrolled, probes = enrolled_and_probes(photos)
    gallery = photos.gallery(enrolled)
    assert len(np.unique(photos.identities)) == 9 and len(probes) == 16

    for probe in probes:
        decision = decide(photos.templates[probe], gallery, {}, THRESHOLD, model=photos.model)
        best = decision.ranked[0]
        assert best.candidate.person_id == photos.identities[probe], photos.names[probe]
        assert best.matched, (photos.names[probe], best.candidate.score)


def test_a_track_of_several_photos_fuses_to_its_best_pair(photos: Photos) -> None:
    enrolled, _ = enrolled_and_probes(photos)
    gallery = photos.gallery(enrolled)
    person = int(np.bincount(photos.identities).argmax())  # the person with 8 photos
    track = photos.templates[photos.of(person)[1:4]]

    by_max = decide(track, gallery, {}, THRESHOLD, fusion="max", model=photos.model)
    by_mean = decide(track, gallery, {}, THRESHOLD, fusion="mean", model=photos.model)

    pair_scores = track @ photos.templates[photos.of(person)[0]]
    assert by_max.ranked[0].candidate.person_id == person
    assert by_max.ranked[0].candidate.score == pytest.approx(pair_scores.max(), abs=1e-4)
    assert by_mean.ranked[0].candidate.score == pytest.approx(pair_scores.mean(), abs=1e-4)
    assert by_max.ranked[0].candidate.template_id == photos.of(person)[0]


def test_a_person_not_enrolled_scores_below_every_genuine_match(photos: Photos) -> None:
    enrolled, probes = enrolled_and_probes(photos)
    genuine = [
        decide(photos.templates[p], photos.gallery(enrolled), {}, THRESHOLD, model=photos.model)
        .ranked[0]
        .candidate.score
        for p in probes
    ]
    impostor = []
    for identity in np.unique(photos.identities):
        others = enrolled[photos.identities[enrolled] != identity]
        gallery = photos.gallery(others)
        for probe in photos.of(identity):
            decision = decide(photos.templates[probe], gallery, {}, 0.45, model=photos.model)
            assert decision.matches == ()
            assert decision.near_miss is not None
            impostor.append(decision.near_miss.candidate.score)

    assert max(impostor) < min(genuine)
