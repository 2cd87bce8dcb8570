"""The crowd page and the camera wall's zones in a real browser, with the clip as a live camera.

A supervisor's API key adds a camera that counts people only (the 1080p clip over RTSP) and a
zone whose limit the clip's crowd passes; an operator opens the crowd page, sees the crowd
alert arrive, acknowledges it, and sees the live view (zones drawn, faces blurred) and the
occupancy chart. The chart's earlier 90 minutes are seeded through the same store function
the monitor uses (a test cannot wait hours); the last minutes come from the live camera.
Screenshots go to build/screenshots/ like the other console tests' (`make screenshots`
refreshes those in docs/).
"""

from __future__ import annotations

import math
import time

import httpx
from playwright.sync_api import Page, expect
from test_console import (  # the console tests' live service, browser and helpers
    PASSWORD,
    Console,
    browser,  # noqa: F401  (fixture)
    console,  # noqa: F401  (fixture)
    log_in,
    page,  # noqa: F401  (fixture)
    shot,
)

from watchkeeper.crowd.minutes import MinuteAggregate
from watchkeeper.crowd.monitor import save_minutes
from watchkeeper.policy import accounts
from watchkeeper.store import auth as auth_store

ZONE = {
    "name": "arcade floor",
    "polygon": [[0.02, 0.45], [0.98, 0.45], [0.98, 0.99], [0.02, 0.99]],
    "area_m2": 120,
    "limits": {"max_people": 5},
}


def supervisor_key(live: Console) -> str:
    with live.ctx.db.session() as s:
        accounts.create_user(s, "test", "sasha", PASSWORD, "supervisor")
        user = auth_store.get_user(s, "sasha")
        return accounts.create_api_key(s, "test", user, "crowd test", None).token


def seed_history(live: Console, camera_id: int, zone_id: int) -> None:
    now = math.floor(time.time() / 60) * 60
    rows = []
    for back in range(90, 1, -1):  # a crowd building up towards the event, minute by minute
        people = 4 + 9 * math.exp(-(((back - 30) / 25) ** 2)) + (back % 7) / 3
        rows.append(
            MinuteAggregate("arcade floor", now - back * 60, 120, people * 120, people + 1.5)
        )
    save_minutes(live.ctx.db, camera_id, {"arcade floor": zone_id}, rows)


def test_an_operator_acknowledges_a_crowd_alert_and_sees_zones_and_occupancy(
    page: Page,  # noqa: F811
    console: Console,  # noqa: F811
) -> None:
    headers = {"Authorization": f"Bearer {supervisor_key(console)}"}
    with httpx.Client(base_url=console.url, headers=headers, timeout=180) as api:
        camera = api.post(
            "/api/v1/cameras",
            json={"name": "arcade gate", "uri": console.rtsp.url, "group": "venue",
                  "analysis_fps": 1.0, "face_recognition": False},
        )  # fmt: skip
        assert camera.status_code == 201, camera.text
        zone = api.post("/api/v1/zones", json={"camera_id": camera.json()["id"], **ZONE})
        assert zone.status_code == 201, zone.text
    seed_history(console, camera.json()["id"], zone.json()["id"])

    log_in(page, console.url, "olga")  # operator
    page.goto(f"{console.url}/crowd")
    alert = page.locator(".crowd-alert").first
    expect(alert).to_contain_text("arcade floor · arcade gate", timeout=120_000)
    expect(alert).to_contain_text("over the limit of 5")
    expect(page.locator("#crowd-wall img")).to_be_visible(timeout=60_000)
    expect(page.locator("#occupancy svg polyline")).to_have_count(1)
    shot(page, "crowd")
    alert.get_by_role("button", name="Acknowledge").click()
    expect(alert).to_contain_text("acknowledged by", timeout=15_000)
    expect(alert.get_by_role("button", name="Acknowledge")).to_have_count(0)

    page.goto(f"{console.url}/cameras")
    card = page.locator("#wall li", has_text="arcade gate")
    expect(card.locator("svg.zones polygon")).to_have_count(1, timeout=15_000)
    expect(card).to_contain_text("arcade floor")
    card.scroll_into_view_if_needed()
    shot(page, "crowd-camera-wall")
