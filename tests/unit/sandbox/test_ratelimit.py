"""The sliding-hour rate limiter on its own, with a hand-moved clock."""

from __future__ import annotations

from igflow.sandbox.clock import FakeClock
from igflow.sandbox.ratelimit import RateLimiter, RateStatus


def limiter(multiplier: float | None = 1.0) -> tuple[RateLimiter, FakeClock]:
    clock = FakeClock(1_000_000)
    return RateLimiter(clock.now, multiplier), clock


def test_global_bucket_by_mode() -> None:
    rl, _ = limiter()
    assert rl.hit("t1", "sandbox", None) == RateStatus(500, 499)
    assert rl.hit("t2", "live", None) == RateStatus(5000, 4999)
    assert rl.peek("t1", "sandbox", None) == RateStatus(500, 499)


def test_write_bucket_counts_against_the_global_one_and_is_reported() -> None:
    rl, _ = limiter()
    for n in range(30):
        assert rl.hit("t", "sandbox", "likes") == RateStatus(30, 29 - n)
    assert rl.hit("t", "sandbox", "likes") == RateStatus(30, 0, allowed=False)
    # Another write bucket is independent; the global bucket saw the 30 allowed writes.
    assert rl.hit("t", "sandbox", "comments") == RateStatus(30, 29)
    assert rl.hit("t", "sandbox", None) == RateStatus(500, 500 - 32)


def test_the_tighter_bucket_is_reported_when_the_global_one_runs_lower() -> None:
    rl, _ = limiter()
    for _ in range(495):
        rl.hit("t", "sandbox", None)
    assert rl.hit("t", "sandbox", "likes") == RateStatus(500, 4)


def test_rejected_requests_are_not_counted_and_the_window_slides() -> None:
    rl, clock = limiter()
    for _ in range(30):
        rl.hit("t", "sandbox", "relationships")
        clock.advance(60)
    for _ in range(5):
        assert not rl.hit("t", "sandbox", "relationships").allowed
    clock.set(1_000_000 + 3600)  # the first write leaves the window
    assert rl.hit("t", "sandbox", "relationships") == RateStatus(30, 0)
    assert not rl.hit("t", "sandbox", "relationships").allowed


def test_multiplier_off_exhaust_and_reset() -> None:
    rl, _ = limiter(10.0)
    assert rl.limits("sandbox") == (5000, 300)
    off, _ = limiter(None)
    for _ in range(100):
        assert off.hit("t", "sandbox", "likes") == RateStatus(30, 30)
    assert off.hit("t", "sandbox", "likes", exhausted=True) == RateStatus(30, 0, allowed=False)
    rl.hit("t", "sandbox", None)
    rl.reset()
    assert rl.peek("t", "sandbox", None) == RateStatus(5000, 5000)
    assert rl.unauthenticated().headers() == {
        "X-Ratelimit-Limit": "5000",
        "X-Ratelimit-Remaining": "5000",
    }
