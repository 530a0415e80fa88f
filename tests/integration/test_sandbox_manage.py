"""Managing clients and grants, and resetting: the admin API, and the CLI over --url and --db.

Also the served sandbox's stop on SIGTERM (a self-contained --db file afterwards) and
``igflow sandbox users`` without a running sandbox.
"""

from __future__ import annotations

import io
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from test_sandbox_support import implicit_token

from igflow.cli import Environment, main
from igflow.sandbox import cli as sandbox_cli
from igflow.sandbox.app import create_app
from igflow.sandbox.config import SandboxConfig
from igflow.sandbox.server import RunningSandbox, start_sandbox

INVALID_TOKEN = {
    "code": 400,
    "error_type": "OAuthAccessTokenException",
    "error_message": "The access_token provided is invalid.",
}


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["sandbox", *argv], Environment(stdout=out, stderr=err, environ={}))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with start_sandbox(SandboxConfig()) as running:
        yield running


@pytest.fixture
def state_file(tmp_path: Path) -> str:
    path = str(tmp_path / "state.db")
    create_app(SandboxConfig(db=path)).close()
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _self(url: str, token: str) -> dict[str, object]:
    body: dict[str, object] = requests.get(
        url + "/v1/users/self", params={"access_token": token}, timeout=10
    ).json()
    return body


def _authorize(url: str, client_id: str, response_type: str = "token") -> requests.Response:
    return requests.get(
        url + "/oauth/authorize/",
        params={
            "client_id": client_id,
            "redirect_uri": "http://localhost",
            "response_type": response_type,
        },
        allow_redirects=False,
        timeout=10,
    )


# ---- the default of a new client ----------------------------------------------------------------
def test_a_new_client_starts_with_implicit_oauth_disabled_everywhere(
    sandbox: RunningSandbox, state_file: str
) -> None:
    over_api = requests.post(sandbox.url + "/_sandbox/clients", json={"name": "a"}, timeout=5)
    assert over_api.status_code == 201 and over_api.json()["implicit"] is False
    code, out, err = run("clients", "add", "--url", sandbox.url, "--name", "b")
    assert code == 0 and "implicit: false" in out, err
    code, out, err = run("clients", "add", "--db", state_file, "--name", "c")
    assert code == 0 and "implicit: false" in out, err
    code, out, err = run("clients", "add", "--url", sandbox.url, "--name", "d", "--implicit")
    assert code == 0 and "implicit: true" in out, err
    # The seed's error is what a fresh client gets; the demo clients keep their settings.
    refused = _authorize(sandbox.url, over_api.json()["client_id"])
    assert refused.status_code == 403 and refused.json() == {
        "code": 403,
        "error_type": "OAuthForbiddenException",
        "error_message": "Implicit authentication is disabled",
    }
    demo = {
        c["name"]: c["implicit"] for c in requests.get(sandbox.url + "/_sandbox/clients").json()
    }
    assert demo["default"] is True and demo["live"] is True and demo["signed"] is False


# ---- update and remove -------------------------------------------------------------------------
def test_clients_update_over_http_turns_implicit_on_and_off(sandbox: RunningSandbox) -> None:
    code, out, err = run("clients", "add", "--url", sandbox.url, "--name", "my-app")
    client_id = next(line.split()[1] for line in out.splitlines() if line.startswith("client_id"))
    assert _authorize(sandbox.url, client_id).status_code == 403
    code, out, err = run("clients", "update", "my-app", "--url", sandbox.url, "--implicit")
    assert code == 0 and "implicit: true" in out, err
    assert _authorize(sandbox.url, client_id).status_code == 302  # on to the login page
    code, out, err = run(
        "clients",
        "update",
        "my-app",
        "--url",
        sandbox.url,
        "--no-implicit",
        "--signed",
        "--redirect-uri",
        "http://127.0.0.1:9/cb",
        "--mode",
        "live",
    )
    assert code == 0, err
    assert "implicit: false" in out and "signed: true" in out and "mode: live" in out
    assert "redirect_uris: http://127.0.0.1:9/cb" in out
    # The id and secret stay what they were.
    assert f"client_id: {client_id}" in out


def test_clients_update_refuses_bad_values_with_one_line(sandbox: RunningSandbox) -> None:
    cases = [
        (["nope", "--implicit"], "no client named 'nope' (known: default, live, signed)"),
        (["default", "--redirect-uri", "localhost"], "'localhost' is not an http(s) URL"),
        (["default", "--redirect-uri", "http://"], "is not a valid URL"),
        (["default", "--sandbox-user", "nobody_here"], "unknown sandbox user 'nobody_here'"),
        (["default"], "nothing to change"),
    ]
    for args, message in cases:
        code, _, err = run("clients", "update", *args, "--url", sandbox.url)
        assert code == 2 and message in err and len(err.splitlines()) == 1, (args, err)
    eleven = [arg for name in _usernames(sandbox.url)[:11] for arg in ("--sandbox-user", name)]
    code, _, err = run("clients", "update", "default", "--url", sandbox.url, *eleven)
    assert code == 2 and "at most 10 sandbox users" in err
    code, _, err = run("clients", "update", "default", "--implicit", "--no-implicit")
    assert code == 2  # argparse: the two are exclusive


def _usernames(url: str) -> list[str]:
    return [u["username"] for u in requests.get(url + "/_sandbox/info", timeout=5).json()["users"]]


def test_the_admin_api_answers_json_errors(sandbox: RunningSandbox) -> None:
    url = sandbox.url + "/_sandbox"
    cases = [
        (requests.patch(url + "/clients/nope", json={"implicit": True}), 404, "no client named"),
        (requests.patch(url + "/clients/default", data="[]"), 400, "send a JSON object"),
        (
            requests.patch(url + "/clients/default", json={"redirect_uris": ["ftp://x"]}),
            400,
            "is not an http(s) URL",
        ),
        (requests.patch(url + "/clients/default", json={"colour": 1}), 400, "unknown client"),
        (requests.patch(url + "/clients/default", json={"implicit": "yes"}), 400, "true or false"),
        (requests.delete(url + "/clients/nope"), 404, "no client named"),
        (requests.get(url + "/grants", params={"user": "ghost"}), 404, "no sandbox user"),
        (requests.delete(url + "/grants", params={"user": "grantwinney"}), 400, "whose grant"),
        (
            requests.delete(url + "/grants", params={"user": "grantwinney", "client": "live"}),
            404,
            "has not authorized",
        ),
        (requests.get(url + "/reset"), 405, "does not support the GET method"),
    ]
    for response, status, text in cases:
        assert response.status_code == status, response.text
        assert response.headers["Content-Type"].startswith("application/json")
        assert text in response.json()["error"], response.text


def test_removing_a_client_ends_its_tokens(sandbox: RunningSandbox) -> None:
    code, out, err = run("clients", "add", "--url", sandbox.url, "--name", "gone", "--implicit")
    assert code == 0, err
    token = implicit_token(sandbox.url, "basic", client_name="gone")
    assert _self(sandbox.url, token)["meta"] == {"code": 200}
    code, out, err = run("clients", "remove", "gone", "--url", sandbox.url)
    assert code == 0 and "removed client gone" in out, err
    assert _self(sandbox.url, token)["meta"] == INVALID_TOKEN
    code, _, err = run("clients", "remove", "gone", "--url", sandbox.url)
    assert code == 2 and "no client named 'gone'" in err


# ---- grants ------------------------------------------------------------------------------------
def test_grants_list_and_revoke_over_http(sandbox: RunningSandbox) -> None:
    token = implicit_token(sandbox.url, "basic likes")
    implicit_token(sandbox.url, "basic", username="maya.bakes")
    code, out, err = run("grants", "list", "--url", sandbox.url, "--user", "grantwinney")
    assert code == 0, err
    assert [line.split() for line in out.splitlines()] == [
        ["USER", "CLIENT", "SCOPES"],
        ["grantwinney", "default", "basic", "likes"],
    ]
    code, out, _ = run("grants", "list", "--url", sandbox.url)
    assert {line.split()[0] for line in out.splitlines()[1:]} == {"grantwinney", "maya.bakes"}
    code, out, err = run(
        "grants", "revoke", "--url", sandbox.url, "--user", "grantwinney", "--client", "default"
    )
    assert code == 0 and "revoked grantwinney's grant to default" in out, err
    assert _self(sandbox.url, token)["meta"] == INVALID_TOKEN
    code, out, _ = run("grants", "list", "--url", sandbox.url, "--user", "grantwinney")
    assert "(no grants)" in out
    # Authorizing again makes a new token, with only what is asked for now.
    again = implicit_token(sandbox.url, "basic")
    assert again != token and _self(sandbox.url, again)["meta"] == {"code": 200}
    code, _, err = run(
        "grants", "revoke", "--url", sandbox.url, "--user", "ghost", "--client", "default"
    )
    assert code == 2 and "no sandbox user 'ghost'" in err


def test_grants_and_clients_on_a_state_file(state_file: str) -> None:
    with start_sandbox(SandboxConfig(db=state_file)) as running:
        token = implicit_token(running.url, "basic comments")
    code, out, err = run("grants", "list", "--db", state_file)
    assert code == 0 and "grantwinney  default  basic comments" in out, err
    code, out, err = run(
        "grants", "revoke", "--db", state_file, "--user", "grantwinney", "--client", "default"
    )
    assert code == 0, err
    code, out, err = run("clients", "update", "live", "--db", state_file, "--no-implicit")
    assert code == 0 and "implicit: false" in out, err
    code, out, err = run("clients", "remove", "signed", "--db", state_file)
    assert code == 0, err
    with start_sandbox(SandboxConfig(db=state_file)) as running:
        assert _self(running.url, token)["meta"] == INVALID_TOKEN
        clients = {c["name"]: c for c in requests.get(running.url + "/_sandbox/clients").json()}
    assert set(clients) == {"default", "live"} and clients["live"]["implicit"] is False


# ---- reset -------------------------------------------------------------------------------------
def test_reset_puts_a_served_sandbox_back_to_its_dataset(sandbox: RunningSandbox) -> None:
    token = implicit_token(sandbox.url, "basic likes")
    media = requests.get(
        sandbox.url + "/v1/media/shortcode/Bcizg1_B3nu", params={"access_token": token}
    ).json()["data"]
    unliked = requests.delete(
        sandbox.url + f"/v1/media/{media['id']}/likes", params={"access_token": token}
    )
    assert unliked.json()["meta"] == {"code": 200}
    run("clients", "add", "--url", sandbox.url, "--name", "temporary")
    code, out, err = run("reset", "--url", sandbox.url)
    assert code == 0 and "reset the sandbox" in out, err
    assert _self(sandbox.url, token)["meta"] == INVALID_TOKEN
    names = [c["name"] for c in requests.get(sandbox.url + "/_sandbox/clients").json()]
    assert names == ["default", "live", "signed"]
    fresh = implicit_token(sandbox.url, "basic")
    again = requests.get(
        sandbox.url + "/v1/media/shortcode/Bcizg1_B3nu", params={"access_token": fresh}
    ).json()["data"]
    assert again["likes"]["count"] == 1  # the seed's own like is back


def test_reset_of_a_state_file_and_of_a_custom_dataset(tmp_path: Path, state_file: str) -> None:
    code, _, err = run("clients", "add", "--db", state_file, "--name", "extra")
    assert code == 0, err
    code, out, err = run("reset", "--db", state_file)
    assert code == 0 and "default dataset" in out, err
    code, out, _ = run("clients", "list", "--db", state_file)
    assert "extra" not in out and "default" in out
    code, _, err = run("reset", "--db", str(tmp_path / "missing.db"))
    assert code == 2 and "no such sandbox state file" in err
    data = tmp_path / "data.yaml"
    data.write_text("format: 1\nusers:\n  - {id: '1001', username: ada, password: lovelace}\n")
    with start_sandbox(SandboxConfig(data=str(data))) as running:
        requests.post(running.url + "/_sandbox/clients", json={"name": "x"}, timeout=5)
        assert requests.post(running.url + "/_sandbox/reset", timeout=5).json() == {"reset": True}
        assert _usernames(running.url) == ["ada"]  # its own dataset, not the default one
        names = [c["name"] for c in requests.get(running.url + "/_sandbox/clients").json()]
        assert "x" not in names


# ---- serve and users ---------------------------------------------------------------------------
def test_serve_stops_on_sigterm_and_leaves_a_self_contained_state_file(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    script = textwrap.dedent(
        f"""
        import sys
        from igflow.cli import main
        sys.exit(main(["sandbox", "serve", "--port", "0", "--db", {str(db)!r}]))
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        banner = ""
        for line in process.stdout:
            banner += line
            if line.startswith("Press Ctrl-C"):
                break
        url = banner.split("serving on ")[1].split()[0]
        added = requests.post(url + "/_sandbox/clients", json={"name": "kept"}, timeout=5)
        assert added.status_code == 201
        assert (tmp_path / "state.db-wal").exists()  # WAL mode while serving
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "Traceback" not in err
    assert f"sandbox stopped (SIGTERM); state saved in {db}" in out
    assert not (tmp_path / "state.db-wal").exists() and not (tmp_path / "state.db-shm").exists()
    # The main file alone holds everything: a copy of it still has the client.
    copy = tmp_path / "copy.db"
    copy.write_bytes(db.read_bytes())
    with sqlite3.connect(copy) as conn:
        names = [row[0] for row in conn.execute("SELECT name FROM oauth_clients")]
    assert "kept" in names


def test_users_without_a_running_sandbox_lists_the_default_dataset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sandbox_cli, "DEFAULT_URL", f"http://127.0.0.1:{_free_port()}")
    code, out, err = run("users")
    assert code == 0, err
    assert "no sandbox is running at" in err and "default dataset" in err
    assert out.splitlines()[1].split() == ["grantwinney", "3657782666", "no", "snappeas2017"]


def test_users_prefers_the_running_sandbox(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    data = tmp_path / "data.yaml"
    data.write_text("format: 1\nusers:\n  - {id: '1001', username: ada, password: lovelace}\n")
    with start_sandbox(SandboxConfig(data=str(data))) as running:
        monkeypatch.setattr(sandbox_cli, "DEFAULT_URL", running.url)
        code, out, err = run("users")
    assert code == 0 and err == ""
    assert [line.split()[0] for line in out.splitlines()] == ["USERNAME", "ada"]
