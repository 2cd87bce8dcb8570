"""The outbox dispatcher: one thread that delivers owed notifications until they are taken.

It wakes when an alert commits (:meth:`OutboxDispatcher.wake`) or when the next retry falls
due, reads the due messages, sends each through its channel's notifier *outside* any
database transaction, and then records the outcome in a short transaction of its own. A
failure is retried after ``min(cap, base · 2ⁿ⁻¹)`` seconds scaled by a random factor in
[0.5, 1] (so that a receiver coming back is not hit by every message in the same second),
for ever: the message stays in the table across restarts until the receiver says yes.

The order "send, then mark" is what makes delivery at least once and not at most once: a
crash in between sends the message again after the restart, with the same idempotency key.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from watchkeeper.alerts.notifiers import Delivery, DeliveryError, Notifier
from watchkeeper.config import NotificationsConfig
from watchkeeper.store import Database, outbox

log = logging.getLogger(__name__)

IDLE_POLL_S = 5.0  # also picks up messages written by another process (e.g. the CLI)
BATCH = 100

# (channel, outcome "delivered"/"failed", seconds the attempt took)
ResultHook = Callable[[str, str, float], None]


def retry_delay(attempts: int, base_s: float, cap_s: float, rng: random.Random) -> float:
    """Seconds before the next try after ``attempts`` failed ones (1 or more)."""
    return min(cap_s, base_s * 2.0 ** min(attempts - 1, 62)) * rng.uniform(0.5, 1.0)


class OutboxDispatcher:
    """Delivers outbox messages through the notifier of their channel."""

    def __init__(
        self,
        db: Database,
        notifiers: list[Notifier],
        config: NotificationsConfig,
        on_result: ResultHook | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.db = db
        self.notifiers = {n.channel: n for n in notifiers}
        self.config = config
        self.on_result = on_result
        self._rng = rng or random.Random()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="outbox-dispatcher", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Something was enqueued: look now instead of at the next poll."""
        self._wake.set()

    def stop(self, drain_timeout_s: float = 5.0) -> None:
        """Make a last delivery pass (bounded in time), then stop; what is left stays owed."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(drain_timeout_s)
            if self._thread.is_alive():
                log.warning("outbox: delivery still running at shutdown; the rest stays owed")
        for notifier in self.notifiers.values():
            notifier.close()

    def run_once(self, now: datetime | None = None) -> int:
        """Attempt every due message once; return how many were delivered."""
        now = now or datetime.now(UTC)
        with self.db.session(readonly=True) as s:
            due = [
                Delivery(m.id, m.alert_id or m.crowd_alert_id or 0, m.channel, m.target,
                         m.payload, m.idempotency_key, m.attempts)
                for m in outbox.due(s, now, BATCH)
            ]  # fmt: skip
        delivered = 0
        for delivery in due:
            delivered += self._attempt(delivery)
        return delivered

    def next_due_in(self) -> float:
        """Seconds until the earliest undelivered message is due (IDLE_POLL_S at most)."""
        with self.db.session(readonly=True) as s:
            upcoming = outbox.due(s, datetime.now(UTC) + timedelta(seconds=IDLE_POLL_S), 1)
        if not upcoming:
            return IDLE_POLL_S
        wait = (upcoming[0].next_attempt_at - datetime.now(UTC)).total_seconds()
        return max(0.0, min(IDLE_POLL_S, wait))

    def _attempt(self, delivery: Delivery) -> bool:
        notifier = self.notifiers.get(delivery.channel)
        started = datetime.now(UTC)
        try:
            if notifier is None:
                raise DeliveryError(f"channel {delivery.channel!r} is not enabled in this service")
            notifier.send(delivery)
        except DeliveryError as exc:
            attempts = delivery.attempts + 1
            delay = retry_delay(
                attempts, self.config.retry_base_s, self.config.retry_cap_s, self._rng
            )
            with self.db.session() as s:
                outbox.mark_failed(s, delivery.id, str(exc), started + timedelta(seconds=delay))
            log.warning(
                "outbox: %s attempt %d failed, retry in %.1f s: %s",
                delivery.idempotency_key, attempts, delay, exc,
            )  # fmt: skip
            self._report(delivery.channel, "failed", started)
            return False
        with self.db.session() as s:
            outbox.mark_delivered(s, delivery.id, datetime.now(UTC))
        log.info("outbox: delivered %s", delivery.idempotency_key)
        self._report(delivery.channel, "delivered", started)
        return True

    def _report(self, channel: str, outcome: str, started: datetime) -> None:
        if self.on_result is not None:
            elapsed = (datetime.now(UTC) - started).total_seconds()
            self.on_result(channel, outcome, elapsed)

    def _run(self) -> None:
        while True:
            stopping = self._stop.is_set()
            try:
                self.run_once()
                wait = self.next_due_in()
            except Exception:  # the database may be briefly unavailable: keep the thread alive
                log.exception("outbox: dispatch pass failed")
                wait = IDLE_POLL_S
            if stopping:
                return
            self._wake.wait(wait)
            self._wake.clear()
