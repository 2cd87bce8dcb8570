"""Finding 3: auditors saw face crops and snapshots; crops, snapshots, person searches and
camera tests left no audit record.

Face images (enrolled photos, alert crops, camera snapshots) need one permission,
``persons:photos:view``, checked before the object is looked up (403, never 404), and every
view of one, every search for a person and every camera test is audited.
"""

from __future__ import annotations

import pytest
from security_kit import audit_events, bearer, raise_alert

from support.live_api import LiveApi
from watchkeeper.policy.roles import ROLES

FACES = "persons:photos:view"


@pytest.mark.parametrize("path", ["/alerts/{alert}/crop", "/cameras/{camera}/snapshot"])
def test_finding_03_an_auditor_is_refused_face_images_like_enrolled_photos(api: LiveApi, path):
    alert_id = raise_alert(api.ctx)
    api.add_user("ada", "auditor")
    api.add_user("sue", "supervisor")
    camera = api.login("sue").post("/api/v1/cameras", json={"name": "door", "uri": "rtsp://h/x"})
    with bearer(api, api.api_key("ada", None)) as auditor:
        reply = auditor.get("/api/v1" + path.format(alert=alert_id, camera=camera.json()["id"]))
    assert reply.status_code == 403
    assert FACES in reply.json()["detail"]
    assert FACES not in ROLES["auditor"]


@pytest.mark.parametrize(
    "path", ["/alerts/999999/crop", "/cameras/999999/snapshot", "/persons/999999/photos/1"]
)
def test_finding_03_the_permission_is_checked_before_existence(api: LiveApi, path):
    api.add_user("ada", "auditor")
    with bearer(api, api.api_key("ada", None)) as auditor:
        assert auditor.get("/api/v1" + path).status_code == 403


def test_finding_03_every_crop_view_is_audited(api: LiveApi):
    alert_id = raise_alert(api.ctx)
    api.add_user("olga", "operator")
    with bearer(api, api.api_key("olga", None)) as operator:
        for _ in range(2):
            reply = operator.get(f"/api/v1/alerts/{alert_id}/crop")
            assert reply.status_code == 200 and reply.content[:2] == b"\xff\xd8"
    views = audit_events(api, "alert.crop.view")
    assert len(views) == 2
    assert views[0][1] == "user:olga (api key 1)" and views[0][2]["alert"] == alert_id


def test_finding_03_person_searches_are_audited_with_what_was_searched(api: LiveApi):
    raise_alert(api.ctx)  # puts "Ann" on list "wanted"
    api.add_user("ada", "auditor")
    with bearer(api, api.api_key("ada", None)) as auditor:
        found = auditor.get("/api/v1/persons", params={"q": "an"}).json()["items"]
        assert [p["name"] for p in found] == ["Ann"]
        auditor.get(f"/api/v1/watchlists/{found[0]['watchlist_id']}/persons", params={"q": "zz"})
        auditor.get("/api/v1/persons")  # a plain listing searches for nobody
    searches = audit_events(api, "person.search")
    assert [(d["q"], d["results"]) for _, _, d in searches] == [("an", 1), ("zz", 0)]
    assert {actor for _, actor, _ in searches} == {"user:ada (api key 1)"}


def test_finding_03_camera_tests_are_audited(api: LiveApi):
    api.add_user("sue", "supervisor")
    with bearer(api, api.api_key("sue", None)) as supervisor:
        supervisor.post(
            "/api/v1/cameras/test", json={"uri": "rtsp://u:secret@127.0.0.1:9/x", "seconds": 1}
        )
    [(_, actor, details)] = audit_events(api, "camera.test")
    assert actor == "user:sue (api key 1)"
    assert details["uri"] == "rtsp://u:***@127.0.0.1:9/x" and details["ok"] is False
