"""The login limiter's sliding window, on a clock the test controls."""

from watchkeeper.api.limits import LoginLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_limit_applies_after_max_failures_and_says_how_long_to_wait():
    clock = Clock()
    limiter = LoginLimiter(3, 60, clock)
    for _ in range(3):
        assert limiter.retry_after("user:a") == 0
        limiter.failed("user:a")
        clock.now += 10
    assert limiter.retry_after("user:a") == 30  # the first failure leaves the window at +60


def test_failures_leave_the_window_and_the_key_is_forgotten():
    clock = Clock()
    limiter = LoginLimiter(2, 60, clock)
    limiter.failed("ip:1.2.3.4")
    limiter.failed("ip:1.2.3.4")
    clock.now += 60
    assert limiter.retry_after("ip:1.2.3.4") == 0
    assert limiter._failures == {}  # memory stays bounded by the keys failing right now


def test_any_limited_key_blocks_and_success_clears_only_the_username():
    clock = Clock()
    limiter = LoginLimiter(1, 60, clock)
    limiter.failed("user:a", "ip:x")
    limiter.succeeded("user:a")
    assert limiter.retry_after("user:a") == 0
    assert limiter.retry_after("user:b", "ip:x") == 60
