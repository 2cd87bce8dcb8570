"""The matching rules as plain values: which reason blocks an entry, where and when."""

from datetime import UTC, datetime, timedelta

import pytest

from watchkeeper.policy.eligibility import PolicySnapshot
from watchkeeper.store.crypto import Cipher, CipherError, generate_key, parse_key, unseal
from watchkeeper.store.policy import DeploymentWindow

T = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def rules(**changes) -> PolicySnapshot:
    values = {
        "require_authorisation": True,
        "watchlist_names": {1: "missing", 2: "wanted"},
        "deployments": {1: (DeploymentWindow(7, 1, "airport", T - HOUR, T + HOUR, None),)},
        "camera_groups": {"gate-1": "airport"},
    }
    return PolicySnapshot(**(values | changes))


def test_a_list_is_authorised_only_on_its_group_within_its_period():
    snapshot = rules()
    assert snapshot.block(10, 1, "airport", T, T) is None
    assert snapshot.block(10, 1, "station", T, T) == "not_authorised"
    assert snapshot.block(10, 1, "airport", T + HOUR, T) == "not_authorised"  # end is exclusive
    assert snapshot.block(10, 2, "airport", T, T) == "not_authorised"
    assert snapshot.group_of("gate-1") == "airport" and snapshot.group_of("new") == "default"


def test_a_revoked_deployment_authorises_nothing():
    revoked = DeploymentWindow(7, 1, "airport", T - HOUR, T + HOUR, T - HOUR / 2)
    assert rules(deployments={1: (revoked,)}).block(10, 1, "airport", T - HOUR, T) == (
        "not_authorised"
    )


def test_without_required_authorisation_only_the_other_rules_apply():
    snapshot = rules(require_authorisation=False, expiry={10: T})
    assert snapshot.block(11, 2, "anywhere", T, T) is None
    assert snapshot.block(10, 2, "anywhere", T - HOUR, T) == "expired"


def test_person_rules_come_before_list_rules():
    snapshot = rules(unapproved=frozenset({10}), review_by={1: T - HOUR})
    assert snapshot.block(10, 1, "airport", T, T) == "pending_approval"
    assert snapshot.block(11, 1, "airport", T, T) == "review_overdue"
    persons, lists = snapshot.blocked_sets("airport", T, T)
    assert persons == {10: "pending_approval"}
    assert lists == {1: "review_overdue", 2: "not_authorised"}


def test_expiry_and_review_are_judged_at_the_later_of_sighting_time_and_now():
    snapshot = rules(expiry={10: T}, review_by={1: T + 2 * HOUR})
    assert snapshot.block(10, 1, "airport", T - HOUR / 2, T - HOUR) is None
    assert snapshot.block(10, 1, "airport", T - HOUR / 2, T) == "expired"  # analysed after expiry
    assert snapshot.block(11, 1, "airport", T, T + 3 * HOUR) == "review_overdue"


def test_a_sealed_blob_opens_only_with_its_key_and_purpose():
    key, other = (parse_key(generate_key(), "test") for _ in range(2))
    blob = Cipher(key).encrypt(b"template bytes", b"template")
    assert unseal(Cipher(key), blob, b"template", "t") == b"template bytes"
    for cipher, purpose, message in (
        (Cipher(other), b"template", "wrong key"),
        (Cipher(key), b"media", "integrity"),
        (None, b"template", "no key is configured"),
    ):
        with pytest.raises(CipherError, match=message):
            unseal(cipher, blob, purpose, "t")
    assert unseal(None, b"plain", b"template", "t") == b"plain"
