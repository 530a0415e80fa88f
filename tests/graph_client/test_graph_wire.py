"""Graph request mechanics on the wire (requests-mock): token placement, fields, paging links,
appsecret_proof, usage headers and the rate-limit wait."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests_mock as rm
from graph_support import API, ORIGIN, SECRET, TOKEN, buc, envelope, graph, make_client

from igflow import errors
from igflow.fields import render_list
from igflow.pacing import Pacer
from igflow.playbook.model import RetrySpec
from igflow.redact import Redactor
from igflow.settings import ClientHooks, ClientSettings


def query_of(request: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(request.url).query, keep_blank_values=True)


def test_the_token_travels_in_the_header_only(requests_mock: rm.Mocker) -> None:
    requests_mock.get(f"{API}/me", json={"user_id": "1", "username": "mira.makes"})
    requests_mock.post(f"{API}/17800/replies", json={"id": "9"})
    client = make_client()
    client.call(graph().get("me"), {"fields": ["user_id", "username"]}, token=TOKEN)
    client.call(
        graph().get("comments.reply"), {"comment_id": "17800", "message": "hi"}, token=TOKEN
    )
    for request in requests_mock.request_history:
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        assert TOKEN not in request.url and "access_token" not in request.url
        assert TOKEN not in (request.text or "")
    assert query_of(requests_mock.request_history[0]) == {"fields": ["user_id,username"]}
    assert parse_qs(requests_mock.request_history[1].text) == {"message": ["hi"]}


def test_no_token_means_nothing_is_sent(requests_mock: rm.Mocker) -> None:
    with pytest.raises(errors.AuthenticationError, match="no access token"):
        make_client().call(graph().get("me"), {}, token=None)
    assert requests_mock.call_count == 0


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        (["id", "caption"], "id,caption"),
        ("id,caption", "id,caption"),
        (["id", {"children": ["id", "media_type"]}], "id,children{id,media_type}"),
        (["comments.limit(5){text}"], "comments.limit(5){text}"),
        (
            [{"children": ["id", {"insights.metric(reach)": ["values"]}]}],
            "children{id,insights.metric(reach){values}}",
        ),
    ],
)
def test_list_params_are_comma_joined_with_expansions(value: Any, wire: str) -> None:
    assert render_list(value) == wire


def _deep(levels: int) -> Any:
    value: Any = ["y"]
    for _ in range(levels):
        value = [{"x": value}]
    return value


@pytest.mark.parametrize(
    "bad", [[["nested"]], [{"a": [], "b": []}], _deep(6), ["a", None], [3], [True], "id,,x"]
)
def test_a_malformed_field_list_is_a_usage_error_and_nothing_is_sent(
    bad: Any, requests_mock: rm.Mocker
) -> None:
    with pytest.raises(errors.UsageError, match="fields"):
        make_client().call(graph().get("me"), {"fields": bad}, token=TOKEN)
    assert requests_mock.call_count == 0


def test_paging_next_is_followed_without_its_token(requests_mock: rm.Mocker) -> None:
    # The real API's next links repeat access_token when it came as a parameter.
    link = f"{API}/1784/media?fields=id&limit=2&access_token={TOKEN}&after=QVFI"
    requests_mock.get(f"{API}/1784/media", json={"data": [{"id": "2"}]})
    client = make_client()
    client.get_next(link, endpoint=graph().get("users.media"), token=TOKEN)
    sent = requests_mock.last_request
    assert "access_token" not in sent.url and TOKEN not in sent.url
    assert query_of(sent) == {"fields": ["id"], "limit": ["2"], "after": ["QVFI"]}
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"


def test_a_next_link_to_another_origin_is_refused(requests_mock: rm.Mocker) -> None:
    with pytest.raises(errors.SafetyError, match="another origin"):
        make_client().get_next(
            "https://evil.test/v25.0/1/media?after=x",
            endpoint=graph().get("users.media"),
            token=TOKEN,
        )
    assert requests_mock.call_count == 0


def test_appsecret_proof_when_the_client_signs(requests_mock: rm.Mocker) -> None:
    requests_mock.get(f"{API}/me", json={"user_id": "1"})
    requests_mock.post(f"{API}/17800", json={"success": True})
    redactor = Redactor()
    client = make_client(
        client_id="990", client_secret=SECRET, sign_requests=True, redactor=redactor
    )
    client.call(graph().get("me"), {}, token=TOKEN)
    client.call(graph().get("comments.hide"), {"comment_id": "17800", "hide": True}, token=TOKEN)
    proof = hmac.new(SECRET.encode(), TOKEN.encode(), hashlib.sha256).hexdigest()
    get, post = requests_mock.request_history
    assert query_of(get)["appsecret_proof"] == [proof]
    assert parse_qs(post.text) == {"hide": ["true"], "appsecret_proof": [proof]}
    assert proof not in redactor.redact(f"url?appsecret_proof={proof} and {proof}")


def test_usage_headers_are_read_on_every_response(requests_mock: rm.Mocker) -> None:
    headers = {"X-App-Usage": '{"call_count":28,"total_time":25,"total_cputime":25}', **buc(12)}
    requests_mock.get(f"{API}/me", json={"user_id": "1"}, headers=headers)
    response = make_client().call(graph().get("me"), {}, token=TOKEN)
    usage = response.rate_limit.usage
    assert usage is not None
    assert usage["app"] == {"call_count": 28, "total_time": 25, "total_cputime": 25}
    assert usage["business"]["17841400000000101"]["instagram"]["call_count"] == 12
    assert usage["highest"] == 28
    assert (response.rate_limit.limit, response.rate_limit.remaining) == (100, 72)


@pytest.mark.parametrize(
    "header", ["not json", "[1,2]", '{"call_count": "many"}', "{" * 5000, '{"x": {"y": 1}}']
)
def test_malformed_usage_headers_are_ignored(header: str, requests_mock: rm.Mocker) -> None:
    requests_mock.get(
        f"{API}/me",
        json={"user_id": "1"},
        headers={"X-App-Usage": header, "X-Business-Use-Case-Usage": header},
    )
    response = make_client().call(graph().get("me"), {}, token=TOKEN)
    assert response.rate_limit.remaining is None and response.rate_limit.usage is None


def test_pacing_slows_down_near_the_budget(requests_mock: rm.Mocker) -> None:
    requests_mock.get(f"{API}/me", json={"user_id": "1"}, headers=buc(95))
    slept: list[float] = []
    now = [1000.0]

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = Pacer(clock=lambda: now[0], sleep=sleep, reserve_fraction=0.10, percent=True)
    client = make_client(pacer=pacer)
    for _ in range(3):
        client.call(graph().get("me"), {}, token=TOKEN)
    # 95 % used: 5 "percent left", so one request every 3600/5 s, at most a minute.
    assert sum(slept) == pytest.approx(120.0)


def test_a_rate_limit_waits_the_estimated_time_to_regain_access(requests_mock: rm.Mocker) -> None:
    requests_mock.get(
        f"{API}/me",
        [
            {
                "status_code": 400,
                "json": envelope(80002, message="Application request limit reached"),
                "headers": buc(100, regain=2),
            },
            {"json": {"user_id": "1"}, "headers": buc(40)},
        ],
    )
    slept: list[float] = []
    client = make_client(
        settings=ClientSettings(retry=RetrySpec(attempts=1), rate_limit_policy="wait"),
        hooks=ClientHooks(sleep=slept.append),
    )
    assert client.call(graph().get("me"), {}, token=TOKEN).body == {"user_id": "1"}
    assert sum(slept) == pytest.approx(120.0)  # 2 minutes, as the header estimated


def test_a_rate_limit_halts_by_default(requests_mock: rm.Mocker) -> None:
    requests_mock.get(f"{API}/me", status_code=400, json=envelope(4), headers=buc(100, regain=5))
    with pytest.raises(errors.GraphRateLimitError) as caught:
        make_client().call(graph().get("me"), {}, token=TOKEN)
    assert caught.value.rate_limit is not None and caught.value.rate_limit.retry_after == 300.0


def test_the_publishing_quota_is_never_waited_for(requests_mock: rm.Mocker) -> None:
    requests_mock.post(f"{API}/1784/media_publish", status_code=400, json=envelope(9, 2207042))
    client = make_client(
        settings=ClientSettings(retry=RetrySpec(attempts=1), rate_limit_policy="wait"),
    )
    with pytest.raises(errors.PublishQuotaError, match="not waited for"):
        client.call(
            graph().get("media.publish"), {"user_id": "1784", "creation_id": "5"}, token=TOKEN
        )
    assert requests_mock.call_count == 1


def test_an_error_envelope_on_a_2xx_is_still_an_error(requests_mock: rm.Mocker) -> None:
    requests_mock.get(f"{API}/me", status_code=200, json=envelope(190, 463))
    with pytest.raises(errors.GraphAccessTokenError):
        make_client().call(graph().get("me"), {}, token=TOKEN)


def test_the_token_endpoints_are_unversioned(requests_mock: rm.Mocker) -> None:
    requests_mock.get(
        f"{ORIGIN}/refresh_access_token",
        json={"access_token": "NEW", "token_type": "bearer", "expires_in": 5184000},
    )
    make_client().call(
        graph().get("auth.refresh_token"), {"grant_type": "ig_refresh_token"}, token=TOKEN
    )
    sent = requests_mock.last_request
    assert urlsplit(sent.url).path == "/refresh_access_token"
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"


def test_another_version_is_sent_when_asked(requests_mock: rm.Mocker) -> None:
    from igflow.registry import load_registry

    requests_mock.get(f"{ORIGIN}/v24.0/me", json={"user_id": "1"})
    older = load_registry("instagram.graph", "v24.0")
    make_client(registry=older).call(older.get("me"), {}, token=TOKEN)
    assert urlsplit(requests_mock.last_request.url).path == "/v24.0/me"
