"""Enrolment throughput: photos checked, templated and stored per second.

Each photo of examples/data/deepface-pairs (real portraits of 0.1–13 Mpx) goes through the
same path as `watchkeeper person add`: decode, detect, quality check, embed, and one
transaction that writes the photo file, the rows and the audit record. Prints photos/s and
the share of time spent in the models.

    .venv/bin/python bench/enrolment.py [--json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from watchkeeper.config import Settings
from watchkeeper.enrolment import check_photo, enrol_person
from watchkeeper.store import Database, MediaStore, repository
from watchkeeper.vision import FaceAnalyzer

PHOTOS = Path(__file__).parents[1] / "examples" / "data" / "deepface-pairs"


def bench_enrolment(photos: list[Path]) -> dict[str, Any]:
    settings = Settings(data_dir=Path(tempfile.mkdtemp(prefix="wk-enrol-")))
    analyzer = FaceAnalyzer.from_config(settings.vision)
    db = Database(settings.database)
    db.migrate()
    media = MediaStore(settings.data_dir / "media")
    with db.session() as session:
        repository.create_watchlist(session, "bench", "other", "bench", "bench")
    payloads = [(p.name, p.read_bytes()) for p in photos]
    limits = {"max_pixels": settings.streams.max_image_pixels, "min_quality": 0.3}

    started = time.perf_counter()
    for name, data in payloads:
        check_photo(data, name, analyzer, largest_face=True, **limits)
    checking = time.perf_counter() - started

    started = time.perf_counter()
    for name, data in payloads:
        enrol_person(
            db, media, analyzer, watchlist="bench", name=name, photos=[(name, data)],
            actor="bench", largest_face=True, **limits,
        )  # fmt: skip
    total = time.perf_counter() - started
    megapixels = sum(_pixels(data) for _, data in payloads) / 1e6
    db.close()
    return {
        "photos": len(payloads),
        "megapixels": round(megapixels, 1),
        "seconds": round(total, 2),
        "photos_per_s": round(len(payloads) / total, 2),
        "ms_per_photo": round(1000 * total / len(payloads), 1),
        "ms_per_photo_models_only": round(1000 * checking / len(payloads), 1),
    }


def _pixels(data: bytes) -> int:
    from io import BytesIO

    from PIL import Image

    with Image.open(BytesIO(data)) as image:
        return image.width * image.height


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    result = bench_enrolment(sorted(PHOTOS.glob("*.jpg")))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key:>26}: {value}")


if __name__ == "__main__":
    main()
