"""Rate limits (§8.1) with the fake clock: buckets, headers on every response, the sliding hour."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from test_sandbox_support import fake_sandbox, implicit_token

from igflow.sandbox.server import RunningSandbox

LIMITED = {
    "meta": {
        "code": 429,
        "error_type": "OAuthRateLimitException",
        "error_message": "The maximum number of requests per hour has been exceeded.",
    }
}


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with fake_sandbox(clock="fake") as running:
        yield running


def advance(url: str, seconds: float) -> None:
    assert requests.post(url + "/_sandbox/clock", json={"advance": seconds}).status_code == 200


def headers(response: requests.Response) -> tuple[int, int]:
    return int(response.headers["X-Ratelimit-Limit"]), int(
        response.headers["X-Ratelimit-Remaining"]
    )


def test_write_bucket_of_30_per_hour_then_the_window_slides(sandbox: RunningSandbox) -> None:
    url = sandbox.url
    token = implicit_token(url, "likes")
    like = f"{url}/v1/media/1_2/likes"
    first = requests.post(like, data={"access_token": token})
    assert headers(first) == (30, 29)
    advance(url, 1800)
    for n in range(2, 31):
        response = requests.post(like, data={"access_token": token})
        assert response.status_code == 200 and headers(response) == (30, 30 - n)
    refused = requests.post(like, data={"access_token": token})
    assert refused.status_code == 429 and refused.json() == LIMITED
    assert headers(refused) == (30, 0)
    # Reads use the global bucket, which the writes counted against too.
    read = requests.get(f"{url}/v1/users/self", params={"access_token": token})
    assert read.status_code == 200 and headers(read) == (500, 500 - 31)
    # An hour after the first write, one slot is free again; the rest free up half an hour later
    # (leaving only the write made at the one-hour mark in the window).
    advance(url, 1800)
    assert requests.post(like, data={"access_token": token}).status_code == 200
    assert requests.post(like, data={"access_token": token}).status_code == 429
    advance(url, 1800)
    assert headers(requests.post(like, data={"access_token": token})) == (30, 28)


def test_headers_on_every_api_response_and_invalid_requests_count(sandbox: RunningSandbox) -> None:
    url = sandbox.url
    token = implicit_token(url)
    for response in (
        requests.get(f"{url}/v1/users/self"),  # missing token
        requests.get(f"{url}/v1/users/self", params={"access_token": "bad"}),
        requests.get(f"{url}/v1/nothing"),
    ):
        assert headers(response) == (500, 500)
    refused = requests.delete(
        f"{url}/v1/media/1_2/likes", params={"access_token": token}
    )  # scope error
    assert refused.status_code == 400 and headers(refused) == (30, 29)
    assert headers(requests.get(f"{url}/v1/users/self", params={"access_token": token})) == (
        500,
        498,
    )


def test_reset_and_exhaust_rate_limits_at_run_time(sandbox: RunningSandbox) -> None:
    url = sandbox.url
    token = implicit_token(url)
    requests.get(f"{url}/v1/users/self", params={"access_token": token})
    assert requests.post(url + "/_sandbox/reset-rate-limits").json() == {"reset": True}
    assert headers(requests.get(f"{url}/v1/users/self", params={"access_token": token})) == (
        500,
        499,
    )
    requests.post(url + "/_sandbox/faults", json={"exhaust_rate_limit": True})
    exhausted = requests.get(f"{url}/v1/users/self", params={"access_token": token})
    assert (
        exhausted.status_code == 429
        and exhausted.json() == LIMITED
        and headers(exhausted) == (500, 0)
    )
    requests.post(url + "/_sandbox/faults", json={})
    assert requests.get(f"{url}/v1/users/self", params={"access_token": token}).status_code == 200


def test_live_clients_have_live_limits_and_multipliers_scale_them() -> None:
    with fake_sandbox(rate_limits="x2") as running:
        sandbox_token = implicit_token(running.url)
        live_token = implicit_token(running.url, client_name="live")
        assert headers(
            requests.get(f"{running.url}/v1/users/self", params={"access_token": sandbox_token})
        ) == (1000, 999)
        assert headers(
            requests.get(f"{running.url}/v1/users/self", params={"access_token": live_token})
        ) == (10000, 9999)


def test_rate_limits_off_never_refuse_and_report_a_full_bucket() -> None:
    with fake_sandbox(rate_limits="off") as running:
        token = implicit_token(running.url, "likes")
        for _ in range(40):
            response = requests.post(
                f"{running.url}/v1/media/1_2/likes", data={"access_token": token}
            )
            assert response.status_code == 200
        assert headers(response) == (30, 30)
