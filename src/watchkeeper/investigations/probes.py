"""Probes: the photos of the person a case looks for, checked exactly like enrolment photos.

A probe is only as good as its face: every photo goes through ``enrolment.check_photo`` (one
usable face, enough quality), and one bad photo refuses the whole request with the photo and
the reason named, leaving the case as it was. A probe belongs to its case: its photo and
template are deleted with the case (``cases.purge_case``).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from watchkeeper.enrolment import EnrolmentError, check_photo
from watchkeeper.investigations.errors import InvestigationError
from watchkeeper.policy import audit
from watchkeeper.store import Database, MediaStore
from watchkeeper.store import investigations as store
from watchkeeper.vision import FaceAnalyzer


def add_probes(
    db: Database,
    media: MediaStore,
    analyzer: FaceAnalyzer,
    case_id: int | str,
    photos: list[tuple[str, bytes]],
    actor: str,
    *,
    max_pixels: int,
    min_quality: float,
) -> list[int]:
    """Check every photo, then store them with their templates and an audit record at once.

    Raises ``EnrolmentError`` (the photo and why) for an unusable photo, no face or several
    faces; a case that is closed or expired takes no more probes.
    """
    if not photos:
        raise EnrolmentError("at least one photo of the person is needed")
    with db.session(readonly=True) as s:
        state = store.get_case(s, case_id).state(datetime.now(UTC))
    if state in ("closed", "expired"):
        raise InvestigationError(f"case {case_id} is {state}: it takes no more probe photos")
    checked = [
        check_photo(data, source, analyzer, max_pixels=max_pixels, min_quality=min_quality)
        for source, data in photos
    ]
    with media.transaction() as files, db.session() as s:
        case = store.get_case(s, case_id)
        ids = []
        for photo in checked:
            sha = files.put(photo.data, _extension(photo.data))
            row = store.add_probe(
                s, case, sha, photo.width, photo.height, photo.box, photo.quality,
                analyzer.model, photo.template, actor, cipher=media.cipher,
            )  # fmt: skip
            ids.append(int(row.id))
        audit.record(
            s,
            actor=actor,
            action="case.probe.add",
            object_type="case",
            object_id=case.id,
            details={
                "reference": case.reference,
                "probes": ids,
                "photos": [hashlib.sha256(p.data).hexdigest() for p in checked],
                "model": analyzer.model,
            },
        )
    return ids


def _extension(data: bytes) -> str:
    """Photos are kept as given; the extension only says what format they are in."""
    if data[:3] == b"\xff\xd8\xff":
        return ".jpg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return ".png"
    return ".img"
