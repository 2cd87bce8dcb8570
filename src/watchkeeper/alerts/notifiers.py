"""Notifiers: one per channel, each delivering one outbox message or raising why it could not.

A notifier is a small class behind :class:`Notifier`; adding a channel never touches the
dispatcher. Every message carries its idempotency key (a header for webhooks, a field for
MQTT) because delivery is at least once: a receiver that saw the key before drops the repeat.

Webhook requests are signed: ``X-Watchkeeper-Signature: sha256=<hex>`` is the HMAC-SHA256 of
``<X-Watchkeeper-Timestamp>.<exact body bytes>`` with the webhook's secret. Signing the
timestamp with the body lets a receiver refuse a captured request replayed later, since a
fresh timestamp would need a fresh signature (see docs/notifications.md for verifying it).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import paho.mqtt.client as mqtt

from watchkeeper.config import MqttConfig, WebhookConfig

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Watchkeeper-Signature"
TIMESTAMP_HEADER = "X-Watchkeeper-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
_TOPIC_UNSAFE = re.compile(r"[/+#\x00-\x1f]")


class DeliveryError(Exception):
    """The receiver did not accept the message; it will be retried."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """One outbox message, detached from its database session."""

    id: int
    alert_id: int  # the face or crowd alert told of; 0: a notice (the audit chain's head)
    channel: str
    target: str
    payload: dict[str, Any]
    idempotency_key: str
    attempts: int


class Notifier(Protocol):
    channel: str

    def send(self, delivery: Delivery) -> None: ...

    def close(self) -> None: ...


def body_of(payload: dict[str, Any]) -> bytes:
    """The exact bytes that are sent and signed: compact JSON with sorted keys."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=`` + the HMAC of ``timestamp.body``: the time is covered, not only the body."""
    message = timestamp.encode("ascii") + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class WebhookNotifier:
    """POSTs the alert as JSON, signed with the webhook's secret; any 2xx is delivered."""

    channel = "webhook"

    def __init__(self, webhooks: list[WebhookConfig], timeout_s: float = 5.0) -> None:
        self._secrets = {hook.url: hook.secret for hook in webhooks}
        self._client = httpx.Client(timeout=timeout_s, follow_redirects=False)

    def send(self, delivery: Delivery) -> None:
        secret = self._secrets.get(delivery.target)
        if secret is None:
            raise DeliveryError(
                f"webhook {delivery.target} is no longer configured (notifications.webhooks)"
            )
        body = body_of({**delivery.payload, "idempotency_key": delivery.idempotency_key})
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(secret, timestamp, body),
            TIMESTAMP_HEADER: timestamp,
            IDEMPOTENCY_HEADER: delivery.idempotency_key,
            "User-Agent": "watchkeeper-webhook",
        }
        try:
            response = self._client.post(delivery.target, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{delivery.target}: {type(exc).__name__}: {exc}") from exc
        if not response.is_success:
            raise DeliveryError(
                f"{delivery.target} answered {response.status_code} {response.reason_phrase}"
            )

    def close(self) -> None:
        self._client.close()


def topic_for(prefix: str, camera: str) -> str:
    """``<prefix>/<camera>/alert``, with MQTT's separators and wildcards in the name made safe."""
    return f"{prefix}/{_TOPIC_UNSAFE.sub('_', camera) or '_'}/alert"


class MqttNotifier:
    """Publishes alerts with QoS 1 (the broker acknowledges) to ``watchkeeper/<camera>/alert``.

    One connection, opened on first use and again after it drops.
    """

    channel = "mqtt"

    def __init__(self, config: MqttConfig, timeout_s: float = 5.0) -> None:
        self.config = config
        self.timeout_s = timeout_s
        self._client: mqtt.Client | None = None
        self._lock = threading.Lock()

    def send(self, delivery: Delivery) -> None:
        alert = delivery.payload.get("alert")
        prefix = self.config.topic_prefix
        if alert is None:  # a notice: <prefix>/audit/head for the published audit head
            event = _TOPIC_UNSAFE.sub("_", str(delivery.payload.get("event", "notice")))
            topic = f"{prefix}/{event.replace('.', '/')}"
        else:
            topic = topic_for(prefix, str(alert.get("camera", {}).get("name", "")))
        body = body_of({**delivery.payload, "idempotency_key": delivery.idempotency_key})
        with self._lock:
            client = self._connected()
            info = client.publish(topic, body, qos=1)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                self._drop()
                raise DeliveryError(
                    f"{self._address}: publish failed ({mqtt.error_string(info.rc)})"
                )
            try:
                info.wait_for_publish(self.timeout_s)
            except (RuntimeError, ValueError) as exc:
                self._drop()
                raise DeliveryError(f"{self._address}: publish failed ({exc})") from exc
            if not info.is_published():
                self._drop()
                raise DeliveryError(
                    f"{self._address}: no acknowledgement within {self.timeout_s:g} s"
                )

    def close(self) -> None:
        with self._lock:
            self._drop()

    @property
    def _address(self) -> str:
        return f"mqtt://{self.config.host}:{self.config.port}"

    def _connected(self) -> mqtt.Client:
        if self._client is not None and self._client.is_connected():
            return self._client
        self._drop()
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="", protocol=mqtt.MQTTv311)
        if self.config.username:
            client.username_pw_set(self.config.username, self.config.password)
        client.connect_timeout = self.timeout_s
        connected = threading.Event()

        def on_connect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
            if not reason.is_failure:
                connected.set()

        client.on_connect = on_connect
        try:
            client.connect(self.config.host, self.config.port, keepalive=30)
        except OSError as exc:
            raise DeliveryError(f"{self._address}: cannot connect ({exc})") from exc
        client.loop_start()
        if not connected.wait(self.timeout_s) or not client.is_connected():
            client.loop_stop()
            client.disconnect()
            raise DeliveryError(f"{self._address}: the broker did not accept the connection")
        self._client = client
        return client

    def _drop(self) -> None:
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None
