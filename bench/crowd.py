"""Crowd counting on the bundled 1080p clip: accuracy against the hand labels, and cost.

Accuracy: the 10 hand-labelled frames of ``tests/data/crowd-labels.json``, counted on the
whole frame (one 300×300 pass) and tiled (the configured grid plus the whole view); mean
absolute error, relative error and bias (mean of found − true).

Cost, in the same run and on the same frames so the ratios hold on a busy machine: ms per
analysed frame for tiled counting (all its passes), whole-frame counting, and face
recognition (YuNet detection with alignment and quality, plus SFace on every face found);
cores per camera at 2 and 5 analysed frames/s (CPU ms × fps / 1000; CPU time, not wall
time, because wall time on a shared machine counts the other processes' turns too). And
whether looking for faces only inside person boxes saves time: YuNet on the box around the
upper part of all people versus on the full frame, with the faces each finds.

    .venv/bin/python bench/crowd.py [--repeat 3] [--json] [--picture FILE.jpg]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from watchkeeper.config import Settings
from watchkeeper.crowd.detector import load_person_detector
from watchkeeper.crowd.render import draw
from watchkeeper.crowd.tiling import People, TiledDetector, tiled_from_config
from watchkeeper.crowd.zones import whole_picture
from watchkeeper.vision import FaceAnalyzer

ROOT = Path(__file__).parents[1]
LABELS = ROOT / "tests" / "data" / "crowd-labels.json"


def labelled_frames() -> list[tuple[int, np.ndarray, int]]:
    labels = json.loads(LABELS.read_text())
    counts = {f["frame"]: f["people"] for f in labels["frames"]}
    found = []
    with av.open(str(ROOT / labels["clip"])) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in counts:
                found.append((index, frame.to_ndarray(format="bgr24"), counts[index]))
    return found


def accuracy(tiled: TiledDetector, frames: list[tuple[int, np.ndarray, int]]) -> dict[str, Any]:
    errors = np.array([len(tiled.detect(image)) - true for _, image, true in frames], float)
    truth = np.array([true for _, _, true in frames], float)
    return {
        "mae": round(float(np.abs(errors).mean()), 2),
        "mae_pct": round(float((np.abs(errors) / truth).mean() * 100), 1),
        "bias": round(float(errors.mean()), 2),
        "errors": errors.astype(int).tolist(),
    }


def timed(work: Any, items: list[Any], repeat: int) -> dict[str, float]:
    """Median over ``repeat`` rounds of the mean ms per item (``work(*item)`` for tuples):
    CPU time of this process (what a core pays, steady on a busy machine) and wall time."""
    cpu_rounds, wall_rounds = [], []
    for _ in range(repeat):
        cpu, wall = time.process_time(), time.perf_counter()
        for item in items:
            work(*item) if isinstance(item, tuple) else work(item)
        cpu_rounds.append((time.process_time() - cpu) * 1000 / len(items))
        wall_rounds.append((time.perf_counter() - wall) * 1000 / len(items))
    return {
        "cpu_ms": round(statistics.median(cpu_rounds), 1),
        "wall_ms": round(statistics.median(wall_rounds), 1),
    }


def head_region(people: People, shape: tuple[int, ...]) -> tuple[int, int, int, int] | None:
    """The box around the upper 40 % of every person box: where their faces can be."""
    if len(people) == 0:
        return None
    boxes = people.boxes
    top = boxes[:, 1]
    heads_bottom = top + 0.4 * (boxes[:, 3] - top)
    x1, y1 = int(max(0, boxes[:, 0].min())), int(max(0, top.min()))
    x2, y2 = int(min(shape[1], boxes[:, 2].max())), int(min(shape[0], heads_bottom.max()))
    return x1, y1, x2, y2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--picture", type=Path, help="write an analysed frame, heads blurred")
    args = parser.parse_args()
    settings = Settings()
    detector = load_person_detector(settings.vision, settings.crowd)
    tiled = tiled_from_config(detector, settings.crowd)
    whole = TiledDetector(detector, columns=1, rows=1)
    analyzer = FaceAnalyzer.from_config(settings.vision)
    frames = labelled_frames()
    images = [image for _, image, _ in frames]

    def recognise(image: np.ndarray) -> int:
        analysed = analyzer.analyse(image)
        if len(analysed.faces):
            analyzer.embed(analysed.aligned)
        return len(analysed.faces)

    def faces_in_heads_only(image: np.ndarray, people: People) -> int:
        region = head_region(people, image.shape)
        return (
            0
            if region is None
            else len(analyzer.detector.detect(image[region[1] : region[3], region[0] : region[2]]))
        )

    people_of = [tiled.detect(image) for image in images]
    result: dict[str, Any] = {
        "frames": len(frames),
        "tiles": f"{tiled.columns}x{tiled.rows}" + ("+whole" if tiled.whole_view else ""),
        "passes_per_frame": tiled.passes,
        "accuracy": {"whole_frame": accuracy(whole, frames), "tiled": accuracy(tiled, frames)},
        "ms_per_frame": {
            "crowd_tiled": timed(tiled.detect, images, args.repeat),
            "crowd_whole_frame": timed(whole.detect, images, args.repeat),
            "face_recognition": timed(recognise, images, args.repeat),
            "face_detection_full_frame": timed(analyzer.detector.detect, images, args.repeat),
            "face_detection_in_people_given_boxes": timed(
                faces_in_heads_only, list(zip(images, people_of, strict=True)), args.repeat
            ),
        },
        "faces_found": {
            "full_frame": sum(len(analyzer.detector.detect(i)) for i in images),
            "in_people": sum(
                faces_in_heads_only(i, p) for i, p in zip(images, people_of, strict=True)
            ),
        },
    }
    ms = result["ms_per_frame"]
    result["cores_per_camera"] = {
        name: {f"{fps}fps": round(ms[name]["cpu_ms"] * fps / 1000, 3) for fps in (2, 5)}
        for name in ("crowd_tiled", "crowd_whole_frame", "face_recognition")
    }
    if args.picture is not None:
        index, image, true = frames[0]
        faces = analyzer.detector.detect(image).boxes
        picture = draw(image, [whole_picture("counted")], people_of[0], faces)
        cv2.putText(
            picture, f"frame {index}: {len(people_of[0])} found, {true} by hand",
            (30, image.shape[0] - 40), cv2.FONT_HERSHEY_SIMPLEX, 1.6, (255, 255, 255), 4,
        )  # fmt: skip
        args.picture.parent.mkdir(parents=True, exist_ok=True)
        small = cv2.resize(picture, (1280, 720), interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(args.picture), small, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if args.json:
        print(json.dumps(result, indent=2))
        return
    for key, value in result.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
