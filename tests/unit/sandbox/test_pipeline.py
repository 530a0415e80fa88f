"""The pipeline's pure parts: config, fault specs, envelopes, path normalisation, grants."""

from __future__ import annotations

import pytest

from igflow.sandbox import envelope
from igflow.sandbox.app import SandboxApp
from igflow.sandbox.clients import ClientSpecError, OAuthState
from igflow.sandbox.config import ConfigError, SandboxConfig, parse_generate, rate_multiplier
from igflow.sandbox.contract import HandlerResult, SandboxApiError
from igflow.sandbox.db import Database
from igflow.sandbox.faults import DROP, ERROR, FaultInjector, FaultSpec, FaultSpecError


@pytest.mark.parametrize(
    ("value", "expected"), [("on", 1.0), ("off", None), ("x10", 10.0), ("2.5", 2.5), (3, 3.0)]
)
def test_rate_limit_settings(value: str | float, expected: float | None) -> None:
    assert rate_multiplier(value) == expected


@pytest.mark.parametrize("value", ["fast", "x0", "-1", "x"])
def test_bad_rate_limit_settings(value: str) -> None:
    with pytest.raises(ConfigError):
        rate_multiplier(value)


def test_config_validates_era_and_clock() -> None:
    with pytest.raises(ConfigError, match="unknown era"):
        SandboxConfig(era="2017")
    with pytest.raises(ConfigError, match="unknown clock"):
        SandboxConfig(clock="sundial")
    assert SandboxConfig(rate_limits="x10").rate_multiplier == 10.0


def test_generate_spec() -> None:
    assert parse_generate("users=50,media=20000") == {"users": 50, "media": 20000}
    assert parse_generate("users=3") == {"users": 3, "media": 60}
    for bad in ("media=5", "users=0", "users=x", "people=3"):
        with pytest.raises(ConfigError):
            parse_generate(bad)


def test_fault_spec_from_json_and_validation() -> None:
    spec = FaultSpec.from_dict({"fail_nth": 3, "phase": "after", "drop_rate": "0.5"})
    assert (spec.fail_nth, spec.phase, spec.drop_rate) == (3, "after", 0.5)
    assert FaultSpec.from_dict({}) == FaultSpec()
    for bad in (
        {"phase": "never"},
        {"fail_rate": 1.5},
        {"fail_nth": 0},
        {"nope": 1},
        {"fail_status": 404},
    ):
        with pytest.raises(FaultSpecError):
            FaultSpec.from_dict(bad)


def test_fault_injector_counts_requests_and_is_seeded() -> None:
    nth = FaultInjector(FaultSpec(fail_nth=2, drop_nth=3))
    assert [nth.next_fault() for _ in range(4)] == [None, ERROR, DROP, None]
    draws = [FaultInjector(FaultSpec(fail_rate=0.3, drop_rate=0.3, seed=5)) for _ in range(2)]
    sequences = [[injector.next_fault() for _ in range(50)] for injector in draws]
    assert sequences[0] == sequences[1] and {None, ERROR, DROP} <= set(sequences[0])


def test_envelopes() -> None:
    assert envelope.success_body(HandlerResult([1], pagination={})) == {
        "meta": {"code": 200},
        "data": [1],
        "pagination": {},
    }
    assert envelope.success_body(HandlerResult(None)) == {"meta": {"code": 200}, "data": None}
    assert envelope.success_body(HandlerResult({"a": 1}, bare=True)) == {"a": 1}
    assert envelope.error_body(SandboxApiError(400, "T", "m")) == {
        "meta": {"code": 400, "error_type": "T", "error_message": "m"}
    }


@pytest.mark.parametrize(
    "name", ["cb", "JSON_CALLBACK", "angular.callbacks._0", "$jq_123", "a.b.c"]
)
def test_valid_callbacks(name: str) -> None:
    assert envelope.valid_callback(name)


@pytest.mark.parametrize("name", ["", "1abc", "alert(1)", "a..b", "a b", "a;b", "x" * 200, "é"])
def test_invalid_callbacks(name: str) -> None:
    assert not envelope.valid_callback(name)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1/users/self", "/v1/users/self"),
        ("/v1/users/self/", "/v1/users/self"),
        ("/v1/users/self.json", "/v1/users/self"),
        ("/v1/users/self.json/", "/v1/users/self"),
        ("/oembed/", "/oembed"),
        ("/accounts/login/", "/accounts/login"),
        ("/", "/"),
    ],
)
def test_path_normalisation(path: str, expected: str) -> None:
    assert SandboxApp.normalize_path(path) == expected


def test_one_token_per_user_and_client_widened_by_new_scopes() -> None:
    state = OAuthState(Database(":memory:"))
    state.create_schema()
    client = state.add_client(name="app", sandbox_users=["1"])
    first = state.grant("1", client.client_id, ["likes"])
    second = state.grant("1", client.client_id, ["comments"])
    assert first.token == second.token
    assert first.token.startswith("1." + client.client_id[:7] + ".")
    assert second.scopes == {"basic", "likes", "comments"}
    assert state.by_token(first.token) == second
    with pytest.raises(ClientSpecError):
        state.add_client(name="app")
    with pytest.raises(ClientSpecError):
        state.add_client(name="many", sandbox_users=[str(n) for n in range(11)])
    with pytest.raises(ClientSpecError):
        state.add_client(name="bad-uri", redirect_uris=["ftp://x"])
