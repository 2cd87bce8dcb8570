"""Adding a person to a watchlist from photos: every photo checked before anything is written.

A watchlist entry is only as good as its photos. Each photo must hold exactly one usable face
(or the caller says to take the largest), of enough quality to be recognised; one bad photo
refuses the whole entry with a message that names the photo and the reason, and the store is
left as it was. When all photos pass, the person, the photos (content-addressed files), the
templates and the audit record are written together or not at all.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from watchkeeper.policy import approvals, audit
from watchkeeper.store import repository
from watchkeeper.store.db import Database
from watchkeeper.store.media import MediaStore
from watchkeeper.vision import FaceAnalyzer
from watchkeeper.vision.imageio import decode_image, without_metadata


class EnrolmentError(ValueError):
    """A photo cannot be used to enrol a person; the message says which and why."""


@dataclass(slots=True)
class CheckedPhoto:
    """A photo that passed the checks, with what will be stored of it."""

    source: str
    data: bytes
    width: int
    height: int
    box: list[float]
    quality: float
    template: np.ndarray
    faces_found: int


def check_photo(
    data: bytes,
    source: str,
    analyzer: FaceAnalyzer,
    *,
    max_pixels: int,
    min_quality: float,
    largest_face: bool = False,
) -> CheckedPhoto:
    """Decode one photo, find its face, judge it and make its template (nothing is stored).

    The photo kept (``data``) is stripped of its metadata first: an EXIF GPS position has no
    place in a watchlist, and the face box refers to the very pixels that are stored.
    """
    data = without_metadata(data, max_pixels, source)
    image = decode_image(data, max_pixels=max_pixels, source=source)
    analysed = analyzer.analyse(image)
    faces = analysed.faces
    if len(faces) == 0:
        raise EnrolmentError(f"{source}: no face found; use a photo where the face is visible")
    if len(faces) > 1 and not largest_face:
        raise EnrolmentError(
            f"{source}: {len(faces)} faces found; crop the photo to one person or pass "
            "--largest-face to use the largest"
        )
    index = faces.largest()
    quality = float(faces.quality[index])
    if quality < min_quality:
        raise EnrolmentError(
            f"{source}: face quality {quality:.2f} is below the minimum {min_quality:.2f} "
            "(too small, blurred or turned away); use a sharper, frontal photo"
        )
    template = analyzer.embed(analysed.aligned[index : index + 1])[0]
    return CheckedPhoto(
        source=source,
        data=data,
        width=int(image.shape[1]),
        height=int(image.shape[0]),
        box=[float(v) for v in faces.boxes[index]],
        quality=quality,
        template=template,
        faces_found=len(faces),
    )


def read_photo_file(path: Path) -> bytes:
    if not path.exists():
        raise EnrolmentError(f"{path}: no such file")
    if not path.is_file():
        raise EnrolmentError(f"{path}: not a file")
    return path.read_bytes()


@dataclass(slots=True)
class EnrolledPerson:
    person_id: int
    name: str
    watchlist: str
    photos: list[CheckedPhoto]
    approval_id: int | None = None  # set when the entry awaits a second person's approval


def enrol_person(
    db: Database,
    media: MediaStore,
    analyzer: FaceAnalyzer,
    *,
    watchlist: str,
    name: str,
    photos: list[tuple[str, bytes]],
    actor: str,
    reason: str | None = None,
    expires_at: datetime | None = None,
    max_pixels: int,
    min_quality: float,
    largest_face: bool = False,
) -> EnrolledPerson:
    """Check every photo, then store the person, photos, templates and audit record at once."""
    if not name.strip():
        raise EnrolmentError("a person needs a name (or a case reference) to be enrolled")
    if not photos:
        raise EnrolmentError("at least one photo is needed to enrol a person")
    checked = [
        check_photo(
            data,
            source,
            analyzer,
            max_pixels=max_pixels,
            min_quality=min_quality,
            largest_face=largest_face,
        )
        for source, data in photos
    ]
    with media.transaction() as files, db.session() as session:
        wl = repository.get_watchlist(session, watchlist)
        person = repository.add_person(
            session, wl, name=name.strip(), reason=reason, expires_at=expires_at, created_by=actor
        )
        for photo in checked:
            sha = files.put(photo.data, _extension(photo.data))
            row = repository.add_photo(
                session,
                person,
                sha=sha,
                width=photo.width,
                height=photo.height,
                face_box=photo.box,
                quality=photo.quality,
            )
            repository.add_template(
                session,
                person,
                row,
                model=analyzer.model,
                vector=photo.template,
                cipher=media.cipher,
            )
        repository.bump_gallery_version(session)
        audit.record(
            session,
            actor=actor,
            action="person.enrol",
            object_type="person",
            object_id=str(person.id),
            reason=reason,
            details={
                "watchlist": wl.name,
                "photos": [hashlib.sha256(p.data).hexdigest() for p in checked],
                "model": analyzer.model,
            },
        )
        approval = None
        if wl.purpose == "wanted_person":  # four eyes: no match until a second person approves
            approval = approvals.request_enrolment(session, person, actor, reason).id
        person_id = int(person.id)
    return EnrolledPerson(
        person_id=person_id,
        name=name.strip(),
        watchlist=watchlist,
        photos=checked,
        approval_id=approval,
    )


def _extension(data: bytes) -> str:
    """Photos are kept as given but for their metadata; the extension says their format."""
    if data[:3] == b"\xff\xd8\xff":
        return ".jpg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return ".png"
    return ".img"
