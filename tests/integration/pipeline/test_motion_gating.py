"""Motion-gated detection on real frames and real faces: less detector work, same sightings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from support.video import write_h264
from watchkeeper.config import MotionConfig, Settings
from watchkeeper.crowd.render import blur_heads
from watchkeeper.crowd.tiling import People
from watchkeeper.domain import Frame, Sighting
from watchkeeper.pipeline import CameraPipeline, CameraWorker, MotionGatedAnalyzer, motion_gated
from watchkeeper.service.camera import CameraFilter, CameraSpec
from watchkeeper.streams import open_source
from watchkeeper.vision import FaceAnalyzer

REPO = Path(__file__).resolve().parents[3]
DEEPFACE = REPO / "examples" / "data" / "deepface-pairs"
FPS = 5.0
SFACE_THRESHOLD = 0.363  # OpenCV's published cosine threshold for SFace


@pytest.fixture(scope="module")
def still(clip: Path) -> np.ndarray:
    """The first frame of the arcade clip: a real scene with faces in it."""
    with av.open(str(clip)) as container:
        return next(container.decode(video=0)).to_ndarray(format="bgr24")


def passer_by(photo: str, width: int = 320) -> np.ndarray:
    face = cv2.imread(str(DEEPFACE / photo))
    return cv2.resize(face, (width, round(width * face.shape[0] / face.shape[1])))


def held(image: np.ndarray, count: int) -> Iterator[Frame]:
    for index in range(count):
        yield Frame(camera="c", index=index, timestamp=index / FPS, image=image)


def walking(still: np.ndarray, face: np.ndarray, count: int) -> Iterator[Frame]:
    """A person's photo crossing the still scene from left to right, 40 px per frame."""
    for index in range(count):
        image = still.copy()
        x, y = 100 + 40 * index, 900
        image[y : y + face.shape[0], x : x + face.shape[1]] = face
        yield Frame(camera="c", index=index, timestamp=index / FPS, image=image)


def run(analyzer: object, frames: Iterator[Frame]) -> tuple[list[Sighting], CameraPipeline]:
    settings = Settings()
    pipeline = CameraPipeline("c", analyzer, settings.tracking, settings.vision.min_quality)  # type: ignore[arg-type]
    sightings: list[Sighting] = []
    for frame in frames:
        sightings += pipeline.process(frame)
    return sightings + pipeline.finish(), pipeline


def spans(sightings: list[Sighting]) -> list[tuple[int, int]]:
    return sorted((s.first_frame, s.last_frame) for s in sightings)


def test_a_still_scene_runs_the_detector_once_and_keeps_every_face(
    still: np.ndarray, analyzer: FaceAnalyzer
) -> None:
    gate = MotionGatedAnalyzer(analyzer, MotionConfig(), FPS)
    plain, _ = run(analyzer, held(still, 12))
    gated, pipeline = run(gate, held(still, 12))
    assert gate.stats.whole == 1 and gate.stats.skipped == 11  # decoding only after the first
    assert gate.stats.carried == 11 * pipeline.stats.faces_per_frame[0]
    assert len(set(pipeline.stats.faces_per_frame)) == 1  # no face lost while carried
    assert spans(gated) == spans(plain) and len(plain) >= 4


def brightening(image: np.ndarray, step: int, count: int) -> Iterator[Frame]:
    """The scene growing lighter by ``step`` grey levels a frame: too slow to be motion."""
    for index in range(count):
        lighter = cv2.add(image, np.full_like(image, step * index))
        yield Frame(camera="c", index=index, timestamp=index / FPS, image=lighter)


def test_a_still_scene_is_not_detected_again_at_refresh(
    still: np.ndarray, analyzer: FaceAnalyzer
) -> None:
    gate = MotionGatedAnalyzer(analyzer, MotionConfig(refresh_s=1.0), FPS)
    run(gate, held(still, 12))
    assert gate.stats.whole == 1 and gate.stats.skipped == 11  # same picture, same faces


def test_a_slow_change_of_light_is_detected_whole_at_each_refresh(
    still: np.ndarray, analyzer: FaceAnalyzer
) -> None:
    gate = MotionGatedAnalyzer(analyzer, MotionConfig(refresh_s=1.0, threshold=12), FPS)
    run(gate, brightening(still, 3, 12))
    # no two consecutive frames differ by the threshold, but frames 5 and 10 differ from
    # the last whole frame by 15 grey levels
    assert gate.stats.regions == 0
    assert gate.stats.whole == 3  # frames 0, 5 and 10


def test_a_passer_by_is_found_in_the_moving_region_with_the_same_sightings(
    still: np.ndarray, analyzer: FaceAnalyzer
) -> None:
    face = passer_by("img38.jpg")
    gate = MotionGatedAnalyzer(analyzer, MotionConfig(), FPS)
    plain, _ = run(analyzer, walking(still, face, 20))
    gated, _ = run(gate, walking(still, face, 20))
    assert gate.stats.whole == 1 and gate.stats.regions == 19
    assert gate.stats.detected_share / gate.stats.frames < 0.6  # well under a whole frame each
    assert gate.stats.carried > 0  # the faces of the still crowd were not detected again
    assert [(s.first_frame, s.last_frame, s.detections) for s in gated] == [
        (s.first_frame, s.last_frame, s.detections) for s in plain
    ]
    # the passer-by is the only one who moves: the sighting whose box travelled
    walker = [s for s in gated if s.best_box[1] > 900]
    assert len(walker) == 1
    enrolled = analyzer.analyse(cv2.imread(str(DEEPFACE / "img39.jpg")))  # the same person
    probe = analyzer.embed(enrolled.aligned[[enrolled.faces.largest()]])[0]
    assert float(walker[0].templates[0] @ probe) > SFACE_THRESHOLD


def test_the_crowd_clip_gives_the_same_sightings_gated_or_not(
    clip: Path, analyzer: FaceAnalyzer
) -> None:
    gate = MotionGatedAnalyzer(analyzer, MotionConfig(), FPS)
    plain, _ = run(analyzer, open_source(str(clip), "c", FPS).frames())
    gated, _ = run(gate, open_source(str(clip), "c", FPS).frames())
    assert [(s.first_frame, s.last_frame, s.detections) for s in gated] == [
        (s.first_frame, s.last_frame, s.detections) for s in plain
    ]


def test_a_camera_can_turn_the_gate_off_and_the_default_is_on(analyzer: FaceAnalyzer) -> None:
    config = MotionConfig()
    assert isinstance(motion_gated(analyzer, config, FPS), MotionGatedAnalyzer)
    assert motion_gated(analyzer, config, FPS, enabled=False) is analyzer
    off = MotionConfig(enabled=False)
    assert isinstance(motion_gated(analyzer, off, FPS, enabled=True), MotionGatedAnalyzer)


def emptied(image: np.ndarray, analyzer: FaceAnalyzer) -> np.ndarray:
    """The scene with every face blurred as the crowd view blurs them: nobody there."""
    empty = blur_heads(image, People.empty(), analyzer.analyse(image).faces.boxes)
    assert len(analyzer.analyse(empty).faces) == 0
    return empty


def corridor(empty: np.ndarray, face: np.ndarray, path: Path) -> Path:
    """20 s at 25 fps of the empty scene, a key frame every 2 s; from 9.3 s to 17.3 s a
    person crosses it: a quiet camera's moment of work."""
    rate, seconds, enters, crossing = 25, 20.0, 9.3, 8.0

    def picture(index: int) -> np.ndarray:
        walked = (index / rate - enters) / crossing
        if not 0 <= walked < 1:
            return empty
        crossed = empty.copy()
        x, y = round(walked * (empty.shape[1] - face.shape[1])), 700
        crossed[y : y + face.shape[0], x : x + face.shape[1]] = face
        return crossed

    pictures = (picture(i) for i in range(round(seconds * rate)))
    return write_h264(path, pictures, rate, key_interval=2 * rate)


def watch(video: Path, analyzer: FaceAnalyzer, sleep_after_s: float) -> tuple[list[Sighting], int]:
    """The sightings of a camera on ``video`` (as the service runs one), and frames decoded."""
    settings = Settings()
    gate = MotionGatedAnalyzer(analyzer, MotionConfig(sleep_after_s=sleep_after_s), FPS)
    pipeline = CameraPipeline("c", gate, settings.tracking, settings.vision.min_quality)
    source = open_source(str(video), "c", FPS)
    sightings: list[Sighting] = []
    CameraWorker(source, pipeline, lambda _s: [], lambda s, _m: sightings.append(s)).run()
    return sightings, source.health.frames_in


def test_a_still_camera_rests_on_key_frames_and_still_finds_the_passer_by(
    still: np.ndarray, analyzer: FaceAnalyzer, tmp_path: Path
) -> None:
    video = corridor(emptied(still, analyzer), passer_by("img38.jpg"), tmp_path / "c.mp4")
    enrolled = analyzer.analyse(cv2.imread(str(DEEPFACE / "img39.jpg")))  # the same person
    probe = analyzer.embed(enrolled.aligned[[enrolled.faces.largest()]])[0]
    awake, decoded_awake = watch(video, analyzer, sleep_after_s=0.0)
    resting, decoded_resting = watch(video, analyzer, sleep_after_s=2.0)
    # asleep from 4 s (two key-frame intervals timed, 2 s still) to the key frame at 10 s,
    # which shows the person: the frames from the key frame at 8 s are then decoded (again)
    assert decoded_awake == 500 and decoded_resting <= 500 - 100
    # the same one person, from the same first frame to the same last
    assert len(awake) == len(resting) == 1
    assert float(resting[0].templates[0] @ probe) > SFACE_THRESHOLD
    assert (resting[0].first_frame, resting[0].last_frame) == (
        awake[0].first_frame,
        awake[0].last_frame,
    )


LOWER_HALF = (0.0, 0.5, 1.0, 1.0)  # a region of interest: the floor, where people walk


def screen_playing(image: np.ndarray, count: int) -> Iterator[Frame]:
    """The scene with a screen high on the wall showing something new every frame."""
    for index in range(count):
        picture = image.copy()
        picture[60:260, 80:440] = (37 * index) % 256
        yield Frame(camera="c", index=index, timestamp=index / FPS, image=picture)


FLOOR = (0.0, 1.0, 0.2, 0.45, 0.8, 0.45, 1.0, 1.0)  # the floor in perspective: a polygon
WALL = (0.0, 0.0, 0.5, 0.0, 0.5, 0.3, 0.0, 0.3)  # the wall with the screen on it


@pytest.mark.parametrize("region", [LOWER_HALF, FLOOR], ids=["box", "polygon"])
def test_motion_outside_the_region_neither_costs_a_detection_nor_keeps_the_camera_awake(
    region: tuple[float, ...], still: np.ndarray, analyzer: FaceAnalyzer
) -> None:
    empty = emptied(still, analyzer)
    config = MotionConfig(sleep_after_s=1.0)
    everywhere = MotionGatedAnalyzer(analyzer, config, FPS)
    bounded = MotionGatedAnalyzer(analyzer, config, FPS, region=region)
    around_it = MotionGatedAnalyzer(analyzer, config, FPS, region=WALL)
    for gate in (everywhere, bounded, around_it):
        run(gate, screen_playing(empty, 12))
    assert everywhere.stats.regions == 11 and not everywhere.still  # the screen, every frame
    assert bounded.stats.regions == 0 and bounded.stats.skipped == 11 and bounded.still
    assert not bounded.moved(next(screen_playing(empty, 20)).image)  # nor wakes it at rest
    assert around_it.stats.regions == 11 and not around_it.still  # a region with the screen


def test_a_region_is_detected_alone_and_gives_the_same_sightings(
    clip: Path, analyzer: FaceAnalyzer
) -> None:
    """The crowd clip through a camera whose faces count on the floor only: a whole-frame
    pass detects the region's rows (grown), and finds what the whole frame did there."""
    spec = CameraSpec(id=1, name="c", uri=str(clip), roi=LOWER_HALF)
    gate = MotionGatedAnalyzer(analyzer, MotionConfig(), FPS, region=LOWER_HALF)
    plain, _ = run(CameraFilter(analyzer, spec), open_source(str(clip), "c", FPS).frames())
    gated, _ = run(CameraFilter(gate, spec), open_source(str(clip), "c", FPS).frames())
    assert len(plain) >= 5
    assert [(s.first_frame, s.last_frame, s.detections) for s in gated] == [
        (s.first_frame, s.last_frame, s.detections) for s in plain
    ]
    assert gate.stats.whole == gate.stats.frames  # the camera pans: every frame whole …
    # … on rows 384-1080 of 1080: the lower half, grown by 108 and rounded out to 96
    assert gate.stats.detected_share / gate.stats.frames == pytest.approx(696 / 1080)
