"""What a hostile tester found in the merged v1 sandbox, each driven over loopback HTTP.

Bodies over the one bound (igflow/sandbox/bodylimit.py) answered 413 in each door's own shape,
fault settings bounded, client names without control characters, the portal's Details tab
validated like its register form.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from igflow.sandbox.bodylimit import MAX_BODY_BYTES
from igflow.sandbox.config import SandboxConfig
from igflow.sandbox.server import RunningSandbox, start_sandbox

BIG = "x" * (MAX_BODY_BYTES + 1)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with start_sandbox(SandboxConfig(clock="fake")) as running:
        yield running


def _chunks(text: str) -> Iterator[bytes]:
    # A generator body goes out chunked, with no Content-Length to refuse it by.
    data = text.encode()
    for start in range(0, len(data), 8192):
        yield data[start : start + 8192]


@pytest.mark.parametrize("chunked", [False, True], ids=["declared", "chunked"])
def test_a_control_body_over_the_bound_is_a_413_in_admin_json(
    sandbox: RunningSandbox, chunked: bool
) -> None:
    body = '{"name": "' + BIG + '"}'
    response = requests.post(
        sandbox.url + "/_sandbox/clients",
        data=_chunks(body) if chunked else body,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 413, response.text
    assert response.json() == {"error": f"The request body is over {MAX_BODY_BYTES} bytes"}


@pytest.mark.parametrize("chunked", [False, True], ids=["declared", "chunked"])
def test_an_api_body_over_the_bound_is_a_413_in_the_meta_envelope(
    sandbox: RunningSandbox, chunked: bool
) -> None:
    body = "text=" + BIG
    response = requests.post(
        sandbox.url + "/v1/media/1/comments",
        data=_chunks(body) if chunked else body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=30,
    )
    assert response.status_code == 413, response.text
    meta = response.json()["meta"]
    assert meta["code"] == 413 and meta["error_type"] == "APIInvalidParametersError"
    assert f"{MAX_BODY_BYTES} bytes" in meta["error_message"]
    assert "X-Ratelimit-Limit" in response.headers


def test_an_oauth_body_over_the_bound_is_a_413_oauth_error(sandbox: RunningSandbox) -> None:
    response = requests.post(sandbox.url + "/oauth/access_token", data={"code": BIG}, timeout=30)
    assert response.status_code == 413
    assert response.json()["error_type"] == "OAuthException"


def test_a_portal_body_over_the_bound_is_a_413_page(sandbox: RunningSandbox) -> None:
    response = requests.post(
        sandbox.url + "/developer/clients/register", data={"description": BIG}, timeout=30
    )
    assert response.status_code == 413
    assert response.headers["Content-Type"].startswith("text/html")
    assert f"at most {MAX_BODY_BYTES} bytes" in response.text


def test_a_chunked_body_under_the_bound_is_read_whole(sandbox: RunningSandbox) -> None:
    body = '{"name": "chunky", "redirect_uris": ["http://localhost/cb"], "description": "'
    body += "d" * 20_000 + '"}'
    response = requests.post(
        sandbox.url + "/_sandbox/clients",
        data=_chunks(body),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code in (201, 400), response.text
    assert "send a JSON object" not in response.text  # the JSON arrived whole, not cut


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ('{"latency_ms": 1e400}', "latency_ms must be a finite number"),
        ('{"fail_nth": 1e400}', "fail_nth must be a finite number"),
        ('{"latency_ms": 1000000000000}', "latency_ms must be between 0 and 60000"),
        ('{"drop_nth": 10000000000000}', "drop_nth must be between 1 and 1000000000"),
        ('{"seed": -1}', "seed must be between"),
        ('{"fail_rate": "lots"}', "fail_rate must be a number"),
    ],
)
def test_fault_settings_out_of_bounds_are_a_400(
    sandbox: RunningSandbox, body: str, words: str
) -> None:
    response = requests.post(
        sandbox.url + "/_sandbox/faults",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 400, response.text
    assert words in response.json()["error"]
    assert requests.get(sandbox.url + "/_sandbox/faults", timeout=10).json()["latency_ms"] == 0


def test_a_minute_of_latency_is_accepted(sandbox: RunningSandbox) -> None:
    response = requests.post(
        sandbox.url + "/_sandbox/faults", json={"latency_ms": 60_000}, timeout=10
    )
    assert response.status_code == 200 and response.json()["latency_ms"] == 60_000
    assert requests.post(sandbox.url + "/_sandbox/faults", json={}, timeout=10).ok


@pytest.mark.parametrize("option", [["--latency", "999999999999999"], ["--fail-nth", "0"]])
def test_serve_refuses_unbounded_fault_options(option: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "igflow", "sandbox", "serve", "--port", "0", *option],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "must be between" in result.stderr


EVIL = "evil\x1b[31mRED\x1b[0m\rdefault client_id=FAKE"


@pytest.mark.parametrize(
    ("name", "words"),
    [
        (EVIL, "must not contain control characters"),
        ("\x1b]0;pwned\x07", "must not contain control characters"),
        ("x" * 100_00, "at most 4096 characters"),
        ("line\nbreak", "must not contain control characters"),
        ("abc\u202edcba", "U+202E format"),
        ("zero\u200bwidth", "U+200B format"),
        ("\ufeffbom", "U+FEFF format"),
    ],
    ids=["csi", "osc-title", "long", "newline", "rlo", "zwsp", "bom"],
)
def test_a_client_name_with_control_characters_or_too_long_is_refused(
    sandbox: RunningSandbox, name: str, words: str
) -> None:
    response = requests.post(
        sandbox.url + "/_sandbox/clients",
        json={"name": name, "redirect_uris": ["http://localhost"]},
        timeout=10,
    )
    assert response.status_code == 400, response.text
    assert words in response.json()["error"]
    assert "\x1b" not in response.json()["error"]
    names = [c["name"] for c in requests.get(sandbox.url + "/_sandbox/clients", timeout=10).json()]
    assert name not in names


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/_sandbox/clients", '{"name": "a\\ud800b", "redirect_uris": ["http://localhost"]}'),
        ("/_sandbox/faults", '{"\\udfff": 1}'),
        ("/_sandbox/clock", '{"advance": "\\ud800"}'),
    ],
)
def test_a_lone_surrogate_in_control_json_is_a_400(
    sandbox: RunningSandbox, path: str, body: str
) -> None:
    # was a 500 and a traceback (UnicodeEncodeError) for a client name
    response = requests.post(
        sandbox.url + path, data=body, headers={"Content-Type": "application/json"}, timeout=10
    )
    assert response.status_code == 400, response.text
    assert "lone surrogate" in response.json()["error"]


def test_a_lone_surrogate_or_bidi_user_on_the_graph_token_door_is_a_400() -> None:
    with start_sandbox(SandboxConfig(api="graph")) as running:
        response = requests.post(
            running.url + "/_sandbox/token",
            data='{"user": "a\\ud800b"}',
            headers={"Content-Type": "application/json"},
            timeout=10,
        )
        assert response.status_code == 400, response.text
        assert "lone surrogate" in response.json()["error"]


def test_names_already_in_a_state_file_are_printed_escaped(tmp_path: Path) -> None:
    # A state file written before the rule (or by hand) may hold such a name: the listings
    # print it escaped, never raw.
    from igflow.sandbox.clients import OAuthState
    from igflow.sandbox.db import Database

    db_file = tmp_path / "state.db"
    with start_sandbox(SandboxConfig(db=str(db_file))):
        pass
    db = Database(str(db_file))
    try:
        with db.transaction() as conn:
            conn.execute("UPDATE oauth_clients SET name = ? WHERE name = 'live'", (EVIL,))
        assert any(c.name == EVIL for c in OAuthState(db).clients())
    finally:
        db.close()
    listed = _igflow("sandbox", "clients", "list", "--db", str(db_file))
    assert listed.returncode == 0, listed.stderr
    assert "\x1b" not in listed.stdout and "\r" not in listed.stdout
    assert "evil\\x1b[31mRED\\x1b[0m\\rdefault" in listed.stdout


def test_a_stored_bidi_name_is_listed_escaped(tmp_path: Path) -> None:
    # a state file from before the rule: U+202E printed raw reversed the rest of the row
    from igflow.sandbox.db import Database

    db_file = tmp_path / "state.db"
    with start_sandbox(SandboxConfig(db=str(db_file))):
        pass
    db = Database(str(db_file))
    try:
        with db.transaction() as conn:
            conn.execute("UPDATE oauth_clients SET name = ? WHERE name = 'live'", ("ab\u202ecd",))
    finally:
        db.close()
    listed = _igflow("sandbox", "clients", "list", "--db", str(db_file))
    assert listed.returncode == 0, listed.stderr
    assert "\u202e" not in listed.stdout
    assert "ab\\u202ecd" in listed.stdout


def _igflow(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "igflow", *argv], capture_output=True, text=True, timeout=60
    )


def test_the_serve_banner_prints_a_stored_name_escaped(tmp_path: Path) -> None:
    from igflow.sandbox.db import Database
    from igflow.sandbox.server import describe

    db_file = tmp_path / "state.db"
    with start_sandbox(SandboxConfig(db=str(db_file))):
        pass
    db = Database(str(db_file))
    try:
        with db.transaction() as conn:
            conn.execute("UPDATE oauth_clients SET name = ? WHERE name = 'live'", (EVIL,))
    finally:
        db.close()
    with start_sandbox(SandboxConfig(db=str(db_file))) as running:
        banner = describe(running.app, running.url)
    assert "\x1b" not in banner and "\r" not in banner
    assert "evil\\x1b[31mRED" in banner


def test_clients_list_against_a_graph_sandbox_lists_its_apps() -> None:
    with start_sandbox(SandboxConfig(api="graph")) as running:
        listed = _igflow("sandbox", "clients", "list", "--url", running.url)
        grants = _igflow("sandbox", "grants", "list", "--url", running.url)
        added = _igflow("sandbox", "clients", "add", "--url", running.url, "--name", "x")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split()[:6] == [
        "NAME", "CLIENT_ID", "CLIENT_SECRET", "API_VERSION", "APPSECRET_PROOF", "REDIRECT_URIS"
    ]  # fmt: skip
    assert len(listed.stdout.splitlines()) >= 2
    assert grants.returncode == 2, grants.stderr
    assert "Graph sandbox has no grants endpoint" in grants.stderr
    assert "/_sandbox/graph/revoke" in grants.stderr
    assert added.returncode == 2 and "Graph sandbox has no clients endpoint" in added.stderr
    for result in (listed, grants, added):
        assert "Traceback" not in result.stderr and "internal error" not in result.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["reset", "--url", "notaurl"],
        ["users", "--url", "notaurl"],
        ["clients", "list", "--url", "ftp://127.0.0.1"],
        ["clients", "remove", "x", "--url", "http://"],
        ["grants", "list", "--url", "http://x:99999"],
        ["token", "--url", "notaurl", "--user", "grantwinney"],
    ],
    ids=["reset", "users", "clients-list", "clients-remove", "grants-list", "token"],
)
def test_a_bad_url_is_a_usage_error_on_every_sandbox_subcommand(argv: list[str]) -> None:
    result = _igflow("sandbox", *argv)
    assert result.returncode == 2, result.stderr
    assert "argument --url:" in result.stderr and "is not a sandbox URL" in result.stderr
    assert "Schema" not in result.stderr and "Traceback" not in result.stderr


def test_a_server_that_is_not_a_sandbox_is_named_not_a_traceback(tmp_path: Path) -> None:
    # Any web server answering 200 with a JSON list at /_sandbox/info.
    import http.server
    import threading

    class ListHandler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"[1, 2, 3]"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ListHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        results = [
            _igflow("sandbox", *argv, "--url", url) for argv in (["users"], ["clients", "list"])
        ]
    finally:
        server.shutdown()
        server.server_close()
    for result in results:
        assert result.returncode == 4, result.stderr
        assert "is not an igflow sandbox" in result.stderr and "Traceback" not in result.stderr
