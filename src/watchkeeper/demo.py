"""``watchkeeper demo``: the whole journey on real data, in its own data folder.

A passer-by of the bundled 1080p arcade clip is "reported missing": a crop of them from an
early frame stands in for a photo from another camera. They are enrolled on a missing-person
list beside a distractor list of 63 other real faces; then the clip is analysed like a camera
recording. The demo prints the sightings and matches and writes a contact sheet (PNG) of what
it found. Everyone else in the clip is discarded, as in live operation.

The demo works in ``<data-dir>/demo`` and resets it on every run, so it never touches the
data of a real installation.
"""

from __future__ import annotations

import secrets
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from watchkeeper.config import Settings
from watchkeeper.context import AppContext
from watchkeeper.domain import ImageArray, Match, Sighting
from watchkeeper.enrolment import EnrolmentError, enrol_person
from watchkeeper.output import console, frame_progress, print_json, print_results
from watchkeeper.policy import deployments
from watchkeeper.store import repository
from watchkeeper.usecases import watchlists as lists
from watchkeeper.usecases.analyse import process_source, results_json
from watchkeeper.vision.imageio import encode_jpeg

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "data"
CLIP = EXAMPLES / "video" / "facenet-pytorch-video.mp4"
DISTRACTORS = EXAMPLES / "deepface-pairs"
PROBE_FRAME = 5  # an early frame: the photo "from another camera"
MISSING_LIST = "demo-missing-persons"
DEMO_USER = "demo-supervisor"
DISTRACTOR_LIST = "demo-distractors"
CAMERA = "arcade-clip"
CAMERA_GROUP = "demo"


class DemoError(RuntimeError):
    """The demo's bundled data is not where a source checkout keeps it."""


@dataclass(slots=True)
class DemoResult:
    summary: dict[str, Any]
    target_person_id: int
    probe_box: list[float]
    contact_sheet: Path
    seconds: float
    settings: Settings


def run_demo(app_ctx: AppContext, output: Path, as_json: bool) -> DemoResult:
    if not CLIP.is_file() or not DISTRACTORS.is_dir():
        raise DemoError(
            f"demo data not found at {EXAMPLES}: run the demo from a source checkout "
            "(git clone, then 'make demo')"
        )
    demo_dir = app_ctx.settings.data_dir / "demo"
    if demo_dir.exists():
        shutil.rmtree(demo_dir)
    # its own database, and its own audit heads file (never the installation's)
    policy = app_ctx.settings.policy.model_copy(update={"audit_heads_file": None})
    settings = app_ctx.settings.model_copy(
        update={"data_dir": demo_dir, "database_url": None, "policy": policy}
    )
    ctx = AppContext(settings, actor="demo")
    started = time.perf_counter()
    say = (lambda *_: None) if as_json else console.print

    probe, probe_box = probe_photo(ctx, read_frame(CLIP, PROBE_FRAME))
    output.mkdir(parents=True, exist_ok=True)
    (output / "probe.jpg").write_bytes(probe)
    # The clip is stamped with its file time: authorise the demo's camera group around it.
    now = datetime.now(UTC)
    clip_time = datetime.fromtimestamp(CLIP.stat().st_mtime, UTC)
    period = (min(clip_time, now) - timedelta(days=1), now + timedelta(days=1))
    with ctx.db.session() as session:
        repository.get_or_create_camera(
            session, CAMERA, str(CLIP), CAMERA_GROUP, settings.streams.analysis_fps
        )
    for name, purpose, legal in (
        (MISSING_LIST, "missing_person", "demo: consent of the family (fictional)"),
        (DISTRACTOR_LIST, "other", "demo: public photos used as distractors"),
    ):
        lists.create_watchlist(
            ctx.db, "demo", name=name, purpose=purpose, legal_basis=legal, owner="demo"
        )
        with ctx.db.session() as session:
            deployments.authorise(
                session, name, CAMERA_GROUP, *period, authorised_by="demo (fictional authority)",
                authorisation_ref="DEMO-0001", actor="demo",
            )  # fmt: skip
    limits = {
        "max_pixels": settings.streams.max_image_pixels,
        "min_quality": settings.vision.enrol_min_quality,
    }
    target = enrol_person(
        ctx.db, ctx.media, ctx.analyzer, watchlist=MISSING_LIST, name="Missing person (demo)",
        photos=[(f"frame {PROBE_FRAME} of the clip", probe)], actor="demo",
        reason="reported missing (fictional)", largest_face=True, **limits,
    )  # fmt: skip
    say(f"enrolled the passer-by from frame {PROBE_FRAME} as person {target.person_id}")
    distractors = 0
    for photo in sorted(DISTRACTORS.glob("*.jpg")):
        try:
            enrol_person(
                ctx.db, ctx.media, ctx.analyzer, watchlist=DISTRACTOR_LIST, name=photo.stem,
                photos=[(photo.name, photo.read_bytes())], actor="demo", largest_face=True,
                **limits,
            )  # fmt: skip
            distractors += 1
        except EnrolmentError as exc:
            say(f"[dim]distractor skipped: {exc}[/]")
    say(f"enrolled {distractors} distractor persons from {DISTRACTORS.name}")

    with frame_progress(f"analysing {CAMERA}", quiet=as_json) as progress:
        results, pipeline = process_source(
            ctx, str(CLIP), CAMERA, settings.streams.analysis_fps, True, progress
        )
    summary = results_json(ctx, results, pipeline)
    summary["target_person_id"] = target.person_id
    summary["distractors"] = distractors
    sheet = write_contact_sheet(output / "contact-sheet.png", probe, results, CLIP)
    summary["contact_sheet"] = str(sheet)
    seconds = time.perf_counter() - started
    summary["seconds"] = round(seconds, 2)
    ctx.close()
    if as_json:
        print_json(summary)
    else:
        print_results(summary)
        found = [s for s in summary["sightings"] if s["matches"]]
        frames = sorted({f for s in found for f in (s["first_frame"], s["last_frame"])})
        console.print(
            f"[bold green]found the missing person[/] in {len(found)} sighting(s), frames "
            f"{frames[0]}–{frames[-1]}"
            if found
            else "[bold red]the missing person was not found[/]"
        )
        console.print(f"contact sheet: {sheet}   ({seconds:.1f} s)")
    return DemoResult(summary, target.person_id, probe_box, sheet, seconds, settings)


def read_frame(path: Path, index: int) -> ImageArray:
    with av.open(str(path)) as container:
        for number, frame in enumerate(container.decode(video=0)):
            if number == index:
                return frame.to_ndarray(format="bgr24")
    raise DemoError(f"{path} has fewer than {index + 1} frames")


def probe_photo(ctx: AppContext, frame: ImageArray) -> tuple[bytes, list[float]]:
    """Cut the best-quality face of the frame with generous margins, like a portrait photo."""
    analysed = ctx.analyzer.analyse(frame)
    if len(analysed.faces) == 0:
        raise DemoError("no face found in the demo's probe frame")
    best = int(np.argmax(analysed.faces.quality))
    x1, y1, x2, y2 = analysed.faces.boxes[best]
    w, h = x2 - x1, y2 - y1
    top, bottom = int(max(0, y1 - 0.8 * h)), int(min(frame.shape[0], y2 + 0.8 * h))
    left, right = int(max(0, x1 - 0.6 * w)), int(min(frame.shape[1], x2 + 0.6 * w))
    return encode_jpeg(frame[top:bottom, left:right]), [float(v) for v in (x1, y1, x2, y2)]


def write_contact_sheet(
    path: Path, probe: bytes, results: list[tuple[Sighting, list[Match]]], clip: Path
) -> Path:
    """The enrolled photo, then each matched sighting's best frame with the face boxed."""
    tile = 360
    tiles = [
        _label(
            _fit(cv2.imdecode(np.frombuffer(probe, np.uint8), cv2.IMREAD_COLOR), tile),
            "enrolled photo",
        )
    ]
    matched = [(s, m) for s, m in results if m]
    frames = _read_frames(clip, {s.best_frame for s, _ in matched})
    for sighting, matches in matched:
        frame = frames[sighting.best_frame].copy()
        x1, y1, x2, y2 = (int(v) for v in sighting.best_box)
        cv2.rectangle(frame, (x1, y1), (x2, y2), (0, 0, 255), 4)
        pad = 3 * (x2 - x1)
        view = frame[max(0, y1 - pad) : y2 + pad, max(0, x1 - pad) : x2 + pad]
        best = max(matches, key=lambda m: m.score)
        tiles.append(
            _label(_fit(view, tile), f"frame {sighting.best_frame}  score {best.score:.2f}")
        )
    columns = min(4, len(tiles))
    rows = -(-len(tiles) // columns)
    sheet = np.full((rows * tile, columns * tile, 3), 32, np.uint8)
    for i, image in enumerate(tiles):
        r, c = divmod(i, columns)
        sheet[r * tile : r * tile + image.shape[0], c * tile : c * tile + image.shape[1]] = image
    cv2.imwrite(str(path), sheet)
    return path


def _read_frames(clip: Path, wanted: set[int]) -> dict[int, ImageArray]:
    found: dict[int, ImageArray] = {}
    if not wanted:
        return found
    with av.open(str(clip)) as container:
        for number, frame in enumerate(container.decode(video=0)):
            if number in wanted:
                found[number] = frame.to_ndarray(format="bgr24")
            if number >= max(wanted):
                break
    return found


def _fit(image: ImageArray, size: int) -> ImageArray:
    scale = size / max(image.shape[:2])
    return cv2.resize(image, (int(image.shape[1] * scale), int(image.shape[0] * scale)))


def _label(image: ImageArray, text: str) -> ImageArray:
    image = image.copy()
    cv2.rectangle(image, (0, image.shape[0] - 28), (image.shape[1], image.shape[0]), (0, 0, 0), -1)
    cv2.putText(
        image,
        text,
        (6, image.shape[0] - 9),
        cv2.FONT_HERSHEY_SIMPLEX,
        0.6,
        (255, 255, 255),
        1,
        cv2.LINE_AA,
    )
    return image


def serve_demo(result: DemoResult, port: int | None) -> None:
    """Serve the console on the demo's data: a fresh supervisor login, the clip as a camera.

    There is no default password: the demo makes its own user with a random one and prints it
    once. The camera the demo registered plays the clip file, so the enrolled person's alert
    arrives on the live alerts page a few seconds after start.
    """
    from watchkeeper.policy import accounts
    from watchkeeper.serve import run_server

    ctx = AppContext(result.settings, actor="demo")
    password = secrets.token_urlsafe(12)
    with ctx.db.session() as session:
        accounts.create_user(session, "demo", DEMO_USER, password, "supervisor")
    api = result.settings.api
    url = f"http://{api.host}:{port or api.port}/"
    console.print(
        f"\n[bold]console:[/] {url}   user [bold]{DEMO_USER}[/]  password [bold]{password}[/]"
        "\n(the password is shown only now; the clip plays as camera "
        f"'{CAMERA}' and its alert appears under Live alerts — Ctrl-C stops)"
    )
    run_server(ctx, port=port)
