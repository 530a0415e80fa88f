"""The settings of a run, frozen: what the command line (or a test, or a plugin) decided.

:class:`RunSettings` is everything :func:`igflow.compose.run_playbook` needs to put a run
together; its :class:`ClientSettings` is everything every HTTP client of the run shares
(timeouts, retries, rate-limit policy, response bound), handed down as one value instead of a
dozen arguments at each layer. :class:`ClientHooks` are the callbacks and seams that go with it
(console notices, the sleep tests replace). Nothing here imports requests, Jinja or YAML.

They are NamedTuples, not frozen dataclasses: as immutable, and about a tenth of the cost to
define, which every ``igflow`` command pays at start-up (bench/startup.py, bench/overhead.py).
``settings._replace(field=value)`` makes a changed copy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from igflow.client import Exchange, RetryReporter
    from igflow.pacing import WaitReporter
    from igflow.reporters import ReportSpec
    from igflow.retry import RetrySettings

__all__ = ["ClientHooks", "ClientSettings", "RunSettings", "Timeouts"]

# The most bytes one response body may have, decompressed (--max-response-bytes).
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024


class Timeouts(NamedTuple):
    """Connect and read timeouts in seconds; every request carries both, so nothing hangs.

    ``read`` bounds each wait for bytes from the server (requests' semantics), not the whole
    response: a server that keeps trickling bytes could take forever. ``total`` bounds the whole
    exchange (connect, headers, body: see :mod:`igflow.bounded`); connect + read when None.
    """

    connect: float = 5.0
    read: float = 30.0
    total: float | None = None

    @property
    def deadline(self) -> float:
        """The most seconds one exchange may take in all."""
        return self.total if self.total is not None else self.connect + self.read

    @classmethod
    def for_read(cls, read: float | None) -> Timeouts:
        """``--timeout SECONDS`` (or a step's ``timeout``): that read timeout, connect at most 5."""
        if read is None:
            return cls()
        return cls(connect=min(5.0, read), read=read)


class ClientSettings(NamedTuple):
    """What every HTTP client of a run shares.

    ``retry``: the retry settings of calls that give none (a ``RetrySpec``; 3 attempts when
    None). ``rate_limit_policy``: ``halt`` or ``wait`` on a spent rate limit; with ``wait``,
    ``rate_limit_wait`` seconds between tries (None: 60) and at most ``rate_limit_max_wait``
    seconds for one call (None: 3600).
    """

    timeouts: Timeouts = Timeouts()
    retry: RetrySettings | None = None
    rate_limit_policy: str = "halt"
    rate_limit_wait: float | None = None
    rate_limit_max_wait: float | None = None
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES


class ClientHooks(NamedTuple):
    """Callbacks and seams: told from whichever thread sent the request (loop workers too).

    ``on_exchange(exchange)`` after each exchange (``-v``); ``on_retry(attempt, delay,
    message)`` before each retry; ``on_rate_limit_wait(seconds_left, message)`` during waits;
    ``sleep`` replaces ``time.sleep`` (tests); ``random_source`` the retry jitter's floats.
    """

    on_exchange: Callable[[Exchange], None] | None = None
    on_retry: RetryReporter | None = None
    on_rate_limit_wait: WaitReporter | None = None
    sleep: Callable[[float], None] | None = None
    random_source: Callable[[], float] | None = None


class RunSettings(NamedTuple):
    """One ``igflow run``: the playbook, where it goes, what may be written, how to report."""

    playbook: str
    variables: Mapping[str, Any] = MappingProxyType({})
    vars_file: str | None = None  # where the variables came from (it is never overwritten)
    # Variables whose values are redacted as the playbook's `secrets:` are (IGFLOW_SECRET_x).
    secret_variables: frozenset[str] = frozenset()
    target: str | None = None  # None: the playbook's own, else the built-in sandbox
    api_version: str | None = None  # Graph: --api-version (None: the playbook's, else pinned)
    sandbox_data: str | None = None  # a dataset for the built-in sandbox (--sandbox-data)
    client: ClientSettings = ClientSettings()
    # Unset: the playbook's `on_rate_limit`, else halt (client.rate_limit_policy is ignored).
    rate_limit_policy: str | None = None
    reports: tuple[ReportSpec, ...] = ()
    out_dir: str | None = None  # where `write` steps write (None: the playbook's directory)
    # Safe writes
    dry_run: bool = False
    max_writes: int | None = None
    assume_yes: bool = False  # --yes: `confirm: true` steps need no answer
    resume: bool = False
    force: bool = False
    journal: str | None = None  # None: .igflow/journals/<playbook>-<hash>.jsonl here
    # The console
    verbosity: int = 0  # -1 quiet, 0 normal, 1 verbose (HTTP exchanges)
    color: str = "auto"  # auto | always | never
    traceback: bool = False
