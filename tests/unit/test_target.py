"""Unit tests for igflow.target: a run's session reads the environment once, for its origin."""

from __future__ import annotations

from pathlib import Path

import pytest

from igflow.target import _session_for


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "no_proxy",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))


def test_the_session_takes_the_environments_settings_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/bundle.pem")
    session = _session_for("https://api.instagram.com")
    assert session.trust_env is False  # no per-request environment lookups
    assert session.proxies["https"] == "http://proxy.example:3128"
    assert session.verify == "/etc/ssl/bundle.pem"
    assert session.auth is None
    # What requests itself would have used for a request to that origin.
    merged = session.merge_environment_settings(
        "https://api.instagram.com/v1/users/self", {}, None, None, None
    )
    assert merged["proxies"]["https"] == "http://proxy.example:3128"
    assert merged["verify"] == "/etc/ssl/bundle.pem"


def test_no_proxy_is_decided_for_the_origin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    assert _session_for("http://127.0.0.1:8765").proxies == {}
    assert _session_for("http://api.example").proxies["http"] == "http://proxy.example:3128"


def test_without_any_settings_requests_defaults_stay() -> None:
    session = _session_for("http://127.0.0.1:8765")
    assert session.proxies == {}
    assert session.verify is True
    assert session.cert is None
    assert session.auth is None


def test_netrc_credentials_for_the_origin_are_used(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine api.example login me password secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    assert _session_for("http://api.example").auth == ("me", "secret")
    assert _session_for("http://other.example").auth is None
