"""The HTTP client: the one module (with auth.py for OAuth) that talks to the API.

One call goes through three stages, kept apart so each can be tested and wrapped:

    call()/get_next()  ->  _PreparedCall   (URL, auth params, form body, ``sig``; no I/O)
    _send(prepared)    ->  ApiResponse      (one HTTP exchange; typed errors; no retries)
    read_response(...)                      (status + body -> ApiResponse or a typed ApiError)

The last stage lives in :mod:`igflow.responses` (with ApiResponse, RateLimitInfo and Exchange,
re-exported here), and the translation of network exceptions in :mod:`igflow.transport_errors`.

:meth:`ApiClient._send_with_policy` wraps ``_send``: a prepared call is immutable (already
signed) and is sent again as it is. ``_send`` raises only igflow errors, whose class tells the
retry policy (:mod:`igflow.retry`) whether the attempt may be retried; every attempt first asks
the pacer (:mod:`igflow.pacing`) whether to hold back, and tells it the rate-limit headers after.
A spent rate limit (429) halts or waits, as ``rate_limit_policy`` says.

Hooks for the console (called from whichever thread sent the request, loops' workers included):
``on_retry(attempt, delay, message)`` before each retry, ``on_rate_limit_wait(seconds_left,
message)`` during each rate-limit wait (see :func:`igflow.pacing.countdown`). Messages are
redacted.

Secrets: every URL, body and exception text leaving this module goes through the Redactor.

Length: over 400 lines: one class whose stages (prepare, send with the retry and rate-limit
policies, read) are kept apart as methods; the policies themselves live in retry.py, pacing.py
and bounded.py.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

import requests

from igflow import __version__
from igflow.bounded import (
    BodyTooLarge,
    DeadlinePassed,
    begin,
    bounded_session,
    end,
    read_body,
)
from igflow.errors import (
    ApiError,
    AuthenticationError,
    ConnectError,
    IgflowError,
    MalformedResponse,
    RateLimitError,
    SafetyError,
    TransportError,
    UsageError,
    printable,
)
from igflow.fields import render_list
from igflow.pacing import (
    GLOBAL_BUCKET,
    RATE_LIMIT_MAX_WAIT,
    RATE_LIMIT_POLICIES,
    RATE_LIMIT_WAIT,
    Pacer,
    check_rate_limit_settings,
    countdown,
)
from igflow.redact import Redactor
from igflow.registry import Endpoint, Registry
from igflow.responses import (
    EXCHANGE_BODY_CHARS,
    SNIPPET_CHARS,
    ApiResponse,
    Exchange,
    RateLimitInfo,
    build_exchange,
    read_response,
)
from igflow.retry import RetryDecision, RetrySettings, decide, retry_after
from igflow.settings import ClientHooks, ClientSettings, Timeouts
from igflow.signing import appsecret_proof, sign
from igflow.target import normalize_origin
from igflow.transport_errors import (
    TRANSPORT_EXCEPTIONS,
    deadline_error,
    map_transport_error,
    too_large_error,
)

if TYPE_CHECKING:
    from igflow.playbook.model import RetrySpec

__all__ = [
    "CLIENT_ID_PARAM",
    "CLIENT_SECRET_PARAM",
    "EXCHANGE_BODY_CHARS",
    "SNIPPET_CHARS",
    "ApiClient",
    "RATE_LIMIT_POLICIES",
    "ApiResponse",
    "Exchange",
    "RateLimitInfo",
    "RetryReporter",
    "Timeouts",
    "render_value",
]

CLIENT_ID_PARAM = "client_id"
CLIENT_SECRET_PARAM = "client_secret"
_FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_DEFAULT_SETTINGS = ClientSettings()
_NO_HOOKS = ClientHooks()


class RetryReporter(Protocol):
    """``on_retry(attempt, delay, message)``: attempt ``attempt`` failed; next in ``delay`` s."""

    def __call__(self, attempt: int, delay: float, message: str) -> None: ...


def _sleep(seconds: float) -> None:
    """The clients' default sleep, looked up when a client is built (tests can replace it)."""
    time.sleep(seconds)


def _default_retry() -> RetrySpec:
    # Imported here: igflow.playbook pulls in the YAML, Jinja and JSON Schema stack, which the
    # client itself does not need (and `igflow --help` must not load).
    from igflow.playbook.model import RetrySpec

    return RetrySpec()


_NO_HEADERS: Mapping[str, str] = MappingProxyType({})


class _PreparedCall(NamedTuple):
    """Everything needed to send (or resend) one request; the URL and body hold secrets."""

    endpoint: Endpoint
    method: str
    url: str
    body: str | None
    headers: Mapping[str, str] = _NO_HEADERS
    # Which rate-limit budget the request draws on (see igflow.pacing); never shown anywhere.
    budget: str = GLOBAL_BUCKET


def render_value(value: Any) -> str:
    """Render a parameter value the way v1 expects it on the wire.

    Args:
        value: A templated parameter value (not None).

    Returns:
        ``"true"``/``"false"`` for booleans, ``str()`` for everything else.
    """
    if isinstance(value, bool):  # before int: bool is an int subclass
        return "true" if value else "false"
    return str(value)


def _origin_key(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) with default ports filled in; None for an unparsable URL."""
    try:
        parts = urlsplit(url)
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname or port is None:
        return None
    return parts.scheme, parts.hostname.lower(), port


class ApiClient:
    """Sends registry endpoints to one target origin over a reused requests.Session.

    Every call goes through the retry policy (:func:`igflow.retry.decide`: a refused connection
    always; timeouts, dropped connections and 5xx only for reads and idempotent writes; never
    anything else), the pacer, and the rate-limit policy. :meth:`_send` itself is one exchange.
    A client may be used from several threads at once (a loop's concurrent items).
    """

    def __init__(
        self,
        registry: Registry,
        origin: str,
        *,
        redactor: Redactor,
        settings: ClientSettings = _DEFAULT_SETTINGS,
        hooks: ClientHooks = _NO_HOOKS,
        client_id: str | None = None,
        client_secret: str | None = None,
        sign_requests: bool = False,
        session: requests.Session | None = None,
        pacer: Pacer | None = None,
        user_agent: str = f"igflow/{__version__}",
    ) -> None:
        """Create a client.

        Args:
            registry: The API profile; gives the token and ``sig`` parameter names.
            origin: Target origin, e.g. ``http://127.0.0.1:8765`` (no path).
            redactor: Shared redactor; the client secret and tokens used are added to it.
            settings: Timeouts, retries, the rate-limit policy and the response bound, shared by
                every client of a run (:class:`igflow.settings.ClientSettings`).
            hooks: ``on_exchange`` (a redacted :class:`Exchange` after each exchange),
                ``on_retry``, ``on_rate_limit_wait``, ``sleep`` and ``random_source``
                (:class:`igflow.settings.ClientHooks`).
            client_id: Client id, for ``auth: client`` endpoints.
            client_secret: Client secret, for ``auth: client`` endpoints and signing.
            sign_requests: Add ``sig`` to every call that carries a token or client id.
            session: A Session to reuse (the run's; tests inject one); a new one otherwise.
            pacer: The pacer to share (one per run: TargetSession passes its own); a new one
                using the hooks' ``sleep`` and ``on_rate_limit_wait`` when None.
            user_agent: The User-Agent header.

        Raises:
            UsageError: The origin is not an http(s) origin, signing lacks a client secret, or
                a rate-limit setting is not valid.
        """
        if sign_requests and not client_secret:
            raise UsageError(
                "signed requests need the client secret (sign_requests without client_secret)"
            )
        rate_limit_wait = (
            RATE_LIMIT_WAIT if settings.rate_limit_wait is None else settings.rate_limit_wait
        )
        rate_limit_max_wait = (
            RATE_LIMIT_MAX_WAIT
            if settings.rate_limit_max_wait is None
            else settings.rate_limit_max_wait
        )
        check_rate_limit_settings(settings.rate_limit_policy, rate_limit_wait, rate_limit_max_wait)
        self.registry = registry
        self.origin = normalize_origin(origin)
        self._origin_key = _origin_key(self.origin)
        self.redactor = redactor
        self.settings = settings
        self.timeouts = settings.timeouts
        self.client_id = client_id
        self.client_secret = client_secret
        self.sign_requests = sign_requests
        self.session = session if session is not None else bounded_session(requests.Session())
        self.max_response_bytes = settings.max_response_bytes
        self.on_exchange = hooks.on_exchange
        self._headers = {"User-Agent": user_agent, "Accept": "application/json"}
        self._form_headers = {**self._headers, "Content-Type": _FORM_CONTENT_TYPE}
        self._known_token: str | None = None
        # (token, its budget key), replaced as one value: loop workers read it concurrently.
        self._known_caller: tuple[str, str] | None = None
        self.retry: RetrySettings = (
            settings.retry if settings.retry is not None else _default_retry()
        )
        self.rate_limit_policy = settings.rate_limit_policy
        self.rate_limit_wait = rate_limit_wait
        self.rate_limit_max_wait = rate_limit_max_wait
        self.on_retry = hooks.on_retry
        self.on_rate_limit_wait = hooks.on_rate_limit_wait
        self._sleep = hooks.sleep if hooks.sleep is not None else _sleep
        self._random = hooks.random_source if hooks.random_source is not None else random.random
        self.pacer = pacer if pacer is not None else pacer_for(registry, self._sleep, hooks)
        redactor.add_all((client_secret,))

    def close(self) -> None:
        """Close the session's pooled connections."""
        self.session.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- public calls ------------------------------------------------------------------------

    def call(
        self,
        endpoint: Endpoint,
        params: Mapping[str, Any],
        *,
        token: str | None,
        timeout: Timeouts | None = None,
        retry: RetrySettings | None = None,
    ) -> ApiResponse:
        """Send one endpoint call and return its parsed response, retrying when that is safe.

        Args:
            endpoint: The registry endpoint.
            params: Parameter values by name; None values are omitted.
            token: The access token (required for ``auth: token`` endpoints).
            timeout: Per-call timeouts; the client default when None.
            retry: The step's retry settings; the client's default when None.

        Returns:
            The successful response.

        Raises:
            AuthenticationError: No token (or no client credentials); nothing was sent.
            ApiError: The API answered with an error (a subclass named after its error_type).
            OAuthError: An OAuth-style error body with error_type OAuthException.
            TransportError: The exchange failed (ConnectError, RequestTimeout, ...), after the
                retries the policy allowed; the message says how many attempts were made.
        """
        return self._send_with_policy(self._prepare(endpoint, params, token), timeout, retry)

    def get_next(
        self,
        url: str,
        *,
        endpoint: Endpoint,
        token: str | None,
        timeout: Timeouts | None = None,
        retry: RetrySettings | None = None,
    ) -> ApiResponse:
        """Follow a pagination ``next_url`` of ``endpoint``, retrying when that is safe.

        The link is followed only on the client's own origin, since it carries (or would be given)
        the access token. A stale ``sig`` is replaced when signing is on, and the current token is
        added when the link lacks one.

        Args:
            url: The ``next_url`` from the previous page (absolute, or relative to the origin).
            endpoint: The endpoint the pages belong to.
            token: The current access token.
            timeout: Per-call timeouts; the client default when None.
            retry: The step's retry settings; the client's default when None.

        Returns:
            The next page.

        Raises:
            SafetyError: The link points at another origin (it is not followed).
            AuthenticationError: No token for a token endpoint; nothing was sent.
            ApiError, TransportError: As for :meth:`call`.
        """
        try:
            absolute = urljoin(self.origin + "/", url)
        except ValueError:  # e.g. "http://[::1": not a URL at all
            raise MalformedResponse(
                f"{endpoint.id}: the next page link is not a URL: "
                f"{printable(self.redactor.redact(url))[:200]}"
            ) from None
        if _origin_key(absolute) != self._origin_key:
            raise SafetyError(
                f"{endpoint.id}: the next_url points at another origin "
                f"({printable(self.redactor.redact(absolute))}, expected {self.origin}) and was "
                "not followed: "
                "the access token would leak to it"
            )
        parts = urlsplit(absolute)
        query = [
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if k != self.registry.sign_param
        ]
        present = {k for k, _ in query}
        # The link usually repeats the caller's auth parameters; add them only when it does not.
        if not present.issuperset(self._auth_names(endpoint)):
            query = [(k, v) for k, v in query if k not in self._auth_names(endpoint)]
            query.extend(self._auth_params(endpoint, token))
        if self._bearer(endpoint):
            # Graph's links repeat the token when it was sent as a parameter (and a hostile
            # one might add it): it is dropped, and travels in the header instead.
            query = [(k, v) for k, v in query if k != self.registry.token_param]
            self._auth_params(endpoint, token)  # no token: refused here, nothing sent
            headers = {**self._headers, "Authorization": f"Bearer {token}"}
        else:
            headers = self._headers
        sig = self._sig_pair(endpoint, self._path_after_prefix(endpoint, parts.path), query, token)
        if sig is not None:
            query.append(sig)
        # Rebuilt on the client's own spelling of the origin: same origin, canonical form.
        target = self.origin + parts.path + ("?" + urlencode(query) if query else "")
        prepared = _PreparedCall(
            endpoint,
            endpoint.method.upper(),
            target,
            None,
            headers,
            self._budget(endpoint, token),
        )
        return self._send_with_policy(prepared, timeout, retry)

    # -- preparing ---------------------------------------------------------------------------

    def _prepare(
        self, endpoint: Endpoint, params: Mapping[str, Any], token: str | None
    ) -> _PreparedCall:
        method = endpoint.method.upper()
        path = self._build_path(endpoint, params)
        query, form = self._split_params(endpoint, method, params)
        auth = self._auth_params(endpoint, token)
        # v1: official clients sent the token in the body for POST and in the URL otherwise;
        # `sig` covers every parameter sent (query and form) and travels with the auth
        # parameters. Graph (placement "bearer"): the token goes in a header, never in a URL.
        carrier = form if method in _BODY_METHODS else query
        headers = self._form_headers if method in _BODY_METHODS else self._headers
        if self._bearer(endpoint):
            headers = {**headers, "Authorization": f"Bearer {token}"}
        else:
            carrier.extend(auth)
        sig = self._sig_pair(endpoint, path, [*query, *form] if carrier is form else query, token)
        if sig is not None:
            carrier.append(sig)
        url = self.origin + endpoint.prefix + path
        if query:
            url += "?" + urlencode(query)
        budget = self._budget(endpoint, token)
        body = urlencode(form) if method in _BODY_METHODS else None
        return _PreparedCall(endpoint, method, url, body, headers, budget)

    def _bearer(self, endpoint: Endpoint) -> bool:
        """The token travels in the Authorization header (Graph), not as a parameter."""
        return endpoint.auth == "token" and self.registry.token_placement == "bearer"

    @staticmethod
    def _build_path(endpoint: Endpoint, params: Mapping[str, Any]) -> str:
        missing = [name for name in endpoint.path_params if params.get(name) is None]
        if missing:
            names = ", ".join(missing)
            raise UsageError(f"{endpoint.id}: missing path parameter(s) {names}")
        return endpoint.build_path(
            {name: render_value(params[name]) for name in endpoint.path_params}
        )

    @staticmethod
    def _split_params(
        endpoint: Endpoint, method: str, params: Mapping[str, Any]
    ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """(query, form) pairs. Undeclared names go where the method puts parameters."""
        default = "form" if method in _BODY_METHODS else "query"
        query: list[tuple[str, str]] = []
        form: list[tuple[str, str]] = []
        for name, value in params.items():
            spec = endpoint.params.get(name)
            where = spec.location if spec is not None else default
            if value is None or where == "path":
                continue
            if spec is not None and spec.type == "list":
                try:
                    text = render_list(value)
                except ValueError as exc:
                    raise UsageError(f"{endpoint.id}: {name}: {exc}") from None
            else:
                text = render_value(value)
            (form if where == "form" else query).append((name, text))
        return query, form

    def _auth_params(self, endpoint: Endpoint, token: str | None) -> list[tuple[str, str]]:
        if endpoint.auth == "token":
            if not token:
                raise AuthenticationError(
                    f"no access token: add an `authorize` step before calling {endpoint.id}"
                )
            self._remember_token(token)
            if self.registry.token_placement == "bearer":
                return []  # in the Authorization header (see _prepare)
            return [(self.registry.token_param, token)]
        if endpoint.auth == "client":
            if not (self.client_id and self.client_secret):
                raise AuthenticationError(
                    f"no client credentials: {endpoint.id} needs a client_id and client_secret"
                )
            return [(CLIENT_ID_PARAM, self.client_id), (CLIENT_SECRET_PARAM, self.client_secret)]
        return []

    def _auth_names(self, endpoint: Endpoint) -> tuple[str, ...]:
        if endpoint.auth == "token":
            if self.registry.token_placement == "bearer":
                return ()
            return (self.registry.token_param,)
        if endpoint.auth == "client":
            return (CLIENT_ID_PARAM, CLIENT_SECRET_PARAM)
        return ()

    def _remember_token(self, token: str) -> None:
        # Skip the redactor's set arithmetic on the hot path: the token rarely changes.
        if token != self._known_token:
            self.redactor.add(token)
            self._known_caller = (token, _caller_key("token", token))
            self._known_token = token

    def _budget(self, endpoint: Endpoint, token: str | None) -> str:
        """The rate-limit budget a request draws on: v1 counts per token (per client id for
        client-credential calls), with a bucket of its own for like, comment and relationship
        writes (the registry's ``rate_bucket``)."""
        if endpoint.auth == "token" and token:
            known = self._known_caller
            caller = known[1] if known is not None and known[0] == token else None
            if caller is None:
                caller = _caller_key("token", token)
        elif endpoint.auth == "client" and self.client_id:
            caller = _caller_key("client", self.client_id)
        else:
            caller = "anonymous"
        return f"{caller}/{endpoint.rate_bucket or GLOBAL_BUCKET}"

    def _signs(self, endpoint: Endpoint) -> bool:
        return self.sign_requests and endpoint.auth != "none"

    def _sig_pair(
        self, endpoint: Endpoint, path: str, pairs: list[tuple[str, str]], token: str | None
    ) -> tuple[str, str] | None:
        """The signature pair when signing applies: v1's ``sig`` over ``pairs`` (``path`` is
        after the prefix), or Graph's ``appsecret_proof`` of the token."""
        if not self._signs(endpoint):
            return None
        assert self.client_secret is not None  # checked in __init__
        if self.registry.sign_scheme == "appsecret-proof":
            if endpoint.auth != "token" or not token:
                return None
            proof = appsecret_proof(token, self.client_secret)
            self.redactor.add(proof)
            return self.registry.sign_param, proof
        return self.registry.sign_param, sign(path, dict(pairs), self.client_secret)

    @staticmethod
    def _path_after_prefix(endpoint: Endpoint, path: str) -> str:
        if endpoint.prefix and path.startswith(endpoint.prefix + "/"):
            return path[len(endpoint.prefix) :]
        return path

    # -- sending -----------------------------------------------------------------------------

    def _send_with_policy(
        self, prepared: _PreparedCall, timeout: Timeouts | None, retry: RetrySettings | None
    ) -> ApiResponse:
        """Send ``prepared`` through the pacer, retrying and waiting as the policies allow.

        A retry resends the very same request (URL, body and ``sig`` included): nothing in it
        depends on the time, so it needs no new signature.
        """
        spec = retry if retry is not None else self.retry
        endpoint = prepared.endpoint
        attempt = 0
        waited = 0.0
        in_doubt: IgflowError | None = None  # an earlier attempt that may have been applied
        while True:
            attempt += 1
            self.pacer.before_send(prepared.budget)
            try:
                response = self._send(prepared, timeout)
            except IgflowError as exc:
                self.pacer.after_response(prepared.budget, exc.rate_limit)
                if isinstance(exc, RateLimitError):
                    pause = self._rate_limit_pause(exc, endpoint.id, waited)
                    # A 429 means the API refused the request before doing anything, so sending
                    # it again cannot apply a write twice, and it does not use up an attempt.
                    attempt -= 1
                    waited += pause
                    continue
                decision = decide(spec, endpoint, attempt, exc, random=self._random)
                if not decision.retry:
                    raise self._final_error(exc, attempt, decision, in_doubt) from None
                if decision.in_doubt:
                    in_doubt = exc
                if self.on_retry is not None:
                    self.on_retry(
                        attempt,
                        decision.delay,
                        self.redactor.redact(
                            f"{endpoint.id}: attempt {attempt} of {spec.attempts} failed "
                            f"({_describe(exc)}); retrying in {decision.delay:.1f} s "
                            f"({decision.reason})"
                        ),
                    )
                self._sleep(decision.delay)
                continue
            except BaseException:  # a bug or Ctrl-C: the request no longer counts as in flight
                self.pacer.after_response(prepared.budget, None)
                raise
            self.pacer.after_response(prepared.budget, response.rate_limit)
            return response

    def _rate_limit_pause(self, error: RateLimitError, endpoint_id: str, waited: float) -> float:
        """Wait out a spent rate limit (policy ``wait``) and return the seconds waited.

        Raises:
            RateLimitError: ``error`` itself under ``halt``, or once ``rate_limit_max_wait``
                seconds have been waited for this call.
        """
        if self.rate_limit_policy != "wait":
            raise error
        if not error.recovers_soon:  # e.g. Graph's 24 h publishing quota: no wait would do
            error.message = f"{error.message} (not waited for: it lasts up to 24 hours)"
            raise error
        left = self.rate_limit_max_wait - waited
        if left < 0.001:  # not `<= 0`: float sums may leave a sliver that would loop forever
            error.message = (
                f"{error.message} (still rate limited after waiting {_seconds(waited)}, the "
                "most one call waits)"
            )
            raise error
        asked = retry_after(error)
        # At least a second even when Retry-After says 0: resending a 429 at once, in a loop,
        # would only hammer the API.
        pause = min(max(asked, 1.0) if asked is not None else self.rate_limit_wait, left)
        message = self.redactor.redact(
            f"{endpoint_id}: the API's rate limit is spent ({_describe(error)}); trying again "
            f"in {_seconds(pause)} (waited {_seconds(waited)} of at most "
            f"{_seconds(self.rate_limit_max_wait)})"
        )
        countdown(pause, message, sleep=self._sleep, report=self.on_rate_limit_wait)
        return pause

    def _final_error(
        self,
        error: IgflowError,
        attempt: int,
        decision: RetryDecision,
        in_doubt: IgflowError | None,
    ) -> IgflowError:
        """The error a call raises once it stops: says how many attempts were made, and never
        lets a refused connection hide that an earlier attempt may have been applied."""
        if isinstance(error, ConnectError) and in_doubt is not None:
            # The runner reads a ConnectError as "not sent"; after an attempt that may have been
            # applied, that would be wrong, so the earlier (in-doubt) error is the one raised.
            in_doubt.message = (
                f"{in_doubt.message} (attempt {attempt}: {error.message}; gave up after "
                f"{attempt} attempts)"
            )
            return in_doubt
        if decision.exhausted:
            if attempt > 1:  # with `attempts: 1` nothing was retried: nothing to say
                error.message = f"{error.message} ({decision.reason})"
        elif attempt > 1:
            error.message = (
                f"{error.message} (not retried: {decision.reason}; after {attempt} attempts)"
            )
        elif decision.in_doubt:  # a write that is not idempotent: say why it was not resent
            error.message = f"{error.message} (not retried: {decision.reason})"
        return error

    def _send(self, prepared: _PreparedCall, timeout: Timeouts | None = None) -> ApiResponse:
        """One HTTP exchange, no retries: the seam a retry policy wraps.

        Args:
            prepared: The request to send.
            timeout: Per-call timeouts; the client default when None.

        Returns:
            The successful response.

        Raises:
            TransportError: A subclass saying how the exchange failed.
            ApiError | OAuthError: The API's error, typed.
        """
        limits = timeout or self.timeouts
        started = time.perf_counter()
        failure: TransportError | None = None
        response: requests.Response | None = None
        deadline = begin(limits.deadline)
        try:
            response = self.session.request(
                prepared.method,
                prepared.url,
                data=prepared.body,
                headers=prepared.headers,
                timeout=(limits.connect, limits.read),
                # The API never redirects; a redirect would be a misconfigured target.
                allow_redirects=False,
                # The body is read here, within the size limit and the deadline.
                stream=True,
            )
            read_body(response, self.max_response_bytes, deadline)
        except (*TRANSPORT_EXCEPTIONS, DeadlinePassed) as exc:
            # Past the deadline, whatever the shut-down socket made the read raise is a timeout.
            if deadline.expired:
                failure = deadline_error(prepared.url, deadline.seconds, redactor=self.redactor)
            else:
                assert not isinstance(exc, DeadlinePassed)
                failure = map_transport_error(
                    exc,
                    prepared.url,
                    connect=limits.connect,
                    read=limits.read,
                    redactor=self.redactor,
                )
        except BodyTooLarge as exc:
            assert response is not None
            failure = too_large_error(
                prepared.endpoint.id, response.status_code, exc.limit, exc.declared
            )
        finally:
            end(deadline)
        if failure is not None and response is not None:
            response.close()  # not drained: the connection is dropped, not reused
            response = None
        elapsed = time.perf_counter() - started
        if failure is not None:
            if self.on_exchange is not None:
                self.on_exchange(self._exchange(prepared, None, elapsed, error=failure.message))
            # Raised outside the `except` block and `from None`, so neither __cause__ nor
            # __context__ holds requests' exception: its text (and its causes') carries the full
            # URL with access_token, and `--traceback` would print it. The igflow error carries a
            # redacted message that names the original exception type instead.
            raise failure from None
        if self.on_exchange is not None:
            self.on_exchange(self._exchange(prepared, response, elapsed))
        assert response is not None
        return read_response(
            response,
            method=prepared.method,
            url=prepared.url,
            endpoint_id=prepared.endpoint.id,
            elapsed=elapsed,
            redactor=self.redactor,
            error_style=self.registry.error_style,
            usage_style=self.registry.usage_headers,
        )

    def _exchange(
        self,
        prepared: _PreparedCall,
        response: requests.Response | None,
        elapsed: float,
        *,
        error: str | None = None,
    ) -> Exchange:
        return build_exchange(
            method=prepared.method,
            url=prepared.url,
            headers=prepared.headers,
            body=prepared.body,
            response=response,
            elapsed=elapsed,
            redactor=self.redactor,
            error=error,
        )


def pacer_for(registry: Registry, sleep: Any, hooks: ClientHooks) -> Pacer:
    """The pacer a profile's rate-limit headers call for: Graph reports percentages used, read
    as "percent left" out of 100 (see igflow.responses.RateLimitInfo), pacing from the
    registry's ``slow_down_at``."""
    if registry.usage_headers == "graph-usage":
        return Pacer(
            sleep=sleep,
            on_wait=hooks.on_rate_limit_wait,
            reserve_fraction=max(0.0, (100.0 - registry.slow_down_at) / 100.0),
            percent=True,
        )
    return Pacer(sleep=sleep, on_wait=hooks.on_rate_limit_wait)


def _caller_key(kind: str, secret: str) -> str:
    """A budget key for a caller: a digest, so no token or client id sits in it in clear."""
    return kind + ":" + hashlib.sha256(secret.encode("utf-8")).hexdigest()[:16]


def _describe(error: IgflowError) -> str:
    if isinstance(error, ApiError):
        status = f" [{error.status}]" if error.status is not None else ""
        return f"{error.error_type}: {error.message}{status}"
    return f"{type(error).__name__}: {error.message}"


def _seconds(value: float) -> str:
    if value >= 120:
        return f"{value / 60:.0f} min"
    return f"{value:.0f} s" if value >= 10 else f"{value:.1f} s"
