from datetime import UTC, datetime, timedelta, timezone

import pytest

from watchkeeper.policy.audit import GENESIS_HASH, event_hash
from watchkeeper.store.models import AuditEvent

AT = datetime(2025, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def event(**changes):
    fields = dict(
        seq=7,
        at=AT,
        actor="alice",
        action="person.enrol",
        object_type="person",
        object_id="12",
        reason="court order 1/25",
        details='{"a":1,"b":[1,2]}',
        prev_hash=GENESIS_HASH,
    )
    fields.update(changes)
    return AuditEvent(**fields)


def test_the_genesis_hash_is_64_zeros():
    assert GENESIS_HASH == "0" * 64


def test_the_hash_is_a_stable_sha256_hex_digest():
    digest = event_hash(event())
    assert digest == event_hash(event())
    assert len(digest) == 64 and int(digest, 16) >= 0


@pytest.mark.parametrize(
    "change",
    [
        {"seq": 8},
        {"at": AT + timedelta(microseconds=1)},
        {"actor": "mallory"},
        {"action": "person.delete"},
        {"object_type": "watchlist"},
        {"object_id": "13"},
        {"object_id": None},
        {"reason": "court order 1/26"},
        {"details": '{"a":2,"b":[1,2]}'},
        {"details": None},
        {"prev_hash": "f" * 64},
    ],
)
def test_every_field_is_covered_by_the_hash(change):
    assert event_hash(event(**change)) != event_hash(event())


def test_the_same_instant_in_another_zone_and_reordered_details_hash_the_same():
    shifted = AT.astimezone(timezone(timedelta(hours=2)))
    same = event(at=shifted, details='{"b": [1, 2], "a": 1}')
    assert event_hash(same) == event_hash(event())
