"""Crowd counting in the live service: the clip served as an RTSP camera, a zone whose limit
the crowd passes, and exactly one crowd alert for the surge, on SSE, MQTT and a webhook.

The clip loops; its crowd never thins below the release level (80 % of the limit), so however
long the test watches, the surge is one surge and must raise one alert — not one per frame
above the limit. The camera counts only (no face recognition), as a stadium gate would.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from test_service_notifications import (  # the receivers of the face alert tests
    MqttSubscriber,
    SseListener,
    mosquitto,  # noqa: F401  (fixture)
)

from support.camera_servers import RtspServer, free_port
from support.service_harness import add_user, make_context, serve_api, wait_for
from support.webhooks import SECRET, WebhookReceiver
from watchkeeper.api.app import create_app
from watchkeeper.api.metrics import Metrics
from watchkeeper.demo import CLIP
from watchkeeper.service import Services
from watchkeeper.usecases import cameras as registry
from watchkeeper.usecases import zones
from watchkeeper.vision import FaceAnalyzer

ZONE = {
    "name": "gate A",
    "polygon": [[0, 0], [1, 0], [1, 1], [0, 1]],
    "area_m2": 80,
    "limits": {"max_people": 5},
}
WATCH_AFTER_S = 8.0  # two loops of the clip after the alert: time for a wrong second one


def test_a_crowd_surge_on_a_live_camera_raises_one_alert_on_every_channel(
    tmp_path: Path,
    analyzer: FaceAnalyzer,
    mosquitto: MqttSubscriber,  # noqa: F811
) -> None:
    receiver = WebhookReceiver(free_port()).start()
    rtsp = RtspServer(CLIP).start()
    ctx = make_context(
        tmp_path / "data", analyzer,
        notifications={"webhooks": [{"url": receiver.url, "secret": SECRET}],
                       "mqtt": {"enabled": True}},
    )  # fmt: skip
    camera = registry.add_camera(
        ctx.db, "test",
        {"name": "gate", "uri": rtsp.url, "analysis_fps": 2.0, "face_recognition": False},
    )  # fmt: skip
    zone = zones.add_zone(ctx.db, "test", "gate", ZONE)
    token = add_user(ctx, "olivia", "operator")
    metrics = Metrics()
    services = Services(ctx, registry=metrics.registry)
    server, thread, url = serve_api(create_app(ctx, services=services, metrics=metrics))
    sse = SseListener(url, token)
    try:
        assert sse.connected.wait(10)

        def crowd_events() -> list:
            return [e for e in sse.events if e[0] == "crowd.alert.created"]

        alert = wait_for(crowd_events, 90, "crowd.alert.created on SSE")[0][2]
        assert alert["kind"] == "crowd" and alert["limit_kind"] == "people"
        assert alert["camera"]["name"] == "gate" and alert["zone"]["name"] == "gate A"
        assert alert["value"] > 5 and alert["limit"] == 5
        assert not {"crop_url", "person", "image", "boxes"} & set(alert)  # counts only
        key = wait_for(lambda: list(receiver.processed), 20, "the webhook delivery")[0]
        assert key.startswith(f"crowd-alert-{alert['id']}-webhook-")
        assert receiver.processed[key]["alert"]["id"] == alert["id"]
        assert all(signed for _, signed in receiver.requests)
        topic, message = wait_for(lambda: mosquitto.messages, 20, "the MQTT message")[0]
        assert topic == "watchkeeper/gate/alert" and message["alert"]["kind"] == "crowd"

        time.sleep(WATCH_AFTER_S)  # the crowd hovers above and around the limit meanwhile
        assert len(crowd_events()) == 1
        # one alert per channel; MQTT is at least once (a publish whose acknowledgement comes
        # late under load is sent again with the same key), so count alerts, not publishes,
        # as the webhook receiver does
        told_by_mqtt = {body["idempotency_key"] for _, body in mosquitto.messages}
        assert len(receiver.processed) == 1 and len(told_by_mqtt) == 1

        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as api:
            listed = api.get("/api/v1/crowd-alerts").json()
            assert [a["id"] for a in listed] == [alert["id"]]
            live = api.get(f"/api/v1/cameras/{camera['id']}/crowd").json()
            assert live[0]["zone"] == "gate A" and live[0]["people"] >= 1
            picture = api.get(f"/api/v1/cameras/{camera['id']}/crowd/snapshot")
            assert picture.content[:2] == b"\xff\xd8"
            assert picture.headers["cache-control"] == "no-store"
            done = api.post(f"/api/v1/crowd-alerts/{alert['id']}/acknowledge", json={})
            assert done.status_code == 200 and "olivia" in done.json()["acknowledged_by"]
            again = api.post(f"/api/v1/crowd-alerts/{alert['id']}/acknowledge", json={})
            assert again.status_code == 409
            scraped = httpx.get(f"{url}/metrics").text
        assert 'watchkeeper_zone_people{camera="gate",zone="gate A"}' in scraped
        assert 'watchkeeper_crowd_alerts_total{camera="gate",limit="people"} 1.0' in scraped
        assert zone["id"] == alert["zone"]["id"]
    finally:
        sse.close()
        services.broker.close()
        server.should_exit = True
        thread.join(30)
        rtsp.stop()
        receiver.stop()
