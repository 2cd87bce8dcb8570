"""Zones over HTTP: checked, stored, audited; refused with the reason; only for cameras:write."""

from __future__ import annotations

from support.live_api import LiveApi
from watchkeeper.store import audit_log
from watchkeeper.usecases import cameras

GATE = {
    "name": "gate A",
    "polygon": [[0.1, 0.4], [0.9, 0.4], [0.9, 1.0], [0.1, 1.0]],
    "area_m2": 80,
    "lines": [{"name": "turnstiles", "a": [0.1, 0.7], "b": [0.9, 0.7]}],
    "limits": {"max_people": 60, "max_density": 2.0, "max_inflow_per_min": 90},
}


def test_a_supervisor_adds_changes_and_deletes_a_zone_and_each_step_is_audited(api: LiveApi):
    camera = cameras.add_camera(api.ctx.db, "test", {"name": "gate", "uri": "/dev/null"})
    api.add_user("sam", "supervisor")
    client = api.login("sam")
    created = client.post("/api/v1/zones", json={"camera_id": camera["id"], **GATE})
    assert created.status_code == 201, created.text
    zone = created.json()
    assert zone["camera"] == "gate" and zone["lines"][0]["name"] == "turnstiles"
    assert client.get("/api/v1/zones", params={"camera_id": camera["id"]}).json() == [zone]
    changed = client.put(
        f"/api/v1/zones/{zone['id']}", params={"reason": "new barrier"},
        json={**GATE, "limits": {"max_people": 40}},
    )  # fmt: skip
    assert changed.status_code == 200 and changed.json()["limits"]["max_people"] == 40
    assert client.delete(f"/api/v1/zones/{zone['id']}").status_code == 204
    assert client.get("/api/v1/zones").json() == []
    with api.ctx.db.session() as s:
        actions = [e.action for e in audit_log.page_events(s, None, 50, action="zone.")]
    assert sorted(actions) == ["zone.create", "zone.delete", "zone.update"]


def test_an_unusable_zone_is_refused_with_the_reason_and_nothing_is_stored(api: LiveApi):
    camera = cameras.add_camera(api.ctx.db, "test", {"name": "gate", "uri": "/dev/null"})
    api.add_user("sam", "supervisor")
    client = api.login("sam")
    no_area = {**GATE, "area_m2": None}
    reply = client.post("/api/v1/zones", json={"camera_id": camera["id"], **no_area})
    assert reply.status_code == 422 and "area_m2" in reply.json()["detail"]
    outside = {**GATE, "polygon": [[0, 0], [1.5, 0], [0, 1]]}
    reply = client.post("/api/v1/zones", json={"camera_id": camera["id"], **outside})
    assert reply.status_code == 422 and "outside the picture" in reply.json()["detail"]
    assert client.get("/api/v1/zones").json() == []


def test_an_operator_reads_zones_and_acknowledges_but_may_not_change_zones(api: LiveApi):
    camera = cameras.add_camera(api.ctx.db, "test", {"name": "gate", "uri": "/dev/null"})
    api.add_user("olga", "operator")
    client = api.login("olga")
    assert client.get("/api/v1/zones").status_code == 200
    reply = client.post("/api/v1/zones", json={"camera_id": camera["id"], **GATE})
    assert reply.status_code == 403
    assert client.post("/api/v1/crowd-alerts/1/acknowledge", json={}).status_code == 404
