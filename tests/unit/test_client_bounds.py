"""The bounds on one exchange (igflow.bounded): the response size limit and the total deadline.

Wire-level edge cases with requests-mock; a real loopback server where the watchdog's work on a
socket is the point. The hostile-server runs of the real CLI are tests/integration/
test_hostile_server.py.
"""

from __future__ import annotations

import gzip
import io
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests
from client_support import client_kwargs

from igflow import errors
from igflow.auth import fetch_sandbox_info
from igflow.bounded import DEFAULT_MAX_RESPONSE_BYTES, bounded_session, show_bytes
from igflow.client import ApiClient, Timeouts
from igflow.pacing import Pacer
from igflow.playbook.model import RetrySpec
from igflow.redact import Redactor
from igflow.registry import Registry, load_registry

ORIGIN = "http://sandbox.test"
TOKEN = "493881988.0b9e96a.779354c34d7b459d8ed3de0e077a7f2b"
OK = json.dumps({"meta": {"code": 200}, "data": {"id": "1"}}).encode()


@pytest.fixture(scope="module")
def registry() -> Registry:
    return load_registry("instagram.v1")


def make_client(registry: Registry, origin: str = ORIGIN, **kwargs: Any) -> ApiClient:
    kwargs.setdefault("redactor", Redactor())
    kwargs.setdefault("retry", RetrySpec(attempts=3, backoff=0.0, jitter=False))
    kwargs.setdefault("sleep", lambda seconds: None)
    kwargs.setdefault("pacer", Pacer(sleep=lambda seconds: None))
    return ApiClient(registry, origin, **client_kwargs(**kwargs))


class Unreadable(io.RawIOBase):
    """A body that fails the test if anything reads it."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        raise AssertionError("the body was read")


class Slow(io.RawIOBase):
    """A body that gives 8 KiB per read, ``pause`` seconds apart, forever."""

    def __init__(self, pause: float) -> None:
        self.pause = pause

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        time.sleep(self.pause)
        size = min(len(buffer), 8192)
        buffer[0:size] = b"0" * size
        return size


# -- Timeouts -------------------------------------------------------------------------------


def test_the_deadline_is_connect_plus_read_unless_a_total_is_given() -> None:
    assert Timeouts().deadline == 35.0
    assert Timeouts(connect=1.0, read=3.0).deadline == 4.0
    assert Timeouts(connect=1.0, read=3.0, total=10.0).deadline == 10.0


def test_show_bytes() -> None:
    assert show_bytes(DEFAULT_MAX_RESPONSE_BYTES) == "64 MiB"
    assert [show_bytes(n) for n in (512, 4096, 1536 << 20, 2 << 30)] == [
        "512 bytes",
        "4 KiB",
        "1.5 GiB",
        "2 GiB",
    ]


# -- the size limit ---------------------------------------------------------------------------


def test_a_body_at_the_limit_is_read_one_byte_more_is_refused(
    registry: Registry, requests_mock: Any
) -> None:
    requests_mock.get(f"{ORIGIN}/v1/users/self", content=OK)
    users_self = registry.get("users.self")
    at_limit = make_client(registry, max_response_bytes=len(OK))
    assert at_limit.call(users_self, {}, token=TOKEN).data == {"id": "1"}
    under = make_client(registry, max_response_bytes=len(OK) - 1)
    with pytest.raises(errors.MalformedResponse) as caught:
        under.call(users_self, {}, token=TOKEN)
    message = caught.value.message
    assert message.startswith("users.self: the HTTP 200 response is ")
    assert "--max-response-bytes allows" in message
    assert requests_mock.call_count == 2  # a read, yet not retried: the same body would come back


def test_a_content_length_over_the_limit_is_refused_unread(
    registry: Registry, requests_mock: Any
) -> None:
    requests_mock.get(
        f"{ORIGIN}/v1/users/self", body=Unreadable(), headers={"Content-Length": str(1 << 40)}
    )
    with pytest.raises(errors.MalformedResponse) as caught:
        make_client(registry).call(registry.get("users.self"), {}, token=TOKEN)
    assert caught.value.message == (
        "users.self: the HTTP 200 response is 1024 GiB (Content-Length), more than the 64 MiB "
        "--max-response-bytes allows; not read"
    )
    assert caught.value.exit_code == errors.ExitCode.TRANSPORT


def test_the_limit_counts_decompressed_bytes(registry: Registry, requests_mock: Any) -> None:
    body = json.dumps({"meta": {"code": 200}, "data": {"bio": "0" * 200_000}}).encode()
    packed = gzip.compress(body)
    assert len(packed) < 4096 < len(body)
    requests_mock.get(
        f"{ORIGIN}/v1/users/self",
        content=packed,
        headers={"Content-Encoding": "gzip", "Content-Length": str(len(packed))},
    )
    users_self = registry.get("users.self")
    with pytest.raises(errors.MalformedResponse, match="larger than the 4 KiB"):
        make_client(registry, max_response_bytes=4096).call(users_self, {}, token=TOKEN)
    roomy = make_client(registry, max_response_bytes=len(body))
    assert roomy.call(users_self, {}, token=TOKEN).data == {"bio": "0" * 200_000}


def test_an_error_body_over_the_limit_is_refused_too(
    registry: Registry, requests_mock: Any
) -> None:
    requests_mock.get(f"{ORIGIN}/v1/users/self", status_code=500, content=b"x" * 5000)
    with pytest.raises(errors.MalformedResponse, match="the HTTP 500 response is larger"):
        make_client(registry, max_response_bytes=4096).call(
            registry.get("users.self"), {}, token=TOKEN
        )
    assert requests_mock.call_count == 1


def test_the_oauth_flow_reads_within_the_limit(requests_mock: Any) -> None:
    requests_mock.get(f"{ORIGIN}/_sandbox/info", content=b"[" + b"0," * 10_000 + b"0]")
    session = bounded_session(requests.Session())
    with pytest.raises(errors.MalformedResponse) as caught:
        fetch_sandbox_info(session, ORIGIN, 1.0, max_response_bytes=1000)
    assert caught.value.message == (
        f"cannot reach {ORIGIN}: the response is larger than the 1000 bytes "
        "--max-response-bytes allows; stopped reading"
    )


# -- the deadline ----------------------------------------------------------------------------


def test_a_trickled_body_ends_at_the_deadline_without_a_socket_to_cut(
    registry: Registry, requests_mock: Any
) -> None:
    # requests-mock has no socket to shut down: the deadline is seen between body chunks (of
    # 64 KiB: 0.4 s each here), with nothing on the wire ever giving a read timeout.
    requests_mock.get(f"{ORIGIN}/v1/users/self", [{"body": Slow(0.05)} for _ in range(3)])
    client = make_client(registry, timeouts=Timeouts(connect=1, read=1, total=0.3))
    started = time.monotonic()
    with pytest.raises(errors.RequestTimeout) as caught:
        client.call(registry.get("users.self"), {}, token=TOKEN)
    assert time.monotonic() - started < 5
    assert caught.value.message.startswith("no complete response within 0.3s")
    assert "gave up after 3 attempts" in caught.value.message  # a read: retried, as timeouts are


@contextmanager
def server(answer: bytes, *, hold_headers: bool = False) -> Iterator[tuple[str, list[int]]]:
    """A keep-alive loopback server answering every request with ``answer``, or (hold_headers)
    with a status line and then nothing. Yields its origin and a list counting connections."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    connections: list[int] = []
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        conn.settimeout(0.1)
        with conn:
            while not stop.is_set():
                try:
                    if not conn.recv(65536):
                        return
                except TimeoutError:
                    continue
                except OSError:
                    return
                conn.sendall(b"HTTP/1.1 200 OK\r\n" if hold_headers else answer)

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            connections.append(1)
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", connections
    finally:
        stop.set()
        thread.join(5)
        listener.close()


ANSWER = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
    len(OK),
    OK,
)


def test_held_headers_end_at_the_deadline_and_a_write_is_not_resent(registry: Registry) -> None:
    with server(ANSWER, hold_headers=True) as (origin, connections):
        client = make_client(registry, origin, timeouts=Timeouts(connect=1, read=10, total=0.5))
        started = time.monotonic()
        with pytest.raises(errors.RequestTimeout) as caught:
            client.call(
                registry.get("comments.create"), {"media_id": "1_2", "text": "hi"}, token=TOKEN
            )
        # Well before the 10 s read timeout: the watchdog shut the socket down at 0.5 s.
        assert time.monotonic() - started < 5
    assert caught.value.message.startswith("no complete response within 0.5s")
    assert "not retried: comments.create is not idempotent" in caught.value.message
    assert len(connections) == 1


def test_a_finished_exchange_deadline_never_touches_the_reused_connection(
    registry: Registry,
) -> None:
    with server(ANSWER) as (origin, connections):
        client = make_client(
            registry,
            origin,
            timeouts=Timeouts(connect=1, read=1, total=0.2),
            retry=RetrySpec(attempts=1),
        )
        users_self = registry.get("users.self")
        for _ in range(3):
            assert client.call(users_self, {}, token=TOKEN).data == {"id": "1"}
            time.sleep(0.3)  # each exchange's deadline passes while its connection idles
        client.close()
    assert len(connections) == 1  # one keep-alive connection, never shut down under a request
