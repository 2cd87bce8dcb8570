"""Realistic gallery templates: real SFace templates plus synthetic identities spread like them.

Random unit vectors are a poor stand-in for face templates: real ones crowd into a few
directions (a long-tailed eigen-spectrum, a shared mean direction) and an index's recall and
speed depend on exactly that. So the gallery bench starts from the real thing:

1. every face of the example photos and clip (``examples/data``) is detected, aligned and
   embedded with the bundled models; identities come from the genuine pairs of deepface's
   ``master.csv`` and ``face-recognition-pivot.csv`` (connected components);
2. synthetic identity centres are drawn from a Gaussian with the real templates' mean and
   covariance (its eigenvectors, eigenvalues scaled by ``between``), and each template of an
   identity adds isotropic noise of ``within`` per dimension;
3. ``between`` and ``within`` are fitted so that the synthetic genuine and impostor cosines
   have the real ones' means (genuine ≈ 0.77 and impostor ≈ 0.14 for SFace here).

The fit's report (real against synthetic: genuine and impostor cosine mean and spread, and
the effective dimensionality of the templates) is printed with the bench's results.
"""

from __future__ import annotations

import csv
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from watchkeeper.config import VisionConfig
from watchkeeper.vision import FaceAnalyzer

EXAMPLES = Path(__file__).parents[1] / "examples" / "data"
PAIR_LISTS = ("master.csv", "face-recognition-pivot.csv")
CLIP_EVERY = 25  # frames of the clip between sampled frames (people move on in a second)


def unit(x: np.ndarray) -> np.ndarray:
    return np.asarray(x / np.linalg.norm(x, axis=-1, keepdims=True), np.float32)


@dataclass
class RealTemplates:
    """Real SFace templates; ``labels`` name an identity, or are ``-1`` where unknown."""

    vectors: np.ndarray
    labels: np.ndarray


def _identities(folder: Path) -> dict[str, int]:
    """File name → identity number, from the genuine pairs of the pair lists."""
    parent: dict[str, str] = {}

    def find(name: str) -> str:
        parent.setdefault(name, name)
        while parent[name] != name:
            name = parent[name]
        return name

    for listing in PAIR_LISTS:
        with (folder / listing).open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                decision = row.get("Decision") or row.get("decision") or ""
                left, right = Path(row["file_x"]).name, Path(row["file_y"]).name
                find(left), find(right)
                if decision.strip().lower() == "yes":
                    parent[find(left)] = find(right)
    roots = sorted({find(name) for name in parent})
    number = {root: i for i, root in enumerate(roots)}
    return {name: number[find(name)] for name in parent}


def real_templates(analyzer: FaceAnalyzer | None = None) -> RealTemplates:
    """Every face of the example photos (labelled where the pair lists say) and of the clip."""
    analyzer = analyzer or FaceAnalyzer.from_config(VisionConfig())
    folder = EXAMPLES / "deepface-pairs"
    known = _identities(folder)
    vectors, labels = [], []
    photos = sorted(folder.glob("*.jpg")) + sorted((EXAMPLES / "facenet-pytorch").rglob("*.jpg"))
    for path in photos:
        image = cv2.imread(str(path))
        if image is None:
            continue
        found = analyzer.analyse(image)
        if not len(found.faces):
            continue
        label = known.get(path.name, -1)
        if label >= 0:  # a labelled photo shows its person as the largest face
            largest = found.faces.largest()
            vectors.append(analyzer.embed(found.aligned[largest : largest + 1]))
            labels.append(label)
        else:
            vectors.append(analyzer.embed(found.aligned))
            labels.extend([-1] * len(found.faces))
    with av.open(str(EXAMPLES / "video" / "facenet-pytorch-video.mp4")) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index % CLIP_EVERY:
                continue
            found = analyzer.analyse(frame.to_ndarray(format="bgr24"))
            if len(found.faces):
                vectors.append(analyzer.embed(found.aligned))
                labels.extend([-1] * len(found.faces))
    return RealTemplates(np.concatenate(vectors).astype(np.float32), np.asarray(labels))


def _pair_cosines(vectors: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cosines of genuine pairs (same label) and impostor pairs (different labels)."""
    genuine, impostor = [], []
    labelled = np.flatnonzero(labels >= 0)
    for i, j in itertools.combinations(labelled, 2):
        (genuine if labels[i] == labels[j] else impostor).append(float(vectors[i] @ vectors[j]))
    return np.asarray(genuine), np.asarray(impostor)


def effective_dimension(vectors: np.ndarray) -> float:
    """Participation ratio of the covariance spectrum: 128 for isotropic data, ~1 for a line."""
    eigen = np.clip(np.linalg.eigvalsh(np.cov(vectors, rowvar=False)), 0, None)
    return float(eigen.sum() ** 2 / (eigen**2).sum())


class FaceSpread:
    """Draws synthetic identities and templates with the spread of real templates."""

    def __init__(self, real: RealTemplates, seed: int = 0) -> None:
        self.real = real
        self.dimension = real.vectors.shape[1]
        self.mean = real.vectors.mean(axis=0)
        eigen, basis = np.linalg.eigh(np.cov(real.vectors, rowvar=False))
        # a few hundred templates leave small eigenvalues noisy: floor them at 1 % of the mean
        eigen = np.clip(eigen, 0.01 * eigen.mean(), None)
        self.factor = (basis * np.sqrt(eigen)).astype(np.float32)
        self.rng = np.random.default_rng(seed)
        self.genuine, self.impostor = _pair_cosines(real.vectors, real.labels)
        self.between, self.within = self._fit()

    def centres(self, count: int, between: float | None = None) -> np.ndarray:
        scale = self.between if between is None else between
        z = self.rng.standard_normal((count, self.dimension), np.float32)
        return (self.mean + scale * z @ self.factor.T).astype(np.float32)

    def views(self, centres: np.ndarray, within: float | None = None) -> np.ndarray:
        sigma = self.within if within is None else within
        noise = self.rng.standard_normal(centres.shape, np.float32)
        return unit(centres + sigma * noise)

    def _stats(self, between: float, within: float, count: int = 4000) -> tuple[float, float]:
        centres = self.centres(count, between)
        first, second = self.views(centres, within), self.views(centres, within)
        genuine = float(np.mean((first * second).sum(axis=1)))
        impostor = float(np.mean((first * np.roll(second, 1, axis=0)).sum(axis=1)))
        return genuine, impostor

    def _fit(self) -> tuple[float, float]:
        """``between`` for the impostor mean, then ``within`` for the genuine mean; repeated."""
        target_genuine, target_impostor = float(self.genuine.mean()), float(self.impostor.mean())
        between, within = 1.0, 0.02
        for _ in range(4):
            within = _bisect(lambda w, b=between: target_genuine - self._stats(b, w)[0], 1e-4, 0.5)
            between = _bisect(lambda b, w=within: target_impostor - self._stats(b, w)[1], 0.05, 4.0)
        return between, within

    def report(self, vectors: np.ndarray, persons: np.ndarray) -> dict[str, Any]:
        """Real against synthetic: pair cosines and effective dimensionality."""
        rows = np.flatnonzero(persons[:-1] == persons[1:])[:5000]
        genuine = (vectors[rows] * vectors[rows + 1]).sum(axis=1)
        pick = self.rng.choice(len(vectors), (5000, 2))
        distinct = persons[pick[:, 0]] != persons[pick[:, 1]]
        impostor = (vectors[pick[distinct, 0]] * vectors[pick[distinct, 1]]).sum(axis=1)

        def spread(x: np.ndarray) -> str:
            return f"{x.mean():.3f} ± {x.std():.3f}" if len(x) else "-"

        return {
            "real_templates": len(self.real.vectors),
            "real_identities_labelled": len(set(self.real.labels[self.real.labels >= 0])),
            "genuine_cosine": {"real": spread(self.genuine), "synthetic": spread(genuine)},
            "impostor_cosine": {"real": spread(self.impostor), "synthetic": spread(impostor)},
            "effective_dimension": {
                "real": round(effective_dimension(self.real.vectors), 1),
                "synthetic": round(effective_dimension(vectors[:20000]), 1),
                "isotropic": float(self.dimension),
            },
            "between": round(self.between, 4),
            "within": round(self.within, 5),
        }


def _bisect(f: Any, low: float, high: float, steps: int = 14) -> float:
    """The root of an increasing ``f`` between ``low`` and ``high``."""
    for _ in range(steps):
        middle = (low + high) / 2
        if f(middle) > 0:
            high = middle
        else:
            low = middle
    return (low + high) / 2
