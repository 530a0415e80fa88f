"""Graph error envelopes -> igflow's error tree, row by row, through the client's reader."""

from __future__ import annotations

import pytest
import requests_mock as rm
from graph_support import API, ORIGIN, TOKEN, envelope, graph, make_client

from igflow import errors
from igflow.graph_errors import GRAPH_ERRORS, graph_error_class

# (HTTP status, code, subcode, is_transient, class, group a playbook can expect instead)
CASES = [
    (400, 190, None, None, errors.GraphAccessTokenError, errors.AuthError),
    (400, 190, 463, None, errors.GraphAccessTokenError, errors.AuthError),
    (400, 190, 460, None, errors.GraphAccessTokenError, errors.AuthError),
    (400, 102, None, None, errors.GraphAccessTokenError, errors.AuthError),
    (403, 10, None, None, errors.GraphPermissionError, errors.ApiPermissionError),
    (403, 200, None, None, errors.GraphPermissionError, errors.ApiPermissionError),
    (403, 299, None, None, errors.GraphPermissionError, errors.ApiPermissionError),
    (400, 3, None, None, errors.GraphPermissionError, errors.ApiPermissionError),
    (400, 25, 2207050, None, errors.GraphPermissionError, errors.ApiPermissionError),
    (400, 4, None, None, errors.GraphRateLimitError, errors.RateLimitError),
    (400, 17, None, None, errors.GraphRateLimitError, errors.RateLimitError),
    (400, 32, None, None, errors.GraphRateLimitError, errors.RateLimitError),
    (400, 613, None, None, errors.GraphRateLimitError, errors.RateLimitError),
    (400, 80002, None, None, errors.GraphRateLimitError, errors.RateLimitError),
    (400, 80002, None, True, errors.GraphRateLimitError, errors.RateLimitError),
    (400, 4, 2207051, None, errors.GraphSpamRestrictedError, errors.ApiPermissionError),
    (400, 9, 2207042, None, errors.PublishQuotaError, errors.RateLimitError),
    (400, 9007, 2207027, None, errors.MediaNotReadyError, errors.InvalidRequestError),
    (400, 100, None, None, errors.GraphInvalidParameterError, errors.InvalidRequestError),
    (400, 100, 33, None, errors.GraphInvalidParameterError, errors.InvalidRequestError),
    (400, 100, 2207028, None, errors.GraphInvalidParameterError, errors.InvalidRequestError),
    (400, 506, None, None, errors.GraphInvalidParameterError, errors.InvalidRequestError),
    (400, 36003, 2207009, None, errors.GraphMediaError, errors.InvalidRequestError),
    (400, 9004, 2207052, None, errors.GraphMediaError, errors.InvalidRequestError),
    (400, 24, 2207008, None, errors.GraphNotFoundError, errors.NotFoundError),
    (500, 1, None, None, errors.GraphTransientError, errors.TransientApiError),
    (500, 2, None, True, errors.GraphTransientError, errors.TransientApiError),
    (400, -1, 2207001, None, errors.GraphTransientError, errors.TransientApiError),
    (400, 100, None, True, errors.GraphTransientError, errors.TransientApiError),
    (400, 12345, None, None, errors.GraphApiError, errors.ApiError),
    (503, 12345, None, None, errors.GraphTransientError, errors.TransientApiError),
]


@pytest.mark.parametrize(
    ("status", "code", "subcode", "transient", "cls", "group"),
    CASES,
    ids=[f"{c[1]}-{c[2]}-{c[3]}" for c in CASES],
)
def test_each_code_maps_to_its_class(
    status: int,
    code: int,
    subcode: int | None,
    transient: bool | None,
    cls: type[errors.ApiError],
    group: type[errors.ApiError],
    requests_mock: rm.Mocker,
) -> None:
    extra = {} if transient is None else {"is_transient": transient}
    # `type` is deliberately misleading: classification must not read it.
    body = envelope(code, subcode, type="GraphMethodException", **extra)
    requests_mock.get(f"{API}/me", status_code=status, json=body)
    with pytest.raises(errors.ApiError) as caught:
        make_client().call(graph().get("me"), {}, token=TOKEN)
    error = caught.value
    assert type(error) is cls and isinstance(error, group)
    assert (error.status, error.code, error.subcode) == (status, code, subcode)
    assert error.fbtrace_id == "AbCdEfGhIjK" and error.api_type == "GraphMethodException"
    shown = str(error)
    assert f"[{code}" in shown and "fbtrace_id AbCdEfGhIjK" in shown
    assert errors.EXPECTABLE[cls.__name__] is cls  # expect_error can name the leaf


def test_every_row_of_the_table_has_a_case() -> None:
    covered = {(c[1], c[2]) for c in CASES}
    for row in GRAPH_ERRORS:
        assert any(code in row.codes for code, _ in covered), row


def test_subcode_meanings_are_shown() -> None:
    cls, _ = graph_error_class(190, 463, 400)
    assert cls is errors.GraphAccessTokenError


def test_meaning_is_added_to_terse_messages(requests_mock: rm.Mocker) -> None:
    requests_mock.get(
        f"{API}/me",
        status_code=400,
        json=envelope(190, 463, message="Error validating access token"),
    )
    with pytest.raises(errors.GraphAccessTokenError, match="the token expired: log in again"):
        make_client().call(graph().get("me"), {}, token=TOKEN)


def test_a_status_without_an_envelope_is_typed_by_status(requests_mock: rm.Mocker) -> None:
    requests_mock.get(f"{API}/me", status_code=502, text="<html>bad gateway</html>")
    with pytest.raises(errors.GraphTransientError):
        make_client().call(graph().get("me"), {}, token=TOKEN)


def test_the_oauth_shape_of_the_token_endpoints(requests_mock: rm.Mocker) -> None:
    body = {
        "error_type": "OAuthException",
        "code": 400,
        "error_message": "Matching code was not found",
    }
    requests_mock.get(f"{ORIGIN}/access_token", status_code=400, json=body)
    with pytest.raises(errors.AuthenticationError, match="Matching code was not found"):
        make_client().call(
            graph().get("auth.exchange_token"),
            {"grant_type": "ig_exchange_token", "client_secret": "s3cr3t-value"},
            token=TOKEN,
        )


def test_a_token_echoed_in_an_error_is_redacted(requests_mock: rm.Mocker) -> None:
    requests_mock.get(
        f"{API}/me", status_code=400, json=envelope(190, message=f"bad token {TOKEN}")
    )
    with pytest.raises(errors.GraphAccessTokenError) as caught:
        make_client().call(graph().get("me"), {}, token=TOKEN)
    assert TOKEN not in str(caught.value)


def test_retries_read_the_same_across_profiles(requests_mock: rm.Mocker) -> None:
    from igflow.playbook.model import RetrySpec
    from igflow.settings import ClientHooks, ClientSettings

    requests_mock.get(
        f"{API}/me",
        [
            {"status_code": 500, "json": envelope(2, is_transient=True)},
            {"json": {"user_id": "1"}},
        ],
    )
    slept: list[float] = []
    client = make_client(
        settings=ClientSettings(retry=RetrySpec(attempts=3, jitter=False, backoff=0.1)),
        hooks=ClientHooks(sleep=slept.append),
    )
    assert client.call(graph().get("me"), {}, token=TOKEN).body == {"user_id": "1"}
    assert len(slept) == 1
    # ... and a transient error on a write that is not idempotent is never resent.
    requests_mock.post(f"{API}/1/comments", status_code=500, json=envelope(2, is_transient=True))
    with pytest.raises(errors.GraphTransientError, match="not retried"):
        client.call(graph().get("media.comment"), {"media_id": "1", "message": "x"}, token=TOKEN)
    assert requests_mock.call_count == 3
