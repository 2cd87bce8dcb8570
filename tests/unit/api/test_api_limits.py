"""The login throttle's growing delays, on a clock the test controls."""

from watchkeeper.api.limits import LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_free_failures_cost_nothing_and_then_the_wait_doubles_up_to_the_cap():
    throttle = LoginThrottle(3, 10, Clock())
    assert [throttle.delay(n) for n in range(8)] == [0, 0, 0, 1, 2, 4, 8, 10]


def test_retry_after_counts_from_the_last_failure_and_rounds_up():
    clock = Clock()
    throttle = LoginThrottle(1, 60, clock)
    throttle.failed("ip:a")
    throttle.failed("ip:a")  # two failures: wait 2 s
    clock.now += 0.5
    assert throttle.retry_after("ip:a") == 2
    clock.now += 1.5
    assert throttle.retry_after("ip:a") == 0


def test_a_quiet_key_is_forgotten_and_memory_stays_bounded():
    clock = Clock()
    throttle = LoginThrottle(1, 60, clock)
    throttle.failed("ip:1.2.3.4")
    clock.now += 1 + 60
    assert throttle.retry_after("ip:1.2.3.4") == 0
    assert throttle._failures == {}  # memory stays bounded by the keys failing right now


def test_any_throttled_key_blocks_and_success_clears_only_its_own_key():
    clock = Clock()
    throttle = LoginThrottle(1, 60, clock)
    throttle.failed("pair:x|a", "ip:x")
    throttle.succeeded("pair:x|a")
    assert throttle.retry_after("pair:x|a") == 0
    assert throttle.retry_after("pair:x|b", "ip:x") == 1
