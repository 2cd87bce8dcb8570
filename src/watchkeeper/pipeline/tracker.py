"""Following faces through the frames of one camera.

Why track at all: a person walking past a camera is detected in dozens of frames. Matching
every detection would cost an embedding per frame and raise an alert per frame. A track
groups one person's detections so that only its best few frames are embedded and the person
yields one sighting, matched once. Which frames those are is ``pipeline.selection``'s job: the
tracker offers it every face, whatever its quality.

The association is by box geometry only (no appearance), which is enough at the analysis
rates used (5 frames/s and up): each open track predicts its next box with a constant
velocity, detections are paired with predictions greedily by overlap, and a detection that
does not overlap any prediction may still continue a track whose centre is close and whose
size is similar (a face that moved fast between two analysed frames). A track seen only once
has no velocity to predict with yet: it reaches further for its second detection, where no
other track or detection is in reach (someone crossing the picture). Unpaired detections
start new tracks; a track unseen for ``max_missed`` analysed frames closes (one found again
before that begins a new moment of its life, ``pipeline.selection``). A shot change
closes every track at once (:meth:`FaceTracker.flush`, called by the camera pipeline when
``pipeline.scenecut`` sees one): geometry alone would hand a track to whoever stands where its
face was.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from watchkeeper.config import TrackingConfig
from watchkeeper.domain import Faces, FloatArray, ImageArray, Observation
from watchkeeper.pipeline.selection import Moments
from watchkeeper.vision.align import crop_with_margin
from watchkeeper.vision.boxes import iou_matrix

MAX_CENTRE_SHIFT = 0.8  # in face sizes: how far a face may move from where it was predicted
# A track seen once has no velocity to predict with, so its first step is judged from where it
# was: someone walking across the picture at 1.4 m/s moves about 9 face widths a second,
# nearly 2 between two frames analysed at 5 fps.
MAX_FIRST_SHIFT = 2.0
MAX_SIZE_RATIO = 1.6  # how much its box may grow or shrink meanwhile


@dataclass(slots=True)
class Track:
    """One person's detections on one camera, while they are being followed."""

    track_id: int
    first_frame: int
    started_at: float
    last_frame: int
    ended_at: float
    box: FloatArray
    velocity: FloatArray
    moments: Moments  # the best face (and crop) of each stretch of its life, for embedding
    detections: int = 1
    missed: int = 0
    early_looks: int = 0  # how often the open track was screened before closing
    early_quality: float = -1.0  # quality of the face last screened while open

    def predicted_box(self) -> FloatArray:
        box = self.box + self.velocity * (self.missed + 1)
        # a face shrinking fast must not be predicted inside out
        box[2:] = np.maximum(box[2:], box[:2] + 1.0)
        return box


def proximity_matrix(
    a: FloatArray, b: FloatArray, max_shift: float = MAX_CENTRE_SHIFT
) -> FloatArray:
    """A fallback affinity in 0..1 for boxes that do not overlap: near centres (``max_shift``
    face sizes at most), similar sizes."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), np.float32)
    centre_a = (a[:, :2] + a[:, 2:]) / 2
    centre_b = (b[:, :2] + b[:, 2:]) / 2
    size_a = np.sqrt((a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]))
    size_b = np.sqrt((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]))
    mean_size = np.maximum((size_a[:, None] + size_b[None, :]) / 2, 1e-6)
    shift = np.linalg.norm(centre_a[:, None, :] - centre_b[None, :, :], axis=2) / mean_size
    ratio = np.maximum(size_a[:, None], size_b[None, :]) / np.maximum(
        np.minimum(size_a[:, None], size_b[None, :]), 1e-6
    )
    close = (shift < max_shift) & (ratio < MAX_SIZE_RATIO)
    return np.where(close, 1.0 - shift / max_shift, 0.0).astype(np.float32)


class FaceTracker:
    """The open tracks of one camera; feed it every analysed frame in order."""

    def __init__(self, config: TrackingConfig) -> None:
        self.config = config
        self.tracks: list[Track] = []
        self._ids = itertools.count(1)

    def update(
        self,
        frame_index: int,
        timestamp: float,
        image: ImageArray,
        faces: Faces,
        aligned: np.ndarray,
    ) -> list[Track]:
        """Add one frame's faces; return the tracks that this frame closed."""
        pairs = self._associate(faces.boxes)
        seen: set[int] = set()
        for track_index, face_index in pairs:
            track = self.tracks[track_index]
            self._extend(track, frame_index, timestamp, image, faces, aligned, face_index)
            seen.add(track_index)
        paired_faces = {face for _, face in pairs}
        closed: list[Track] = []
        still_open: list[Track] = []
        for index, track in enumerate(self.tracks):
            if index not in seen:
                track.missed += 1
            too_long = track.ended_at - track.started_at >= self.config.max_track_seconds
            if track.missed > self.config.max_missed or too_long:
                closed.append(track)
            else:
                still_open.append(track)
        self.tracks = still_open
        for face_index in range(len(faces)):
            if face_index not in paired_faces:
                self.tracks.append(
                    self._start(frame_index, timestamp, image, faces, aligned, face_index)
                )
        return closed

    def next_id(self) -> int:
        """A new track number, for a part of a track that was split after it closed."""
        return next(self._ids)

    def flush(self) -> list[Track]:
        """Close every open track (the source ended or the camera stopped)."""
        closed, self.tracks = self.tracks, []
        return closed

    def _associate(self, boxes: FloatArray) -> list[tuple[int, int]]:
        if not self.tracks or len(boxes) == 0:
            return []
        predicted = np.stack([t.predicted_box() for t in self.tracks])
        overlap = iou_matrix(predicted, boxes)
        near = proximity_matrix(predicted, boxes)
        affinity = np.where(overlap >= self.config.iou_threshold, 1.0 + overlap, near)
        return self._pair(np.maximum(affinity, self._first_steps(predicted, boxes, affinity)))

    def _first_steps(
        self, predicted: FloatArray, boxes: FloatArray, affinity: FloatArray
    ) -> FloatArray:
        """Links for tracks seen once, out to ``MAX_FIRST_SHIFT``, where nothing else is near.

        Such a track has no velocity yet, so a fast walker's second detection lies beyond the
        usual reach; the wider reach is taken only where it is unambiguous (the track's only
        candidate, and the detection's only track), as in a crowd it would hand new faces to
        whoever stood near.
        """
        once = np.array([t.detections == 1 for t in self.tracks])
        if not once.any():
            return np.zeros_like(affinity)
        wide = proximity_matrix(predicted, boxes, MAX_FIRST_SHIFT)
        reach = wide > 0
        lone = (reach.sum(axis=1, keepdims=True) == 1) & (reach.sum(axis=0, keepdims=True) == 1)
        unclaimed = (affinity <= 0).all(axis=1, keepdims=True) & (affinity <= 0).all(
            axis=0, keepdims=True
        )
        return np.where(once[:, None] & lone & unclaimed, wide, 0.0).astype(np.float32)

    def _pair(self, affinity: FloatArray) -> list[tuple[int, int]]:
        """Greedy pairing, strongest affinity first; none at zero."""
        pairs: list[tuple[int, int]] = []
        used_tracks: set[int] = set()
        used_faces: set[int] = set()
        for flat in np.argsort(-affinity, axis=None):
            track_index, face_index = divmod(int(flat), affinity.shape[1])
            if affinity[track_index, face_index] <= 0:
                break
            if track_index in used_tracks or face_index in used_faces:
                continue
            pairs.append((track_index, face_index))
            used_tracks.add(track_index)
            used_faces.add(face_index)
        return pairs

    def _start(
        self,
        frame_index: int,
        timestamp: float,
        image: ImageArray,
        faces: Faces,
        aligned: np.ndarray,
        face_index: int,
    ) -> Track:
        track = Track(
            track_id=next(self._ids),
            first_frame=frame_index,
            started_at=timestamp,
            last_frame=frame_index,
            ended_at=timestamp,
            box=faces.boxes[face_index].copy(),
            velocity=np.zeros(4, np.float32),
            moments=Moments(timestamp, self.config.stretch_seconds),
            detections=0,
        )
        self._extend(track, frame_index, timestamp, image, faces, aligned, face_index)
        return track

    def _extend(
        self,
        track: Track,
        frame_index: int,
        timestamp: float,
        image: ImageArray,
        faces: Faces,
        aligned: np.ndarray,
        face_index: int,
    ) -> None:
        box = faces.boxes[face_index].copy()
        after_gap = track.missed > 0  # lost, and found again: perhaps someone else
        if track.detections:
            step = (box - track.box) / (track.missed + 1)
            track.velocity = step if track.detections == 1 else 0.5 * track.velocity + 0.5 * step
        track.box = box
        track.missed = 0
        track.detections += 1
        track.last_frame = frame_index
        track.ended_at = timestamp
        quality = float(faces.quality[face_index])
        observation = Observation(
            frame_index=frame_index,
            timestamp=timestamp,
            box=box,
            landmarks=faces.landmarks[face_index].copy(),
            score=float(faces.scores[face_index]),
            quality=quality,
            aligned=aligned[face_index].copy(),
        )
        track.moments.offer(observation, lambda: crop_with_margin(image, box), after_gap)
