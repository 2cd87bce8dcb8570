"""Finding 6: five wrong passwords locked a known account, admins included, for 5 minutes.

The login throttle counts failures per client and per (client, account) with growing delays,
so a client with no failures always gets in with the right password.
"""

from __future__ import annotations

from security_kit import ATTACKER, PROXY, VICTIM, login_status

from support.live_api import PASSWORD
from watchkeeper.api.clients import throttle_key
from watchkeeper.api.limits import LoginThrottle


def test_finding_06_failures_from_one_client_never_lock_the_account_out(start_api):
    api = start_api(**PROXY)
    api.add_user("root", "admin")
    statuses = [login_status(api, "root", "a wrong guess", ATTACKER) for _ in range(12)]
    assert statuses[:5] == [401] * 5 and 429 in statuses  # the attacker is slowed down ...
    assert login_status(api, "root", PASSWORD, VICTIM) == 200  # ... the owner is not


def test_finding_06_delays_grow_with_each_failure_and_end_after_a_quiet_while():
    now = [1000.0]
    throttle = LoginThrottle(free_failures=3, max_delay_s=60, clock=lambda: now[0])
    waits = []
    for _ in range(9):
        throttle.failed("ip:a")
        waits.append(throttle.retry_after("ip:a"))
        now[0] += waits[-1]  # the client waits exactly as long as it is told
    assert waits == [0, 0, 1, 2, 4, 8, 16, 32, 60]
    assert throttle.retry_after("ip:b") == 0  # another client is not slowed
    now[0] += 60 + 60
    assert throttle.retry_after("ip:a") == 0
    throttle.failed("ip:a")
    assert throttle.retry_after("ip:a") == 0  # forgotten: free failures again


def test_finding_06_a_good_login_clears_only_that_clients_account_count():
    now = [0.0]
    throttle = LoginThrottle(free_failures=1, max_delay_s=60, clock=lambda: now[0])
    throttle.failed("ip:a", "pair:a|olga")
    throttle.succeeded("pair:a|olga")
    assert throttle.retry_after("pair:a|olga") == 0
    assert throttle.retry_after("ip:a") == 1  # logging into one's own account resets nothing else


def test_finding_06_an_ipv6_client_is_counted_by_its_64_so_it_cannot_hop_addresses():
    assert throttle_key("2001:db8:1:2::1") == throttle_key("2001:db8:1:2:ffff::9")
    assert throttle_key("2001:db8:1:3::1") != throttle_key("2001:db8:1:2::1")
    assert throttle_key("203.0.113.9") == "203.0.113.9"
