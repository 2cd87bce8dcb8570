"""Finding 7: X-Forwarded-For was trusted from anyone, escaping the login throttle.

The client is the peer's address unless the peer is one of ``api.trusted_proxies``; then
it is the rightmost address in X-Forwarded-For that no trusted proxy vouches for.
"""

from __future__ import annotations

from security_kit import PROXY, VICTIM, audit_events, login_status

from support.live_api import PASSWORD, LiveApi


def test_finding_07_forwarded_for_from_an_untrusted_peer_is_ignored(api: LiveApi):
    api.add_user("olga", "operator")
    statuses = [
        login_status(api, f"user{i}", "password spraying", f"192.0.2.{i}") for i in range(1, 12)
    ]
    # Rotating the header and the name does not escape the throttle.
    assert statuses[:5] == [401] * 5 and 429 in statuses
    clients = {d["client"] for _, _, d in audit_events(api, "auth.login.failed")}
    assert clients == {"127.0.0.1"}  # the audit log is not forged either


def test_finding_07_forwarded_for_from_a_trusted_proxy_names_the_client(start_api):
    api = start_api(**PROXY)
    api.add_user("olga", "operator")
    assert login_status(api, "olga", PASSWORD, f"10.9.8.7, {VICTIM}") == 200
    [(_, _, details)] = audit_events(api, "auth.login")
    assert details["client"] == VICTIM  # the rightmost address the proxy did not vouch for
