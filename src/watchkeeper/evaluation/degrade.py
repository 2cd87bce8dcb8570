"""Recall on CCTV-grade faces: a degradation ladder built from labelled photos.

Studio photos say little about a camera in a hall, where a face is 30–80 pixels high, H.264
compressed, blurred by motion and lit badly. This module re-renders every labelled photo as
such a face and measures recognition *by rung*:

- the face scaled to a height of ``heights`` pixels, in a 320×240 picture around it;
- each picture encoded as H.264 (PyAV, libx264) at each CRF of ``crfs`` and decoded again;
- three variants: as is, with horizontal motion blur (a kernel a tenth of the face high) and
  in low light (gamma 2.5, which darkens mid-tones to a quarter).

A degraded probe is compared with the *clean* template of every other labelled photo (as a
sighting is compared with an enrolment photo), so genuine trials are the photo's mates and
impostor trials everyone else. Per rung: the share of faces detected, the mean quality score
of those detected, TAR at FAR 1 % and 0.1 % (None where too few impostor trials exist to
observe that FAR), and TAR and FMR at the operating threshold (what a deployment gets). A
probe whose face is not detected counts as a miss in every TAR: the rate is what a camera
would deliver.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from watchkeeper.domain import FloatArray, ImageArray
from watchkeeper.evaluation import metrics
from watchkeeper.evaluation.datasets import DatasetError
from watchkeeper.vision import FaceAnalyzer
from watchkeeper.vision.imageio import read_image

HEIGHTS = (24, 32, 40, 48, 64, 80, 112)
CRFS = (23, 28, 33)
VARIANTS = ("plain", "motion blur", "low light")
CANVAS = (320, 240)  # width, height of the picture a degraded face sits in
LOW_LIGHT_GAMMA = 2.5
MAX_PIXELS = 50_000_000  # labelled photos are trusted input, but not unbounded


@dataclass(frozen=True, slots=True)
class RungResult:
    """What one rung of the ladder measured."""

    height: int  # face height in pixels
    crf: int | None  # None: the clean photos, no rendering
    variant: str
    probes: int
    detected: float  # share of probes whose face was found
    mean_quality: float | None  # mean quality score of the faces found
    tar_far_1e2: float | None
    tar_far_1e3: float | None
    tar_at_threshold: float
    fmr_at_threshold: float  # impostor trials accepted at the threshold: false matches
    genuine: int
    impostor: int


def render(image: ImageArray, box: FloatArray, height: int, variant: str) -> ImageArray:
    """The photo scaled so that its face is ``height`` pixels high, cut to the canvas."""
    scale = height / max(float(box[3] - box[1]), 1.0)
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    cx, cy = (box[0] + box[2]) / 2 * scale, (box[1] + box[3]) / 2 * scale
    width, tall = CANVAS
    shift = np.array([[1, 0, width / 2 - cx], [0, 1, tall / 2 - cy]], np.float32)
    canvas = cv2.warpAffine(small, shift, CANVAS, borderMode=cv2.BORDER_REPLICATE)
    if variant == "motion blur":
        length = max(3, round(height / 10))
        kernel = np.full((1, length), 1.0 / length, np.float32)
        canvas = cv2.filter2D(canvas, -1, kernel)
    elif variant == "low light":
        table = (255 * (np.arange(256) / 255.0) ** LOW_LIGHT_GAMMA).astype(np.uint8)
        canvas = cv2.LUT(canvas, table)
    elif variant != "plain":
        raise ValueError(f"unknown variant {variant!r}; use one of {VARIANTS}")
    return np.ascontiguousarray(canvas)


def through_h264(pictures: Sequence[ImageArray], crf: int) -> list[ImageArray]:
    """The pictures encoded as one H.264 stream at ``crf`` and decoded again."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=5)
        stream.width, stream.height = CANVAS
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": "medium"}
        for picture in pictures:
            frame = av.VideoFrame.from_ndarray(picture, format="bgr24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    buffer.seek(0)
    with av.open(buffer, "r") as container:
        return [
            np.asarray(f.to_ndarray(format="bgr24"), np.uint8) for f in container.decode(video=0)
        ]


def _largest(analyzer: FaceAnalyzer, image: ImageArray) -> tuple[FloatArray, float, FloatArray]:
    """(template, quality, box) of the largest face; an empty template when none is found."""
    found = analyzer.analyse(image)
    if not len(found.faces):
        return np.zeros(0, np.float32), 0.0, np.zeros(4, np.float32)
    i = found.faces.largest()
    template = analyzer.embed(found.aligned[i : i + 1])[0]
    return template, float(found.faces.quality[i]), found.faces.boxes[i]


def _rates(
    probes: list[FloatArray], gallery: FloatArray, identity: np.ndarray, threshold: float
) -> dict[str, Any]:
    """Scores of every degraded probe against every other photo's clean template."""
    genuine: list[float] = []
    impostor: list[float] = []
    for i, probe in enumerate(probes):
        for j in range(len(gallery)):
            if i == j:
                continue
            score = float(probe @ gallery[j]) if probe.size else -1.0  # undetected: a miss
            (genuine if identity[i] == identity[j] else impostor).append(score)
    g, m = np.array(genuine), np.array(impostor)
    at = {far: metrics.tar_at_far(g, m, far) for far in (1e-2, 1e-3)}
    return {
        "tar_far_1e2": None if at[1e-2] is None else round(at[1e-2].tar, 4),
        "tar_far_1e3": None if at[1e-3] is None else round(at[1e-3].tar, 4),
        "tar_at_threshold": round(float((g >= threshold).mean()), 4),
        "fmr_at_threshold": round(float((m >= threshold).mean()), 4),
        "genuine": int(g.size),
        "impostor": int(m.size),
    }


def run_ladder(
    analyzer: FaceAnalyzer,
    identities: dict[str, list[Path]],
    threshold: float,
    heights: Sequence[int] = HEIGHTS,
    crfs: Sequence[int] = CRFS,
    variants: Sequence[str] = VARIANTS,
    on_rung: Callable[[], None] | None = None,
) -> list[RungResult]:
    """Measure every rung; the first result is the clean photos themselves."""
    files = [(name, path) for name, paths in identities.items() for path in paths]
    images, boxes, gallery, qualities, names = [], [], [], [], []
    for name, path in files:
        image = read_image(path, MAX_PIXELS)
        template, quality, box = _largest(analyzer, image)
        if template.size:  # a photo without a face cannot be a probe nor a template
            images.append(image)
            boxes.append(box)
            gallery.append(template)
            qualities.append(quality)
            names.append(name)
    if len(set(names)) < 2:
        raise DatasetError("the ladder needs photos of at least two identities with a face")
    templates = np.stack(gallery)
    identity = np.array(names)
    results = [
        RungResult(
            int(np.median([b[3] - b[1] for b in boxes])),
            None,
            "clean",
            len(images),
            1.0,
            round(float(np.mean(qualities)), 3),
            **_rates(list(templates), templates, identity, threshold),
        )
    ]
    for height in heights:
        for variant in variants:
            pictures = [render(im, b, height, variant) for im, b in zip(images, boxes, strict=True)]
            for crf in crfs:
                found = [_largest(analyzer, p) for p in through_h264(pictures, crf)]
                probes = [t for t, _, _ in found]
                seen = [q for t, q, _ in found if t.size]
                results.append(
                    RungResult(
                        height,
                        crf,
                        variant,
                        len(probes),
                        round(len(seen) / len(probes), 3),
                        round(float(np.mean(seen)), 3) if seen else None,
                        **_rates(probes, templates, identity, threshold),
                    )
                )
                if on_rung is not None:
                    on_rung()
    return results


def smallest_within(results: Sequence[RungResult], points: float = 0.10) -> int | None:
    """The smallest face height whose plain rungs all keep TAR at the threshold within
    ``points`` of the clean photos (None: no height does)."""
    clean = results[0].tar_at_threshold
    heights = sorted({r.height for r in results if r.crf is not None})
    good = [
        h
        for h in heights
        if all(
            r.tar_at_threshold >= clean - points
            for r in results
            if r.height == h and r.variant == "plain"
        )
    ]
    # the smallest height from which every larger height stays good too
    for h in heights:
        if all(g in good for g in heights if g >= h):
            return h
    return None


def markdown_table(results: Sequence[RungResult]) -> str:
    """The ladder as a Markdown table (docs/accuracy.md)."""

    def cell(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    lines = [
        "| face px | CRF | variant | detected | mean quality | TAR@FAR 1 % | TAR@FAR 0.1 % "
        "| TAR at threshold | FMR at threshold |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.height} | {r.crf if r.crf is not None else 'photo'} | {r.variant} "
            f"| {r.detected:.2f} | {cell(r.mean_quality)} | {cell(r.tar_far_1e2)} "
            f"| {cell(r.tar_far_1e3)} | {r.tar_at_threshold:.3f} | {r.fmr_at_threshold:.4f} |"
        )
    return "\n".join(lines)


def plot(results: Sequence[RungResult], path: Path, threshold: float) -> Path:
    """Recall against face size (per CRF and variant) and against mean quality, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (by_size, by_quality) = plt.subplots(1, 2, figsize=(11, 4.2))
    rungs = [r for r in results if r.crf is not None]
    for variant, style in zip(VARIANTS, ("-", "--", ":"), strict=True):
        for crf in sorted({r.crf for r in rungs if r.crf is not None}):
            line = sorted((r for r in rungs if r.crf == crf and r.variant == variant),
                          key=lambda r: r.height)  # fmt: skip
            if line:
                by_size.plot([r.height for r in line], [r.tar_at_threshold for r in line],
                             style, marker="o", label=f"CRF {crf}, {variant}")  # fmt: skip
    by_size.axhline(results[0].tar_at_threshold, color="grey", lw=0.8, label="clean photos")
    by_size.set(xlabel="face height (px)", ylabel=f"TAR at threshold {threshold}",
                title="Recall by face size", ylim=(0, 1.02))  # fmt: skip
    by_size.legend(fontsize=6, ncol=2)
    seen = [r for r in rungs if r.mean_quality is not None]
    points = by_quality.scatter([r.mean_quality for r in seen], [r.tar_at_threshold for r in seen],
                                c=[r.height for r in seen], cmap="viridis")  # fmt: skip
    figure.colorbar(points, ax=by_quality, label="face height (px)")
    by_quality.set(xlabel="mean quality score of detected faces", ylabel="TAR at threshold",
                   title="Recall by quality score", ylim=(0, 1.02))  # fmt: skip
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def as_json(results: Sequence[RungResult]) -> list[dict[str, Any]]:
    return [asdict(r) for r in results]
