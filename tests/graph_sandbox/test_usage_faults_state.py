"""Usage headers and 80002 (§6), faults, the request log and state files, as the v1 sandbox has."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from graph_conformance_support import APP_SECRET, IMAGE, MIRA_ID, Graph, error_of, graph_sandbox


@pytest.fixture
def g() -> Iterator[Graph]:
    with graph_sandbox() as graph:
        yield graph


def _buc(response: requests.Response) -> dict[str, object]:
    value = json.loads(response.headers["X-Business-Use-Case-Usage"])
    assert list(value) == [MIRA_ID]
    (entry,) = value[MIRA_ID]
    assert entry["type"] == "instagram"
    return dict(entry)


def test_usage_headers_on_every_answer(g: Graph) -> None:
    proof = {"appsecret_proof": "00"}  # refused before the call is counted: headers all the same
    answers = (
        g.get("/me"),
        g.get("/nope"),
        g.post(f"/{IMAGE}/comments"),
        g.get("/me", params=proof),
    )
    for response in answers:
        app = json.loads(response.headers["X-App-Usage"])
        assert set(app) == {"call_count", "total_time", "total_cputime"}
        assert set(_buc(response)) == {
            "type",
            "call_count",
            "total_cputime",
            "total_time",
            "estimated_time_to_regain_access",
        }
    # Even before a token is known, the app header is there.
    assert "X-App-Usage" in g.get("/me", token="").headers


def test_the_buc_budget_is_spent_then_regained_on_the_clock() -> None:
    # 4800 * 950 impressions * 0.000002 = 9.1: ten calls a day for mira's app + account pair.
    with graph_sandbox(rate_limits=0.000002) as g:
        counts = []
        for _ in range(10):
            response = g.get("/me")
            assert response.status_code == 200
            counts.append(_buc(response)["call_count"])
        assert counts == sorted(counts) and counts[-1] >= 80
        throttled = g.get("/me")
        error = error_of(throttled)
        assert (error["code"], error["is_transient"]) == (80002, True)
        usage = _buc(throttled)
        assert usage["call_count"] == 100 and usage["estimated_time_to_regain_access"] == 60
        # Another account of the same app has its own budget.
        other = g.new_token("northwind.coffee")
        assert g.get("/me", token=other).status_code == 200
        g.advance(86400)
        assert g.get("/me").status_code == 200
        for _ in range(10):
            g.get("/me")
        assert error_of(g.get("/me"))["code"] == 80002
        assert g.admin("POST", "reset-rate-limits").json() == {"reset": True}
        assert g.get("/me").status_code == 200


def test_rate_limits_off() -> None:
    with graph_sandbox(rate_limits="off") as g:
        g.admin("POST", "faults", {})
        for _ in range(30):
            assert g.get("/me").status_code == 200


def test_exhausted_rate_limit_fault(g: Graph) -> None:
    g.admin("POST", "faults", {"exhaust_rate_limit": True})
    assert error_of(g.get("/me"))["code"] == 80002
    g.admin("POST", "faults", {})
    assert g.get("/me").status_code == 200


def test_fail_nth_answers_a_graph_error(g: Graph) -> None:
    g.admin("POST", "faults", {"fail_nth": 2, "fail_status": 503})
    assert g.get("/me").status_code == 200
    response = g.get("/me")
    assert response.status_code == 503 and response.headers["X-Sandbox-Fault"] == "error"
    assert error_of(response)["is_transient"] is True
    assert g.get("/me").status_code == 200


def test_drop_connection(g: Graph) -> None:
    g.admin("POST", "faults", {"drop_nth": 1})
    with pytest.raises(requests.ConnectionError):
        g.get("/me")
    assert g.get("/me").status_code == 200


def test_a_fault_after_the_write_commits(g: Graph) -> None:
    g.admin("POST", "faults", {"fail_nth": 1, "phase": "after"})
    lost = g.post(f"/{IMAGE}/comments", data={"message": "did it land?"})
    assert lost.status_code == 500
    newest = g.ok("GET", f"/{IMAGE}/comments", params={"limit": "1", "fields": "text"})
    assert newest["data"] == [{"text": "did it land?"}]  # it did: the client never heard


def test_a_fault_before_the_write_changes_nothing(g: Graph) -> None:
    g.admin("POST", "faults", {"fail_nth": 1})
    assert g.post(f"/{IMAGE}/comments", data={"message": "never"}).status_code == 500
    newest = g.ok("GET", f"/{IMAGE}/comments", params={"limit": "1", "fields": "text"})
    assert newest["data"] != [{"text": "never"}]


def test_the_request_log_masks_every_secret(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    with graph_sandbox(request_log=str(log)) as g:
        import hashlib
        import hmac

        proof = hmac.new(APP_SECRET.encode(), g.token.encode(), hashlib.sha256).hexdigest()
        g.ok("GET", "/me", token="", params={"access_token": g.token, "appsecret_proof": proof})
        g.get(f"/{g.token}", token="")  # a token pasted into a path segment
        short = g.new_token(kind="short")
        exchanged = g.ok(
            "GET",
            "/access_token",
            version=None,
            token=short,
            params={"grant_type": "ig_exchange_token", "client_secret": APP_SECRET},
        )
    text = log.read_text(encoding="utf-8")
    for secret in (g.token, proof, APP_SECRET, short, exchanged["access_token"]):
        assert secret not in text
    lines = [json.loads(line) for line in text.splitlines()]
    me = next(line for line in lines if line["path"] == "/v25.0/me")
    assert me["endpoint"] == "me" and me["query"]["access_token"] == "***"
    assert me["query"]["appsecret_proof"] == "***"


def test_state_persists_in_a_db_file(tmp_path: Path) -> None:
    db = str(tmp_path / "graph.db")
    with graph_sandbox(db=db) as g:
        created = g.ok("POST", f"/{IMAGE}/comments", data={"message": "kept"})["id"]
        token = g.token
    with graph_sandbox(db=db) as g:
        assert g.ok("GET", f"/{created}", token=token, params={"fields": "text"}) == {
            "text": "kept"
        }


def test_a_v1_state_file_is_not_taken_for_a_graph_one(tmp_path: Path) -> None:
    from igflow.sandbox.config import SandboxConfig
    from igflow.sandbox.server import start_sandbox

    db = str(tmp_path / "v1.db")
    with start_sandbox(SandboxConfig(db=db)):
        pass
    with pytest.raises(ValueError, match="not a Graph sandbox state file"):
        start_sandbox(SandboxConfig(api="graph", db=db))


def test_info_describes_apps_and_accounts(g: Graph) -> None:
    info = g.admin("GET", "info").json()
    assert info["api"] == "instagram.graph" and info["sandbox"] is True
    users = {u["username"]: u for u in info["users"]}
    assert (
        users["mira.makes"]["id"] == MIRA_ID
        and users["mira.makes"]["account_type"] == "Media_Creator"
    )
    assert users["northwind.coffee"]["professional"] and not users["jo.personal"]["professional"]
    default = next(c for c in info["clients"] if c["name"] == "default")
    assert default["client_secret"] == APP_SECRET and "http://localhost" in default["redirect_uris"]
    assert info["clock"]["kind"] == "fake"
    # igflow's own reader of v1 info reads it too (the Graph authorize flow builds on it).
    from igflow.auth import fetch_sandbox_info

    parsed = fetch_sandbox_info(requests.Session(), g.url, 10)
    assert parsed is not None and parsed.passwords["mira.makes"] == "clayandglaze"
    client = parsed.client("default")
    assert (client.client_id, client.redirect_uri, client.implicit) == (
        "990011223344556",
        "http://localhost",
        False,
    )


def test_the_v1_sandbox_says_which_api_it_is() -> None:
    from igflow.sandbox.server import start_sandbox

    with start_sandbox() as v1:
        assert requests.get(v1.url + "/_sandbox/info", timeout=10).json()["api"] == "instagram.v1"


def test_reset_puts_the_state_back_to_the_dataset(tmp_path: Path) -> None:
    db = str(tmp_path / "graph.db")
    with graph_sandbox(db=db) as g:
        created = g.ok("POST", f"/{IMAGE}/comments", data={"message": "gone after reset"})["id"]
        g.ok("DELETE", "/17800000000010003")
        assert g.admin("POST", "reset").json() == {"reset": True}
        assert error_of(g.get("/me"))["code"] == 190  # tokens are state too
        token = g.new_token()
        assert error_of(g.get(f"/{created}", token=token))["code"] == 100
        assert g.ok("GET", "/17800000000010003", token=token, params={"fields": "text"}) == {
            "text": "cheap followers at spam.example, DM me"
        }
        assert len(g.ok("GET", f"/{IMAGE}/comments", token=token)["data"]) == 5
