"""Bounds on one HTTP exchange: the most time it may take in all, the most bytes its body may have.

requests bounds each wait for bytes (its ``timeout``), not an exchange: a server that sends a byte
every second keeps one going forever, in its headers or its body, and a server that never stops
sending (or sends a small gzip body that inflates to gigabytes) fills memory. Two bounds close that:

- A **deadline** per exchange (connect, request, headers and body together). One watchdog thread
  holds every exchange's deadline; when one passes, it shuts down that exchange's socket, and
  whatever the blocked read raises then (or the end of file it sees) is reported as a timeout,
  because :attr:`Deadline.expired` says so. Shrinking the socket's timeout to the time left
  before each read would need a hook in every ``recv`` of http.client's buffered reader (and is
  lost under TLS, which wraps the socket in its own object); the watchdog needs only to know the
  socket, which the connection classes here record as they send. Its cost per exchange is a heap
  push and a thread-local write, not a thread (a ``threading.Timer`` per request would be).
- A **size limit**, counted on the decompressed body as it streams in (:func:`read_body`), so a
  gzip bomb stops at the limit; a ``Content-Length`` above it is refused before anything is read.

Sessions get the deadline machinery through :func:`bounded_session` (connection pools whose
connections record their socket). A session without it (a test's mock adapter, a SOCKS proxy)
still has its deadline checked between body chunks, just not inside one blocked read.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import socket
import threading
import time
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "BodyTooLarge",
    "Deadline",
    "DeadlinePassed",
    "begin",
    "bounded_session",
    "end",
    "read_body",
    "show_bytes",
]

from igflow.settings import DEFAULT_MAX_RESPONSE_BYTES  # noqa: E402  (one definition)

# Read size: small enough that one read never inflates far past the limit (urllib3 >= 2.6 caps
# the decompressed output of a read at the size asked; older ones at ~1000x the bytes read).
_CHUNK = 64 * 1024

# Guards which exchange owns a connection, and the watchdog's heap (one lock: the watchdog checks
# the owner and shuts the socket down as one step, so it can never hit the next user of a
# connection that went back to the pool in between).
_LOCK = threading.Lock()
_current = threading.local()  # the deadline of the exchange this thread is sending


class Deadline:
    """One exchange's deadline; ``expired`` once the watchdog saw it pass."""

    __slots__ = ("at", "conn", "done", "expired", "seconds", "sock")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.expired = False
        self.done = False
        self.conn: Any = None  # the urllib3 connection sending it, once known
        self.sock: Any = None  # its socket, once the request is sent

    def __lt__(self, other: Deadline) -> bool:  # heap ties: never compared in practice
        return self.at < other.at


class DeadlinePassed(Exception):
    """The deadline passed between two body chunks (no socket was shut down to say so)."""


class BodyTooLarge(Exception):
    """The body has more than ``limit`` bytes (``declared``: Content-Length's, when it said so)."""

    def __init__(self, limit: int, declared: int | None = None) -> None:
        super().__init__(limit, declared)
        self.limit = limit
        self.declared = declared


def show_bytes(count: int) -> str:
    """``64 MiB``, ``1.5 GiB``, ``512 bytes``."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= size:
            return f"{count / size:.1f}".removesuffix(".0") + f" {unit}"
    return f"{count} bytes"


class _Watchdog:
    """One daemon thread that expires deadlines, started with the first one."""

    def __init__(self) -> None:
        self._wake = threading.Condition(_LOCK)
        self._heap: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        self._until = float("inf")  # when the thread wakes next, unless notified

    def arm(self, deadline: Deadline) -> None:
        with self._wake:
            heap = self._heap
            # Exchanges end long before their deadlines: drop the finished ones on top here, so
            # the heap holds about as many entries as there are exchanges in flight.
            while heap and heap[0][2].done:
                heapq.heappop(heap)
            heapq.heappush(heap, (deadline.at, next(self._order), deadline))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="igflow-deadlines", daemon=True
                )
                self._thread.start()
            elif deadline.at < self._until:
                # Only then: waking the thread for every exchange would cost a thread switch
                # each (about a tenth of a small request); a later deadline waits its turn.
                self._wake.notify()

    def _run(self) -> None:
        heap = self._heap
        with self._wake:
            while True:
                while heap and heap[0][2].done:
                    heapq.heappop(heap)
                if not heap:
                    self._until = float("inf")
                    self._wake.wait()
                    continue
                self._until = heap[0][0]
                left = self._until - time.monotonic()
                if left > 0:
                    self._wake.wait(left)
                    continue
                _, _, deadline = heapq.heappop(heap)
                deadline.expired = True
                conn = deadline.conn
                if conn is not None and getattr(conn, "_igflow_owner", None) is deadline:
                    _shut(deadline.sock if deadline.sock is not None else conn.sock)


_WATCHDOG = _Watchdog()


def _shut(sock: Any) -> None:
    """Shut a socket down: a read blocked on it in another thread returns at once.

    ``shutdown`` rather than ``close``: closing does not wake a blocked ``recv`` on Linux. The
    plain socket's method even for a TLS socket, whose own would first drop its TLS state
    under the reading thread's feet.
    """
    if isinstance(sock, socket.socket):
        # OSError: already closed or never connected, so nothing is blocked on it.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


def begin(seconds: float) -> Deadline:
    """Start an exchange's deadline on this thread; end it with :func:`end`."""
    deadline = Deadline(seconds)
    _WATCHDOG.arm(deadline)
    _current.deadline = deadline
    return deadline


def end(deadline: Deadline) -> None:
    """The exchange is over (its body read, or abandoned): the watchdog forgets it."""
    deadline.done = True
    _current.deadline = None


def read_body(response: requests.Response, limit: int, deadline: Deadline) -> bytes:
    """Read a streamed response's body, decompressed, into ``response.content``.

    Raises:
        BodyTooLarge: Content-Length says more than ``limit`` (nothing read), or the body went
            past it (reading stopped there).
        DeadlinePassed: The deadline passed while the body was coming in.
    """
    if not response.headers.get("Content-Encoding"):
        declared = _content_length(response.headers.get("Content-Length"))
        if declared is not None and declared > limit:
            raise BodyTooLarge(limit, declared)
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
        if deadline.expired:
            raise DeadlinePassed
    if deadline.expired:  # also after the loop: a shut-down socket reads as the end of the body
        raise DeadlinePassed
    content = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    response._content = content
    response._content_consumed = True  # type: ignore[attr-defined]
    return content


def _content_length(value: str | None) -> int | None:
    text = (value or "").strip()
    return int(text) if text.isascii() and text.isdigit() else None


# -- connections that tell the watchdog their socket -----------------------------------------


def _claim(conn: Any) -> None:
    """The connection starts sending this thread's exchange (if it has a deadline)."""
    deadline = getattr(_current, "deadline", None)
    with _LOCK:
        conn._igflow_owner = deadline
    if deadline is not None:
        deadline.conn = conn


def _note_socket(conn: Any) -> None:
    """The request is sent: remember the socket the response will be read from.

    http.client drops the connection's reference to it when the response says
    ``Connection: close``, but keeps reading the body from it.
    """
    with _LOCK:
        deadline = getattr(conn, "_igflow_owner", None)
        if deadline is not None:
            deadline.sock = conn.sock
            if deadline.expired:  # it passed while connecting or sending: do not start reading
                _shut(conn.sock)


def _release(conn: Any) -> None:
    if conn is not None:
        with _LOCK:
            conn._igflow_owner = None


class _HTTPConnection(HTTPConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _claim(self)
        super().request(*args, **kwargs)

    def getresponse(self) -> Any:
        _note_socket(self)
        return super().getresponse()


class _HTTPSConnection(HTTPSConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _claim(self)
        super().request(*args, **kwargs)

    def getresponse(self) -> Any:
        _note_socket(self)
        return super().getresponse()


class _HTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection

    def _put_conn(self, conn: Any) -> None:
        _release(conn)  # back in the pool: no deadline of the last exchange may touch it now
        super()._put_conn(conn)


class _HTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection

    def _put_conn(self, conn: Any) -> None:
        _release(conn)
        super()._put_conn(conn)


def _install(manager: Any) -> None:
    manager.pool_classes_by_scheme = {"http": _HTTPConnectionPool, "https": _HTTPSConnectionPool}


class _BoundedAdapter(HTTPAdapter):
    """requests' adapter, with pools whose connections tell the watchdog their socket."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        _install(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if type(manager) is urllib3.ProxyManager:  # a SOCKS manager's pools are its own
            _install(manager)
        return manager


def bounded_session(session: requests.Session) -> requests.Session:
    """``session``, its http(s) adapters replaced by ones whose deadlines cut blocked reads."""
    session.mount("https://", _BoundedAdapter())
    session.mount("http://", _BoundedAdapter())
    return session
