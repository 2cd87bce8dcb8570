"""Everything ``watchkeeper serve`` runs beside the API, wired once: the single-machine runtime.

Start order: the inference batcher, the notification dispatcher, then the cameras (which
need both). Stop order is the reverse, and it is what makes a shutdown lose nothing:

1. the cameras stop; each worker closes its open tracks, so a person still in view becomes a
   sighting, is matched and, if on a watchlist, becomes an alert with its outbox rows
   (committed) — this needs the batcher, which is still running;
2. the batcher stops;
3. the dispatcher makes a last delivery pass within the time left; whatever it cannot
   deliver stays in the outbox and goes out after the next start.

It implements :class:`~watchkeeper.usecases.runtime.Runtime`, which is all the API sees of it
(``api.live.runtime``); ``serve.build_runtime`` picks it or the Ray runtime.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any

from prometheus_client import CollectorRegistry

from watchkeeper.alerts import (
    AlertChange,
    AlertService,
    EventBroker,
    OutboxDispatcher,
)
from watchkeeper.alerts.channels import build_notifiers
from watchkeeper.context import AppContext
from watchkeeper.crowd.alerting import CrowdAlertService
from watchkeeper.crowd.counting import CrowdCounter
from watchkeeper.crowd.detector import SsdPersonDetector, load_person_detector
from watchkeeper.crowd.monitor import CrowdMonitor
from watchkeeper.crowd.tiling import tiled_from_config
from watchkeeper.policy.counters import ActivityCounters
from watchkeeper.recognition import Recogniser
from watchkeeper.service.batcher import InferenceBatcher
from watchkeeper.service.camera import CameraSpec
from watchkeeper.service.manager import CameraManager
from watchkeeper.service.metrics import ServiceMetrics
from watchkeeper.store import StoreError, outbox
from watchkeeper.usecases.zones import zones_for_camera

log = logging.getLogger(__name__)


class Services:
    """The camera manager, inference batcher, alert service, dispatcher and event broker."""

    def __init__(self, ctx: AppContext, registry: CollectorRegistry | None = None) -> None:
        settings = ctx.settings
        self.ctx = ctx
        self.metrics = ServiceMetrics(registry or CollectorRegistry())
        self.broker = EventBroker(settings.notifications.event_history)
        analyzer = ctx.analyzer
        self.batcher = InferenceBatcher(
            analyzer,
            max_batch=settings.service.batch_max,
            max_wait_ms=settings.service.batch_wait_ms,
            observe=self.metrics.observe_inference,
        )
        self.counters = ActivityCounters(ctx.db)
        self.recogniser = Recogniser(
            ctx.db, settings.matching, analyzer.model, analyzer.embedder.dimension,
            policy=settings.policy, cipher=ctx.cipher, counters=self.counters,
        )  # fmt: skip
        self.alerts = AlertService(
            ctx.db, ctx.media, settings.notifications, self.broker, on_change=self._on_alert
        )
        self._person_detector: SsdPersonDetector | None = None  # loaded with the first zone
        self._person_lock = threading.Lock()
        self.crowd_alerts = CrowdAlertService(
            ctx.db, settings.notifications, self.broker, on_raise=self._on_crowd_alert
        )
        self.dispatcher = OutboxDispatcher(
            ctx.db,
            build_notifiers(settings.notifications),
            settings.notifications,
            on_result=self.metrics.observe_delivery,
        )
        self.cameras = CameraManager(
            ctx.db,
            settings,
            self.batcher,
            self.recogniser.match,
            self.alerts,
            broker=self.broker,
            refresh_gallery=self.recogniser.refresh,
            archive_days=self.recogniser.archive_days,
            counters=self.counters,
            screen=self.recogniser.screen,
            crowd=self._crowd_monitor,
        )
        self.metrics.watch(self.cameras.statuses, self._pending, lambda: self.broker.subscribers)

    def start(self) -> None:
        self.batcher.start()
        self.dispatcher.start()
        self.cameras.start()

    def stop(self) -> None:
        budget = self.ctx.settings.service.shutdown_timeout_s
        deadline = time.monotonic() + budget
        self.cameras.stop(timeout=budget * 0.6)
        with contextlib.suppress(StoreError):  # logged by flush; the last counts are lost
            self.counters.flush()
        self.batcher.stop(timeout=max(0.5, deadline - time.monotonic()))
        self.dispatcher.stop(drain_timeout_s=max(0.5, deadline - time.monotonic()))
        log.info("live service stopped")

    def _on_alert(self, change: AlertChange) -> None:
        self.metrics.alerts.labels(change.document["camera"]["name"], change.type[6:]).inc()
        if change.type == "alert.created":
            self.dispatcher.wake()

    def _on_crowd_alert(self, document: dict[str, Any]) -> None:
        self.metrics.crowd_alerts.labels(document["camera"]["name"], document["limit_kind"]).inc()
        self.dispatcher.wake()

    def _crowd_monitor(self, spec: CameraSpec) -> CrowdMonitor | None:
        """A counter for a camera with zones; the person model loads with the first one."""
        zones = zones_for_camera(self.ctx.db, spec.id)
        if not zones:
            return None
        settings = self.ctx.settings
        crowd = settings.crowd
        with self._person_lock:  # cameras start on several threads; one model for them all
            if self._person_detector is None:
                self._person_detector = load_person_detector(settings.vision, crowd)
        counter = CrowdCounter(
            zones, tiled_from_config(self._person_detector, crowd), crowd.smoothing_frames
        )
        return CrowdMonitor(
            spec.id, spec.name, counter, self.ctx.db, self.crowd_alerts, crowd.release,
            on_readings=self.metrics.observe_zones,
        )  # fmt: skip

    def _pending(self) -> dict[str, int]:
        with self.ctx.db.session(readonly=True) as s:
            return outbox.pending_counts(s)
