"""Motion-gated detection: the face detector runs only where the picture changed.

Most cameras look at an empty or unchanging scene most of the time, and the detector is the
cost of every analysed frame. What NVRs do, done here in front of the detector: a small grey
copy of each analysed frame is compared with the previous one, and

- where nothing moved and no face was seen, the detector does not run at all;
- a face seen on the previous frame whose surroundings did not change is carried over as it
  was (the pixels are the same, so the detector would say the same), which keeps its track
  alive without a detection;
- otherwise the detector runs only on the moving regions and around faces that moved, packed
  side by side (padded, apart) onto one canvas as wide as the frame, so that one detector call
  sees every region at the same scale as a whole-frame pass would;
- when those regions would cost more than ``max_share`` of a whole-frame pass, the whole
  frame is detected as before;
- every ``refresh_s`` seconds of video the whole frame is detected again, unless the picture
  is still the one last detected whole (no part of it differs from that frame by the motion
  threshold): a slow change of light, which no two consecutive frames show, is caught there,
  while a still scene pays for no detector at all;
- after ``sleep_after_s`` with nothing moving and no face in view the gate reports the camera
  :attr:`~MotionGatedAnalyzer.still`, and its source may then decode key frames only
  (``streams.keyframes``) until one of them shows motion;
- a camera's region of interest (``pipeline.region``: where faces count) bounds all of this:
  motion outside it (grown by ``REGION_PAD``) is not motion — a screen, a road or trees in
  the wind there neither cost a detection nor keep the camera awake — a whole-frame
  detection covers only the band of rows that holds it (grown by ``BAND_PAD``), and faces
  outside it are dropped here already, so a poster's face cannot hold the camera awake.

Faces found on the canvas are mapped back to frame pixels and aligned from the frame itself,
so their crops and quality are those of a whole-frame pass. :class:`MotionGatedAnalyzer`
wraps whatever the pipeline analyses with (a ``FaceAnalyzer`` or the service's shared
inference) and offers the same three members, so the pipeline does not change.

Frames taller than wide gain only from skipping and carrying: their canvas cannot be made
shorter than the frame without changing the detector's scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from watchkeeper.config import MotionConfig
from watchkeeper.domain import Faces, FloatArray, ImageArray
from watchkeeper.pipeline.preview import grey_preview
from watchkeeper.pipeline.region import filled, inside
from watchkeeper.vision import AnalysedFaces
from watchkeeper.vision.boxes import iou_matrix

REGION_PAD = 0.04  # a moving region grows by this share of the frame's shorter side
# The rows a region of interest spans grow by this share of the frame's shorter side for a
# whole-frame detection: a face whose centre lies on the region's edge sticks out of it by
# half its size (108 px at 1080p: faces up to twice that are whole).
BAND_PAD = 0.1
# ... and its edges are rounded out to a multiple of this many rows: at the detector's usual
# scales (1, 2/3, 1/3: a 720p, 1080p or 4K frame fitted to 1280 px) the band then begins on its
# coarsest grid (32 px) and resamples exactly as the whole frame's rows do, so the detector
# sees the same pixels there (on the crowd clip, the same sightings; unaligned, two faces at the
# region's edge and at the score threshold came out differently).
BAND_ALIGN = 96
BAND_MAX_SHARE = 0.9  # a band taller than this share of the frame: detect the whole frame
FACE_PAD = 1.0  # a face's surroundings: its box grown by this many face sizes on each side
TILE_GAP = 16  # blank pixels between regions on the canvas, so no face spans two


class Analyzer(Protocol):
    """What a camera pipeline analyses with (``FaceAnalyzer``, the service's inference)."""

    @property
    def model(self) -> str: ...

    def analyse(self, image: ImageArray) -> AnalysedFaces: ...

    def embed(self, aligned: np.ndarray) -> FloatArray: ...


class DetectingAnalyzer(Analyzer, Protocol):
    """An analyser that can also detect alone: what the gate wraps. Faces found on its canvas
    are aligned from the frame, so aligning them on the canvas too would be wasted."""

    def detect(self, image: ImageArray) -> Faces: ...


@dataclass(slots=True)
class MotionStats:
    """What the gate did, frame by frame: for benchmarks and the camera's status."""

    frames: int = 0
    whole: int = 0  # frames detected whole
    regions: int = 0  # frames detected in regions only
    skipped: int = 0  # frames on which the detector did not run
    carried: int = 0  # faces carried over unchanged from the previous frame
    detected_share: float = 0.0  # sum over frames of the pixels detected / a whole frame's


Box = tuple[int, int, int, int]  # x1, y1, x2, y2 in frame pixels, x2 and y2 exclusive


class MotionGatedAnalyzer:
    """Runs the detector of ``analyzer`` only where one camera's picture changed.

    One per camera: it remembers that camera's previous frame and faces. ``analysis_fps`` is
    the camera's analysis rate, which turns ``refresh_s`` into a number of frames; ``region``
    is the camera's region of interest (``pipeline.region``), if it has one.
    """

    def __init__(
        self,
        analyzer: DetectingAnalyzer,
        config: MotionConfig,
        analysis_fps: float,
        region: tuple[float, ...] | None = None,
    ) -> None:
        self.analyzer = analyzer
        self.config = config
        self.region = region
        self._region_mask: np.ndarray | None = None  # the region on the small copies, grown
        self.refresh_frames = max(1, round(config.refresh_s * analysis_fps))
        self.sleep_frames = round(config.sleep_after_s * analysis_fps)
        self.stats = MotionStats()
        self._quiet = 0  # frames in a row with no detector run and no face
        self._previous: np.ndarray | None = None
        self._reference: np.ndarray | None = None  # the small copy of the last whole frame
        self._faces: AnalysedFaces | None = None
        self._since_whole = 0

    @property
    def model(self) -> str:
        return self.analyzer.model

    def embed(self, aligned: np.ndarray) -> FloatArray:
        return self.analyzer.embed(aligned)

    @property
    def still(self) -> bool:
        """Nothing moved and no face was in view for ``sleep_after_s``: key frames will do."""
        return 0 < self.sleep_frames <= self._quiet

    def moved(self, image: ImageArray) -> bool:
        """Whether ``image`` differs anywhere from the last frame analysed by the motion
        threshold, without analysing it: what a source read at rest asks before a key frame
        is analysed, to go back first to the frames it left undecoded since the one before."""
        previous, small = self._previous, _small_grey(image)
        if previous is None or previous.shape != small.shape:
            return True
        return bool(self._changed(small, previous).any())

    def analyse(self, image: ImageArray) -> AnalysedFaces:
        self.stats.frames += 1
        small = _small_grey(image)
        previous, self._previous = self._previous, small
        self._since_whole += 1
        if previous is None or previous.shape != small.shape or self._faces is None:
            return self._whole(image, small)
        if self._since_whole >= self.refresh_frames:
            # every frame since the last whole one had this one's size (a new size is whole)
            reference = self._reference
            if reference is None or self._changed(small, reference).any():
                return self._whole(image, small)
            self._since_whole = 0
        moving = self._changed(small, previous)
        height, width = image.shape[:2]
        scale = moving.shape[1] / width
        pad = REGION_PAD * min(width, height)
        to_scan = [_grow(box, pad) for box in _moving_boxes(moving, 1 / scale)]
        faces = self._faces
        surroundings = [
            _clip(_grow(_int_box(box), max(pad, FACE_PAD * _side(box))), width, height)
            for box in faces.faces.boxes
        ]
        carried = np.array([not _moved(moving, box, scale) for box in surroundings], bool)
        to_scan += [box for box, kept in zip(surroundings, carried, strict=True) if not kept]
        regions = _merge([_clip(box, width, height) for box in to_scan])
        kept = _subset(faces, carried)
        self._quiet = 0 if regions or len(kept.faces) else self._quiet + 1
        if not regions:
            self.stats.skipped += 1
            self.stats.carried += len(kept.faces)
            self._faces = kept
            return kept
        layout, canvas_height = _pack(regions, width)
        canvas_height = canvas_height if width >= height else height
        share = canvas_height / height
        if share > self.config.max_share:
            return self._whole(image, small)
        self.stats.regions += 1
        self.stats.carried += len(kept.faces)
        self.stats.detected_share += share
        found = self._within(image, self._detect(image, regions, layout, canvas_height))
        self._faces = _concat(kept, _subset(found, ~_covered(found.faces, kept.faces)))
        return self._faces

    def _whole(self, image: ImageArray, small: np.ndarray) -> AnalysedFaces:
        self._quiet = 0
        self.stats.whole += 1
        self._since_whole = 0
        self._reference = small
        height, width = image.shape[:2]
        band = self._band(width, height)
        if band is None:
            self.stats.detected_share += 1.0
            self._faces = self._within(image, self.analyzer.analyse(image))
        else:
            top, bottom = band
            self.stats.detected_share += (bottom - top) / height
            found = self._detect(image, [(0, top, width, bottom)], [(0, 0)], bottom - top)
            self._faces = self._within(image, found)
        return self._faces

    def _changed(self, small: np.ndarray, before: np.ndarray) -> np.ndarray:
        """Where ``small`` differs from ``before`` by the motion threshold, within the region."""
        moving = _motion_mask(small, before, self.config.threshold)
        if self.region is None:
            return moving
        if self._region_mask is None or self._region_mask.shape != moving.shape:
            self._region_mask = _region_mask(self.region, moving.shape)
        return cv2.bitwise_and(moving, self._region_mask)

    def _band(self, width: int, height: int) -> tuple[int, int] | None:
        """The rows a whole-frame detection needs: those of the region, grown; None for all
        (no region, a band nearly as tall as the frame, or a frame taller than wide, whose
        canvas cannot be shorter than the frame without changing the detector's scale)."""
        if self.region is None or width < height:
            return None
        ys = self.region[1::2]
        pad = BAND_PAD * min(width, height)
        top = max(0, math.floor((min(ys) * height - pad) / BAND_ALIGN) * BAND_ALIGN)
        bottom = min(height, math.ceil((max(ys) * height + pad) / BAND_ALIGN) * BAND_ALIGN)
        return None if bottom - top > BAND_MAX_SHARE * height else (top, bottom)

    def _within(self, image: ImageArray, analysed: AnalysedFaces) -> AnalysedFaces:
        """The faces whose centre lies in the region: the only ones that count."""
        if self.region is None or len(analysed.faces) == 0:
            return analysed
        height, width = image.shape[:2]
        return _subset(analysed, inside(self.region, analysed.faces.boxes, width, height))

    def _detect(
        self,
        image: ImageArray,
        regions: list[Box],
        layout: list[tuple[int, int]],
        canvas_height: int,
    ) -> AnalysedFaces:
        """Detect on the packed canvas; faces in frame pixels, aligned from the frame."""
        canvas = np.zeros((canvas_height, image.shape[1], 3), np.uint8)
        for (x1, y1, x2, y2), (left, top) in zip(regions, layout, strict=True):
            canvas[top : top + y2 - y1, left : left + x2 - x1] = image[y1:y2, x1:x2]
        faces = self.analyzer.detect(canvas)
        if len(faces) == 0:
            return AnalysedFaces.empty()
        centres = (faces.boxes[:, :2] + faces.boxes[:, 2:]) / 2
        shift = np.full((len(faces), 2), np.nan, np.float32)
        for (x1, y1, x2, y2), (left, top) in zip(regions, layout, strict=True):
            inside = (
                (centres[:, 0] >= left)
                & (centres[:, 0] < left + x2 - x1)
                & (centres[:, 1] >= top)
                & (centres[:, 1] < top + y2 - y1)
            )
            shift[inside] = (x1 - left, y1 - top)
        placed = ~np.isnan(shift[:, 0])
        faces, shift = faces[placed], shift[placed]
        faces.boxes = faces.boxes + np.tile(shift, 2)
        faces.landmarks = faces.landmarks + shift[:, None, :]
        faces = faces[_distinct(faces)]  # overlapping regions find some faces twice
        return AnalysedFaces.of(image, faces)


def _small_grey(image: ImageArray) -> np.ndarray:
    """The frame's grey preview, blurred: cheap to compare, and deaf to pixel noise."""
    return cv2.GaussianBlur(grey_preview(image), (3, 3), 0)


def _motion_mask(small: np.ndarray, previous: np.ndarray, threshold: int) -> np.ndarray:
    changed = (cv2.absdiff(small, previous) >= threshold).astype(np.uint8)
    return cv2.dilate(changed, np.ones((3, 3), np.uint8))


def _region_mask(region: tuple[float, ...], shape: tuple[int, ...]) -> np.ndarray:
    """``region`` on a mask of ``shape``, grown by ``REGION_PAD`` of its shorter side: someone
    walking in moves there before their face's centre crosses the edge."""
    height, width = shape[:2]
    grow = 2 * math.ceil(REGION_PAD * min(height, width)) + 1
    return cv2.dilate(filled(region, height, width), np.ones((grow, grow), np.uint8))


def _moving_boxes(moving: np.ndarray, scale: float) -> list[Box]:
    """The bounding boxes of the moving blobs, in frame pixels (mask pixels × ``scale``)."""
    if not moving.any():
        return []
    count, _, blobs, _ = cv2.connectedComponentsWithStats(moving, connectivity=8)
    return [
        (math.floor(x * scale), math.floor(y * scale),
         math.ceil((x + w) * scale), math.ceil((y + h) * scale))
        for x, y, w, h, _ in blobs[1:count]
    ]  # fmt: skip


def _moved(moving: np.ndarray, box: Box, scale: float) -> bool:
    x1, y1, x2, y2 = (math.floor(box[0] * scale), math.floor(box[1] * scale),
                      math.ceil(box[2] * scale), math.ceil(box[3] * scale))  # fmt: skip
    return bool(moving[max(0, y1) : max(0, y2), max(0, x1) : max(0, x2)].any())


def _int_box(box: FloatArray) -> Box:
    return (math.floor(box[0]), math.floor(box[1]), math.ceil(box[2]), math.ceil(box[3]))


def _side(box: FloatArray) -> float:
    return float(min(box[2] - box[0], box[3] - box[1]))


def _grow(box: Box, pad: float) -> Box:
    step = math.ceil(pad)
    return (box[0] - step, box[1] - step, box[2] + step, box[3] + step)


def _clip(box: Box, width: int, height: int) -> Box:
    return (max(0, box[0]), max(0, box[1]), min(width, box[2]), min(height, box[3]))


def _overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _area(box: Box) -> int:
    return (box[2] - box[0]) * (box[3] - box[1])


def _merge(boxes: list[Box]) -> list[Box]:
    """Join overlapping boxes where the join costs no more pixels than the two apart.

    Joining every overlap would snowball into one box over half the frame; boxes that still
    overlap are detected apart, and the faces found twice are told apart afterwards.
    """
    merged = [b for b in boxes if b[2] > b[0] and b[3] > b[1]]
    changed = True
    while changed:
        changed = False
        out: list[Box] = []
        for box in merged:
            for index, other in enumerate(out):
                joined = (min(box[0], other[0]), min(box[1], other[1]),
                          max(box[2], other[2]), max(box[3], other[3]))  # fmt: skip
                if _overlaps(box, other) and _area(joined) <= _area(box) + _area(other):
                    out[index] = joined
                    changed = True
                    break
            else:
                out.append(box)
        merged = out
    return merged


def _pack(regions: list[Box], width: int) -> tuple[list[tuple[int, int]], int]:
    """Shelf-pack the regions into rows of ``width``; their top-left corners and the height."""
    order = sorted(range(len(regions)), key=lambda i: regions[i][1] - regions[i][3])
    places: list[tuple[int, int]] = [(0, 0)] * len(regions)
    x = y = row = 0
    for index in order:
        w, h = regions[index][2] - regions[index][0], regions[index][3] - regions[index][1]
        if x and x + w > width:
            x, y, row = 0, y + row + TILE_GAP, 0
        places[index] = (x, y)
        x, row = x + w + TILE_GAP, max(row, h)
    return places, y + row


def _distinct(faces: Faces, same: float = 0.5) -> np.ndarray:
    """Indices of the faces to keep: of boxes overlapping by more than ``same``, the surest."""
    overlap = iou_matrix(faces.boxes, faces.boxes)
    kept: list[int] = []
    for index in np.argsort(-faces.scores, kind="stable"):
        if all(overlap[index, other] <= same for other in kept):
            kept.append(int(index))
    return np.array(sorted(kept), np.int64)


def _covered(found: Faces, carried: Faces, share: float = 0.5) -> np.ndarray:
    """Which found faces lie mostly inside a carried face: found again, or cut by a region."""
    if len(found) == 0 or len(carried) == 0:
        return np.zeros(len(found), bool)
    a, b = found.boxes, carried.boxes
    w = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    h = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.clip(w, 0, None) * np.clip(h, 0, None)
    area = np.maximum((a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]), 1e-6)
    return np.asarray((inter / area[:, None] > share).any(axis=1))


def _subset(analysed: AnalysedFaces, keep: np.ndarray) -> AnalysedFaces:
    if keep.all():
        return analysed
    return AnalysedFaces(faces=analysed.faces[keep], aligned=analysed.aligned[keep])


def _concat(a: AnalysedFaces, b: AnalysedFaces) -> AnalysedFaces:
    if len(a.faces) == 0:
        return b
    if len(b.faces) == 0:
        return a
    faces = Faces(
        boxes=np.concatenate([a.faces.boxes, b.faces.boxes]),
        landmarks=np.concatenate([a.faces.landmarks, b.faces.landmarks]),
        scores=np.concatenate([a.faces.scores, b.faces.scores]),
        quality=np.concatenate([a.faces.quality, b.faces.quality]),
    )
    return AnalysedFaces(faces=faces, aligned=np.concatenate([a.aligned, b.aligned]))


def motion_gated(
    analyzer: DetectingAnalyzer,
    config: MotionConfig,
    analysis_fps: float,
    enabled: bool | None = None,
    region: tuple[float, ...] | None = None,
) -> Analyzer:
    """``analyzer`` behind a motion gate where the camera (``enabled``) or the default says
    so, bounded by the camera's ``region`` of interest if it has one."""
    on = config.enabled if enabled is None else enabled
    return MotionGatedAnalyzer(analyzer, config, analysis_fps, region) if on else analyzer
