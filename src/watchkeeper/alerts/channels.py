"""Notification channels by key: which notifiers a runtime builds from the settings.

Each channel is a key (the notifier's ``channel``) and a factory that builds its notifier
from ``notifications`` settings, or None when the settings leave it off. Both runtimes
(one machine, Ray) build their notifiers here, so a new channel is one class in
``notifiers`` and one line below, and no runtime changes.
"""

from __future__ import annotations

from collections.abc import Callable

from watchkeeper.alerts.notifiers import MqttNotifier, Notifier, WebhookNotifier
from watchkeeper.config import NotificationsConfig

NotifierFactory = Callable[[NotificationsConfig], Notifier | None]


def _webhook(config: NotificationsConfig) -> Notifier | None:
    return WebhookNotifier(config.webhooks, config.timeout_s)


def _mqtt(config: NotificationsConfig) -> Notifier | None:
    return MqttNotifier(config.mqtt, config.timeout_s) if config.mqtt.enabled else None


NOTIFIERS: dict[str, NotifierFactory] = {
    WebhookNotifier.channel: _webhook,
    MqttNotifier.channel: _mqtt,
}


def create_notifier(channel: str, config: NotificationsConfig) -> Notifier | None:
    """The notifier of one channel, or None when the settings leave it off."""
    try:
        factory = NOTIFIERS[channel]
    except KeyError:
        known = ", ".join(sorted(NOTIFIERS))
        raise ValueError(f"unknown notification channel {channel!r}; known: {known}") from None
    return factory(config)


def build_notifiers(config: NotificationsConfig) -> list[Notifier]:
    """Every channel's notifier that the settings turn on, in registry order."""
    built = (create_notifier(channel, config) for channel in NOTIFIERS)
    return [notifier for notifier in built if notifier is not None]
