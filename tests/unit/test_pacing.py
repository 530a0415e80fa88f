"""Rate-limit pacing (igflow.pacing) on a fake clock: nothing here sleeps for real."""

from __future__ import annotations

import threading

import pytest

from igflow.errors import UsageError
from igflow.pacing import (
    MAX_INTERVAL,
    Pacer,
    check_rate_limit_settings,
    countdown,
    pace_interval,
    reserve,
)
from igflow.responses import RateLimitInfo

KEY = "token:abc/global"


class FakeTime:
    """A clock that moves only when slept on; every sleep is recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


def pacer(fake: FakeTime, **kwargs: object) -> Pacer:
    return Pacer(clock=fake.clock, sleep=fake.sleep, **kwargs)  # type: ignore[arg-type]


def send(p: Pacer, limit: int | None, remaining: int | None, key: str = KEY) -> float:
    """One request: wait for its slot, then read its response's headers."""
    delay = p.before_send(key)
    p.after_response(key, RateLimitInfo(limit, remaining))
    return delay


# -- the rule -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "expected"), [(5000, 500), (500, 50), (60, 6), (30, 3), (5, 1), (1, 1)]
)
def test_the_reserve_is_a_tenth_of_the_limit_and_at_least_one(limit: int, expected: int) -> None:
    assert reserve(limit) == expected


@pytest.mark.parametrize(
    ("limit", "remaining", "expected"),
    [
        (None, None, 0.0),  # no headers
        (None, 3, 0.0),  # no limit: the reserve is unknown
        (500, None, 0.0),
        (500, 499, 0.0),  # far above the reserve
        (500, 51, 0.0),  # just above
        (500, 50, 72.0),  # at the reserve: 3600 / 50
        (500, 10, 360.0),
        (30, 3, 1200.0),  # the sandbox write bucket
        (5000, 500, 7.2),
        (500, 1, 3600.0),
        (500, 0, 0.0),  # nothing left: the API's 429 and the rate-limit policy take over
    ],
)
def test_pace_interval(limit: int | None, remaining: int | None, expected: float) -> None:
    assert pace_interval(limit, remaining, max_interval=1e9) == pytest.approx(expected)


def test_pace_interval_is_capped() -> None:
    assert pace_interval(500, 10) == MAX_INTERVAL == 60.0
    assert pace_interval(500, 10, max_interval=5.0) == 5.0


# -- the pacer ------------------------------------------------------------------------------


def test_never_sleeps_without_headers(fake: FakeTime) -> None:
    p = pacer(fake)
    for _ in range(100):
        assert send(p, None, None) == 0.0
    for _ in range(10):
        p.before_send(KEY)
        p.after_response(KEY, None)  # a dropped connection: no response at all
    assert fake.sleeps == []


def test_never_sleeps_while_above_the_reserve(fake: FakeTime) -> None:
    p = pacer(fake)
    for remaining in range(499, 50, -1):
        send(p, 500, remaining)
    assert fake.sleeps == []


def test_spacing_grows_as_remaining_shrinks(fake: FakeTime) -> None:
    p = pacer(fake, max_interval=1e9)
    send(p, 500, 50)  # the first response says we are at the reserve
    delays = [send(p, 500, remaining) for remaining in (40, 20, 10, 5, 1)]
    # Each wait is the spacing the previous response asked for: 3600 / remaining.
    assert delays == pytest.approx([72.0, 90.0, 180.0, 360.0, 720.0])
    assert send(p, 500, 400) == pytest.approx(3600.0)  # the last one had 1 left...
    assert send(p, 500, 399) == 0.0  # ...and the window has slid: full speed again


def test_time_the_caller_spent_counts_towards_the_spacing(fake: FakeTime) -> None:
    p = pacer(fake)
    send(p, 500, 50)  # asks for 60 s (72, capped) before the next request
    fake.now += 45.0  # the run did something else meanwhile
    assert send(p, 500, 49) == pytest.approx(15.0)
    fake.now += 100.0
    assert send(p, 500, 48) == 0.0


def test_nothing_left_means_no_wait(fake: FakeTime) -> None:
    p = pacer(fake)
    send(p, 500, 0)
    assert send(p, 500, 0) == 0.0
    assert fake.sleeps == []


def test_budgets_are_separate(fake: FakeTime) -> None:
    p = pacer(fake)
    send(p, 30, 2, key="token:abc/likes")  # the like bucket is nearly spent
    send(p, 500, 400, key="token:abc/global")
    assert send(p, 500, 399, key="token:abc/global") == 0.0  # reads are not held back
    assert send(p, 30, 1, key="token:abc/likes") == 60.0
    assert p.remaining("token:abc/likes") == 1
    assert p.remaining("token:other/likes") is None


def test_requests_in_flight_count_against_remaining(fake: FakeTime) -> None:
    p = pacer(fake, max_interval=1e9)
    send(p, 500, 60)  # above the reserve...
    for _ in range(10):
        p.before_send(KEY)  # ...but ten requests are on their way: 50 left at most
    assert p.before_send(KEY) == pytest.approx(72.0)


def test_long_waits_are_reported_as_a_countdown(fake: FakeTime) -> None:
    seen: list[tuple[float, str]] = []
    p = pacer(fake, max_interval=3.0, on_wait=lambda left, message: seen.append((left, message)))
    send(p, 500, 10)
    send(p, 500, 10)
    assert [left for left, _ in seen] == [3.0, 2.0, 1.0, 0.0]
    assert fake.sleeps == [1.0, 1.0, 1.0]
    assert seen[0][1] == (
        "rate limit: 10 of 500 requests left this hour; "
        "pacing to one request every 3 s so they last"
    )


def test_short_waits_are_not_reported(fake: FakeTime) -> None:
    seen: list[float] = []
    p = pacer(fake, max_interval=0.5, on_wait=lambda left, message: seen.append(left))
    send(p, 500, 10)
    assert send(p, 500, 10) == 0.5
    assert seen == [] and fake.sleeps == [0.5]


def test_concurrent_requests_get_distinct_evenly_spaced_slots() -> None:
    """Smoke test: threads reserve slots under the lock, so no two share one.

    The clock stands still, so each thread's wait is exactly its slot's distance from now; with
    the spacing capped at 100 s whatever the interleaving, the waits must be 0, 100, 200, ...
    """
    lock = threading.Lock()
    waits: list[float] = []

    def record(seconds: float) -> None:
        with lock:
            waits.append(seconds)

    p = Pacer(clock=lambda: 0.0, sleep=lambda seconds: None, max_interval=100.0)
    p.after_response(KEY, RateLimitInfo(500, 20))  # 20 left: 180 s apart, capped at 100
    start = threading.Barrier(8)

    def worker() -> None:
        start.wait()
        for _ in range(5):
            record(p.before_send(KEY))
            p.after_response(KEY, RateLimitInfo(500, 20))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(waits) == [100.0 * n for n in range(40)]
    assert p.before_send(KEY) == 4000.0  # every request came back: none is still in flight


# -- countdown and settings -------------------------------------------------------------------


def test_countdown_reports_each_second_then_zero(fake: FakeTime) -> None:
    seen: list[float] = []
    countdown(2.5, "m", sleep=fake.sleep, report=lambda left, message: seen.append(left))
    assert seen == [2.5, 1.5, 0.5, 0.0]
    assert fake.sleeps == [1.0, 1.0, 0.5]


def test_countdown_without_a_reporter_still_sleeps(fake: FakeTime) -> None:
    countdown(2.0, "m", sleep=fake.sleep, report=None)
    assert fake.sleeps == [1.0, 1.0]


def test_countdown_of_nothing_does_not_sleep(fake: FakeTime) -> None:
    seen: list[float] = []
    countdown(0.0, "m", sleep=fake.sleep, report=lambda left, message: seen.append(left))
    assert fake.sleeps == [] and seen == [0.0]


@pytest.mark.parametrize(
    ("policy", "wait", "max_wait", "message"),
    [
        ("retry", 60.0, 3600.0, "must be halt or wait, not 'retry'"),
        ("wait", 0.0, 3600.0, "positive number of seconds"),
        ("wait", 60.0, -1.0, "must not be negative"),
    ],
)
def test_bad_rate_limit_settings_are_usage_errors(
    policy: str, wait: float, max_wait: float, message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        check_rate_limit_settings(policy, wait, max_wait)
