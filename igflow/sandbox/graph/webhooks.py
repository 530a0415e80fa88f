"""Webhooks (§7): the verification handshake and signed notifications to a loopback callback.

Delivery runs on one background thread with a bounded queue: the request that caused a
notification never waits for it. Each notification gets one attempt with a bounded timeout (no
retry storm); the outcome is recorded for ``GET /_sandbox/graph/webhooks``. Callbacks must be
on loopback: the sandbox never sends anything off the machine.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
import json
import logging
import queue
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests

log = logging.getLogger("igflow.sandbox")
_LOOPBACK_NAMES = ("localhost", "localhost.")


class WebhookError(ValueError):
    """A subscription that cannot be made (bad URL, failed handshake)."""


def check_callback(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookError("callback_url must be an http(s) URL")
    host = parts.hostname.lower()
    if host not in _LOOPBACK_NAMES:
        try:
            if not ipaddress.ip_address(host).is_loopback:
                raise WebhookError("callback_url must be on loopback (127.0.0.1, ::1, localhost)")
        except ValueError:
            raise WebhookError(
                "callback_url must be on loopback (127.0.0.1, ::1, localhost)"
            ) from None
    return url


def signature(secret: str, body: bytes) -> str:
    """``X-Hub-Signature-256``: ``sha256=`` + hex HMAC-SHA256 of the raw body (app secret)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_handshake(url: str, verify_token: str, timeout: float) -> None:
    """GET the callback with hub.mode/hub.challenge/hub.verify_token; it must echo the challenge.

    Runs on a helper thread joined with a deadline: a callback that trickles its answer cannot
    hold the request thread longer than about twice the timeout.
    """
    challenge = str(secrets.randbelow(10**9))
    query = urlencode(
        {"hub.mode": "subscribe", "hub.challenge": challenge, "hub.verify_token": verify_token}
    )
    target = url + ("&" if "?" in url else "?") + query
    outcome: list[tuple[int, str] | str] = []

    def attempt() -> None:
        try:
            with requests.get(
                target, timeout=(timeout, timeout), allow_redirects=False, stream=True
            ) as response:
                body = response.raw.read(200, decode_content=True)
                outcome.append((response.status_code, body.decode("utf-8", "replace").strip()))
        except (requests.RequestException, OSError) as exc:
            outcome.append(type(exc).__name__)

    worker = threading.Thread(target=attempt, name="igflow-graph-handshake", daemon=True)
    worker.start()
    worker.join(timeout * 2 + 0.5)
    if not outcome:
        raise WebhookError("callback verification failed: the callback did not answer in time")
    result = outcome[0]
    if isinstance(result, str):
        raise WebhookError(f"callback verification failed: {result}")
    status, text = result
    if status != 200 or text != challenge:
        raise WebhookError(
            f"callback verification failed: answered HTTP {status} without the challenge"
        )


@dataclass
class Delivery:
    id: int
    url: str
    field: str
    body: bytes
    secret: str
    status: int | None = None
    error: str | None = None
    state: str = "queued"  # queued | delivered | failed | dropped
    time: float = 0.0

    def record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "field": self.field,
            "state": self.state,
            "status": self.status,
            "error": self.error,
            "payload": json.loads(self.body),
        }


class Dispatcher:
    """Sends notifications from a daemon thread; ``close()`` stops it within one timeout."""

    def __init__(self, timeout: float, queue_max: int, log_max: int) -> None:
        self.timeout = timeout
        self._queue: queue.Queue[Delivery | None] = queue.Queue(maxsize=queue_max)
        self._log: deque[Delivery] = deque(maxlen=log_max)
        self._lock = threading.Lock()
        self._count = 0
        self._thread: threading.Thread | None = None
        self._closed = False

    def send(self, url: str, field: str, payload: dict[str, Any], secret: str) -> Delivery:
        body = json.dumps(payload, separators=(",", ":")).encode()
        with self._lock:
            self._count += 1
            delivery = Delivery(self._count, url, field, body, secret, time=time.time())
            self._log.append(delivery)
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(
                    target=self._run, name="igflow-graph-webhooks", daemon=True
                )
                self._thread.start()
        try:
            self._queue.put_nowait(delivery)
        except queue.Full:
            delivery.state = "dropped"
            delivery.error = "queue full"
            log.info("sandbox webhook %s dropped: queue full", delivery.id)
        return delivery

    def records(self) -> list[dict[str, Any]]:
        with self._lock:
            return [d.record() for d in self._log]

    def _run(self) -> None:
        while True:
            delivery = self._queue.get()
            if delivery is None:
                return
            self._deliver(delivery)

    def _deliver(self, delivery: Delivery) -> None:
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": signature(delivery.secret, delivery.body),
            "User-Agent": "facebookexternalua",
        }
        try:
            response = requests.post(
                delivery.url,
                data=delivery.body,
                headers=headers,
                timeout=(self.timeout, self.timeout),
                allow_redirects=False,
                stream=True,  # the answer's body is never read: only its status counts
            )
            response.close()
            delivery.status = response.status_code
            delivery.state = "delivered" if 200 <= response.status_code < 300 else "failed"
        except requests.RequestException as exc:
            delivery.state = "failed"
            delivery.error = type(exc).__name__

    def close(self) -> None:
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is not None:
            with contextlib.suppress(queue.Full):
                self._queue.put_nowait(None)
            thread.join(timeout=1.0)  # a delivery in flight is abandoned at shutdown
