"""The igflow pytest plugin (entry point ``pytest11: igflow``): playbooks as tests, and fixtures.

- Collects ``*.igflow.yml`` / ``*.igflow.yaml`` files, and other YAML files whose top level
  says ``igflow: 1``, as one test item per playbook (:mod:`igflow.testing.items`).
- Fixtures: ``igflow_sandbox`` (a sandbox served on a free loopback port for one test),
  ``igflow_sandbox_session`` (one for the session, reset after each test that used it) and
  ``igflow_mock`` (``igflow.mock`` for one test). Configure them with the markers
  ``@pytest.mark.igflow_sandbox(api=..., **config)`` and ``@pytest.mark.igflow_mock(...)``, or
  by overriding ``igflow_sandbox_session_options`` for the session one; ``api`` is
  ``instagram.v1`` (the default) or ``instagram.graph``.

Loaded in every pytest run of an environment where igflow is installed, so it imports nothing
of igflow's until a playbook is collected or a fixture is used (tests/integration/
test_pytest_plugin.py checks it). ``-p no:igflow`` turns it off.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from igflow.testing.handle import SandboxHandle
    from igflow.testing.served import ServedSandbox

_COLLECT_CHOICES = ("auto", "suffix", "off")
_SESSION = pytest.StashKey["ServedSandbox"]()


# ---- options ------------------------------------------------------------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("igflow", "igflow playbooks")
    group.addoption(
        "--igflow-target",
        metavar="URL",
        help="run playbooks against this API origin (default: IGFLOW_TARGET, else the "
        "playbook's own target, else a fresh built-in sandbox per playbook)",
    )
    group.addoption(
        "--igflow-var",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a playbook variable (repeatable; NAME:=JSON for a typed value)",
    )
    group.addoption("--igflow-vars-file", metavar="FILE", help="a YAML mapping of variables")
    group.addoption(
        "--igflow-report",
        action="append",
        default=[],
        metavar="FORMAT:DIR",
        help="also write each playbook's igflow report (json or junit) into DIR",
    )
    group.addoption(
        "--igflow-out-dir",
        metavar="DIR",
        help="where playbooks' `write` steps write (default: a directory per playbook under "
        "pytest's temporary directory, so a test run leaves the project as it was)",
    )
    group.addoption(
        "--igflow-dry-run",
        action="store_true",
        help="perform the reads, report the writes instead of sending them",
    )
    group.addoption(
        "--igflow-yes",
        action="store_true",
        help="answer yes to `confirm: true` steps (else they are refused: no terminal to ask)",
    )
    parser.addini(
        "igflow_collect",
        "which YAML files are playbooks: auto (*.igflow.yml and files that start with "
        "`igflow: 1`), suffix (*.igflow.yml only) or off",
        default="auto",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "igflow: an igflow playbook (added to every one)")
    config.addinivalue_line(
        "markers",
        "igflow_sandbox(api='instagram.v1', **config): the igflow_sandbox fixture's API profile "
        "(instagram.v1 or instagram.graph) and sandbox config (era, clock, rate_limits, data, "
        "generate, faults, ...)",
    )
    config.addinivalue_line(
        "markers",
        "igflow_mock(api='instagram.v1', unmatched='fail', **config): igflow_mock's (api: "
        "instagram.v1 or instagram.graph)",
    )
    mode = config.getini("igflow_collect")
    if mode not in _COLLECT_CHOICES:
        raise pytest.UsageError(
            f"igflow_collect = {mode!r}: expected one of {', '.join(_COLLECT_CHOICES)}"
        )
    given = ("igflow_var", "igflow_vars_file", "igflow_report", "igflow_target")
    if any(config.getoption(name) for name in given):
        # Options given: checked now, so a bad one is a usage error before anything runs
        # (this imports a little of igflow; a run that gives none pays nothing).
        from igflow.testing.items import playbook_options

        playbook_options(config)


# ---- collection ---------------------------------------------------------------------------------
def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if not _is_playbook(file_path, parent.config.getini("igflow_collect")):
        return None
    from igflow.testing.items import PlaybookFile

    collector: pytest.Collector = PlaybookFile.from_parent(parent, path=file_path)
    return collector


def _is_playbook(path: Path, mode: str) -> bool:
    if mode == "off" or not path.name.lower().endswith((".yml", ".yaml")):
        return False
    from igflow.discovery import is_playbook  # stdlib only

    return is_playbook(str(path), by_content=mode == "auto")


# ---- fixtures -----------------------------------------------------------------------------------
def _marker_options(request: pytest.FixtureRequest, name: str) -> dict[str, Any]:
    marker = request.node.get_closest_marker(name)
    if marker is None:
        return {}
    if marker.args:
        raise pytest.UsageError(f"@pytest.mark.{name} takes keyword arguments only")
    return dict(marker.kwargs)


def _serve(options: dict[str, Any]) -> ServedSandbox:
    from dataclasses import replace

    from igflow.errors import IgflowError
    from igflow.sandbox.config import ConfigError, SandboxConfig
    from igflow.testing.profiles import DEFAULT_API
    from igflow.testing.served import serve_sandbox

    options = dict(options)
    api = options.pop("api", DEFAULT_API)
    try:
        base = options.pop("config", None) or SandboxConfig()
        config = replace(base, **options) if options else base
        return serve_sandbox(api, config)
    except (ConfigError, TypeError, IgflowError) as exc:
        raise pytest.UsageError(f"igflow sandbox: {exc}") from None


@pytest.fixture
def igflow_sandbox(request: pytest.FixtureRequest) -> Iterator[ServedSandbox]:
    """A sandbox served on a free loopback port for this test, stopped (thread, socket, files)
    when it ends, passed or failed. ``url``, ``token()``, ``client()``, ``state``, ``clock``,
    ``set_faults()``, ``requests()``, ``load()``, ``reset()``: see igflow.testing.handle."""
    with _serve(_marker_options(request, "igflow_sandbox")) as sandbox:
        yield sandbox


@pytest.fixture(scope="session")
def igflow_sandbox_session_options() -> dict[str, Any]:
    """Override in a conftest.py to configure ``igflow_sandbox_session``: ``api`` and the
    sandbox config's fields (``{"clock": "fake"}``, ``{"era": "2018-04-04"}``...)."""
    return {}


@pytest.fixture(scope="session")
def igflow_sandbox_session(
    request: pytest.FixtureRequest, igflow_sandbox_session_options: dict[str, Any]
) -> Iterator[ServedSandbox]:
    """One served sandbox for the whole session (one per xdist worker), reset to fresh state
    after every test that used it; stopped at the end of the session."""
    with _serve(igflow_sandbox_session_options) as sandbox:
        request.config.stash[_SESSION] = sandbox
        try:
            yield sandbox
        finally:
            del request.config.stash[_SESSION]


@pytest.fixture(autouse=True)
def _igflow_session_reset(request: pytest.FixtureRequest) -> Iterator[None]:
    # After each test that used the session sandbox (directly or through other fixtures):
    # a fresh app behind the same URL, so the next test sees none of this one's writes.
    yield
    if "igflow_sandbox_session" in request.fixturenames:
        sandbox = request.config.stash.get(_SESSION, None)
        if sandbox is not None:
            sandbox.reset()


@pytest.fixture
def igflow_mock(request: pytest.FixtureRequest) -> Iterator[SandboxHandle]:
    """``igflow.mock`` for this test: requests to the API's real hosts are answered in process
    (configure with ``@pytest.mark.igflow_mock(api=..., unmatched=..., **config)``)."""
    from igflow.testing.mock import ApiMock

    with ApiMock(**_marker_options(request, "igflow_mock")) as handle:
        yield handle
