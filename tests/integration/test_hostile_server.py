"""The real CLI against a hostile loopback server: what a target can make igflow hold or wait for.

Each server here breaks HTTP in one way that no per-read timeout catches: a body of gigabytes, a
gzip bomb (a few megabytes on the wire, gigabytes inflated), a body or headers trickled a byte at
a time, a pagination chain that never ends. Every run must end within seconds with one clear
message and a documented exit code; the two that try to fill memory run igflow in a subprocess
whose peak RSS is measured (and whose address space is capped, so a regression fails the test
instead of exhausting the machine).

The server is a raw socket server in a thread, on an ephemeral 127.0.0.1 port; every connection
it serves, and the server itself, stop by themselves after a bounded time.
"""

from __future__ import annotations

import gzip
import json
import os
import resource
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from cli_helpers import run_cli

import igflow.runner

TOKEN = "123.abcdef0.0123456789abcdef0123456789abcdef"
ROOT = Path(__file__).resolve().parents[2]
LIFETIME = 60.0  # the most any server (and each of its connections) lives, in seconds
# Each test's bound on one igflow run: generous, and far below "forever".
RUN_BOUND = 20.0
RSS_BOUND = 200 * 1024 * 1024

# A behaviour answers one request on a connection; it returns True to keep the connection.
Behaviour = Callable[["Exchange"], bool]


class Exchange:
    """One request the server read, and the socket to answer it on."""

    def __init__(self, server: HostileServer, conn: socket.socket, path: str) -> None:
        self.server = server
        self.conn = conn
        self.path = path

    @property
    def live(self) -> bool:
        return not self.server.stopping.is_set() and time.monotonic() < self.server.ends

    def send(self, data: bytes) -> bool:
        """False once the client went away (or the server is stopping)."""
        if not self.live:
            return False
        try:
            self.conn.sendall(data)
        except OSError:
            return False
        return True

    def trickle(self, data: bytes, every: float = 0.2) -> None:
        """One byte every ``every`` seconds, until the client gives up."""
        for byte in data:
            if not self.send(bytes([byte])):
                return
            time.sleep(every)


class HostileServer:
    """A loopback HTTP/1.1 server whose answers ``behave`` writes byte by byte."""

    def __init__(self, behave: Behaviour) -> None:
        self.behave = behave
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.origin = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.ends = time.monotonic() + LIFETIME
        self.stopping = threading.Event()
        self.requests: list[str] = []
        self.methods: list[str] = []
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> HostileServer:
        self._accepting.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopping.set()
        self._accepting.join(5)
        for thread in self._threads:
            thread.join(5)
        self.listener.close()

    def _accept(self) -> None:
        while not self.stopping.is_set() and time.monotonic() < self.ends:
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(1.0)
        buffer = b""
        with conn:
            while not self.stopping.is_set() and time.monotonic() < self.ends:
                try:
                    while b"\r\n\r\n" not in buffer:
                        chunk = conn.recv(65536)
                        if not chunk:
                            return
                        buffer += chunk
                except TimeoutError:
                    continue
                except OSError:
                    return
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                length = next(
                    (
                        int(line.split(":", 1)[1])
                        for line in lines
                        if line.lower().startswith("content-length:")
                    ),
                    0,
                )
                with suppress(OSError):
                    while len(buffer) < length:
                        buffer += conn.recv(65536)
                buffer = buffer[length:]
                method, path = lines[0].split(" ")[:2]
                self.requests.append(path)
                self.methods.append(method)
                if not self.behave(Exchange(self, conn, path)):
                    return


@contextmanager
def serving(behave: Behaviour) -> Iterator[HostileServer]:
    with HostileServer(behave) as server:
        yield server


def head(status: str = "200 OK", **headers: str) -> bytes:
    fields = {"Content-Type": "application/json", **headers}
    lines = [f"HTTP/1.1 {status}"] + [f"{k.replace('_', '-')}: {v}" for k, v in fields.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def playbook(tmp_path: Path, steps: str, scopes: str = "[basic]") -> str:
    path = tmp_path / "hostile.yml"
    path.write_text(
        "igflow: 1\nsecrets: [IG_TOKEN]\nsteps:\n"
        f'  - authorize: {{scopes: {scopes}, token: "{{{{ env.IG_TOKEN }}}}"}}\n' + steps,
        encoding="utf-8",
    )
    return str(path)


SELF = "  - call: users.self\n"


def run_bounded(path: str, origin: str, *argv: str) -> tuple[int, str, str, float]:
    """The real CLI in-process: (exit code, stdout, stderr, seconds it took)."""
    started = time.monotonic()
    code, out, err = run_cli("run", path, "--target", origin, *argv, environ={"IG_TOKEN": TOKEN})
    return code, out, err, time.monotonic() - started


def assert_clean(code: int, out: str, err: str, seconds: float, expected: int = 4) -> None:
    assert code == expected, f"exit {code}\n{out}\n{err}"
    assert seconds < RUN_BOUND, f"took {seconds:.1f} s"
    for stream in (out, err):
        assert "Traceback" not in stream and "internal error" not in stream, stream
        assert TOKEN not in stream


def run_measured(path: str, origin: str, tmp_path: Path) -> tuple[int, str, int, float]:
    """The CLI as a process of its own: (exit code, stderr, peak RSS in bytes, seconds)."""

    def cap_memory() -> None:  # a regression fails the test, not the machine
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))

    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), "IG_TOKEN": TOKEN}
    argv = [sys.executable, "-m", "igflow", "run", path, "--target", origin]
    argv += ["--journal", str(tmp_path / "journal.jsonl")]
    started = time.monotonic()
    with subprocess.Popen(
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=cap_memory
    ) as process:
        assert process.stderr is not None
        timer = threading.Timer(RUN_BOUND * 3, process.kill)
        timer.start()
        err = process.stderr.read().decode()
        _, status, usage = os.wait4(process.pid, 0)
        timer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, err, usage.ru_maxrss * 1024, time.monotonic() - started


# -- a huge body --------------------------------------------------------------------------


def endless_zeros(exchange: Exchange) -> None:
    block = b"0" * (1 << 20)
    while exchange.send(block):
        pass


def huge_declared(exchange: Exchange) -> bool:
    """Content-Length: 2 GiB, and then that many bytes (or until the client leaves)."""
    if exchange.send(head(Content_Length=str(2 << 30)) + b'{"data": "'):
        endless_zeros(exchange)
    return False


def huge_chunked(exchange: Exchange) -> bool:
    """No length at all: 1 MiB chunks, forever."""
    if not exchange.send(head(Transfer_Encoding="chunked")):
        return False
    chunk = b"100000\r\n" + b"0" * (1 << 20) + b"\r\n"
    while exchange.send(chunk):
        pass
    return False


def test_a_declared_huge_body_is_refused_before_it_is_read(tmp_path: Path) -> None:
    with serving(huge_declared) as server:
        code, err, rss, seconds = run_measured(playbook(tmp_path, SELF), server.origin, tmp_path)
    assert_clean(code, "", err, seconds)
    assert (
        "users.self: the HTTP 200 response is 2 GiB (Content-Length), more than the 64 MiB "
        "--max-response-bytes allows; not read" in err
    ), err
    print(f"peak RSS {rss / 2**20:.0f} MiB")
    assert rss < RSS_BOUND, f"peak RSS {rss / 2**20:.0f} MiB"
    assert len(server.requests) == 1, server.requests  # not retried: the same body would come


def test_an_endless_body_stops_at_the_limit(tmp_path: Path) -> None:
    with serving(huge_chunked) as server:
        code, err, rss, seconds = run_measured(playbook(tmp_path, SELF), server.origin, tmp_path)
    assert_clean(code, "", err, seconds)
    assert (
        "users.self: the HTTP 200 response is larger than the 64 MiB --max-response-bytes "
        "allows; stopped reading" in err
    ), err
    print(f"peak RSS {rss / 2**20:.0f} MiB")
    assert rss < RSS_BOUND, f"peak RSS {rss / 2**20:.0f} MiB"


def test_max_response_bytes_sets_the_limit(tmp_path: Path) -> None:
    body = json.dumps({"meta": {"code": 200}, "data": {"id": "1", "bio": "x" * 5000}}).encode()

    def answer(exchange: Exchange) -> bool:
        return exchange.send(head(Content_Length=str(len(body))) + body)

    with serving(answer) as server:
        path = playbook(tmp_path, SELF)
        code, out, err, seconds = run_bounded(path, server.origin, "--max-response-bytes", "4096")
        assert_clean(code, out, err, seconds)
        assert "more than the 4 KiB --max-response-bytes allows; not read" in err, err
        code, out, err, seconds = run_bounded(path, server.origin, "--max-response-bytes", "8192")
        assert_clean(code, out, err, seconds, expected=0)


# -- a gzip bomb --------------------------------------------------------------------------


def test_a_gzip_bomb_stops_at_the_limit_counted_inflated(tmp_path: Path) -> None:
    # 200 gzip members of 16 MiB of zeros each: 3.1 GiB inflated, about 3 MiB on the wire.
    member = gzip.compress(b"0" * (16 << 20), compresslevel=9)
    members = 200

    def bomb(exchange: Exchange) -> bool:
        size = str(len(member) * members)
        if exchange.send(head(Content_Encoding="gzip", Content_Length=size)):
            for _ in range(members):
                if not exchange.send(member):
                    break
        return False

    with serving(bomb) as server:
        code, err, rss, seconds = run_measured(playbook(tmp_path, SELF), server.origin, tmp_path)
    assert_clean(code, "", err, seconds)
    assert "larger than the 64 MiB --max-response-bytes allows; stopped reading" in err, err
    print(f"peak RSS {rss / 2**20:.0f} MiB")
    assert rss < RSS_BOUND, f"peak RSS {rss / 2**20:.0f} MiB"


# -- trickles -------------------------------------------------------------------------------


def trickled_body(exchange: Exchange) -> bool:
    if exchange.send(head(Content_Length="100000")):
        exchange.trickle(b'{"meta": {"code": 200}, "data": {"id": "' + b"1" * 100000)
    return False


def trickled_headers(exchange: Exchange) -> bool:
    if exchange.send(b"HTTP/1.1 200 OK\r\n"):
        exchange.trickle(b"X-Slow: " + b"a" * 100000)
    return False


@pytest.mark.parametrize("behave", [trickled_body, trickled_headers], ids=["body", "headers"])
def test_a_trickle_ends_at_the_exchange_deadline(tmp_path: Path, behave: Behaviour) -> None:
    with serving(behave) as server:
        path = playbook(tmp_path, SELF)
        code, out, err, seconds = run_bounded(
            path, server.origin, "--timeout", "1", "--retries", "1"
        )
    assert_clean(code, out, err, seconds)
    # connect (at most 5, here 1) + read timeout: 2 s for the whole exchange.
    assert "no complete response within 2s, the most one exchange may take" in err, err
    assert "(connect + read timeout; raise it with --timeout)" in err, err
    assert seconds < 10, f"took {seconds:.1f} s"


def test_a_trickled_read_is_retried_and_still_ends(tmp_path: Path) -> None:
    with serving(trickled_headers) as server:
        path = playbook(tmp_path, SELF)
        code, out, err, seconds = run_bounded(path, server.origin, "--timeout", "1")
    assert_clean(code, out, err, seconds)
    assert len(server.requests) == 3, server.requests  # a read: 3 attempts, each 2 s at most
    assert "no complete response within 2s" in err and "gave up after 3 attempts" in err, err


def test_a_write_to_a_server_that_trickles_everything_is_never_sent(tmp_path: Path) -> None:
    """Before a comment post igflow reads who it posts as and what the media already holds (so
    a lost answer can be checked later); a server that trickles those reads gets no post."""
    steps = '  - call: comments.create\n    with: {media_id: "1_2", text: "nice"}\n'
    with serving(trickled_headers) as server:
        path = playbook(tmp_path, steps, scopes="[basic, comments]")
        code, out, err, seconds = run_bounded(path, server.origin, "--timeout", "1")
    assert_clean(code, out, err, seconds, expected=4)  # the reads before a post failed
    assert "POST" not in server.methods, list(zip(server.methods, server.requests, strict=True))
    assert "no complete response within 2s" in out + err, err
    assert "comments.create not sent" in err, err


# -- pagination that never ends ------------------------------------------------------------


def endless_pages(exchange: Exchange) -> bool:
    """Every page links to a new one: ?page=N+1, forever."""
    page = (
        int(exchange.path.rpartition("page=")[2].split("&")[0] or 0)
        if "page=" in exchange.path
        else 0
    )
    body = json.dumps(
        {
            "meta": {"code": 200},
            "data": [{"id": f"{page}_1"}],
            "pagination": {"next_url": f"/v1/users/self/media/recent?page={page + 1}"},
        }
    ).encode()
    return exchange.send(head(Content_Length=str(len(body))) + body)


PAGES = """\
  - call: users.media_recent_self
    paginate: true
    extract:
      ids: $.data[*].id
"""


def test_an_endless_chain_of_pages_stops_at_the_default_bound(tmp_path: Path) -> None:
    with serving(endless_pages) as server:
        code, out, err, seconds = run_bounded(playbook(tmp_path, PAGES), server.origin)
    assert_clean(code, out, err, seconds)
    assert (
        "users.media_recent_self: stopped after 10,000 pages (the most one paginate follows; "
        "set max_pages to go further or to stop sooner)" in err
    ), err
    assert len(server.requests) == igflow.runner.MAX_PAGES == 10_000


def test_max_pages_past_the_default_bound_is_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(igflow.runner, "MAX_PAGES", 20)  # the bound, made small to be quick
    steps = PAGES.replace("paginate: true", "paginate: {max_pages: 30}")
    with serving(endless_pages) as server:
        code, out, err, seconds = run_bounded(playbook(tmp_path, steps), server.origin)
    assert_clean(code, out, err, seconds, expected=0)
    assert len(server.requests) == 30
