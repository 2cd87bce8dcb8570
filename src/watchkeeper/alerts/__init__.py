"""Alerts: matches become alerts, alerts reach people and systems, reviewers decide them.

``service`` raises, folds and reviews alerts (with the outbox rows, in the sighting's
transaction); ``dispatcher`` delivers the outbox through ``notifiers`` (webhooks, MQTT);
``events`` is the in-process broker behind the SSE stream.
"""

from watchkeeper.alerts.dispatcher import OutboxDispatcher
from watchkeeper.alerts.events import Event, EventBroker
from watchkeeper.alerts.notifiers import (
    Delivery,
    DeliveryError,
    MqttNotifier,
    Notifier,
    WebhookNotifier,
    sign,
)
from watchkeeper.alerts.service import AlertChange, AlertService, CameraRef, ReviewError

__all__ = [
    "AlertChange",
    "AlertService",
    "CameraRef",
    "Delivery",
    "DeliveryError",
    "Event",
    "EventBroker",
    "MqttNotifier",
    "Notifier",
    "OutboxDispatcher",
    "ReviewError",
    "WebhookNotifier",
    "sign",
]
