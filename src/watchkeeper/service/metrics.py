"""The live service's Prometheus figures, in the API's registry (served at ``/metrics``).

Counts and timings only: nothing here names a person. Per-camera rates are read from the
camera manager when Prometheus scrapes, so an idle camera costs nothing between scrapes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from watchkeeper.crowd.counting import ZoneReading
from watchkeeper.usecases.runtime import CameraStatus

STATES = (
    "starting", "connecting", "connected", "reconnecting", "failed", "stopping", "stopped",
    "disabled",
)  # fmt: skip
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class ServiceMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.alerts = Counter(
            "watchkeeper_alerts_total",
            "Alerts raised (created) and sightings folded into one (updated), by camera.",
            ["camera", "event"],
            registry=registry,
        )
        self.inference = Histogram(
            "watchkeeper_inference_seconds",
            "Time of one inference call: detect (one frame, with alignment and quality) or "
            "embed (one batch).",
            ["stage"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.batch_size = Histogram(
            "watchkeeper_inference_batch_faces",
            "Faces per batched embedding call.",
            buckets=(1, 2, 4, 8, 16, 32, 64),
            registry=registry,
        )
        self.notifications = Counter(
            "watchkeeper_notifications_total",
            "Delivery attempts of the outbox, by channel and outcome (delivered, failed).",
            ["channel", "outcome"],
            registry=registry,
        )
        self.notification_latency = Histogram(
            "watchkeeper_notification_seconds",
            "Time of one delivery attempt, by channel.",
            ["channel"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )

        self.zone_people = Gauge(
            "watchkeeper_zone_people",
            "People in a crowd zone now (smoothed over the zone's window), by camera and zone.",
            ["camera", "zone"],
            registry=registry,
        )
        self.zone_density = Gauge(
            "watchkeeper_zone_density",
            "People per m² in a crowd zone now (zones with a known area).",
            ["camera", "zone"],
            registry=registry,
        )
        self.zone_crossings = Counter(
            "watchkeeper_zone_crossings_total",
            "People crossing a crowd zone's counting lines, by direction (in, out).",
            ["camera", "zone", "direction"],
            registry=registry,
        )
        self.crowd_alerts = Counter(
            "watchkeeper_crowd_alerts_total",
            "Crowd alerts raised, by camera and limit (people, density, inflow).",
            ["camera", "limit"],
            registry=registry,
        )

    def observe_zones(self, camera: str, readings: list[ZoneReading]) -> None:
        """A camera's zone readings of one analysed frame (numbers only)."""
        for reading in readings:
            self.zone_people.labels(camera, reading.zone).set(reading.smoothed)
            if reading.density is not None:
                self.zone_density.labels(camera, reading.zone).set(reading.density)
            if reading.entered:
                self.zone_crossings.labels(camera, reading.zone, "in").inc(reading.entered)
            if reading.left:
                self.zone_crossings.labels(camera, reading.zone, "out").inc(reading.left)

    def observe_inference(self, stage: str, seconds: float, items: int) -> None:
        self.inference.labels(stage).observe(seconds)
        if stage == "embed":
            self.batch_size.observe(items)

    def observe_delivery(self, channel: str, outcome: str, seconds: float) -> None:
        self.notifications.labels(channel, outcome).inc()
        self.notification_latency.labels(channel).observe(seconds)

    def watch(
        self,
        statuses: Callable[[], list[CameraStatus]],
        pending: Callable[[], dict[str, int]],
        subscribers: Callable[[], int],
    ) -> None:
        """Register the figures that are read at scrape time."""
        self.registry.register(_LiveCollector(statuses, pending, subscribers))


class _LiveCollector:
    def __init__(
        self,
        statuses: Callable[[], list[CameraStatus]],
        pending: Callable[[], dict[str, int]],
        subscribers: Callable[[], int],
    ) -> None:
        self.statuses = statuses
        self.pending = pending
        self.subscribers = subscribers

    def collect(self) -> Iterator[Metric]:
        labels = ["camera"]
        fps_in = GaugeMetricFamily(
            "watchkeeper_camera_fps_in", "Frames decoded per second.", labels=labels
        )
        fps_analysed = GaugeMetricFamily(
            "watchkeeper_camera_fps_analysed", "Frames analysed per second.", labels=labels
        )
        faces_rate = GaugeMetricFamily(
            "watchkeeper_camera_faces_per_second",
            "Faces detected per second (10 s window).",
            labels=labels,
        )
        lag = GaugeMetricFamily(
            "watchkeeper_camera_lag_seconds",
            "Age of the last analysed frame when its analysis ended (live cameras).",
            labels=labels,
        )
        frames = CounterMetricFamily(
            "watchkeeper_camera_frames_analysed",
            "Frames analysed since the camera started.",
            labels=labels,
        )
        resting = GaugeMetricFamily(
            "watchkeeper_camera_key_frames_only",
            "1 while the camera's picture is still and only key frames are decoded.",
            labels=labels,
        )
        state = GaugeMetricFamily(
            "watchkeeper_camera_state",
            "1 for the camera's current state.",
            labels=[*labels, "state"],
        )
        for status in self.statuses():
            name = [status.name]
            fps_in.add_metric(name, status.fps_in)
            fps_analysed.add_metric(name, status.fps_analysed)
            faces_rate.add_metric(name, status.faces_per_s)
            if status.lag_s is not None:
                lag.add_metric(name, status.lag_s)
            frames.add_metric(name, status.frames_analysed)
            resting.add_metric(name, float(status.key_frames_only))
            for candidate in STATES:
                state.add_metric([status.name, candidate], float(candidate == status.state))
        yield from (fps_in, fps_analysed, faces_rate, lag, frames, resting, state)
        pending = GaugeMetricFamily(
            "watchkeeper_outbox_pending", "Notifications not yet delivered.", labels=["channel"]
        )
        for channel, count in self.pending().items():
            pending.add_metric([channel], count)
        yield pending
        yield GaugeMetricFamily(
            "watchkeeper_event_subscribers", "Open live event streams.", value=self.subscribers()
        )
