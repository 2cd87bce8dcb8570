"""The transactional outbox: notifications owed, written in the same transaction as the alert.

Writing "send this" next to the alert in one commit is what makes delivery at-least-once
whatever dies: if the alert exists, so does the row that says it must go out, and the row is
only marked delivered after the receiver said yes. A crash between delivering and marking
sends the message again; receivers drop the repeat by its ``idempotency_key``, which is the
same on every attempt (alert id + channel + target).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, ForeignKey, String, Text, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from watchkeeper.config import NotificationsConfig
from watchkeeper.store.models import Base, utcnow


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__: ClassVar[dict[str, Any]] = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    # at most one of the two: a face alert or a crowd alert; neither: a notice that belongs to
    # no alert (the audit chain's published head)
    alert_id: Mapped[int | None] = mapped_column(
        ForeignKey("alerts.id", ondelete="CASCADE"), index=True
    )
    crowd_alert_id: Mapped[int | None] = mapped_column(
        ForeignKey("crowd_alerts.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(index=True)
    delivered_at: Mapped[datetime | None] = mapped_column(index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def idempotency_key(alert_id: int, channel: str, target: str, kind: str = "alert") -> str:
    """``<kind>-<id>-<channel>-<12 hex of the target>``: stable, short, and names the alert."""
    return _keyed(f"{kind}-{alert_id}", channel, target)


def _keyed(subject: str, channel: str, target: str) -> str:
    return f"{subject}-{channel}-{hashlib.sha256(target.encode()).hexdigest()[:12]}"


def enqueue(
    s: Session,
    alert_id: int,
    channel: str,
    target: str,
    payload: dict[str, Any],
    crowd: bool = False,
) -> OutboxMessage:
    """Owe one delivery of a face alert (or, with ``crowd``, of a crowd alert)."""
    key = idempotency_key(alert_id, channel, target, "crowd-alert" if crowd else "alert")
    return _owe(
        s, key, channel, target, payload,
        alert_id=None if crowd else alert_id, crowd_alert_id=alert_id if crowd else None,
    )  # fmt: skip


def enqueue_notice(
    s: Session, key: str, channel: str, target: str, payload: dict[str, Any]
) -> OutboxMessage:
    """A message about no alert (``key`` names it: ``audit-head-42``), delivered the same way."""
    return _owe(s, _keyed(key, channel, target), channel, target, payload)


def _owe(
    s: Session,
    key: str,
    channel: str,
    target: str,
    payload: dict[str, Any],
    alert_id: int | None = None,
    crowd_alert_id: int | None = None,
) -> OutboxMessage:
    message = OutboxMessage(
        alert_id=alert_id,
        crowd_alert_id=crowd_alert_id,
        channel=channel,
        target=target,
        payload=payload,
        idempotency_key=key,
        attempts=0,
        next_attempt_at=utcnow(),
    )
    s.add(message)
    s.flush()
    return message


def due(s: Session, now: datetime, limit: int = 100) -> list[OutboxMessage]:
    """Undelivered messages whose next attempt has come, oldest first."""
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.delivered_at.is_(None), OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    )
    return list(s.scalars(query))


def mark_delivered(s: Session, message_id: int, now: datetime) -> None:
    message = s.get(OutboxMessage, message_id)
    if message is not None:  # gone if its alert was deleted meanwhile
        message.attempts += 1
        message.delivered_at = now
        message.last_error = None


def mark_failed(s: Session, message_id: int, error: str, retry_at: datetime) -> int:
    """Record a failed attempt; returns the number of attempts so far (0 if the row is gone)."""
    message = s.get(OutboxMessage, message_id)
    if message is None:
        return 0
    message.attempts += 1
    message.last_error = error[:2000]
    message.next_attempt_at = retry_at
    return message.attempts


def pending_counts(s: Session) -> dict[str, int]:
    """Undelivered messages per channel."""
    rows = s.execute(
        select(OutboxMessage.channel, func.count(OutboxMessage.id))
        .where(OutboxMessage.delivered_at.is_(None))
        .group_by(OutboxMessage.channel)
    )
    return {channel: int(count) for channel, count in rows}


def list_messages(
    s: Session, pending_only: bool = False, before_id: int | None = None, limit: int = 50
) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if pending_only:
        query = query.where(OutboxMessage.delivered_at.is_(None))
    if before_id is not None:
        query = query.where(OutboxMessage.id < before_id)
    return list(s.scalars(query))


@dataclass(frozen=True, slots=True)
class Target:
    """Where a new alert must be delivered: a channel and its address."""

    channel: str  # "webhook" or "mqtt"
    address: str


def targets_of(config: NotificationsConfig) -> list[Target]:
    targets = [Target("webhook", hook.url) for hook in config.webhooks]
    if config.mqtt.enabled:
        targets.append(Target("mqtt", f"mqtt://{config.mqtt.host}:{config.mqtt.port}"))
    return targets
