"""A loopback target that answers /_sandbox/clock badly leaves now() on the wall clock, at once:
a broken answer is not an internal error, a trickled one does not hold the run."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

from igflow.target_clock import sandbox_clock


@contextmanager
def serving(answer: Callable[[socket.socket], None]) -> Iterator[str]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    stop = threading.Event()

    def loop() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.recv(4096)
                with suppress(OSError):
                    answer(conn)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def test_a_body_cut_short_is_the_wall_clock() -> None:
    def cut(conn: socket.socket) -> None:
        conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 4000\r\n\r\n{"kind": "fake"')

    with serving(cut) as origin:
        assert sandbox_clock(origin) is None


def test_a_trickled_answer_is_given_up_within_the_deadline() -> None:
    def trickle(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4000\r\n\r\n")
        for _ in range(40):
            conn.sendall(b" ")
            time.sleep(0.25)

    with serving(trickle) as origin:
        started = time.monotonic()
        assert sandbox_clock(origin) is None
        assert time.monotonic() - started < 5  # 2 s deadline, plus one read's timeout at most


def test_a_fake_clock_answer_is_its_time() -> None:
    def fake(conn: socket.socket) -> None:
        body = b'{"kind": "fake", "now": 1500000000}'
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))

    with serving(fake) as origin:
        assert sandbox_clock(origin) == 1500000000.0
