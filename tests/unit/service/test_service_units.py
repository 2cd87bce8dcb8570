"""Pure parts of the live service: regions, back-off, signatures, topics, the event broker."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import random
import time

import numpy as np
import pytest

from watchkeeper.alerts import EventBroker, sign
from watchkeeper.alerts.dispatcher import retry_delay
from watchkeeper.alerts.notifiers import body_of, topic_for
from watchkeeper.pipeline.region import check_roi, inside
from watchkeeper.streams.probe import check_uri

BOXES = np.array([[10, 10, 30, 30], [70, 70, 90, 90], [10, 70, 30, 90]], np.float32)  # 100×100


def test_a_box_region_keeps_faces_whose_centre_is_inside() -> None:
    assert inside((0.0, 0.0, 0.5, 0.5), BOXES, 100, 100).tolist() == [True, False, False]


def test_a_polygon_region_keeps_faces_whose_centre_is_inside() -> None:
    triangle = (0.0, 0.0, 1.0, 0.0, 0.0, 1.0)  # the upper-left half of the picture
    assert inside(triangle, BOXES, 100, 100).tolist() == [True, False, False]
    square = (0.0, 0.5, 0.5, 0.5, 0.5, 1.0, 0.0, 1.0)
    assert inside(square, BOXES, 100, 100).tolist() == [False, False, True]


@pytest.mark.parametrize(
    ("roi", "message"),
    [
        ([0.5, 0.1, 0.2, 0.9], "x1 < x2"),
        ([0.1, 0.2, 0.3, 0.4, 0.5], "got 5 numbers"),
        ([0.0, 0.0, 1.5, 1.0], "within 0..1"),
    ],
)
def test_a_bad_region_is_refused_with_the_reason(roi: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_roi(roi)


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("", "empty"),
        ("gopher://x/y", "unsupported scheme"),
        ("rtsp://", "no host"),
        ("http://host:abc/", "port is not a number"),
        ("rtsp://host/a\nb", "control characters"),
    ],
)
def test_a_uri_that_can_never_work_is_refused_without_the_network(uri: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_uri(uri)


def test_a_good_stream_uri_passes_unchanged() -> None:
    assert (
        check_uri("  rtsp://user:pw@cam-1:554/stream?x=1 ") == "rtsp://user:pw@cam-1:554/stream?x=1"
    )


def test_retries_back_off_exponentially_with_jitter_up_to_the_cap() -> None:
    rng = random.Random(1)
    delays = [retry_delay(n, 1.0, 60.0, rng) for n in range(1, 10)]
    for attempt, delay in enumerate(delays, start=1):
        ceiling = min(60.0, 2.0 ** (attempt - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert retry_delay(500, 1.0, 60.0, rng) <= 60.0


def test_the_webhook_signature_is_the_hmac_of_the_timestamp_and_the_exact_body() -> None:
    body = body_of({"b": 1, "a": "<x>"})
    assert body == b'{"a":"<x>","b":1}'
    expected = hmac.new(b"secret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign("secret", "1700000000", body) == f"sha256={expected}"
    assert sign("secret", "1700000001", body) != f"sha256={expected}"


def test_mqtt_topics_cannot_be_split_or_widened_by_a_camera_name() -> None:
    assert topic_for("watchkeeper", "gate-1") == "watchkeeper/gate-1/alert"
    assert topic_for("watchkeeper", "a/b+#\x00") == "watchkeeper/a_b___/alert"
    assert topic_for("watchkeeper", "") == "watchkeeper/_/alert"


def test_a_listener_that_reconnects_gets_what_it_missed() -> None:
    async def scenario() -> tuple[list[str], list[str], list[str]]:
        broker = EventBroker(history=10)
        first, _ = broker.subscribe()
        broker.publish("alert.created", {"n": 1})
        seen = await first.get(1.0)
        assert seen is not None
        first.close()
        broker.publish("alert.updated", {"n": 2})
        broker.publish("camera.status", {"n": 3})
        _, missed = broker.subscribe(last_event_id=seen.id)
        _, stranger = broker.subscribe(last_event_id="0-5")  # an id of an earlier run
        _, fresh = broker.subscribe()
        return [e.type for e in missed], [e.type for e in stranger], [e.type for e in fresh]

    missed, stranger, fresh = asyncio.run(scenario())
    assert missed == ["alert.updated", "camera.status"]
    assert stranger == ["alert.created", "alert.updated", "camera.status"]
    assert fresh == []


def test_a_slow_listener_is_cut_off_instead_of_holding_up_publishers() -> None:
    async def scenario() -> bool:
        broker = EventBroker(history=0)
        slow, _ = broker.subscribe()
        for n in range(300):
            broker.publish("camera.status", {"n": n})
        await asyncio.sleep(0.05)  # let the loop run the deliveries
        return slow.overflowed

    assert asyncio.run(scenario())


def test_closing_the_broker_ends_every_stream_at_once() -> None:
    async def scenario() -> tuple[bool, object, bool, float]:
        broker = EventBroker()
        listening, _ = broker.subscribe()
        broker.close()
        started = time.monotonic()
        event = await listening.get(5.0)  # returns at once, not after 5 s
        waited = time.monotonic() - started
        late, _ = broker.subscribe()
        return listening.open, event, late.open, waited

    still_open, event, late_open, waited = asyncio.run(scenario())
    assert (still_open, event, late_open) == (False, None, False)
    assert waited < 1
