"""Alerts reach people and systems: SSE, MQTT (the real Mosquitto) and signed webhooks, at
least once across a restart and exactly once at a receiver that dedupes by Idempotency-Key."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest

from support.camera_servers import RtspServer, free_port
from support.service_harness import GROUP, add_user, enrol_target, make_context, serve_api, wait_for
from support.webhooks import SECRET, WebhookReceiver
from watchkeeper.api.app import create_app
from watchkeeper.api.metrics import Metrics
from watchkeeper.demo import CLIP
from watchkeeper.service import Services
from watchkeeper.store import alerts as alert_store
from watchkeeper.store import outbox
from watchkeeper.usecases import cameras as registry
from watchkeeper.vision import FaceAnalyzer


@dataclass
class MqttSubscriber:
    messages: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    client: mqtt.Client | None = None

    def start(self) -> MqttSubscriber:
        subscribed = threading.Event()
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        client.on_connect = lambda c, *_: c.subscribe("watchkeeper/+/alert", qos=1)
        client.on_subscribe = lambda *_: subscribed.set()
        client.on_message = lambda _c, _u, m: self.messages.append((m.topic, json.loads(m.payload)))
        client.connect("127.0.0.1", 1883)
        client.loop_start()
        assert subscribed.wait(10), "the Mosquitto broker on 127.0.0.1:1883 did not answer"
        self.client = client
        return self

    def stop(self) -> None:
        if self.client is not None:
            self.client.disconnect()
            self.client.loop_stop()


class SseListener:
    """Reads ``/api/v1/events`` on a thread, collecting (event, id, data)."""

    def __init__(self, url: str, token: str) -> None:
        self.events: list[tuple[str, str, dict[str, Any]]] = []
        self.connected = threading.Event()
        self._client = httpx.Client(timeout=httpx.Timeout(5, read=60))
        self._url, self._token = url, token
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        headers = {"Authorization": f"Bearer {self._token}"}
        kind = ident = ""
        try:
            with self._client.stream("GET", f"{self._url}/api/v1/events", headers=headers) as r:
                assert r.headers["content-type"].startswith("text/event-stream")
                self.connected.set()
                for line in r.iter_lines():
                    if line.startswith("event: "):
                        kind = line[7:]
                    elif line.startswith("id: "):
                        ident = line[4:]
                    elif line.startswith("data: "):
                        self.events.append((kind, ident, json.loads(line[6:])))
        except httpx.HTTPError:
            return

    def close(self) -> None:
        self._client.close()


@pytest.fixture
def mosquitto() -> Iterator[MqttSubscriber]:
    subscriber = MqttSubscriber().start()
    yield subscriber
    subscriber.stop()


def test_an_alert_for_an_enrolled_person_arrives_on_sse_mqtt_and_a_signed_webhook(
    tmp_path: Path, analyzer: FaceAnalyzer, mosquitto: MqttSubscriber
) -> None:
    receiver = WebhookReceiver(free_port()).start()
    rtsp = RtspServer(CLIP).start()
    ctx = make_context(
        tmp_path / "data", analyzer,
        notifications={"webhooks": [{"url": receiver.url, "secret": SECRET}],
                       "mqtt": {"enabled": True}},
    )  # fmt: skip
    person_id = enrol_target(ctx)
    camera = registry.add_camera(
        ctx.db, "test", {"name": "arcade/1 #west", "uri": rtsp.url, "group": GROUP}
    )
    token = add_user(ctx, "olivia", "operator")
    metrics = Metrics()
    services = Services(ctx, registry=metrics.registry)
    server, thread, url = serve_api(create_app(ctx, services=services, metrics=metrics))
    sse = SseListener(url, token)
    try:
        assert sse.connected.wait(10)
        created = wait_for(
            lambda: [e for e in sse.events if e[0] == "alert.created"], 60, "alert.created on SSE"
        )
        alert = created[0][2]
        assert alert["person"] == {"id": person_id, "name": "Target <b>one</b>"}
        assert alert["camera"]["name"] == "arcade/1 #west" and alert["state"] == "new"
        key = wait_for(lambda: list(receiver.processed), 20, "the webhook delivery")[0]
        hooked = receiver.processed[key]
        assert hooked["event"] == "alert.created" and hooked["idempotency_key"] == key
        assert hooked["alert"]["id"] == alert["id"]
        assert all(signed for _, signed in receiver.requests)
        topic, message = wait_for(lambda: mosquitto.messages, 20, "the MQTT message")[0]
        assert topic == "watchkeeper/arcade_1 _west/alert"  # separators and wildcards made safe
        assert message["alert"]["id"] == alert["id"]
        assert message["idempotency_key"].startswith(f"alert-{alert['id']}-mqtt-")
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as api:
            listed = api.get("/api/v1/alerts", params={"camera_id": camera["id"]}).json()
            assert [a["id"] for a in listed["items"]] == [alert["id"]]
            crop = api.get(f"/api/v1/alerts/{alert['id']}/crop")
            assert crop.headers["content-type"] == "image/jpeg" and crop.content[:2] == b"\xff\xd8"
            status = api.get(f"/api/v1/cameras/{camera['id']}/status").json()
            assert status["state"] == "connected" and status["alerts"] >= 1
            snapshot = api.get(f"/api/v1/cameras/{camera['id']}/snapshot")
            assert snapshot.content[:2] == b"\xff\xd8"
            assert snapshot.headers["cache-control"] == "no-store"
            sightings = api.get("/api/v1/sightings").json()["items"]
            assert sightings[0]["matches"][0]["person"]["id"] == person_id
            scraped = httpx.get(f"{url}/metrics").text
        assert 'watchkeeper_camera_fps_analysed{camera="arcade/1 #west"}' in scraped
        assert 'watchkeeper_alerts_total{camera="arcade/1 #west",event="created"} 1.0' in scraped
        assert 'watchkeeper_inference_seconds_count{stage="detect"}' in scraped
        assert 'watchkeeper_notifications_total{channel="mqtt",outcome="delivered"} 1.0' in scraped
    finally:
        sse.close()
        services.broker.close()  # as `watchkeeper serve` does on SIGTERM
        server.should_exit = True
        thread.join(30)
        rtsp.stop()
        receiver.stop()
        ctx.close()
    assert not thread.is_alive()


def test_a_receiver_down_across_a_restart_still_gets_every_alert_exactly_once(
    tmp_path: Path, analyzer: FaceAnalyzer
) -> None:
    port = free_port()  # the receiver's address, with nobody listening yet
    settings = {
        "notifications": {
            "webhooks": [{"url": f"http://127.0.0.1:{port}/hook", "secret": SECRET}],
            "retry_base_s": 0.2,
            "retry_cap_s": 1.0,
        }
    }
    ctx = make_context(tmp_path / "data", analyzer, **settings)
    enrol_target(ctx)
    camera = registry.add_camera(
        ctx.db, "test", {"name": "recording", "uri": str(CLIP), "group": GROUP}
    )
    services = Services(ctx)
    services.start()
    wait_for(lambda: services.cameras.status(camera["id"]).state == "stopped", 60, "the clip")
    wait_for(lambda: failed_attempts(ctx) >= 2, 20, "failed deliveries")
    services.stop()
    ctx.close()
    with ctx.db.session() as s:
        alert_ids = {v.alert.id for v in alert_store.list_alerts(s, alert_store.AlertFilter())}
        owed = {m.alert_id for m in outbox.list_messages(s, pending_only=True)}
    assert alert_ids and owed == alert_ids

    receiver = WebhookReceiver(port, fail_first=True).start()
    restarted = make_context(tmp_path / "data", analyzer, **settings)  # a new process, same data
    services = Services(restarted)
    services.start()  # the clip is analysed again: its sightings fold into the same alerts
    try:
        wait_for(lambda: not pending(restarted), 30, "the outbox to empty")
        wait_for(lambda: services.cameras.status(camera["id"]).state == "stopped", 60, "the clip")
    finally:
        services.stop()
        receiver.stop()
    with restarted.db.session() as s:
        assert {v.alert.id for v in alert_store.list_alerts(s, alert_store.AlertFilter())} == (
            alert_ids
        )
    assert {body["alert"]["id"] for body in receiver.processed.values()} == alert_ids
    assert len(receiver.processed) == len(alert_ids)  # once per alert id
    sent = Counter(key for key, _ in receiver.requests)
    assert all(count >= 2 for count in sent.values())  # the lost answer made it send again
    assert all(signed for _, signed in receiver.requests)
    restarted.close()


def failed_attempts(ctx: Any) -> int:
    with ctx.db.session(readonly=True) as s:
        return sum(m.attempts for m in outbox.list_messages(s, pending_only=True))


def pending(ctx: Any) -> int:
    with ctx.db.session(readonly=True) as s:
        return sum(outbox.pending_counts(s).values())
