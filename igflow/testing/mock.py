"""``igflow.mock``: requests to the real API hosts answered by an in-process sandbox, no socket.

A decorator, a context manager, and (in the pytest plugin) the ``igflow_mock`` fixture::

    @igflow.mock(api="instagram.v1")
    def test_offline():
        token = igflow.mock.token("grantwinney")
        requests.get("https://api.instagram.com/v1/users/self", params={"access_token": token})

    @igflow.mock(api="instagram.graph")     # graph.instagram.com (and the OAuth hosts)
    def test_offline_graph():
        token = igflow.mock.token("mira.makes", scopes=["instagram_business_basic"])
        requests.get("https://graph.instagram.com/v25.0/me",
                     headers={"Authorization": f"Bearer {token}"})

    with igflow.mock() as sandbox:          # a SandboxHandle: tokens, state, faults, clock
        ...

How: a requests-mock ``Mocker`` (which swaps the transport adapter of every ``requests``
session) with one matcher that hands requests for the profile's hosts to the sandbox app through
:func:`igflow.testing.bridge.call_app`. httplib2, which python-instagram uses, is routed into
requests while the mock is active. Requests to other hosts fail (requests-mock's
``NoMockAddress``) or, with ``unmatched="pass"``, go out to the network.

One mock answers one profile. Two mocks of different profiles cannot be active at once: the
innermost answers every host it routes and fails the others (both route api.instagram.com and
www.instagram.com), so a test that needs v1 and Graph together serves one of them instead.

Not intercepted: urllib, http.client, aiohttp, httpx, pycurl, other processes (anything that
opens its own sockets). Serve a sandbox for those (the ``igflow_sandbox`` fixture) and point the
code at its URL.
"""

from __future__ import annotations

import functools
import importlib.util
import threading
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, overload

from igflow.errors import UsageError
from igflow.testing.profiles import DEFAULT_API, profile

if TYPE_CHECKING:
    import requests

    from igflow.sandbox.config import SandboxConfig
    from igflow.testing.bridge import Httplib2Patch
    from igflow.testing.handle import AppSlot, SandboxHandle

__all__ = ["ApiMock", "MockEntry", "mock"]

F = TypeVar("F", bound=Callable[..., Any])

UNMATCHED = ("fail", "pass")


class ApiMock:
    """One mock of an API profile; start it once (``with``), or decorate functions with it
    (each call then gets a fresh sandbox)."""

    def __init__(
        self,
        api: str = DEFAULT_API,
        *,
        unmatched: str = "fail",
        config: SandboxConfig | None = None,
        **config_fields: Any,
    ) -> None:
        """
        Args:
            api: the API profile whose hosts are answered.
            unmatched: requests to any other host ``"fail"`` (requests-mock's NoMockAddress, a
                requests ConnectionError) or ``"pass"`` (they go out to the network).
            config: the sandbox's config; or give its fields (``era="2018-04-04"``,
                ``clock="fake"``, ``rate_limits="off"``, ``data=PATH``...).
        """
        if unmatched not in UNMATCHED:
            raise UsageError(f"unmatched must be 'fail' or 'pass', not {unmatched!r}")
        self.profile = profile(api)
        self.unmatched = unmatched
        self._config = _config(config, config_fields, graph=self.profile.graph)
        self._slot: AppSlot | None = None
        self._mocker: Any = None
        self._httplib2: Httplib2Patch | None = None
        self.handle: SandboxHandle | None = None

    # ---- starting and stopping -------------------------------------------------------------
    def start(self) -> SandboxHandle:
        import requests_mock

        from igflow.testing.bridge import Httplib2Patch
        from igflow.testing.handle import AppSlot, SandboxHandle

        if self._slot is not None:
            raise UsageError("this igflow.mock is already active")
        slot = AppSlot(self.profile, self._config)
        mocker = requests_mock.Mocker(real_http=self.unmatched == "pass")
        mocker.add_matcher(self._matcher(slot))
        try:
            mocker.start()
            if importlib.util.find_spec("httplib2") is not None:
                patch = Httplib2Patch(self._routes, passthrough=self.unmatched == "pass")
                patch.start()
                self._httplib2 = patch
        except BaseException:
            mocker.stop()
            slot.close()
            raise
        self._slot, self._mocker = slot, mocker
        self.handle = SandboxHandle(slot, self.profile.origin)
        _ACTIVE.push(self)
        return self.handle

    def stop(self) -> None:
        if self._slot is None:
            return
        _ACTIVE.remove(self)
        if self._httplib2 is not None:
            self._httplib2.stop()
            self._httplib2 = None
        self._mocker.stop()
        self._slot.close()
        self._slot = self._mocker = self.handle = None

    def __enter__(self) -> SandboxHandle:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __call__(self, func: F) -> F:
        """Decorate ``func``: each call runs inside a fresh mock with these settings."""
        if not callable(func):
            raise UsageError("igflow.mock(...) decorates a function")
        api, unmatched, config = self.profile.api, self.unmatched, self._config

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with ApiMock(api, unmatched=unmatched, config=config):
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    # ---- routing ---------------------------------------------------------------------------
    def _routes(self, host: str) -> bool:
        return host.lower() in self.profile.hosts

    def _matcher(self, slot: AppSlot) -> Callable[[Any], requests.Response | None]:
        def match(request: Any) -> requests.Response | None:
            import requests
            import requests_mock

            from igflow.testing.bridge import DroppedByApp, call_app

            if not self._routes(request.hostname or ""):
                return None  # not ours: requests-mock fails it, or passes it on
            try:
                answer = call_app(
                    slot, request.method, request.url, dict(request.headers), request.body
                )
            except DroppedByApp as exc:
                raise requests.exceptions.ConnectionError(
                    f"connection to {request.hostname} dropped ({exc})"
                ) from None
            response: requests.Response = requests_mock.create_response(
                request,
                status_code=answer.status,
                reason=answer.reason,
                headers=dict(answer.headers),
                content=answer.body,
            )
            _keep_cookies(response, answer.headers)
            return response

        return match


class _OriginalResponse:
    """What requests reads Set-Cookie from (``raw._original_response.msg``) to fill a
    session's cookie jar; requests-mock leaves it unset, so sessions would forget cookies
    (the sandbox's login and CSRF cookies among them)."""

    def __init__(self, headers: list[tuple[str, str]]) -> None:
        from http.client import HTTPMessage

        self.msg = HTTPMessage()
        for name, value in headers:  # repeated headers (two Set-Cookie) stay two
            self.msg[name] = value

    # urllib3 asks these of the response it wraps; the body is in memory already.
    def isclosed(self) -> bool:
        return True

    def close(self) -> None:
        pass


def _keep_cookies(response: requests.Response, headers: list[tuple[str, str]]) -> None:
    if getattr(response.raw, "_original_response", None) is None:
        response.raw._original_response = _OriginalResponse(headers)


def _config(
    config: SandboxConfig | None, fields: dict[str, Any], *, graph: bool = False
) -> SandboxConfig:
    from dataclasses import replace

    from igflow.sandbox.config import ConfigError, SandboxConfig

    try:
        base = config or SandboxConfig()
        if graph:  # checked now, as a Graph config (a v1-only field is refused here)
            fields = {**fields, "api": "graph"}
        return replace(base, **fields) if fields else base
    except (ConfigError, TypeError) as exc:
        raise UsageError(f"igflow.mock: {exc}") from None


class _ActiveMocks:
    """The mocks started and not yet stopped, innermost last (so ``igflow.mock.token`` can
    find the one a test is inside). Process-wide on purpose: so is what requests-mock patches."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stack: list[ApiMock] = []

    def push(self, item: ApiMock) -> None:
        with self._lock:
            self._stack.append(item)

    def remove(self, item: ApiMock) -> None:
        with self._lock:
            if item in self._stack:
                self._stack.remove(item)

    def innermost(self) -> ApiMock | None:
        with self._lock:
            return self._stack[-1] if self._stack else None


_ACTIVE = _ActiveMocks()


class MockEntry:
    """What ``igflow.mock`` is: call it for an :class:`ApiMock` (or use it bare as a decorator),
    and ask it about the mock a test is in (``igflow.mock.token(...)``, ``igflow.mock.active``).
    """

    @overload
    def __call__(self, func: F, /) -> F: ...
    @overload
    def __call__(
        self,
        func: None = None,
        /,
        *,
        api: str = DEFAULT_API,
        unmatched: str = "fail",
        config: SandboxConfig | None = None,
        **config_fields: Any,
    ) -> ApiMock: ...
    def __call__(self, func: Any = None, /, **options: Any) -> Any:
        if func is not None:
            if options or not callable(func):
                raise UsageError("use igflow.mock(api=...) with keyword arguments")
            return ApiMock()(func)
        return ApiMock(**options)

    @property
    def active(self) -> SandboxHandle:
        """The innermost active mock's sandbox."""
        current = _ACTIVE.innermost()
        if current is None or current.handle is None:
            raise UsageError("no igflow.mock is active (use it as a decorator or a with block)")
        return current.handle

    def token(
        self,
        username: str,
        scopes: Iterable[str] | None = None,
        *,
        client: str = "default",
        kind: str = "long",
    ) -> str:
        """A token from the active mock's sandbox (see :meth:`SandboxHandle.token`): the
        profile's basic scope when none is named (``basic``, ``instagram_business_basic``)."""
        return self.active.token(username, scopes, client=client, kind=kind)


mock = MockEntry()
