"""``watchkeeper serve --cluster``: the live service with its cameras on a Ray cluster.

The driver (this process) keeps what must exist once: the API, the scheduler, the outbox
dispatcher and the live event feed. The cluster runs what grows with the cameras:

- one **camera worker** actor per unit of ``cluster.camera_resource`` in the cluster
  (:class:`~watchkeeper.cluster.worker.CameraHost`), restarted by Ray without limit;
- one **inference actor** per unit of ``cluster.inference_resource``
  (:class:`~watchkeeper.cluster.inference.InferenceHost`), on a GPU where
  ``cluster.inference_gpus`` asks for one; without any, each worker runs the models itself.

Workers write alerts with their outbox rows straight into PostgreSQL, so nothing they find
passes through the driver. The driver learns of new alerts by reading the alerts table
(:class:`AlertFeed`), tells SSE listeners, and wakes the dispatcher, which delivers the
outbox at least once with an idempotency key per alert and target. There is exactly one
dispatcher: the outbox has no claim on rows, so two would deliver twice.

:class:`ClusterServices` implements :class:`~watchkeeper.usecases.runtime.Runtime`
(``cameras``, ``alerts``, ``broker``, ``start``, ``stop``), like the single-machine
:class:`~watchkeeper.service.Services`; ``serve.build_runtime`` picks one of the two.
"""

from __future__ import annotations

import contextlib
import logging
import math
import socket
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import ray
from ray.exceptions import GetTimeoutError, RayActorError

from watchkeeper.alerts import (
    AlertService,
    EventBroker,
    OutboxDispatcher,
)
from watchkeeper.alerts.channels import build_notifiers
from watchkeeper.alerts.documents import alert_document
from watchkeeper.cluster.inference import InferenceHost
from watchkeeper.cluster.scheduler import Scheduler
from watchkeeper.cluster.worker import CameraHost
from watchkeeper.config import ConfigError, Settings
from watchkeeper.context import AppContext
from watchkeeper.crowd.alerting import CrowdAlertService
from watchkeeper.crowd.monitor import CrowdMonitor
from watchkeeper.store import Database, StoreError
from watchkeeper.store import alerts as alert_store
from watchkeeper.usecases.runtime import CameraStatus

log = logging.getLogger(__name__)

WORKER_PREFIX = "wk-worker-"
INFERENCE_PREFIX = "wk-inference-"
STARTUP_TIMEOUT_S = 180.0  # actors load the models; slow nodes take a while
FEED_POLL_S = 1.0
PROBE_TIMEOUT_S = 3.0


class ClusterError(ConfigError):
    """The Ray cluster named by ``--cluster`` or ``cluster.address`` cannot be used."""


def connect(address: str, namespace: str, log_to_driver: bool = True) -> None:
    """Join the cluster as a driver, or fail with one line that names the address."""
    if ray.is_initialized():
        return
    if address != "auto":
        _probe(address)
    try:
        ray.init(
            address=address,
            namespace=namespace,
            log_to_driver=log_to_driver,
            logging_level=logging.WARNING,
            configure_logging=False,
        )
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ClusterError(f"cannot join the Ray cluster at {address}: {first}") from exc


def _probe(address: str) -> None:
    """A TCP connection to the head first: ray.init would wait a minute for a wrong one."""
    parts = urlsplit(address if "://" in address else f"gcs://{address}")
    if parts.scheme not in ("gcs", "ray"):
        raise ClusterError(
            f"cluster address {address!r} is not 'auto', HOST:PORT or ray://HOST:PORT"
        )
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        host, port = None, None
    if not host or not port:
        raise ClusterError(f"cluster address {address!r} needs a host and a port (HOST:PORT)")
    try:
        with socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ClusterError(f"cannot reach the Ray cluster at {address}: {reason}") from exc


def resource_units(name: str) -> int:
    """How many whole units of a custom resource the cluster's live nodes offer."""
    return math.floor(ray.cluster_resources().get(name, 0.0) + 1e-9)


class AlertFeed:
    """Tells the driver of alerts that workers wrote: SSE listeners and the dispatcher."""

    def __init__(self, db: Database, broker: EventBroker, on_new: Callable[[], None]) -> None:
        self.db = db
        self.broker = broker
        self.on_new = on_new
        self.last_id: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="alert-feed", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def poll(self) -> int:
        """Publish the alerts created since the last poll; how many there were."""
        with self.db.session(readonly=True) as s:
            newest_first = []
            before = None
            while True:
                page = alert_store.list_alerts(s, alert_store.AlertFilter(), before, limit=100)
                fresh = [v for v in page if self.last_id is None or v.alert.id > self.last_id]
                newest_first += fresh
                if self.last_id is None or len(fresh) < len(page) or len(page) < 100:
                    break
                before = page[-1].alert.id
            documents = [alert_document(view) for view in reversed(newest_first)]
        if self.last_id is None:  # the first look only learns where the table stands
            self.last_id = max((d["id"] for d in documents), default=0)
            return 0
        for document in documents:
            self.broker.publish("alert.created", document)
            self.last_id = max(self.last_id, document["id"])
        if documents:
            self.on_new()
        return len(documents)

    def _run(self) -> None:
        while not self._stop.wait(FEED_POLL_S):
            try:
                self.poll()
            except StoreError as exc:
                log.warning("alert feed: %s", exc)


class ClusterCameras:
    """The camera manager's interface (status, apply, snapshot) over the scheduler."""

    def __init__(self, services: ClusterServices) -> None:
        self.services = services

    def status(self, camera_id: int) -> CameraStatus | None:
        scheduler = self.services.scheduler
        return scheduler.status(camera_id) if scheduler is not None else None

    def statuses(self) -> list[CameraStatus]:
        scheduler = self.services.scheduler
        return scheduler.statuses() if scheduler is not None else []

    def apply(self, _camera_id: int) -> None:
        if self.services.scheduler is not None:
            self.services.scheduler.refresh()

    def remove(self, camera_id: int) -> None:
        self.apply(camera_id)

    def snapshot(self, camera_id: int) -> bytes | None:
        scheduler = self.services.scheduler
        worker = scheduler.worker_of(camera_id) if scheduler is not None else None
        if worker is None:
            return None
        try:
            snapshot: bytes | None = ray.get(worker.snapshot.remote(camera_id), timeout=5)
        except (RayActorError, GetTimeoutError):
            return None
        return snapshot

    def crowd(self, _camera_id: int) -> CrowdMonitor | None:
        return None  # people are counted by `serve` on one machine only (docs/crowd.md)

    def crowd_snapshot(self, _camera_id: int) -> bytes | None:
        return None


def start_inference_actors(settings: Settings) -> dict[str, Any]:
    """One inference actor per unit of ``cluster.inference_resource`` in the cluster, by name;
    each asks for ``cluster.inference_gpus`` GPUs: a node with four GPUs and four units runs
    one on each, with sixteen units at 0.25 four on each."""
    cluster, service = settings.cluster, settings.service
    actors = {}
    for index in range(resource_units(cluster.inference_resource)):
        name = f"{INFERENCE_PREFIX}{index}"
        actors[name] = (
            ray.remote(InferenceHost)
            .options(
                name=name,
                max_restarts=-1,
                max_task_retries=3,
                max_concurrency=16,
                num_cpus=0,
                num_gpus=cluster.inference_gpus,
                resources={cluster.inference_resource: 1},
            )
            .remote(settings.vision, service.batch_max, service.batch_wait_ms)
        )
    return actors


class ClusterServices:
    """The runtime of ``serve --cluster``; joins the cluster when made, starts actors in start."""

    def __init__(
        self, ctx: AppContext, address: str | None = None, log_to_driver: bool = True
    ) -> None:
        settings = ctx.settings
        if ctx.db.is_sqlite:
            raise ClusterError(
                "cluster mode needs a database that every node can reach: set database_url "
                "to a PostgreSQL URL (postgresql+psycopg://user@host/db)"
            )
        self.ctx = ctx
        self.address = address or settings.cluster.address
        connect(self.address, settings.cluster.namespace, log_to_driver)
        self.broker = EventBroker(settings.notifications.event_history)
        self.alerts = AlertService(ctx.db, ctx.media, settings.notifications, self.broker)
        self.crowd_alerts = CrowdAlertService(ctx.db, settings.notifications, self.broker)
        self.dispatcher = OutboxDispatcher(
            ctx.db, build_notifiers(settings.notifications), settings.notifications
        )
        self.feed = AlertFeed(ctx.db, self.broker, self.dispatcher.wake)
        self.cameras = ClusterCameras(self)
        self.scheduler: Scheduler | None = None
        self.workers: dict[str, Any] = {}
        self.inference: dict[str, Any] = {}

    def start(self) -> None:
        settings = self.ctx.settings
        cluster = settings.cluster
        n_workers = resource_units(cluster.camera_resource)
        if n_workers == 0:
            raise ClusterError(
                f"no node of the cluster offers the resource {cluster.camera_resource!r}: start "
                f"camera nodes with ray start --resources '{{\"{cluster.camera_resource}\": 1}}'"
            )
        analyzer = self.ctx.analyzer
        self.inference = start_inference_actors(settings)
        inference = list(self.inference.values()) or None
        for index in range(n_workers):
            name = f"{WORKER_PREFIX}{index}"
            self.workers[name] = (
                ray.remote(CameraHost)
                .options(
                    name=name,
                    max_restarts=-1,
                    max_task_retries=3,
                    max_concurrency=8,
                    num_cpus=0,
                    resources={cluster.camera_resource: 1},
                )
                .remote(name, settings, analyzer.model, analyzer.embedder.dimension, inference)
            )
        self._wait_ready()
        log.info(
            "cluster: %d camera workers, %d inference actors", len(self.workers),
            len(self.inference),
        )  # fmt: skip
        self.scheduler = Scheduler(self.ctx.db, self.workers, cluster)
        self.scheduler.start()
        self.dispatcher.start()
        self.feed.start()

    def stop(self) -> None:
        budget = self.ctx.settings.service.shutdown_timeout_s
        deadline = time.monotonic() + budget
        if self.scheduler is not None:
            self.scheduler.stop()
        calls = [w.shutdown.remote(budget * 0.6) for w in self.workers.values()]
        with contextlib.suppress(RayActorError, GetTimeoutError):
            left = ray.get(calls, timeout=budget * 0.7)
            if any(left):
                log.error("workers stopped with %d results unwritten", sum(left))
        self.feed.stop()
        with contextlib.suppress(StoreError):
            self.feed.poll()  # wake the dispatcher for what the workers flushed last
        self.dispatcher.wake()
        self.dispatcher.stop(drain_timeout_s=max(0.5, deadline - time.monotonic()))
        for actor in [*self.workers.values(), *self.inference.values()]:
            ray.kill(actor, no_restart=True)
        log.info("cluster service stopped")

    def _wait_ready(self) -> None:
        """Every actor answers once (models loaded), or start-up fails naming the missing."""
        probes = {name: a.describe.remote() for name, a in self.inference.items()}
        probes |= {name: w.report.remote() for name, w in self.workers.items()}
        ready, waiting = ray.wait(
            list(probes.values()), num_returns=len(probes), timeout=STARTUP_TIMEOUT_S
        )
        if waiting:
            missing = sorted(n for n, ref in probes.items() if ref in set(waiting))
            raise ClusterError(
                f"{', '.join(missing)} did not start within {STARTUP_TIMEOUT_S:g} s "
                "(see the Ray logs of their nodes)"
            )
        try:
            ray.get(ready)
        except RayActorError as exc:
            raise ClusterError(f"an actor failed to start: {exc}") from exc
