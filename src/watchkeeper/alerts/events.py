"""The live event broker: what happened a moment ago, for everyone listening right now.

Camera threads and request handlers publish (``alert.created``, ``alert.updated``,
``camera.status``); SSE streams subscribe. Publishing never blocks and never fails on a slow
listener: each subscription has a bounded queue, and one that falls too far behind is cut
off, to come back with ``Last-Event-ID`` and read what it missed from the history (the last
``history`` events, in memory only). Event ids are ``<boot>-<seq>``: after a restart the
history is new, so a client that names an id of an earlier run is sent all of it.

This is the in-process side of notification; webhooks and MQTT go through the persistent
outbox because they must survive a restart, while a browser that was away reloads the
alert list anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

QUEUE_SIZE = 256


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    type: str
    data: dict[str, Any]
    at: float = field(default_factory=time.time)


class Subscription:
    """One listener's queue; read it with :meth:`get` from the event loop that subscribed."""

    def __init__(self, broker: EventBroker, loop: asyncio.AbstractEventLoop) -> None:
        self._broker = broker
        self._loop = loop
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue(QUEUE_SIZE)
        self.overflowed = False
        self.ended = False  # the broker closed: the service is shutting down

    @property
    def open(self) -> bool:
        return not (self.overflowed or self.ended)

    async def get(self, timeout: float) -> Event | None:
        """The next event, or None after ``timeout`` seconds of silence or when it ended."""
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return None

    def close(self) -> None:
        self._broker._unsubscribe(self)

    def _offer(self, event: Event) -> None:  # on the subscriber's loop
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True

    def _end(self) -> None:  # on the subscriber's loop
        self.ended = True
        with contextlib.suppress(asyncio.QueueFull):  # full: it sees ``ended`` after those
            self._queue.put_nowait(None)

    def _deliver(self, event: Event | None) -> None:  # from any thread; None ends it
        try:
            if event is None:
                self._loop.call_soon_threadsafe(self._end)
            else:
                self._loop.call_soon_threadsafe(self._offer, event)
        except RuntimeError:  # the loop has closed: the listener is gone
            self.close()


class EventBroker:
    """Fan-out of events to subscribers, with a short history for resuming."""

    def __init__(self, history: int = 1000) -> None:
        self.boot = format(int(time.time() * 1000), "x")
        self._seq = itertools.count(1)
        self._history: deque[Event] = deque(maxlen=history)
        self._subscribers: set[Subscription] = set()
        self._lock = threading.Lock()
        self._closed = False

    def publish(self, type_: str, data: dict[str, Any]) -> Event:
        with self._lock:
            event = Event(f"{self.boot}-{next(self._seq)}", type_, data)
            self._history.append(event)
            subscribers = list(self._subscribers)
        for subscription in subscribers:
            subscription._deliver(event)
        return event

    def subscribe(self, last_event_id: str | None = None) -> tuple[Subscription, list[Event]]:
        """Start listening (on the running loop); also return the missed events to send first."""
        subscription = Subscription(self, asyncio.get_running_loop())
        with self._lock:
            backlog = self._missed(last_event_id)
            self._subscribers.add(subscription)
            closed = self._closed
        if closed:
            subscription.ended = True
        return subscription, backlog

    def close(self) -> None:
        """End every subscription (at shutdown, so that open streams do not hold it up)."""
        with self._lock:
            self._closed = True
            subscribers = list(self._subscribers)
        for subscription in subscribers:
            subscription._deliver(None)

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def _missed(self, last_event_id: str | None) -> list[Event]:
        if last_event_id is None:
            return []
        boot, _, seq = last_event_id.partition("-")
        if boot != self.boot or not seq.isdigit():
            return list(self._history)  # an id of an earlier run: all that is left
        return [e for e in self._history if int(e.id.partition("-")[2]) > int(seq)]

    def _unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscribers.discard(subscription)
