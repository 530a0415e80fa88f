"""Fixtures of the browser tests: one headless Chromium for the whole session, a served sandbox.

Chromium and chromedriver come from Debian's ``chromium`` and ``chromium-driver`` packages
(``.ci/run`` installs them); selenium from the ``test`` extra. Where any of them is missing the
tests skip, saying which. Running as root in a container, Chromium needs ``--no-sandbox``; the
other flags keep it from reaching for the (closed) network, which would stall it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from igflow.sandbox.config import SandboxConfig
from igflow.sandbox.server import RunningSandbox, start_sandbox

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1200,900",
)


def _find(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name) or (name if os.path.isfile(name) else None)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def chrome() -> Iterator[Any]:
    """A headless Chromium driven by selenium, shared by every browser test."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium is not installed (pip install '.[test]')")
    binary = _find("chromium", "/usr/bin/chromium", "chromium-browser", "google-chrome")
    driver_path = _find("chromedriver", "/usr/bin/chromedriver")
    if binary is None or driver_path is None:
        pytest.skip(
            "Chromium or chromedriver is not installed "
            "(apt-get install chromium chromium-driver; .ci/run does this where apt-get exists)"
        )
    profile = tempfile.mkdtemp(prefix="igflow-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    # The driver's path is given, so selenium never runs its manager (which would download).
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with start_sandbox(SandboxConfig(), port=0) as running:
        yield running


class _Catcher(BaseHTTPRequestHandler):
    """Stands in for "http://localhost" of the seed: a page the redirect lands on."""

    def do_GET(self) -> None:
        body = b"<!DOCTYPE html><title>localhost</title><p>This site can't be reached.</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def redirect_uri() -> Iterator[str]:
    """``http://localhost:PORT/``: a redirect target the browser can load (port 80 is closed)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Catcher)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def fresh_browser(chrome: Any, sandbox: RunningSandbox) -> Any:
    """The shared browser on this module's sandbox, with no cookies: each test logs in itself.

    (Cookies do not depend on the port, so another module's session would otherwise carry on.)
    """
    chrome.get(sandbox.url + "/")
    chrome.delete_all_cookies()
    return chrome
