"""What the investigation tests share: a recording of the clip, a case, a probe.

The subject is the passer-by whose face the demo crops from frame 5 of the bundled clip; the
clip stands in for a recording of camera ``arcade`` that began at ``CLIP_START``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from watchkeeper.context import AppContext
from watchkeeper.demo import CLIP
from watchkeeper.investigations import cases, probes

CLIP_START = datetime(2025, 11, 28, 14, 30, tzinfo=UTC)
REQUESTER = "user:ivan"
APPROVER = "user:sue"


def recording(folder: Path, camera: str = "arcade", start: datetime = CLIP_START) -> Path:
    """The clip as a recorder names it: ``<camera>_YYYYmmdd-HHMMSS.mp4`` (a link)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{camera}_{start:%Y%m%d-%H%M%S}.mp4"
    path.symlink_to(CLIP)
    return path


def open_case(
    ctx: AppContext,
    reference: str = "MP-1",
    *,
    cameras: tuple[str, ...] = ("arcade",),
    groups: tuple[str, ...] = (),
    start: datetime = CLIP_START - timedelta(hours=1),
    end: datetime = CLIP_START + timedelta(hours=1),
    expires: datetime | None = None,
    approve: bool = True,
    probe: bytes | None = None,
) -> int:
    """A case (approved by a second supervisor unless told otherwise), with a probe if given."""
    with ctx.db.session() as s:
        case = cases.open_case(
            s,
            cases.CaseRequest(
                reference, "missing_person", "test: missing-person report", start, end,
                expires or datetime.now(UTC) + timedelta(days=7), cameras, groups,
            ),
            REQUESTER,
            default_threshold=ctx.settings.matching.default_threshold,
            max_days=ctx.settings.investigations.max_case_days,
        )  # fmt: skip
        case_id = case.id
    if approve:
        with ctx.db.session() as s:
            cases.approve_case(s, case_id, APPROVER, "supervisor")
    if probe is not None:
        add_probe(ctx, case_id, probe)
    return case_id


def add_probe(ctx: AppContext, case_id: int, photo: bytes, name: str = "probe.jpg") -> list[int]:
    return probes.add_probes(
        ctx.db, ctx.media, ctx.analyzer, case_id, [(name, photo)], REQUESTER,
        max_pixels=ctx.settings.streams.max_image_pixels,
        min_quality=ctx.settings.vision.enrol_min_quality,
    )  # fmt: skip
