"""The tracker groups one person's detections into one track and closes it when they leave."""

from __future__ import annotations

import numpy as np
import pytest

from watchkeeper.config import TrackingConfig
from watchkeeper.domain import Faces
from watchkeeper.pipeline.tracker import FaceTracker, iou_matrix

IMAGE = np.zeros((480, 640, 3), np.uint8)


def faces_at(*boxes: tuple[float, float, float, float], quality: float = 0.9) -> Faces:
    array = np.array(boxes, np.float32).reshape(-1, 4)
    centre = (array[:, :2] + array[:, 2:]) / 2
    landmarks = np.repeat(centre[:, None, :], 5, axis=1)
    return Faces(
        boxes=array,
        landmarks=landmarks,
        scores=np.full(len(array), 0.9, np.float32),
        quality=np.full(len(array), quality, np.float32),
    )


def aligned_for(faces: Faces) -> np.ndarray:
    return np.zeros((len(faces), 112, 112, 3), np.uint8)


def feed(tracker: FaceTracker, frames: list[Faces]) -> list:
    closed = []
    for index, faces in enumerate(frames):
        closed += tracker.update(index, index * 0.2, IMAGE, faces, aligned_for(faces))
    return closed + tracker.flush()


def test_one_walking_face_is_one_track() -> None:
    tracker = FaceTracker(TrackingConfig())
    frames = [faces_at((100 + 8 * i, 100, 160 + 8 * i, 170)) for i in range(10)]
    tracks = feed(tracker, frames)
    assert len(tracks) == 1
    assert tracks[0].detections == 10
    assert (tracks[0].first_frame, tracks[0].last_frame) == (0, 9)


def test_two_people_side_by_side_are_two_tracks() -> None:
    tracker = FaceTracker(TrackingConfig())
    frames = [
        faces_at((50 + 5 * i, 100, 110 + 5 * i, 170), (400 - 5 * i, 90, 460 - 5 * i, 160))
        for i in range(8)
    ]
    tracks = feed(tracker, frames)
    assert len(tracks) == 2
    assert sorted(t.detections for t in tracks) == [8, 8]


def test_fast_face_with_little_overlap_continues_by_proximity() -> None:
    tracker = FaceTracker(TrackingConfig())
    # a 40 px face moving 30 px per analysed frame: overlap (IoU 0.14) below the threshold
    frames = [faces_at((100 + 30 * i, 100, 140 + 30 * i, 140)) for i in range(6)]
    assert len(feed(tracker, frames)) == 1


def test_track_closes_after_max_missed_frames() -> None:
    tracker = FaceTracker(TrackingConfig(max_missed=2))
    box = (100, 100, 160, 170)
    closed_at = None
    frames = [faces_at(box), faces_at(box)] + [Faces.empty()] * 5
    for index, faces in enumerate(frames):
        if tracker.update(index, index * 0.2, IMAGE, faces, aligned_for(faces)):
            closed_at = index
            break
    assert closed_at == 4  # missed frames 2, 3, 4: the third miss exceeds max_missed=2


def test_face_returning_after_a_short_gap_keeps_its_track() -> None:
    tracker = FaceTracker(TrackingConfig(max_missed=3))
    box = (100, 100, 160, 170)
    frames = [faces_at(box), Faces.empty(), Faces.empty(), faces_at(box)]
    assert len(feed(tracker, frames)) == 1


def test_a_face_found_again_after_a_gap_begins_a_new_moment_within_its_stretch() -> None:
    """Whoever the track found may be someone else: the faces on each side of the gap must
    both be candidates for embedding, or the split check cannot compare them."""
    tracker = FaceTracker(TrackingConfig(max_missed=3, stretch_seconds=10.0))
    box = (100, 100, 160, 170)
    frames = [faces_at(box, quality=0.9), Faces.empty(), faces_at(box, quality=0.3)]
    (track,) = feed(tracker, frames)
    assert [m.observation.frame_index for m in track.moments.in_order()] == [0, 2]
    assert [m.quality for m in track.moments.spread(3)] == pytest.approx([0.9, 0.3])


def test_long_track_is_split_so_lingering_people_are_reported() -> None:
    tracker = FaceTracker(TrackingConfig(max_track_seconds=1.0))
    frames = [faces_at((100, 100, 160, 170)) for _ in range(12)]  # 2.4 s at 0.2 s per frame
    tracks = feed(tracker, frames)
    assert len(tracks) >= 2


def test_the_best_face_of_each_stretch_is_kept_whatever_its_quality() -> None:
    tracker = FaceTracker(TrackingConfig(stretch_seconds=0.5))
    qualities = [0.3, 0.9, 0.6, 0.95, 0.05, 0.02]  # frames 0.2 s apart: stretches 0,0,0,1,1,2
    for index, quality in enumerate(qualities):
        faces = faces_at((100, 100, 160, 170), quality=quality)
        tracker.update(index, index * 0.2, IMAGE, faces, aligned_for(faces))
    (track,) = tracker.flush()
    moments = track.moments.in_order()
    assert [m.quality for m in moments] == pytest.approx([0.9, 0.95, 0.02])
    assert [m.detections for m in moments] == [3, 2, 1]
    assert track.moments.best().observation.frame_index == 3


def test_a_track_of_only_poor_faces_still_keeps_its_best_face() -> None:
    tracker = FaceTracker(TrackingConfig())
    tracks = feed(tracker, [faces_at((100, 100, 160, 170), quality=0.02)] * 3)
    assert tracks[0].moments.best().quality == pytest.approx(0.02)
    assert tracks[0].moments.best().crop.size > 0


def test_iou_of_identical_and_disjoint_boxes() -> None:
    a = np.array([[0, 0, 10, 10]], np.float32)
    b = np.array([[0, 0, 10, 10], [20, 20, 30, 30], [5, 0, 15, 10]], np.float32)
    np.testing.assert_allclose(iou_matrix(a, b), [[1.0, 0.0, 50 / 150]], rtol=1e-5)


def test_fast_shrinking_face_is_never_predicted_inside_out() -> None:
    tracker = FaceTracker(TrackingConfig(max_missed=5))
    frames = [faces_at((100, 100, 200, 200)), faces_at((115, 115, 185, 185))] + [Faces.empty()] * 4
    for index, faces in enumerate(frames):
        tracker.update(index, index * 0.2, IMAGE, faces, aligned_for(faces))
    (track,) = tracker.tracks
    box = track.predicted_box()
    assert box[2] > box[0] and box[3] > box[1]


def test_someone_crossing_the_picture_is_followed_from_the_first_step() -> None:
    tracker = FaceTracker(TrackingConfig())
    # a 57 px face moving 100 px per analysed frame (1.75 face sizes): beyond the usual reach
    # until the track has a velocity, which it only gets from a second detection
    frames = [faces_at((20 + 100 * i, 300, 77 + 100 * i, 357)) for i in range(6)]
    tracks = feed(tracker, frames)
    assert [t.detections for t in tracks] == [6]


def test_a_first_step_with_two_faces_in_reach_is_not_guessed() -> None:
    tracker = FaceTracker(TrackingConfig())
    # seen once at x = 200; next frame a face 90 px to either side: either could be them
    frames = [faces_at((200, 300, 257, 357)), faces_at((110, 300, 167, 357), (290, 300, 347, 357))]
    tracks = feed(tracker, frames)
    assert sorted(t.detections for t in tracks) == [1, 1, 1]
