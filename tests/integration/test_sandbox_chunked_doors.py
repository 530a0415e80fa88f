"""A chunked body over the bound is refused (413, the door's shape) on every door of both
sandboxes, sent raw over loopback, and its tail is never read as the form; igflow.mock's
in-process bridge (generator bodies) answers the same."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests

import igflow
from igflow.sandbox.bodylimit import MAX_BODY_BYTES
from igflow.sandbox.config import SandboxConfig
from igflow.sandbox.server import RunningSandbox, start_sandbox

TAIL = "&image_url=http://example.com/tail.jpg&caption=from-the-tail&message=from-the-tail"
BODY = ("x" * (MAX_BODY_BYTES + 1) + TAIL).encode()
GRAPH_MEDIA = "17900000000001001"
GRAPH_COMMENT = "17800000000010005"
SCOPES = [
    "instagram_business_basic",
    "instagram_business_manage_comments",
    "instagram_business_content_publish",
]
FORM = "application/x-www-form-urlencoded"


def raw_chunked(
    url: str, path: str, headers: dict[str, str], body: bytes = BODY
) -> tuple[int, str, dict[str, str]]:
    """POST ``body`` chunked on a raw socket; the status, the body and the headers."""
    parts = urlsplit(url)
    head = f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nTransfer-Encoding: chunked\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "Connection: close\r\n\r\n"
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(head.encode())
        try:
            for start in range(0, len(body), 8192):
                piece = body[start : start + 8192]
                sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            sock.sendall(b"0\r\n\r\n")
        except OSError:  # the server may answer and close before the whole body is sent
            pass
        answer = b""
        while b"\r\n\r\n" not in answer and (chunk := sock.recv(65536)):
            answer += chunk
        top, _, content = answer.partition(b"\r\n\r\n")
        lines = top.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        found = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(found.get("content-length", "-1"))
        while (length < 0 or len(content) < length) and (chunk := sock.recv(65536)):
            content += chunk
    if found.get("transfer-encoding") == "chunked":
        content = _dechunk(content)
    return status, content.decode("utf-8", "replace"), found


def _dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size, _, rest = data.partition(b"\r\n")
        n = int(size.split(b";")[0], 16)
        if n == 0:
            break
        out += rest[:n]
        data = rest[n + 2 :]
    return out


@pytest.fixture(scope="module")
def v1() -> Iterator[RunningSandbox]:
    with start_sandbox(SandboxConfig(clock="fake")) as running:
        yield running


@pytest.fixture(scope="module")
def graph() -> Iterator[tuple[RunningSandbox, str]]:
    with start_sandbox(SandboxConfig(api="graph", clock="fake")) as running:
        answer = requests.post(
            running.url + "/_sandbox/token",
            json={"user": "mira.makes", "scopes": SCOPES},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        yield running, str(answer.json()["access_token"])


def _graph_media_count(running: RunningSandbox, token: str) -> int:
    url = running.url + "/v25.0/me/media?limit=100"
    answer = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert answer.status_code == 200, answer.text
    return len(answer.json()["data"])


@pytest.mark.parametrize(
    "path", ["/v25.0/me/media", f"/v25.0/{GRAPH_COMMENT}/replies", f"/v25.0/{GRAPH_MEDIA}/comments"]
)
def test_graph_api_refuses_a_chunked_body_over_the_bound(
    graph: tuple[RunningSandbox, str], path: str
) -> None:
    running, token = graph
    before = _graph_media_count(running, token)
    headers = {"Content-Type": FORM, "Authorization": f"Bearer {token}"}
    status, text, found = raw_chunked(running.url, path, headers)
    assert status == 413, text
    error = json.loads(text)["error"]
    assert error["code"] == 100 and f"{MAX_BODY_BYTES} bytes" in error["message"]
    assert "from-the-tail" not in text and "id" not in json.loads(text)
    assert _graph_media_count(running, token) == before  # no container from the tail


@pytest.mark.parametrize(
    ("path", "kind"),
    [("/_sandbox/token", "admin"), ("/oauth/access_token", "oauth"), ("/accounts/login", "oauth")],
)
def test_graph_other_doors_refuse_a_chunked_body_over_the_bound(
    graph: tuple[RunningSandbox, str], path: str, kind: str
) -> None:
    status, text, _ = raw_chunked(graph[0].url, path, {"Content-Type": FORM})
    assert status == 413, text
    body = json.loads(text)
    if kind == "admin":
        assert body == {"error": f"The request body is over {MAX_BODY_BYTES} bytes"}
    else:
        assert body["error_type"] == "OAuthException"


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/v1/media/1/comments", "api"),
        ("/_sandbox/clients", "admin"),
        ("/oauth/access_token", "oauth"),
        ("/developer/clients/register", "portal"),
    ],
)
def test_v1_doors_refuse_a_chunked_body_over_the_bound(
    v1: RunningSandbox, path: str, kind: str
) -> None:
    status, text, found = raw_chunked(v1.url, path, {"Content-Type": FORM})
    assert status == 413, text
    if kind == "portal":
        assert found["content-type"].startswith("text/html")
        assert f"at most {MAX_BODY_BYTES} bytes" in text
        return
    body = json.loads(text)
    if kind == "api":
        assert body["meta"]["code"] == 413
    elif kind == "admin":
        assert body == {"error": f"The request body is over {MAX_BODY_BYTES} bytes"}
    else:
        assert body["error_type"] == "OAuthException"


def test_a_chunked_body_under_the_bound_still_creates_a_container(
    graph: tuple[RunningSandbox, str],
) -> None:
    running, token = graph
    body = b"image_url=http://example.com/ok.jpg&caption=" + b"c" * 1000
    headers = {"Content-Type": FORM, "Authorization": f"Bearer {token}"}
    status, text, _ = raw_chunked(running.url, "/v25.0/me/media", headers, body)
    assert status == 200, text
    assert "id" in json.loads(text)


def _generator() -> Iterator[bytes]:
    for start in range(0, len(BODY), 8192):
        yield BODY[start : start + 8192]


def test_mock_refuses_a_generator_body_over_the_bound() -> None:
    with igflow.mock(api="instagram.graph"):
        token = igflow.mock.token("mira.makes", scopes=["instagram_business_content_publish"])
        answer = requests.post(
            "https://graph.instagram.com/v25.0/me/media",
            data=_generator(),
            headers={"Content-Type": FORM, "Authorization": f"Bearer {token}"},
            timeout=10,
        )
    assert answer.status_code == 413, answer.text
    assert f"{MAX_BODY_BYTES} bytes" in answer.json()["error"]["message"]


def test_mock_v1_refuses_a_generator_body_over_the_bound() -> None:
    with igflow.mock(api="instagram.v1"):
        token = igflow.mock.token("grantwinney")
        answer = requests.post(
            "https://api.instagram.com/v1/media/1/comments?access_token=" + token,
            data=_generator(),
            headers={"Content-Type": FORM},
            timeout=10,
        )
    assert answer.status_code == 413, answer.text
    assert answer.json()["meta"]["code"] == 413
