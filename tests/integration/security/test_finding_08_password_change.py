"""Finding 8: guessing one's current password at ``POST /users/me/password`` was free."""

from __future__ import annotations

from security_kit import audit_events

from support.live_api import LiveApi


def test_finding_08_wrong_current_passwords_are_audited_and_throttled(api: LiveApi):
    api.add_user("olga", "operator")
    stolen = api.login("olga")  # a session left open on a shared console
    change = {"current_password": "guess", "new_password": "a new long passphrase"}
    replies = [stolen.post("/api/v1/users/me/password", json=change) for _ in range(8)]
    statuses = [r.status_code for r in replies]
    assert statuses[:5] == [403] * 5 and 429 in statuses
    limited = replies[statuses.index(429)]
    assert int(limited.headers["Retry-After"]) >= 1
    failed = audit_events(api, "user.password.failed")
    assert len(failed) == statuses.count(403) and failed[0][1] == "user:olga"
    assert "guess" not in str(audit_events(api))
