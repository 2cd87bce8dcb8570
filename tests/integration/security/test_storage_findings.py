"""Regression tests of the storage and integrity findings of the 2026-11 attacker test.

Each test is named after its row of issue 14 and failed before the fix it guards.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import io
import json
import logging
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image
from sqlalchemy import func, select
from storage_world import LiveApi, start
from typer.testing import CliRunner

from watchkeeper.alerts.notifiers import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Delivery,
    WebhookNotifier,
)
from watchkeeper.cli import app as cli_app
from watchkeeper.config import WebhookConfig, load_settings
from watchkeeper.context import AppContext
from watchkeeper.policy import audit, keys
from watchkeeper.service.camera import CameraSpec
from watchkeeper.store import Database, MediaStore, repository
from watchkeeper.store import cameras as camera_store
from watchkeeper.store.crypto import (
    BOUND_MAGIC,
    KEY_ENV,
    MAGIC,
    MEDIA,
    Cipher,
    CipherError,
    generate_key,
    parse_key,
)
from watchkeeper.store.models import AuditEvent, Person
from watchkeeper.store.outbox import OutboxMessage
from watchkeeper.store.uri_secrets import open_uri, seal_uri
from watchkeeper.vision import FaceAnalyzer
from watchkeeper.vision.imageio import decode_image

TOO_BIG = 2**63  # one past SQLite's and PostgreSQL's largest integer


@pytest.fixture
def api(tmp_path: Path, analyzer: FaceAnalyzer) -> Iterator[LiveApi]:
    live, stop = start(tmp_path, analyzer)
    yield live
    stop()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"/api/v1/persons/{TOO_BIG}"),
        ("GET", f"/api/v1/alerts/{TOO_BIG}"),
        ("GET", f"/api/v1/alerts/{TOO_BIG}/crop"),
        ("GET", f"/api/v1/cameras/{TOO_BIG}"),
        ("GET", f"/api/v1/persons/1/photos/{TOO_BIG}"),
        ("GET", f"/api/v1/alerts?camera_id={TOO_BIG}"),
        ("GET", f"/api/v1/persons?watchlist_id={-TOO_BIG - 1}"),
        ("GET", f"/api/v1/users/{TOO_BIG}"),
        ("DELETE", f"/api/v1/apikeys/{TOO_BIG}"),
    ],
)
def test_finding_02_huge_ids_are_refused_without_a_500_or_a_traceback(
    api: LiveApi, caplog: pytest.LogCaptureFixture, method: str, path: str
):
    admin = api.login("ada")
    with caplog.at_level(logging.INFO):
        reply = admin.request(method, path)
    assert reply.status_code in (404, 422), reply.text
    assert [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info] == []


def test_finding_02_a_cursor_decoding_to_a_huge_number_is_refused(
    api: LiveApi, caplog: pytest.LogCaptureFixture
):
    admin = api.login("ada")
    cursor = base64.urlsafe_b64encode(str(TOO_BIG).encode()).decode().rstrip("=")
    with caplog.at_level(logging.INFO):
        for path in ("/api/v1/persons", "/api/v1/alerts", "/api/v1/audit/events"):
            reply = admin.get(path, params={"cursor": cursor})
            assert reply.status_code in (400, 422), (path, reply.text)
    assert [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info] == []


def test_finding_02_a_huge_id_in_a_request_body_is_refused(api: LiveApi):
    admin = api.login("ada")
    reply = admin.post(
        "/api/v1/deployments",
        json={
            "watchlist_id": TOO_BIG,
            "camera_group": "gate",
            "starts_at": "2026-01-01T00:00:00Z",
            "ends_at": "2026-01-02T00:00:00Z",
            "authorised_by": "judge",
            "authorisation_ref": "ref 1",
        },
    )
    assert reply.status_code == 422, reply.text


def test_finding_13_the_webhook_signature_covers_the_timestamp(tmp_path: Path):
    """A captured request replayed with a fresh timestamp no longer carries a valid signature."""
    secret = "webhook-secret-0123456789"
    received: list[tuple[dict[str, str], bytes]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((dict(self.headers), body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    notifier = WebhookNotifier([WebhookConfig(url=url, secret=secret)])
    try:
        notifier.send(Delivery(1, 7, "webhook", url, {"event": "alert.created"}, "alert-7-x", 0))
    finally:
        notifier.close()
        server.shutdown()
        server.server_close()
    [(headers, body)] = received
    stamp = headers[TIMESTAMP_HEADER]
    assert abs(int(stamp) - time.time()) < 60

    def mac(message: bytes) -> str:
        return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()

    assert headers[SIGNATURE_HEADER] == mac(stamp.encode() + b"." + body)
    assert headers[SIGNATURE_HEADER] != mac(str(int(stamp) + 600).encode() + b"." + body)
    assert headers[SIGNATURE_HEADER] != mac(body)  # the body alone no longer verifies


def _enrol(client: httpx.Client, watchlist: int, name: str, photo: Path) -> dict:
    reply = client.post(
        f"/api/v1/watchlists/{watchlist}/persons",
        data={"name": name, "reason": "reported missing"},
        files=[("photos", (photo.name, photo.read_bytes(), "image/jpeg"))],
    )
    assert reply.status_code == 201, reply.text
    return reply.json()


def _watchlist(client: httpx.Client) -> int:
    body = {"name": "missing", "purpose": "missing_person", "legal_basis": "s.1", "owner": "sue"}
    reply = client.post("/api/v1/watchlists", json=body)
    assert reply.status_code == 201, reply.text
    return int(reply.json()["id"])


def test_finding_10_a_swapped_encrypted_photo_is_refused_not_served_as_the_other_person(
    tmp_path: Path,
    analyzer: FaceAnalyzer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    examples: Path,
):
    monkeypatch.setenv(KEY_ENV, generate_key())
    live, stop = start(tmp_path, analyzer)
    try:
        sue = live.login("sue")
        watchlist = _watchlist(sue)
        first = _enrol(sue, watchlist, "First", examples / "deepface-pairs" / "img1.jpg")
        second = _enrol(sue, watchlist, "Second", examples / "deepface-pairs" / "img10.jpg")
        url = f"/api/v1/persons/{first['id']}/photos/{first['photos'][0]['id']}"
        assert sue.get(url).status_code == 200
        with live.ctx.db.session(readonly=True) as s:
            shas = [
                repository.get_person(s, p["id"]).photos[0].media_sha256 for p in (first, second)
            ]
        a, b = (live.ctx.media.path(sha) for sha in shas)
        a_bytes, b_bytes = a.read_bytes(), b.read_bytes()
        assert a_bytes.startswith(BOUND_MAGIC)
        a.write_bytes(b_bytes)  # the attacker swaps the two files on disk
        b.write_bytes(a_bytes)
        with caplog.at_level(logging.INFO):
            reply = sue.get(url)
        assert reply.status_code == 500
        assert "integrity" in reply.json()["detail"]
        assert reply.content != (examples / "deepface-pairs" / "img10.jpg").read_bytes()
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1 and shas[0] in errors[0] and "swapped" in errors[0]
    finally:
        stop()


def test_finding_10_a_swapped_plaintext_file_fails_its_content_hash(tmp_path: Path):
    media = MediaStore(tmp_path / "media")
    one, two = media.put(b"photo of one", ".jpg"), media.put(b"photo of two", ".jpg")
    media.path(one).write_bytes(b"photo of two")
    with pytest.raises(CipherError, match="does not match its SHA-256 name"):
        media.read(one)
    assert media.read(two) == b"photo of two"


def test_finding_10_media_written_before_the_binding_still_reads_and_rotation_binds_it(
    tmp_path: Path,
):
    """Files of the old format (WKE1: bound to their use only) read, and keys rotate binds them."""
    key = parse_key(generate_key(), "test")
    media = MediaStore(tmp_path / "media", cipher=Cipher(key))
    data = b"an enrolled photo from last year"
    sha = media.put(data, ".jpg")
    legacy = Cipher(key).encrypt(data, MEDIA)  # what media files were written as before
    assert legacy.startswith(MAGIC)
    media.path(sha).write_bytes(legacy)
    assert media.read(sha) == data
    db = Database(f"sqlite:///{tmp_path / 'wk.db'}")
    db.migrate()
    report = keys.rotate(db, media, key, key, actor="test")  # the same key: binds, re-keys nothing
    assert report.files == 1
    assert media.path(sha).read_bytes().startswith(BOUND_MAGIC)
    assert media.read(sha) == data
    assert keys.rotate(db, media, key, key, actor="test").files == 0  # done once is done


CAMERA_PASSWORD = "s3cret-Camera-pw"


def _raw_camera_uris(live: LiveApi) -> list[str]:
    with sqlite3.connect(str(live.ctx.db.url.database)) as connection:
        return [row[0] for row in connection.execute("SELECT uri FROM cameras ORDER BY id")]


def test_finding_09_camera_passwords_are_encrypted_at_rest_and_still_reach_the_camera(
    tmp_path: Path, analyzer: FaceAnalyzer, monkeypatch: pytest.MonkeyPatch
):
    key = generate_key()
    monkeypatch.setenv(KEY_ENV, key)
    live, stop = start(tmp_path, analyzer)
    try:
        ada = live.login("ada")
        uri = f"rtsp://admin:{CAMERA_PASSWORD}@127.0.0.1:8554/gate"
        created = ada.post("/api/v1/cameras", json={"name": "gate", "uri": uri, "enabled": False})
        assert created.status_code == 201, created.text
        assert created.json()["uri"] == "rtsp://admin:***@127.0.0.1:8554/gate"
        (stored,) = _raw_camera_uris(live)
        assert CAMERA_PASSWORD not in stored and "@127.0.0.1:8554/gate" in stored
        with live.ctx.db.session(readonly=True) as s:
            row = camera_store.get_camera(s, "gate")
            assert CameraSpec.from_row(row, live.ctx.db.cipher).uri == uri  # what is dialled
            with pytest.raises(CipherError, match="no key is configured"):
                CameraSpec.from_row(row, None)
        # the console sends the redacted URI back with other changes: the password stays
        patch = {"uri": created.json()["uri"], "group": "north"}
        assert ada.patch(f"/api/v1/cameras/{created.json()['id']}", json=patch).status_code == 200
        assert _raw_camera_uris(live) == [stored]
        # a rotation re-encrypts the password under the new key
        new_key = parse_key(generate_key(), "test")
        report = keys.rotate(live.ctx.db, live.ctx.media, parse_key(key, "t"), new_key, "test")
        assert report.passwords == 1
        (rotated,) = _raw_camera_uris(live)
        assert rotated != stored and CAMERA_PASSWORD not in rotated
        with live.ctx.db.session(readonly=True) as s:
            row = camera_store.get_camera(s, "gate")
            assert CameraSpec.from_row(row, Cipher(new_key)).uri == uri
    finally:
        stop()


def test_finding_09_a_sealed_password_copied_to_another_camera_does_not_open(tmp_path: Path):
    cipher = Cipher(parse_key(generate_key(), "test"))
    sealed = seal_uri(f"rtsp://admin:{CAMERA_PASSWORD}@10.0.0.5/a", cipher)
    moved = sealed.replace("10.0.0.5", "203.0.113.9")  # an attacker points it at their host
    with pytest.raises(CipherError, match="integrity"):
        open_uri(moved, cipher, "camera x")


def test_finding_09_the_database_and_data_folder_are_private(
    tmp_path: Path, analyzer: FaceAnalyzer
):
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    (data / "watchkeeper.db").touch(mode=0o644)  # an installation from before the fix
    os.chmod(data, 0o755)
    os.chmod(data / "watchkeeper.db", 0o644)
    live, stop = start(tmp_path, analyzer)
    try:
        assert live.login("ada").get("/api/v1/cameras").status_code == 200
        database = Path(str(live.ctx.db.url.database))
        assert database.parent == data
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
        for file in data.glob("watchkeeper.db*"):  # the database, its -wal and -shm
            assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    finally:
        stop()


def _audited_installation(tmp_path: Path, events: int, **policy: object) -> Path:
    """A data folder whose audit chain has ``events`` events, each committed on its own."""
    data = tmp_path / "data"
    ctx = AppContext(load_settings(data_dir=data, policy=policy), actor="test")
    try:
        for i in range(events):
            with ctx.db.session() as s:
                audit.record(s, "user:sue", "camera.update", "camera", i)
    finally:
        ctx.close()
    return data


def _verify(data: Path, *args: str) -> tuple[int, str]:
    """Exit status and output (on one line: the console wraps long messages)."""
    result = CliRunner().invoke(cli_app, ["--data-dir", str(data), "audit", "verify", *args])
    return result.exit_code, " ".join(result.output.split())


def _sql(data: Path, statement: str, *params: object) -> None:
    with sqlite3.connect(str(data / "watchkeeper.db")) as connection:
        connection.execute(statement, params)


def test_finding_11_deleting_the_newest_events_is_detected_without_an_anchor(tmp_path: Path):
    data = _audited_installation(tmp_path, 6, audit_publish_events=1)
    status, output = _verify(data)
    assert status == 0, output
    assert "contains the head published" in output and "event 6" in output
    assert "seconds ago" in output  # how old the published head is
    _sql(data, "DELETE FROM audit_events WHERE seq > 4")  # the chain alone is still valid
    status, output = _verify(data)
    assert status == 1, output
    assert "the newest events were removed" in output


def test_finding_11_an_edit_with_recomputed_hashes_is_detected_without_an_anchor(tmp_path: Path):
    data = _audited_installation(tmp_path, 5, audit_publish_events=1)
    db = Database(f"sqlite:///{data / 'watchkeeper.db'}")
    try:
        with db.session() as s:  # edit event 2, then rewrite every hash after it
            prev = None
            for event in s.scalars(select(AuditEvent).order_by(AuditEvent.seq)):
                if event.seq == 2:
                    event.actor = "user:mallory"
                if prev is not None:
                    event.prev_hash = prev
                event.hash = audit.event_hash(event)
                prev = event.hash
        with db.session(readonly=True) as s:
            assert audit.verify(s).ok  # the chain alone cannot tell
    finally:
        db.close()
    status, output = _verify(data)
    assert status == 1, output
    assert "the chain was rewritten" in output


def test_finding_11_the_head_is_published_every_n_events_to_the_file_and_the_outbox(
    tmp_path: Path,
):
    hook = {"url": "http://127.0.0.1:9/hook", "secret": "webhook-secret-0123456789"}
    data = tmp_path / "data"
    settings = load_settings(
        data_dir=data,
        policy={"audit_publish_events": 3, "audit_publish_notifications": True},
        notifications={"webhooks": [hook]},
    )
    ctx = AppContext(settings, actor="test")
    try:
        for i in range(7):
            with ctx.db.session() as s:
                audit.record(s, "user:sue", "camera.update", "camera", i)
        with ctx.db.session(readonly=True) as s:
            notices = s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
            heads = [
                (m.alert_id, m.payload["event"], m.payload["audit_head"]["seq"]) for m in notices
            ]
    finally:
        ctx.close()
    lines = (data / "audit-heads.jsonl").read_text().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [1, 4, 7]
    assert heads == [(None, "audit.head", 1), (None, "audit.head", 4), (None, "audit.head", 7)]


def test_info_no_cdn_docs_page_and_security_headers_on_every_answer(api: LiveApi):
    assert httpx.get(f"{api.url}/docs").status_code == 404  # off by default: no CDN script
    for path in ("/login", "/api/v1/openapi.json", "/static/console.js", "/healthz"):
        headers = httpx.get(f"{api.url}{path}").headers
        csp = headers["content-security-policy"]
        assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp, path
        assert "cdn" not in csp
        assert headers["x-frame-options"] == "DENY" and "referrer-policy" in headers
        assert headers["x-content-type-options"] == "nosniff"


def _with_gps(jpeg: bytes, orientation: int = 1) -> bytes:
    """The photo as a phone writes it: with the position of whoever took it."""
    with Image.open(io.BytesIO(jpeg)) as upright:
        # orientation 6: the sensor's pixels lie on their side, EXIF turns them upright
        image = upright.transpose(Image.Transpose.ROTATE_90) if orientation == 6 else upright
        exif = image.getexif()
        exif[0x0112] = orientation
        exif[0x010F] = "PhoneMaker"
        gps = exif.get_ifd(0x8825)
        gps.update({1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 36.0)})
        out = io.BytesIO()
        image.save(out, format="JPEG", exif=exif, quality=92)
    return out.getvalue()


@pytest.mark.parametrize("orientation", [1, 6])
def test_info_enrolled_photos_are_stored_without_exif(
    api: LiveApi, examples: Path, tmp_path: Path, orientation: int
):
    original = _with_gps((examples / "deepface-pairs" / "img1.jpg").read_bytes(), orientation)
    assert b"PhoneMaker" in original
    photo = tmp_path / "phone.jpg"
    photo.write_bytes(original)
    sue = api.login("sue")
    person = _enrol(sue, _watchlist(sue), "Phone photo", photo)
    stored = sue.get(f"/api/v1/persons/{person['id']}/photos/{person['photos'][0]['id']}")
    assert stored.status_code == 200
    assert b"PhoneMaker" not in stored.content and b"Exif" not in stored.content
    with Image.open(io.BytesIO(stored.content)) as image:
        assert dict(image.getexif()) == {}
        upright = decode_image(original, 50_000_000)  # as the detector saw it
        assert (image.height, image.width) == upright.shape[:2]


def test_info_control_and_direction_characters_in_names_are_refused(api: LiveApi, examples):
    ada, sue = api.login("ada"), api.login("sue")
    body = {"purpose": "missing_person", "legal_basis": "s.1", "owner": "sue"}
    refused = sue.post("/api/v1/watchlists", json={**body, "name": "list\u202eevil"})
    assert refused.status_code in (400, 422) and "U+202E" in refused.text
    watchlist = _watchlist(sue)
    photo = examples / "deepface-pairs" / "img1.jpg"
    for name in ("Ali\x00ce", "Bob\u2066x", "Eve\nforged log line"):
        reply = sue.post(
            f"/api/v1/watchlists/{watchlist}/persons",
            data={"name": name, "reason": "reported missing"},
            files=[("photos", (photo.name, photo.read_bytes(), "image/jpeg"))],
        )
        assert reply.status_code in (400, 422), (name, reply.text)
    camera = {"name": "gate\u202e1", "uri": "rtsp://127.0.0.1:9/x", "enabled": False}
    assert ada.post("/api/v1/cameras", json=camera).status_code in (400, 422)
    with api.ctx.db.session(readonly=True) as s:
        assert s.scalar(select(func.count(Person.id))) == 0  # nothing half-stored
    fine = _enrol(sue, watchlist, "Zoë Ångström-ناصر\u200c", photo)  # any script, ZWNJ
    assert fine["name"] == "Zoë Ångström-ناصر\u200c"
