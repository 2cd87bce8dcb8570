"""Enrolment over HTTP: upload limits, bad files, no-face photos, a good photo that then
matches, hostile names, and the audit trail of it all."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import select

from support.live_api import LiveApi
from watchkeeper.matching import Gallery
from watchkeeper.policy import audit
from watchkeeper.store import repository
from watchkeeper.store.models import AuditEvent
from watchkeeper.vision.imageio import decode_image, read_image

PAIRS = Path(__file__).parents[3] / "examples" / "data" / "deepface-pairs"
HOSTILE = 'Robert\'); DROP TABLE persons;-- <script>alert("x")</script> & <b>'


@pytest.fixture
def supervisor(api: LiveApi):
    api.add_user("sam", "supervisor")
    client = api.login("sam")
    body = {"name": "missing", "purpose": "missing_person", "legal_basis": "s.1", "owner": "sam"}
    watchlist = client.post("/api/v1/watchlists", json=body).json()["id"]
    return client, watchlist


def _enrol(client, watchlist: int, name: str, *files: tuple[str, bytes, str]):
    return client.post(
        f"/api/v1/watchlists/{watchlist}/persons",
        data={"name": name, "reason": "reported missing"},
        files=[("photos", f) for f in files],
    )


def _jpeg(path: Path) -> tuple[str, bytes, str]:
    return (path.name, path.read_bytes(), "image/jpeg")


def test_a_good_photo_enrols_a_person_who_then_matches_in_the_gallery(api: LiveApi, supervisor):
    client, watchlist = supervisor
    reply = _enrol(client, watchlist, "Person One", _jpeg(PAIRS / "img1.jpg"))
    assert reply.status_code == 201, reply.text
    person = reply.json()
    assert person["name"] == "Person One" and len(person["photos"]) == 1
    analyzer = api.ctx.analyzer
    with api.ctx.db.session(readonly=True) as s:
        ids, persons, lists, vectors = repository.gallery_templates(
            s, analyzer.model, cipher=api.ctx.cipher
        )
    gallery = Gallery(analyzer.model, analyzer.embedder.dimension)
    gallery.rebuild(ids, persons, lists, vectors, model=analyzer.model, version=1)
    analysed = analyzer.analyse(read_image(PAIRS / "img2.jpg", max_pixels=50_000_000))
    probe = analyzer.embed(analysed.aligned[analysed.faces.largest()][None])
    found = gallery.search(probe, k=1, model=analyzer.model)  # another photo, same person
    assert found.person_ids[0, 0] == person["id"]
    assert found.scores[0, 0] >= api.ctx.settings.matching.default_threshold


def test_an_upload_over_the_limit_is_refused_with_413_before_it_is_read(start_api):
    api = start_api(max_upload_mb=1)
    api.add_user("sam", "supervisor")
    client = api.login("sam")
    big = ("big.jpg", os.urandom(2 * 1024 * 1024), "image/jpeg")
    reply = _enrol(client, 1, "Too Big", big)
    assert reply.status_code == 413
    assert "max_upload_mb" in reply.json()["detail"]
    assert reply.headers["x-content-type-options"] == "nosniff"


def test_a_chunked_upload_is_cut_off_at_the_limit_with_413(start_api):
    api = start_api(max_upload_mb=1)
    api.add_user("sam", "supervisor")
    client = api.login("sam")
    sent = []

    def chunks():  # no Content-Length: the server must count while streaming
        yield (
            b'--xyz\r\nContent-Disposition: form-data; name="photos"; filename="big.jpg"\r\n'
            b"Content-Type: image/jpeg\r\n\r\n"
        )
        for _ in range(64):
            sent.append(1)
            yield os.urandom(65536)

    reply = client.post(
        "/api/v1/watchlists/1/persons",
        content=chunks(),
        headers={"Content-Type": "multipart/form-data; boundary=xyz"},
    )
    assert reply.status_code == 413
    assert "passed" in reply.json()["detail"]


def test_a_text_file_is_refused_with_415(supervisor):
    client, watchlist = supervisor
    reply = _enrol(client, watchlist, "Text", ("notes.txt", b"just some text\n" * 10, "text/plain"))
    assert reply.status_code == 415
    assert "notes.txt" in reply.json()["detail"] and "not an image" in reply.json()["detail"]


def test_a_photo_without_a_face_is_refused_with_422_saying_so(supervisor, tmp_path):
    client, watchlist = supervisor
    buffer = io.BytesIO()
    Image.fromarray(np.full((240, 320, 3), 128, np.uint8)).save(buffer, "JPEG")
    reply = _enrol(client, watchlist, "Nobody", ("wall.jpg", buffer.getvalue(), "image/jpeg"))
    assert reply.status_code == 422
    assert "wall.jpg: no face found" in reply.json()["detail"]
    assert client.get("/api/v1/persons").json()["items"] == []


def test_a_hostile_name_is_stored_verbatim_and_returned_escaped(supervisor):
    client, watchlist = supervisor
    reply = _enrol(client, watchlist, HOSTILE, _jpeg(PAIRS / "img1.jpg"))
    assert reply.status_code == 201, reply.text
    person_id = reply.json()["id"]
    fetched = client.get(f"/api/v1/persons/{person_id}")
    assert fetched.headers["content-type"].startswith("application/json")
    assert fetched.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in fetched.text and "\\u003cscript\\u003e" in fetched.text
    assert json.loads(fetched.text)["name"] == HOSTILE
    found = client.get("/api/v1/persons", params={"q": "drop table PERSONS;--"}).json()
    assert [p["id"] for p in found["items"]] == [person_id]
    assert client.get("/api/v1/persons", params={"q": "%"}).json()["items"] == []


def test_a_photo_view_is_audited_and_every_action_is_in_an_intact_chain(api: LiveApi, supervisor):
    client, watchlist = supervisor
    person = _enrol(client, watchlist, "Person One", _jpeg(PAIRS / "img1.jpg")).json()
    photo = client.get(person["photos"][0]["url"])
    assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg"
    original = (PAIRS / "img1.jpg").read_bytes()  # stored without its metadata, same pixels
    assert np.array_equal(decode_image(photo.content, 10**8), decode_image(original, 10**8))
    assert photo.headers["cache-control"] == "no-store"
    assert (
        client.delete(f"/api/v1/persons/{person['id']}", params={"reason": "found"}).status_code
        == 204
    )
    assert client.get(f"/api/v1/persons/{person['id']}").status_code == 404
    with api.ctx.db.session(readonly=True) as s:
        events = list(s.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
        report = audit.verify(s)
    actions = [(e.action, e.actor) for e in events]
    for action in ("auth.login", "watchlist.create", "person.enrol", "person.photo.view",
                   "person.delete"):  # fmt: skip
        assert (action, "user:sam") in actions
    assert report.ok and report.checked == len(events)


def test_an_operator_may_view_but_not_enrol(api: LiveApi, supervisor):
    _, watchlist = supervisor
    api.add_user("olga", "operator")
    operator = api.login("olga")
    assert operator.get(f"/api/v1/watchlists/{watchlist}/persons").status_code == 200
    reply = _enrol(operator, watchlist, "Someone", _jpeg(PAIRS / "img1.jpg"))
    assert reply.status_code == 403


def test_a_list_pages_with_a_next_link(api: LiveApi, supervisor):
    client, _ = supervisor
    for i in range(4):
        body = {"name": f"list {i}", "purpose": "other", "legal_basis": "s.1", "owner": "sam"}
        assert client.post("/api/v1/watchlists", json=body).status_code == 201
    first = client.get("/api/v1/watchlists", params={"limit": 2}).json()
    second = client.get(first["next"]).json()
    third = client.get(second["next"]).json()
    names = [w["name"] for page in (first, second, third) for w in page["items"]]
    assert names == ["missing", "list 0", "list 1", "list 2", "list 3"]
    assert third["next"] is None
    assert client.get("/api/v1/watchlists", params={"cursor": "!!"}).status_code == 400
