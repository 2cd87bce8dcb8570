"""An id that left the store (an API URL, an audit event, a notification, an export) never
comes to name another row: on SQLite too, where a table without ``AUTOINCREMENT`` gives a new
row the highest id plus one, so the newest row deleted would hand its id to the next.

Real SQLite files, one row in every table (`one_of_each`), and Alembic's own commands for the
migration that rebuilt the tables (0012).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Integer, Table, delete, func, select, text, update
from sqlalchemy.orm import Session

from watchkeeper.policy import audit
from watchkeeper.store import Database, StoreError
from watchkeeper.store.alerts import Alert, AlertReview, AlertSighting
from watchkeeper.store.auth import ApiKey, LoginSession, User
from watchkeeper.store.crowd import CrowdAlert, CrowdMinute, CrowdZone
from watchkeeper.store.db import MIGRATIONS
from watchkeeper.store.investigations import Case, CaseCandidate, CaseProbe, CaseSource
from watchkeeper.store.models import (
    Base,
    Camera,
    Match,
    Person,
    Photo,
    Sighting,
    Template,
    Watchlist,
)
from watchkeeper.store.outbox import OutboxMessage
from watchkeeper.store.policy import (
    ActivityCount,
    Approval,
    ArchivedSighting,
    Deployment,
    SightingTemplate,
)

# rebuilt with AUTOINCREMENT by migration 0012 (templates: by 0010)
REBUILT = {
    "watchlists", "persons", "photos", "cameras", "sightings", "matches", "alerts",
    "alert_reviews", "users", "api_keys", "crowd_zones", "crowd_alerts", "cases",
    "case_probes", "case_sources", "case_candidates", "outbox", "deployments", "approvals",
    "sighting_templates",
}  # fmt: skip
# numbered by the store in the order things happen: a running gallery's mark of the newest
# it has read must never be passed by a later note with a smaller number (0013)
NOTES = {"template_deletions"}
NEVER_REUSED = REBUILT | {"templates"} | NOTES
# integer ids that never leave the store: a reused one cannot be mistaken for anything
LEFT = {"crowd_minutes"}
# numbered, but only ever added up whatever their numbers: a tally's parts (0014)
SUMMED = {"template_tallies"}
# deleting a camera's newest row needs its sightings gone first (no ON DELETE CASCADE)
BLOCKED_BY = {"cameras": "sightings"}
T0 = datetime(2026, 1, 1, tzinfo=UTC)
VECTOR = b"\x00\x00\x80?"  # 1.0 as float32


def one_of_each(s: Session, i: int) -> dict[str, int]:
    """A row in every table (``i`` keeps the unique columns apart); the new ids by table."""
    at = T0 + timedelta(hours=i)
    wl = Watchlist(name=f"list {i}", purpose="security", legal_basis="b", owner="ops")
    person = Person(watchlist=wl, name=f"p{i}", created_by="ops")
    photo = Photo(
        person=person, media_sha256=f"{i:064x}", width=10, height=10, face_box=[0, 0, 1, 1],
        quality=0.9,
    )  # fmt: skip
    camera = Camera(name=f"cam {i}", uri=f"rtsp://cam{i}/", analysis_fps=5.0)
    user = User(username=f"u{i}", password_hash="h", role="operator")
    case = Case(
        reference=f"C-{i}", purpose="missing_person", legal_basis="b", requested_by="ops",
        window_start=at, window_end=at + timedelta(hours=1), cameras=[],
        camera_groups=["default"], expires_at=at + timedelta(days=30), threshold=0.5,
    )  # fmt: skip
    s.add_all([wl, person, photo, camera, user, case])
    s.flush()
    template = Template(person=person, photo_id=photo.id, model="m@1", dimension=1, vector=VECTOR)
    sighting = Sighting(
        camera_id=camera.id, track_id=i, started_at=at, ended_at=at, first_frame=0,
        last_frame=1, detections=2, best_frame=1, crop_sha256=None, quality=0.8, model="m@1",
    )  # fmt: skip
    zone = CrowdZone(camera_id=camera.id, name=f"z{i}", definition={}, created_by="ops")
    probe = CaseProbe(
        case_id=case.id, media_sha256=f"{i:064x}", width=10, height=10, face_box=[0, 0, 1, 1],
        quality=0.9, model="m@1", dimension=1, vector=VECTOR, created_by="ops",
    )  # fmt: skip
    source = CaseSource(case_id=case.id, path=f"/rec/{i}.mp4", state="pending")
    s.add_all([template, sighting, zone, probe, source])
    s.flush()
    match = Match(
        sighting_id=sighting.id, person_id=person.id, watchlist_id=wl.id, score=0.7,
        threshold=0.5, template_id=template.id,
    )  # fmt: skip
    alert = Alert(
        camera_id=camera.id, person_id=person.id, watchlist_id=wl.id, sighting_id=sighting.id,
        photo_id=photo.id, score=0.7, threshold=0.5, confirmations_required=1, first_seen=at,
        last_seen=at,
    )  # fmt: skip
    crowd_alert = CrowdAlert(
        camera_id=camera.id, zone_id=zone.id, kind="people", value=9.0, limit=5.0, peak=9.0,
        raised_at=at,
    )  # fmt: skip
    s.add_all([match, alert, crowd_alert])
    s.flush()
    review = AlertReview(alert_id=alert.id, user_id=user.id, reviewer="u", decision="confirm")
    candidate = CaseCandidate(
        case_id=case.id, key=f"rec:{source.id}:1", kind="recording", source_id=source.id,
        sighting_id=None, camera=camera.name, track_id=1, first_frame=0, last_frame=1,
        best_frame=1, detections=2, started_at=at, ended_at=at, score=0.6, threshold=0.5,
        probe_id=probe.id, model="m@1", crop_sha256=None, box=[0, 0, 1, 1], quality=0.8,
    )  # fmt: skip
    notice = OutboxMessage(
        alert_id=alert.id, channel="webhook", target="http://receiver/", payload={},
        idempotency_key=f"alert-{alert.id}-{i}", next_attempt_at=at,
    )  # fmt: skip
    deployment = Deployment(
        watchlist_id=wl.id, camera_group="default", starts_at=at, ends_at=at + timedelta(days=1),
        authorised_by="judge", authorisation_ref="W-1", created_by="ops",
    )  # fmt: skip
    approval = Approval(
        kind="enrol_wanted", object_type="person", object_id=str(person.id), requested_by="ops"
    )
    api_key = ApiKey(user=user, name="k", prefix=f"k{i:08d}", hash="h", scopes=[])
    sighting_template = SightingTemplate(
        sighting_id=sighting.id, model="m@1", dimension=1, vector=VECTOR
    )
    minute = CrowdMinute(
        zone_id=zone.id, camera_id=camera.id, minute=at, frames=1, people_mean=1.0,
        people_max=1.0, density_max=None, entered=0, left=0,
    )  # fmt: skip
    # and the tables without an id of their own, so that the migration carries them too
    s.add_all([
        review, candidate, notice, deployment, approval, api_key, sighting_template, minute,
        AlertSighting(alert_id=alert.id, sighting_id=sighting.id, match_id=match.id, score=0.7),
        LoginSession(
            id=f"{i:064x}", user=user, csrf_token="c", expires_at=at, last_seen_at=at
        ),
        ArchivedSighting(
            sighting_id=sighting.id, camera_group="default", expires_at=at + timedelta(days=1)
        ),
        ActivityCount(
            hour=at, camera=camera.name, frames=1, faces=1, sightings=1, blocked_expired=0,
            blocked_not_authorised=0, blocked_review_overdue=0, blocked_pending_approval=0,
        ),
    ])  # fmt: skip
    s.flush()
    rows: list[Any] = [
        wl, person, photo, template, camera, sighting, match, alert, review, user, api_key,
        zone, crowd_alert, minute, case, probe, source, candidate, notice, deployment,
        approval, sighting_template,
    ]  # fmt: skip
    return {row.__tablename__: row.id for row in rows}


def delete_row(s: Session, table: str, row_id: int) -> None:
    s.execute(text(f"DELETE FROM {table} WHERE id = :id"), {"id": row_id})


def migrate_to(database: Database, revision: str, down: bool = False) -> None:
    with database.migration() as config:
        (command.downgrade if down else command.upgrade)(config, revision)


def tables(connection: Connection) -> list[str]:
    query = "SELECT name FROM sqlite_master WHERE type = 'table' AND name <> 'sqlite_sequence'"
    return sorted(name for (name,) in connection.exec_driver_sql(query))


def contents(database: Database) -> dict[str, list[tuple[Any, ...]]]:
    with database.engine.connect() as connection:
        return {
            name: list(connection.exec_driver_sql(f'SELECT * FROM "{name}" ORDER BY rowid'))
            for name in tables(connection)
            if name != "alembic_version"
        }


def schema(database: Database) -> dict[str, str]:
    """Every table's and index's CREATE statement, as ``sqlite_master`` keeps it."""
    with database.engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master "
            "WHERE sql IS NOT NULL AND name NOT IN ('sqlite_sequence', 'alembic_version')"
        )
        return {name: sql for name, sql in rows}


def without_autoincrement(sql: str) -> list[str]:
    """A CREATE statement's lines less what 0012 changes: the primary key written inline with
    AUTOINCREMENT (SQLite takes it nowhere else) instead of as the named constraint
    ``pk_<table>``, and the quotes SQLite puts around a renamed table's name."""
    lines = [line.strip().removesuffix(",").strip() for line in unquoted(sql).splitlines()]
    lines = [line.replace(" PRIMARY KEY AUTOINCREMENT", "") for line in lines]
    pk = r"CONSTRAINT pk_\w+ PRIMARY KEY \(id\)"
    return [line for line in lines if not re.fullmatch(pk, line)]


def unquoted(sql: str) -> str:
    """Without the quotes SQLite puts around the name of a table renamed into place."""
    return re.sub(r'^CREATE TABLE "(\w+)"', r"CREATE TABLE \1", sql)


def sequence_of(database: Database, table: str) -> int:
    with database.engine.connect() as connection:
        query = "SELECT seq FROM sqlite_sequence WHERE name = :t"
        return int(connection.execute(text(query), {"t": table}).scalar() or 0)


@pytest.fixture
def at_0011(tmp_path):
    """A store as it stood before 0012, with two of every row (the second set the newest)."""
    database = Database(f"sqlite:///{tmp_path}/old.db")
    migrate_to(database, "0011")
    with database.session() as s:
        one_of_each(s, 1)
        one_of_each(s, 2)
    yield database
    database.close()


@pytest.mark.parametrize("table", sorted(NEVER_REUSED - NOTES))
def test_the_newest_row_deleted_its_id_is_not_handed_out_again(db, table):
    with db.session() as s:
        one_of_each(s, 1)
        newest = one_of_each(s, 2)
    with db.session() as s:
        if table in BLOCKED_BY:
            delete_row(s, BLOCKED_BY[table], newest[BLOCKED_BY[table]])
        delete_row(s, table, newest[table])
    with db.session() as s:
        assert one_of_each(s, 3)[table] > newest[table]


def test_the_newest_deletion_note_pruned_its_number_is_not_handed_out_again(db):
    with db.session() as s:
        templates = [one_of_each(s, i)["templates"] for i in (1, 2)]
    with db.session() as s:
        for template_id in templates:
            delete_row(s, "templates", template_id)
    with db.session() as s:
        notes = s.execute(text("SELECT seq, template_id FROM template_deletions")).all()
        assert [template for _, template in notes] == templates
        s.execute(text("DELETE FROM template_deletions"))  # the retention purge, say
    with db.session() as s:
        delete_row(s, "templates", one_of_each(s, 3)["templates"])
    with db.session() as s:
        assert s.scalar(text("SELECT seq FROM template_deletions")) > max(n for n, _ in notes)


def numbers_its_rows(table: Table) -> bool:
    """Whether the database hands out the table's keys: one integer column, no foreign key."""
    columns = list(table.primary_key.columns)
    return (
        len(columns) == 1
        and isinstance(columns[0].type, Integer)
        and columns[0].autoincrement is not False
        and not columns[0].foreign_keys
    )


def test_every_table_with_a_row_id_is_decided_on_and_the_store_says_the_same(db):
    numbered = {table.name for table in Base.metadata.sorted_tables if numbers_its_rows(table)}
    assert numbered == NEVER_REUSED | LEFT | SUMMED  # a new table: say here whether its ids leave
    declared = {t.name for t in Base.metadata.sorted_tables if t.kwargs.get("sqlite_autoincrement")}
    assert declared == NEVER_REUSED
    stored = {name for name, sql in schema(db).items() if "AUTOINCREMENT" in sql}
    assert stored == NEVER_REUSED


def test_migration_0012_keeps_every_row_index_and_foreign_key_and_goes_back_to_0011(at_0011):
    rows, before = contents(at_0011), schema(at_0011)
    assert all(rows[name] for name in REBUILT | LEFT)  # something to carry in every table

    migrate_to(at_0011, "0012")

    after = schema(at_0011)
    assert contents(at_0011) == rows
    assert after.keys() == before.keys()  # every index, under its name
    for name, sql in after.items():
        assert without_autoincrement(sql) == without_autoincrement(before[name]), name
        assert ("PRIMARY KEY AUTOINCREMENT" in sql) == (name in NEVER_REUSED), name
    with at_0011.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []
    for table in REBUILT:  # the sequences start at the ids the tables held
        assert sequence_of(at_0011, table) == max(row[0] for row in rows[table]), table

    migrate_to(at_0011, "0011", down=True)

    assert contents(at_0011) == rows
    for name, sql in schema(at_0011).items():  # as they were, to the byte
        assert unquoted(sql) == unquoted(before[name]), name
    assert {table for table in REBUILT if sequence_of(at_0011, table)} == set()
    migrate_to(at_0011, "head")
    ids = [row[0] for row in rows["templates"]]
    assert contents(at_0011) == rows | {
        "template_deletions": [],  # 0013's, empty
        "template_tallies": [(1, "m@1", len(ids), sum(ids))],  # 0014's, from the rows there
    }


def test_after_0012_the_foreign_keys_still_cascade(at_0011):
    at_0011.migrate()
    with at_0011.session() as s:
        s.execute(delete(Watchlist).where(Watchlist.name == "list 2"))
        s.execute(delete(Case).where(Case.reference == "C-2"))
    with at_0011.session() as s:
        left = {
            model.__tablename__: s.scalar(select(func.count()).select_from(model))
            for model in (Person, Photo, Template, Match, Alert, AlertReview, AlertSighting,
                          OutboxMessage, Deployment, CaseProbe, CaseSource, CaseCandidate)
        }  # fmt: skip
    assert set(left.values()) == {1}, left


def test_0012_does_not_give_out_again_an_id_named_before_the_upgrade(at_0011):
    """The newest person and every zone deleted before the upgrade are still named by the audit
    log, the newest sighting purged by a case's candidate: none of their ids is handed out."""
    with at_0011.session() as s:
        person = s.scalars(select(Person).order_by(Person.id.desc())).first()
        assert person is not None
        person_id, watchlist_id = person.id, person.watchlist_id
        audit.record(s, "ops", "person.enrol", "person", str(person_id))
        s.delete(person)
        audit.record(s, "ops", "person.delete", "person", person_id)
        for zone_id in s.scalars(select(CrowdZone.id)).all():  # no zone left at all
            s.execute(delete(CrowdZone).where(CrowdZone.id == zone_id))
            audit.record(s, "ops", "zone.delete", "zone", zone_id)
        sighting_id = s.scalar(select(func.max(Sighting.id)))
        s.execute(update(CaseCandidate).values(sighting_id=sighting_id))
        s.execute(delete(Sighting).where(Sighting.id == sighting_id))
        # what anybody may type is no id: a login refused under a number as the username
        audit.record(s, "anonymous", "auth.login.failed", "user", str(2**62))

    at_0011.migrate()

    with at_0011.session() as s:
        again = Person(watchlist_id=watchlist_id, name="new", created_by="ops")
        s.add(again)
        s.flush()
        assert again.id > person_id
        new = one_of_each(s, 3)
        assert new["sightings"] > sighting_id
        assert new["crowd_zones"] == 3
    assert sequence_of(at_0011, "users") == 3


def test_0012_refuses_to_run_while_foreign_keys_are_on(at_0011):
    rows = contents(at_0011)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with pytest.raises(RuntimeError, match="foreign keys"), at_0011.engine.begin() as connection:
        config.attributes["connection"] = connection  # as a caller that left them on
        command.upgrade(config, "head")
    assert contents(at_0011) == rows
    assert "AUTOINCREMENT" not in schema(at_0011)["persons"]


def test_a_migration_that_leaves_a_row_pointing_nowhere_is_rolled_back(db):
    with db.session() as s:
        one_of_each(s, 1)
    rows = contents(db)
    with pytest.raises(StoreError, match=r"no row of persons \(4 such\)"), db.migration() as config:
        connection = config.attributes["connection"]
        connection.exec_driver_sql("DELETE FROM persons")  # foreign keys are off: no cascade
    assert contents(db) == rows
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
