"""The queries the rest of Watchkeeper needs; nothing outside ``store`` writes SQL.

Every function takes an open :class:`Session` and leaves committing to the caller's
``Database.session()`` block, so that a change and its audit record share one transaction.

Deletes return the media shas that no row references any more: the caller removes those
files *after* the commit, so a rollback never leaves a row pointing at a deleted file. A
sighting whose last match disappears is deleted too, since unmatched sightings are never kept.
Any change to the gallery's templates bumps ``gallery_version`` so running matchers rebuild.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
from sqlalchemy import Integer, Text, cast, delete, func, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from watchkeeper import domain
from watchkeeper.store.crypto import TEMPLATE, Cipher, seal, unseal
from watchkeeper.store.errors import NotFound, StoreError
from watchkeeper.store.investigations import CaseProbe, case_media
from watchkeeper.store.models import (
    PURPOSES,
    Camera,
    Match,
    Meta,
    Person,
    Photo,
    Sighting,
    Template,
    TemplateDeletion,
    TemplateTally,
    Watchlist,
)
from watchkeeper.store.names import check_name
from watchkeeper.store.policy import SightingTemplate
from watchkeeper.store.tables import metadata

GALLERY_VERSION = "gallery_version"
_VECTOR_DTYPE = np.dtype("<f4")


# --- watchlists -----------------------------------------------------------------------------


def create_watchlist(
    s: Session,
    name: str,
    purpose: str,
    legal_basis: str,
    owner: str,
    review_by: datetime | None = None,
    threshold: float | None = None,
    confirmations_required: int = 1,
) -> Watchlist:
    check_name(name, "watchlist name")
    if purpose not in PURPOSES:
        raise StoreError(f"purpose {purpose!r} is not one of: {', '.join(PURPOSES)}")
    if confirmations_required < 1:
        raise StoreError("confirmations_required must be at least 1")
    if s.scalar(select(Watchlist.id).where(Watchlist.name == name)) is not None:
        raise StoreError(f'watchlist "{name}" already exists')
    watchlist = Watchlist(
        name=name,
        purpose=purpose,
        legal_basis=legal_basis,
        owner=owner,
        review_by=review_by,
        threshold=threshold,
        confirmations_required=confirmations_required,
    )
    s.add(watchlist)
    try:
        s.flush()
    except IntegrityError as exc:  # created by someone else since the check above
        raise StoreError(f'watchlist "{name}" already exists') from exc
    return watchlist


def get_watchlist(s: Session, name_or_id: str | int) -> Watchlist:
    """By name, or by id when given an int (or a digit string that is no watchlist's name)."""
    found = None
    if isinstance(name_or_id, str):
        found = s.scalar(select(Watchlist).where(Watchlist.name == name_or_id))
    if found is None and str(name_or_id).isdigit():
        found = s.get(Watchlist, int(name_or_id))
    if found is None:
        raise NotFound(f'watchlist "{name_or_id}" does not exist')
    return found


def watchlists(s: Session) -> list[Watchlist]:
    """Every watchlist, by name, without counting its persons (which a gallery's refresh, in
    every replica at every change, has no use for: 200,000 persons at a million templates)."""
    return list(s.scalars(select(Watchlist).order_by(Watchlist.name)))


def list_watchlists(s: Session) -> list[tuple[Watchlist, int]]:
    """Every watchlist with its number of persons, by name."""
    persons = func.count(Person.id)
    rows = s.execute(
        select(Watchlist, persons).outerjoin(Person).group_by(Watchlist.id).order_by(Watchlist.name)
    )
    return [(watchlist, count) for watchlist, count in rows]


def page_watchlists(
    s: Session, after_id: int | None = None, limit: int | None = None
) -> list[tuple[Watchlist, int]]:
    """Watchlists with their number of persons, by id (for keyset paging)."""
    persons = func.count(Person.id)
    query = select(Watchlist, persons).outerjoin(Person).group_by(Watchlist.id)
    if after_id is not None:
        query = query.where(Watchlist.id > after_id)
    rows = s.execute(query.order_by(Watchlist.id).limit(limit))
    return [(watchlist, count) for watchlist, count in rows]


def delete_watchlist(s: Session, watchlist: Watchlist) -> list[str]:
    """Delete the list with its persons, photos, templates and matches; return freed media."""
    person_ids = select(Person.id).where(Person.watchlist_id == watchlist.id)
    shas = set(s.scalars(select(Photo.media_sha256).where(Photo.person_id.in_(person_ids))))
    matched = select(Match.sighting_id).where(Match.watchlist_id == watchlist.id)
    sighting_ids = set(s.scalars(matched))
    s.delete(watchlist)
    return _after_delete(s, shas, sighting_ids)


# --- persons and the gallery ----------------------------------------------------------------


def add_person(
    s: Session,
    watchlist: Watchlist,
    name: str,
    reason: str | None,
    expires_at: datetime | None,
    created_by: str,
) -> Person:
    check_name(name, "person name")
    person = Person(
        watchlist=watchlist,
        name=name,
        reason=reason,
        expires_at=expires_at,
        created_by=created_by,
    )
    s.add(person)
    s.flush()
    return person


def get_person(s: Session, person_id: int) -> Person:
    person = s.get(Person, person_id)
    if person is None:
        raise NotFound(f"person {person_id} does not exist")
    return person


def list_persons(s: Session, watchlist: Watchlist | None = None) -> list[Person]:
    query = select(Person).order_by(Person.id)
    if watchlist is not None:
        query = query.where(Person.watchlist_id == watchlist.id)
    return list(s.scalars(query))


def search_persons(
    s: Session,
    watchlist_id: int | None = None,
    name_contains: str | None = None,
    after_id: int | None = None,
    limit: int | None = None,
) -> list[Person]:
    """Persons by id, optionally of one list and whose name contains a text (any case).

    The text is matched literally: ``%`` and ``_`` in it are not wildcards.
    """
    query = select(Person).order_by(Person.id)
    if watchlist_id is not None:
        query = query.where(Person.watchlist_id == watchlist_id)
    if name_contains:
        query = query.where(
            func.lower(Person.name).contains(name_contains.lower(), autoescape=True)
        )
    if after_id is not None:
        query = query.where(Person.id > after_id)
    return list(s.scalars(query.limit(limit)))


def delete_person(s: Session, person: Person) -> list[str]:
    """Delete the person with photos, templates and matches; return freed media."""
    shas = set(s.scalars(select(Photo.media_sha256).where(Photo.person_id == person.id)))
    sighting_ids = set(s.scalars(select(Match.sighting_id).where(Match.person_id == person.id)))
    s.delete(person)
    return _after_delete(s, shas, sighting_ids)


def add_photo(
    s: Session,
    person: Person,
    sha: str,
    width: int,
    height: int,
    face_box: Iterable[float],
    quality: float,
) -> Photo:
    box = [float(v) for v in face_box]
    if len(box) != 4:
        raise StoreError(f"face_box needs 4 numbers (x1, y1, x2, y2), got {len(box)}")
    photo = Photo(
        person=person,
        media_sha256=sha,
        width=width,
        height=height,
        face_box=box,
        quality=float(quality),
    )
    s.add(photo)
    s.flush()
    return photo


def add_template(
    s: Session,
    person: Person,
    photo: Photo,
    model: str,
    vector: npt.ArrayLike,
    cipher: Cipher | None = None,
) -> Template:
    """Store one template, encrypted when a ``cipher`` (the configured key) is given."""
    values = np.asarray(vector, dtype=_VECTOR_DTYPE).reshape(-1)
    if values.size == 0 or not np.all(np.isfinite(values)):
        raise StoreError(f"template of model {model} is empty or not finite")
    template = Template(
        person=person,
        photo_id=photo.id,
        model=model,
        dimension=int(values.size),
        vector=seal(cipher, values.tobytes(), TEMPLATE),
    )
    s.add(template)
    s.flush()
    bump_gallery_version(s)
    return template


def gallery_templates(
    s: Session,
    model: str,
    active_at: datetime | None = None,
    cipher: Cipher | None = None,
    after_id: int = 0,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64], domain.FloatArray]:
    """All templates of ``model``: (template_ids, person_ids, watchlist_ids, vectors (N, D)).

    With ``active_at``, persons whose ``expires_at`` has passed by then are left out; with
    ``after_id``, only templates stored after that one (ids grow). Encrypted templates need
    the ``cipher`` they were written with (else a ``CipherError``).
    """
    query = (
        select(
            Template.id,
            Template.person_id,
            Person.watchlist_id,
            Template.vector,
            Template.dimension,
        )
        .join(Person, Template.person_id == Person.id)
        .where(Template.model == model, Template.id > after_id)
        .order_by(Template.id)
    )
    if active_at is not None:
        query = query.where(or_(Person.expires_at.is_(None), Person.expires_at > active_at))
    rows = [
        (t_id, p_id, w_id, unseal(cipher, blob, TEMPLATE, f"template {t_id}", 4 * dim))
        for t_id, p_id, w_id, blob, dim in s.execute(query)
    ]
    ids = [np.array([row[i] for row in rows], np.int64) for i in range(3)]
    if not rows:
        return ids[0], ids[1], ids[2], np.zeros((0, 0), np.float32)
    sizes = {len(row[3]) for row in rows}
    if len(sizes) > 1:
        raise StoreError(f"templates of model {model} have different dimensions")
    vectors = np.frombuffer(b"".join(row[3] for row in rows), _VECTOR_DTYPE)
    return ids[0], ids[1], ids[2], vectors.reshape(len(rows), -1).astype(np.float32)


def template_ids(s: Session, model: str) -> npt.NDArray[np.int64]:
    """The ids of every stored template of ``model``: what a copy of the gallery compares its
    own with when the count and sum disagree (ids are never reused, so a missing one is gone)."""
    query = select(Template.id).where(Template.model == model)
    return np.fromiter(s.scalars(query), np.int64)


def template_tally(s: Session, model: str) -> tuple[int, int]:
    """How many templates of ``model`` are stored, and the sum of their ids: two numbers that
    tell a copy whether it holds the same set, without reading the set. Added up from the
    parts the store's triggers keep (migration 0014), one statement: a consistent view."""
    query = select(
        func.coalesce(func.sum(TemplateTally.templates), 0),
        func.coalesce(func.sum(TemplateTally.id_sum), 0),
    )
    count, total = s.execute(query.where(TemplateTally.model == model)).one()
    return int(count), int(total)


def counted_template_tally(s: Session, model: str) -> tuple[int, int]:
    """The same two numbers counted over the templates themselves: one pass over all of the
    model's rows, for a check now and then that nothing changed them behind the triggers."""
    query = select(func.count(Template.id), func.coalesce(func.sum(Template.id), 0))
    count, total = s.execute(query.where(Template.model == model)).one()
    return int(count), int(total)


def fold_template_tallies(s: Session) -> None:
    """Replace the parts of each model's tally that has more than one by their sum. The parts
    are taken by one ``DELETE … RETURNING``: a part another transaction has not committed yet
    is not among them and stays, so a fold never loses a change. A model already at one row
    (SQLite's always, PostgreSQL's after a change that added no template) is left alone."""
    split = select(TemplateTally.model).group_by(TemplateTally.model).having(func.count() > 1)
    parts = s.execute(
        delete(TemplateTally)
        .where(TemplateTally.model.in_(split))
        .returning(TemplateTally.model, TemplateTally.templates, TemplateTally.id_sum)
    ).all()
    sums: dict[str, list[int]] = {}
    for model, templates, id_sum in parts:
        total = sums.setdefault(model, [0, 0])
        total[0] += templates
        total[1] += id_sum
    s.add_all(
        TemplateTally(model=model, templates=count, id_sum=id_sum)
        for model, (count, id_sum) in sums.items()
        if count or id_sum
    )


@dataclass(frozen=True, slots=True)
class TallyMended:
    """A model whose kept tally differed from its templates: they were changed behind the
    store's triggers (a restore with them off, a trigger disabled by hand)."""

    model: str
    kept: tuple[int, int]  # templates, sum of ids: what the triggers had kept
    counted: tuple[int, int]  # what the rows say, and the tally now


_KEPT = "SELECT model, sum(templates) AS n, sum(id_sum) AS ids FROM {} GROUP BY model"
_COUNTED = "SELECT model, count(*) AS n, sum(id) AS ids FROM templates GROUP BY model"
_DIFFERING = (
    "SELECT coalesce(k.model, c.model), k.n, k.ids, c.n, c.ids "
    "FROM kept AS k FULL JOIN counted AS c ON k.model = c.model "
    "WHERE coalesce(k.n, 0) <> coalesce(c.n, 0) OR coalesce(k.ids, 0) <> coalesce(c.ids, 0)"
)


def recount_template_tallies(s: Session) -> list[TallyMended]:
    """Set every model's tally to what its templates say; the models where it was wrong.

    On PostgreSQL the parts are taken, the rows counted and the tally written in one
    statement, so all three see the same committed state: a transaction committing meanwhile
    keeps its own part, is not counted twice and is not reported. On SQLite the session
    holds the store's one write lock from its start.
    """
    if s.get_bind().dialect.name == "postgresql":
        statement = (
            "WITH parts AS (DELETE FROM template_tallies RETURNING model, templates, id_sum), "
            f"kept AS ({_KEPT.format('parts')}), counted AS ({_COUNTED}), "
            "written AS (INSERT INTO template_tallies (model, templates, id_sum) "
            f"SELECT model, n, ids FROM counted) {_DIFFERING}"
        )
        rows = s.execute(text(statement)).all()
    else:  # no data-modifying WITH in SQLite: compare, then rewrite
        compared = f"WITH kept AS ({_KEPT.format('template_tallies')}), counted AS ({_COUNTED})"
        rows = s.execute(text(f"{compared} {_DIFFERING}")).all()
        s.execute(delete(TemplateTally))
        s.execute(text(f"INSERT INTO template_tallies (model, templates, id_sum) {_COUNTED}"))
    return [
        TallyMended(model, (int(kept or 0), int(kept_ids or 0)), (int(n or 0), int(ids or 0)))
        for model, kept, kept_ids, n, ids in rows
    ]


def template_deletions(s: Session, model: str, after_seq: int) -> tuple[npt.NDArray[np.int64], int]:
    """The ids of the templates of ``model`` deleted since note ``after_seq``, and the newest
    note of any model (where the next look starts)."""
    rows = s.execute(
        select(TemplateDeletion.seq, TemplateDeletion.template_id, TemplateDeletion.model).where(
            TemplateDeletion.seq > after_seq
        )
    ).all()
    ids = np.fromiter((row[1] for row in rows if row[2] == model), np.int64)
    return ids, max((row[0] for row in rows), default=after_seq)


def newest_template_deletion(s: Session) -> int:
    """The newest deletion note: a gallery built now holds none of the templates up to it."""
    return int(s.scalar(select(func.max(TemplateDeletion.seq))) or 0)


def prune_template_deletions(s: Session, before: datetime) -> int:
    """Drop the deletion notes made before ``before``; how many. A gallery that has not
    looked since then finds the count and sum of ids changed and reads every stored id."""
    result = s.execute(delete(TemplateDeletion).where(TemplateDeletion.deleted_at < before))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def gallery_version(s: Session) -> int:
    return int(s.scalar(select(Meta.value).where(Meta.key == GALLERY_VERSION)) or 0)


def bump_gallery_version(s: Session) -> int:
    """Increment the version in SQL (safe against concurrent writers) and return the new one.

    Every change the service makes to the templates ends here, so the tally's parts are
    folded here too: a replica then adds up one or two rows, however long the store has run.
    Writers already queue on the version's row, so folding adds no wait of its own.
    """
    s.execute(
        update(Meta)
        .where(Meta.key == GALLERY_VERSION)
        .values(value=cast(cast(Meta.value, Integer) + 1, Text))
    )
    fold_template_tallies(s)
    return gallery_version(s)


# --- cameras, sightings, matches -------------------------------------------------------------


def get_or_create_camera(
    s: Session, name: str, uri: str, group: str = "default", analysis_fps: float = 5.0
) -> Camera:
    camera = s.scalar(select(Camera).where(Camera.name == name))
    if camera is None:
        check_name(name, "camera name")
        camera = Camera(name=name, uri=uri, group=group, analysis_fps=analysis_fps, enabled=True)
        s.add(camera)
        s.flush()
    return camera


def save_sighting(
    s: Session, camera: Camera, sighting: domain.Sighting, crop_sha: str | None
) -> Sighting:
    row = Sighting(
        camera_id=camera.id,
        track_id=sighting.track_id,
        started_at=datetime.fromtimestamp(sighting.started_at, UTC),
        ended_at=datetime.fromtimestamp(sighting.ended_at, UTC),
        first_frame=sighting.first_frame,
        last_frame=sighting.last_frame,
        detections=sighting.detections,
        best_frame=sighting.best_frame,
        crop_sha256=crop_sha,
        quality=float(sighting.best_quality),
        model=sighting.model,
    )
    s.add(row)
    s.flush()
    return row


def save_match(s: Session, sighting_row: Sighting, match: domain.Match) -> Match:
    row = Match(
        sighting_id=sighting_row.id,
        person_id=match.person_id,
        watchlist_id=match.watchlist_id,
        score=float(match.score),
        threshold=float(match.threshold),
        template_id=match.template_id,
    )
    s.add(row)
    s.flush()
    return row


@dataclass(frozen=True, slots=True)
class MatchSummary:
    """A stored match with the names an operator needs to read it."""

    id: int
    created_at: datetime
    score: float
    threshold: float
    person_id: int
    person: str
    watchlist_id: int
    watchlist: str
    camera: str
    sighting_id: int
    started_at: datetime
    ended_at: datetime
    crop_sha256: str | None


def list_matches(s: Session, limit: int = 50) -> list[MatchSummary]:
    """The newest matches first."""
    query = (
        select(
            Match.id,
            Match.created_at,
            Match.score,
            Match.threshold,
            Match.person_id,
            Person.name,
            Match.watchlist_id,
            Watchlist.name,
            Camera.name,
            Sighting.id,
            Sighting.started_at,
            Sighting.ended_at,
            Sighting.crop_sha256,
        )
        .join(Person, Match.person_id == Person.id)
        .join(Watchlist, Match.watchlist_id == Watchlist.id)
        .join(Sighting, Match.sighting_id == Sighting.id)
        .join(Camera, Sighting.camera_id == Camera.id)
        .order_by(Match.id.desc())
        .limit(limit)
    )
    return [MatchSummary(*tuple(row)) for row in s.execute(query)]


def counts(s: Session) -> dict[str, int]:
    """Rows per table: lets a test prove that a failed command changed nothing."""
    return {
        table.name: int(s.scalar(select(func.count()).select_from(table)) or 0)
        for table in metadata.sorted_tables
    }


# --- helpers ---------------------------------------------------------------------------------


def _after_delete(s: Session, shas: set[str], sighting_ids: set[int]) -> list[str]:
    """Finish a delete: drop sightings left without a match, bump the gallery, free media."""
    s.flush()
    if sighting_ids:
        orphaned = select(Sighting.id).where(
            Sighting.id.in_(sighting_ids), ~Sighting.id.in_(select(Match.sighting_id))
        )
        orphan_ids = list(s.scalars(orphaned))
        shas |= {
            sha
            for sha in s.scalars(select(Sighting.crop_sha256).where(Sighting.id.in_(orphan_ids)))
            if sha
        }
        s.execute(delete(Sighting).where(Sighting.id.in_(orphan_ids)))
    bump_gallery_version(s)
    return unreferenced_media(s, shas)


def unreferenced_media(s: Session, shas: Iterable[str]) -> list[str]:
    """Those of ``shas`` that no photo, sighting or investigation case refers to."""
    wanted = set(shas)
    if not wanted:
        return []
    used = set(s.scalars(select(Photo.media_sha256).where(Photo.media_sha256.in_(wanted))))
    used |= set(s.scalars(select(Sighting.crop_sha256).where(Sighting.crop_sha256.in_(wanted))))
    used |= case_media(s, list(wanted))  # evidence of an investigation outlives the archive
    return sorted(wanted - used)


# --- reports, retention and key rotation ------------------------------------------------------


def matches_between(s: Session, start: datetime, end: datetime) -> int:
    """Matches stored in ``[start, end)``."""
    query = select(func.count()).where(Match.created_at >= start, Match.created_at < end)
    return int(s.scalar(query) or 0)


def watchlist_entries(s: Session) -> list[tuple[Watchlist, list[tuple[int, datetime | None]]]]:
    """Every list (by name) with its entries' ids and expiry dates; no names of persons."""
    entries: dict[int, list[tuple[int, datetime | None]]] = {}
    for person_id, watchlist_id, expires_at in s.execute(
        select(Person.id, Person.watchlist_id, Person.expires_at)
    ):
        entries.setdefault(watchlist_id, []).append((person_id, expires_at))
    lists = s.scalars(select(Watchlist).order_by(Watchlist.name))
    return [(wl, entries.get(wl.id, [])) for wl in lists]


def expired_persons(s: Session, cutoff: datetime) -> list[Person]:
    """Entries whose expiry is at or before ``cutoff``, oldest id first."""
    return list(s.scalars(select(Person).where(Person.expires_at <= cutoff).order_by(Person.id)))


def photo_and_template_counts(s: Session, person_id: int) -> tuple[int, int]:
    """Counted in SQL: loading the rows would make the ORM delete them itself, after the
    cascade, when the person is deleted in the same session."""
    photos = s.scalar(select(func.count()).where(Photo.person_id == person_id))
    templates = s.scalar(select(func.count()).where(Template.person_id == person_id))
    return int(photos or 0), int(templates or 0)


def template_rows(s: Session) -> Iterator[Template | SightingTemplate | CaseProbe]:
    """Every stored template (enrolled, archived, case probes): what key rotation re-seals."""
    for table in (Template, SightingTemplate, CaseProbe):
        yield from s.scalars(select(table))


def template_vectors(s: Session) -> Iterator[tuple[bytes, int]]:
    """(vector bytes, dimension) of every stored template, without loading the rows."""
    for table in (Template, SightingTemplate, CaseProbe):
        yield from s.execute(select(table.vector, table.dimension))  # rows unpack as tuples
