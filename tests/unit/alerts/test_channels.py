"""Notifiers are built from the registry by channel key, as both runtimes build them."""

from __future__ import annotations

import pytest

from watchkeeper.alerts.channels import NOTIFIERS, build_notifiers, create_notifier
from watchkeeper.alerts.notifiers import MqttNotifier, WebhookNotifier
from watchkeeper.config import MqttConfig, NotificationsConfig


def test_the_default_settings_build_the_webhook_notifier_only() -> None:
    notifiers = build_notifiers(NotificationsConfig())
    assert [type(n) for n in notifiers] == [WebhookNotifier]


def test_turning_mqtt_on_adds_its_notifier() -> None:
    config = NotificationsConfig(mqtt=MqttConfig(enabled=True))
    notifiers = build_notifiers(config)
    assert [n.channel for n in notifiers] == ["webhook", "mqtt"]
    assert isinstance(notifiers[1], MqttNotifier)


def test_each_key_is_its_notifiers_channel() -> None:
    config = NotificationsConfig(mqtt=MqttConfig(enabled=True))
    for key in NOTIFIERS:
        notifier = create_notifier(key, config)
        assert notifier is not None and notifier.channel == key


def test_an_unknown_channel_is_named_with_the_known_ones() -> None:
    with pytest.raises(
        ValueError, match="unknown notification channel 'sms'; known: mqtt, webhook"
    ):
        create_notifier("sms", NotificationsConfig())
