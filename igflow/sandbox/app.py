"""The sandbox's WSGI application: routing by the registry, and the /v1 request pipeline.

Every /v1 request goes through the checks of reference §14, in order: missing auth → token
validity → signed request → rate limit → retired endpoint → the endpoint's base scope; then
``HANDLERS[endpoint.id](ctx)`` runs inside one database transaction, so a failed request changes
nothing (rate-limit counters live outside it, on purpose). OAuth views live in ``oauth.py``,
igflow's control endpoints in ``admin.py``. All state is injected: nothing lives at module level,
so any number of sandboxes can run in one process.

Length: over 400 lines: the /v1 pipeline of reference §14 (check order) is one sequence, and its
steps only make sense read in order.
"""

from __future__ import annotations

import hmac
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from igflow.registry import Endpoint, Registry, load_registry
from igflow.sandbox import bodylimit, envelope, jsonbody
from igflow.sandbox.admin import AdminViews
from igflow.sandbox.clients import (
    DEFAULT_CLIENTS,
    Client,
    OAuthState,
    UserStore,
    load_clients,
    user_resolver,
)
from igflow.sandbox.clock import Clock, make_clock
from igflow.sandbox.config import SandboxConfig
from igflow.sandbox.contract import (
    OWN_TRANSACTION_ATTR,
    Handler,
    RequestContext,
    SandboxApiError,
    Viewer,
    era_reached,
    permissions_message,
)
from igflow.sandbox.csrf import CsrfGuard
from igflow.sandbox.db import Database
from igflow.sandbox.faults import DROP, DroppedConnection, FaultInjector
from igflow.sandbox.oauth import OAuthViews
from igflow.sandbox.portal.views import PortalViews
from igflow.sandbox.ratelimit import RateLimiter, RateStatus
from igflow.sandbox.requestlog import LogEntry, RequestLog, redact_params
from igflow.sandbox.secretindex import SecretIndex
from igflow.sandbox.throttle import LoginThrottle
from igflow.sandbox.wsgi import LoggedWsgiApp, Trace
from igflow.signing import SIG_PARAM, signature_matches

if TYPE_CHECKING:
    pass

log = logging.getLogger("igflow.sandbox")

API_PREFIX = "/v1"
# Parameters the pipeline consumes; handlers never see them.
_TRANSPORT_PARAMS = frozenset({"access_token", SIG_PARAM, "callback", "client_id", "client_secret"})
_PLACEHOLDER = re.compile(r"\{(\w+)\}")

RETIRED = SandboxApiError(400, "APINotAllowedError", "This endpoint has been retired")
TOO_LARGE = SandboxApiError(413, "APIInvalidParametersError", bodylimit.TOO_LARGE)
RATE_LIMITED = "The maximum number of requests per hour has been exceeded."


@dataclass(frozen=True)
class Caller:
    """Who an authenticated API request comes from."""

    client: Client
    viewer: Viewer | None  # None for client-credential calls
    key: str  # the rate-limit key: one per token, or per client for client credentials


class SandboxApp(LoggedWsgiApp):
    """The WSGI callable. Build it with :func:`create_app`."""

    def __init__(
        self,
        config: SandboxConfig,
        *,
        db: Database,
        store: UserStore,
        handlers: Mapping[str, Handler],
        registry: Registry,
        clock: Clock,
    ) -> None:
        self.config = config
        self.db = db
        self.store = store
        self.handlers = handlers
        self.registry = registry
        self.clock = clock
        self.reset_dataset: dict[str, Any] | None = None  # None: the config's dataset
        self.oauth_state = OAuthState(db)
        # Every secret issued, from the database and from now on, so the log masks its value.
        self.secrets = SecretIndex(lookup=self.oauth_state.secret_ending)
        self.csrf = CsrfGuard(remember=self.secrets.add)
        self.oauth_state.on_issue = self._issued
        for kind, value in self.oauth_state.issued_secrets():
            self._issued(kind, value)
        self.limiter = RateLimiter(clock.now, config.rate_multiplier)
        self.faults = FaultInjector(config.faults)
        self.request_log = (
            RequestLog(config.request_log, redact=self.secrets.redact)
            if config.request_log
            else None
        )
        self.oauth = OAuthViews(
            self.oauth_state,
            store,
            registry.scopes,
            config.era,
            clock.now,
            csrf=self.csrf,
            throttle=LoginThrottle(clock.now),
        )
        self.admin = AdminViews(
            self.oauth_state,
            store,
            clock,
            self.faults,
            self.limiter,
            config.era,
            reset_state=self.reset,
        )
        self._admin_routes = self.admin.routes()
        self.portal = _portal(self)
        self._portal_routes = self.portal.routes()
        self._map = self._build_map()

    def _issued(self, kind: str, value: str) -> None:
        self.secrets.add(value)
        if kind == "session":  # its forms' CSRF tokens are as secret as the session
            self.secrets.add(self.csrf.consent_token(value))
            self.secrets.add(self.csrf.portal_token(value))

    def reset(self) -> None:
        """Put the state back to the dataset: content, clients, grants, sessions, counters.

        The same database is emptied and loaded again (a ``--db`` file stays that file), from
        the dataset this sandbox was started with (``--data``, ``--generate``, or the default).
        """
        # Other requests wait meanwhile: none sees the tables half made.
        with self.db.exclusive():
            self.db.wipe()
            self.portal.details.reset()
            initialize(self.db, self.store, self.config, self.reset_dataset)
        self.limiter.reset()

    # ---- routing ---------------------------------------------------------------------------
    def _build_map(self) -> Map:
        rules = [
            # The registry is the single source of API paths: client and sandbox cannot drift.
            Rule(
                endpoint.prefix + _PLACEHOLDER.sub(r"<\1>", endpoint.path),
                endpoint="api:" + endpoint.id,
                methods=[endpoint.method],
            )
            for endpoint in self.registry.endpoints.values()
        ]
        rules += [
            Rule("/oauth/authorize", endpoint="oauth:authorize", methods=["GET", "POST"]),
            Rule("/oauth/access_token", endpoint="oauth:access_token", methods=["POST"]),
            Rule("/accounts/login", endpoint="oauth:login", methods=["GET", "POST"]),
        ]
        rules += [
            Rule(path, endpoint="admin:" + path, methods=list(methods))
            for path, (methods, _) in self._admin_routes.items()
        ]
        rules += [
            Rule(path, endpoint="portal:" + path, methods=list(methods))
            for path, (methods, _) in self._portal_routes.items()
        ]
        return Map(rules, strict_slashes=False, merge_slashes=False)

    @staticmethod
    def normalize_path(path: str) -> str:
        """Drop an optional trailing slash and, on /v1, an optional ``.json`` suffix (§1)."""
        if len(path) > 1 and path.endswith("/"):
            path = path[:-1]
        if path.startswith(API_PREFIX + "/") and path.endswith(".json"):
            path = path[: -len(".json")]
        return path

    def dispatch(self, request: Request, trace: Trace) -> Response:
        """Route one request to the API pipeline, an OAuth view or an admin view."""
        path = self.normalize_path(request.path)
        adapter = self._map.bind("sandbox.invalid")
        try:
            target, args = adapter.match(path, method=request.method)
        except MethodNotAllowed as exc:
            if _is_portal_page(path):
                return self.portal.method_not_allowed(request, exc.valid_methods or [])
            return self._method_not_allowed(path, request.method, exc.valid_methods or [])
        except NotFound:
            return self._not_found(request, path)
        kind, _, name = str(target).partition(":")
        if kind != "portal" and bodylimit.bound(request):  # the portal answers with a page
            return self._too_large(kind, path)
        if kind == "oauth":
            view = {
                "authorize": self.oauth.authorize,
                "access_token": self.oauth.access_token,
                "login": self.oauth.login,
            }[name]
            return _guard(view, request, oauth=True)
        if kind == "admin":
            problem = jsonbody.surrogate_problem(request)
            if problem is not None:
                return envelope.json_response({"error": problem}, status=400)
            view = self._admin_routes[name][1]
            return _guard(lambda r: view(r, **args), request, oauth=False)
        if kind == "portal":
            return self.portal.handle(self._portal_routes[name][1], request, **args)
        endpoint = self.registry.endpoints[name]
        trace.endpoint = endpoint.id
        return self.api(request, endpoint, args, path, trace)

    def _too_large(self, kind: str, path: str) -> Response:
        """A 413 for a body over the bound, in the error shape of the door it was sent to."""
        if kind == "oauth":
            return envelope.oauth_error(413, "OAuthException", bodylimit.TOO_LARGE)
        if kind == "admin":
            return envelope.json_response({"error": bodylimit.TOO_LARGE}, status=413)
        return envelope.api_response(
            envelope.error_body(TOO_LARGE), 413, headers=self._api_headers(path)
        )

    def _not_found(self, request: Request, path: str) -> Response:
        if _is_portal_page(path):  # the website: a page, not JSON
            return self.portal.not_found(request)
        if path.startswith("/oauth/"):
            return envelope.oauth_error(404, "OAuthException", "No such OAuth endpoint")
        error = SandboxApiError(404, "APINotFoundError", "this endpoint does not exist")
        return envelope.api_response(
            envelope.error_body(error), 404, headers=self._api_headers(path)
        )

    def _method_not_allowed(self, path: str, method: str, allowed: Iterable[str]) -> Response:
        allow = ", ".join(sorted(set(allowed)))
        message = f"This endpoint does not support the {method} method"
        if path.startswith(("/oauth/", "/accounts/")):
            response = envelope.oauth_error(405, "OAuthException", message)
        elif path.startswith("/_sandbox/"):
            response = envelope.json_response({"error": message}, status=405)
        else:
            error = SandboxApiError(405, "APIMethodNotAllowedError", message)
            response = envelope.api_response(
                envelope.error_body(error), 405, headers=self._api_headers(path)
            )
        response.headers["Allow"] = allow
        return response

    def _api_headers(self, path: str) -> dict[str, str]:
        # "/v1" itself too: every answer under the API prefix carries the headers (§1).
        under_api = path == API_PREFIX or path.startswith(API_PREFIX + "/")
        return self.limiter.unauthenticated().headers() if under_api else {}

    # ---- the /v1 pipeline ----------------------------------------------------------------------
    def api(
        self,
        request: Request,
        endpoint: Endpoint,
        path_args: Mapping[str, Any],
        path: str,
        trace: Trace,
    ) -> Response:
        """Run one API request through the §14 checks and its handler; wrap the outcome."""
        is_v1 = endpoint.prefix == API_PREFIX
        if is_v1 and self.faults.spec.latency_ms:
            time.sleep(self.faults.spec.latency_ms / 1000.0)
        callback = request.args.get("callback") if request.method in ("GET", "HEAD") else None
        rate: RateStatus | None = self.limiter.unauthenticated() if is_v1 else None
        fault: str | None = None
        try:
            if callback is not None and not envelope.valid_callback(callback):
                callback = None
                raise SandboxApiError(
                    400,
                    "APIInvalidParametersError",
                    "Invalid callback: expected a JavaScript identifier",
                )
            caller = self._authenticate(request, endpoint)
            if caller is not None:
                rate = self.limiter.peek(caller.key, caller.client.mode, endpoint.rate_bucket)
                self._check_signature(request, caller.client)
                rate = self.limiter.hit(
                    caller.key,
                    caller.client.mode,
                    endpoint.rate_bucket,
                    exhausted=self.faults.spec.exhaust_rate_limit,
                )
                if not rate.allowed:
                    if self.faults.spec.exhaust_rate_limit:
                        trace.fault = "rate-limit"
                    raise SandboxApiError(429, "OAuthRateLimitException", RATE_LIMITED)
            if era_reached(self.config.era, endpoint.retired):
                raise RETIRED
            viewer = caller.viewer if caller else None
            if endpoint.scope and viewer is not None and endpoint.scope not in viewer.scopes:
                raise SandboxApiError(
                    400, "OAuthPermissionsException", permissions_message(endpoint.scope)
                )
            handler = self.handlers.get(endpoint.id)
            if handler is None:
                raise SandboxApiError(
                    501, "APIError", f"The sandbox does not implement {endpoint.id}"
                )
            if is_v1:
                fault = self.faults.next_fault()
                if fault is not None and self.faults.spec.phase == "before":
                    return self._strike(fault, rate, trace)
            ctx = self._context(request, endpoint, path_args, path, caller)
            if getattr(handler, OWN_TRANSACTION_ATTR, False):
                result = handler(ctx)
            else:
                with self.db.transaction():
                    result = handler(ctx)
            body, status = envelope.success_body(result), result.status
        except DroppedConnection:  # an injected fault, not a handler bug
            raise
        except SandboxApiError as error:
            body, status = envelope.error_body(error), error.code
        except Exception:  # a handler bug must never take the server down
            log.exception("sandbox handler for %s failed", endpoint.id)
            body, status = (
                envelope.error_body(SandboxApiError(500, "APIError", "Oops, an error occurred.")),
                500,
            )
        if fault is not None:  # phase "after": the write committed, the client never hears of it
            return self._strike(fault, rate, trace)
        headers = rate.headers() if rate else {}
        return envelope.api_response(body, status, callback=callback, headers=headers)

    def _strike(self, fault: str, rate: RateStatus | None, trace: Trace) -> Response:
        trace.fault = fault
        status = self.faults.spec.fail_status
        # One line per injected fault (the endpoint id, never the URL: it may carry a token).
        outcome = "dropped the connection" if fault == DROP else f"answered {status}"
        log.info("sandbox fault '%s': %s of a %s request", fault, outcome, trace.endpoint)
        if fault == DROP:
            raise DroppedConnection()
        error = SandboxApiError(status, "APIError", "Oops, an error occurred.")
        response = envelope.api_response(
            envelope.error_body(error), status, headers=rate.headers() if rate else {}
        )
        response.headers["X-Sandbox-Fault"] = fault  # igflow-specific, so tests can tell it apart
        return response

    def _authenticate(self, request: Request, endpoint: Endpoint) -> Caller | None:
        if endpoint.auth == "none":
            return None
        values = _all_params(request)
        if endpoint.auth == "client":
            return self._client_credentials(values)
        token = values.get("access_token", "")
        if not token:
            # Writes (and calls that name a client) need a token; a bare read could once use a
            # client_id instead, hence the catalogue's two texts (§7).
            if endpoint.mutates or values.get("client_id"):
                raise SandboxApiError(
                    400, "OAuthParameterException", "Missing access_token URL parameter."
                )
            raise SandboxApiError(
                400, "OAuthParameterException", "Missing client_id or access_token URL parameter."
            )
        grant = self.oauth_state.by_token(token)
        client = self.oauth_state.client(grant.client_id) if grant else None
        if grant is None or client is None:
            raise SandboxApiError(
                400, "OAuthAccessTokenException", "The access_token provided is invalid."
            )
        viewer = Viewer(
            user_id=grant.user_id,
            client_id=client.client_id,
            scopes=grant.scopes,
            client_mode=client.mode,
            sandbox_users=frozenset(client.sandbox_users) if client.mode == "sandbox" else None,
        )
        return Caller(client=client, viewer=viewer, key="token:" + token)

    def _client_credentials(self, values: Mapping[str, str]) -> Caller:
        client_id = values.get("client_id", "")
        secret = values.get("client_secret", "")
        if not client_id:
            raise SandboxApiError(
                400, "OAuthParameterException", "Missing client_id or access_token URL parameter."
            )
        if not secret:
            raise SandboxApiError(
                400, "OAuthClientException", "Missing client_secret URL parameter"
            )
        client = self.oauth_state.client(client_id)
        if client is None or not hmac.compare_digest(
            secret.encode(), client.client_secret.encode()
        ):
            raise SandboxApiError(
                400, "APISubscriptionError", 'Invalid "client_id" and/or "client_secret."'
            )
        return Caller(client=client, viewer=None, key="client:" + client.client_id)

    def _check_signature(self, request: Request, client: Client) -> None:
        """Enforce signed requests for clients that turned it on; otherwise ignore any ``sig``."""
        if not client.signed:
            return
        candidates = request.args.getlist(SIG_PARAM) + request.form.getlist(SIG_PARAM)
        if not candidates:
            raise SandboxApiError(
                403,
                "OAuthForbiddenException",
                "Invalid signed-request: Missing required parameter 'sig'",
            )
        endpoint_path = (
            request.path[len(API_PREFIX) :] if request.path.startswith(API_PREFIX) else request.path
        )
        # GET/DELETE sign the query, POST the form (§9.1); a POST whose token rode in the query
        # is also accepted when signed over both.
        if request.method == "POST":
            param_sets = [
                _first_values(request.form),
                {**_first_values(request.args), **_first_values(request.form)},
            ]
        else:
            param_sets = [_first_values(request.args)]
        if not any(
            signature_matches(endpoint_path, params, client.client_secret, candidates)
            for params in param_sets
        ):
            raise SandboxApiError(
                403, "OAuthForbiddenException", "Invalid signed-request: Signature does not match"
            )

    def _context(
        self,
        request: Request,
        endpoint: Endpoint,
        path_args: Mapping[str, Any],
        path: str,
        caller: Caller | None,
    ) -> RequestContext:
        params = {k: v for k, v in _all_params(request).items() if k not in _TRANSPORT_PARAMS}
        return RequestContext(
            endpoint=endpoint,
            path_params={k: str(v) for k, v in path_args.items()},
            params=params,
            viewer=caller.viewer if caller else None,
            client_id=caller.client.client_id if caller else None,
            era=self.config.era,
            db=self.db,
            now=self.clock.now(),
            next_url=_next_url_builder(request, path),
        )

    # ---- request log and shutdown ----------------------------------------------------------------
    def _log(self, request: Request, status: int | None, trace: Trace, started: float) -> None:
        if self.request_log is None:
            return
        self.request_log.write(
            LogEntry(
                time=time.time(),
                method=request.method,
                path=request.path,
                query=redact_params(request.args),
                form=redact_params(_form_or_empty(request)),
                status=status,
                endpoint=trace.endpoint,
                fault=trace.fault,
                duration_ms=(time.perf_counter() - started) * 1000.0,
            )
        )

    def close(self) -> None:
        """Release the request log and the database."""
        if self.request_log is not None:
            self.request_log.close()
        self.db.close()


def _guard(view: Callable[[Request], Response], request: Request, *, oauth: bool) -> Response:
    """Turn a bug in an OAuth or admin view into a clean 500 instead of a dead request."""
    try:
        return view(request)
    except Exception:
        log.exception("sandbox view for %s failed", request.path)
        if oauth:
            return envelope.oauth_error(500, "OAuthException", "Oops, an error occurred.")
        return envelope.json_response(
            {"error": "internal error (see the sandbox's log)"}, status=500
        )


def _form_or_empty(request: Request) -> MultiDict[str, str]:
    """The form for the log; a body refused as too large has none (and must not fail here)."""
    try:
        return request.form
    except HTTPException:
        return MultiDict()


def _is_portal_page(path: str) -> bool:
    """The website's pages (the OAuth login keeps the OAuth endpoints' JSON errors)."""
    return (
        path == "/"
        or path == "/developer"
        or path.startswith(("/developer/", "/accounts/"))
        and not path.startswith("/accounts/login")
    )


def _first_values(params: MultiDict[str, str]) -> dict[str, str]:
    return {key: params[key] for key in params}


def _all_params(request: Request) -> dict[str, str]:
    """Query and form parameters, the query winning on a clash (first value of each)."""
    return {**_first_values(request.form), **_first_values(request.args)}


def _next_url_builder(request: Request, path: str) -> Callable[[Mapping[str, str]], str]:
    """The caller's own URL (scheme, host, /v1 path, original query incl. access_token, sig),
    with the given cursor params replaced, as the real ``pagination.next_url`` was (§2.3)."""
    from urllib.parse import urlencode

    base = request.host_url.rstrip("/") + path
    # The caller's ``sig`` stays too: the real next_url echoed it, stale for the new cursor, so
    # a signed client had to re-sign the link (gh:sachin-handiekar/jInstagram#166); followed
    # verbatim it fails with "Signature does not match", as python-instagram's did.
    original = list(request.args.items(multi=True))

    def next_url(replace: Mapping[str, str]) -> str:
        items: list[tuple[str, str]] = []
        for key, value in original:
            if key in replace:
                continue
            items.append((key, value))
        items += [(key, str(value)) for key, value in replace.items() if value is not None]
        return base + ("?" + urlencode(items) if items else "")

    return next_url


def create_app(
    config: SandboxConfig | None = None,
    *,
    store: UserStore | None = None,
    handlers: Mapping[str, Handler] | None = None,
    dataset: dict[str, Any] | None = None,
    db: Database | None = None,
) -> SandboxApp:
    """Build a sandbox from its config; fresh databases get the dataset and its clients.

    ``store``, ``handlers``, ``dataset`` and ``db`` can be injected (tests); by default they come
    from ``igflow.sandbox.store``, ``igflow.sandbox.handlers`` and ``igflow.sandbox.dataset``. An
    existing ``--db`` file is used as it is: its users, media, clients and tokens persist.
    """
    config = config or SandboxConfig()
    db = db or Database(config.db)
    if store is None:
        from igflow.sandbox.store import Store

        store = Store(db)
    if handlers is None:
        from igflow.sandbox.handlers import HANDLERS

        handlers = HANDLERS
    clock = make_clock(config.clock, config.clock_start)
    if not OAuthState(db).initialized():
        initialize(db, store, config, dataset)
    app = SandboxApp(
        config, db=db, store=store, handlers=handlers, registry=load_registry(), clock=clock
    )
    if dataset is not None:  # an injected dataset is also what a reset goes back to
        app.reset_dataset = dataset
    return app


def initialize(
    db: Database, store: UserStore, config: SandboxConfig, dataset: dict[str, Any] | None = None
) -> None:
    """Load a fresh database: the dataset's content, then its clients."""
    oauth_state = OAuthState(db)
    raw = dataset if dataset is not None else _dataset(config)
    store.create_schema()
    store.load(raw)
    # The OAuth tables are made last: their presence marks a fully initialised database.
    oauth_state.create_schema()
    load_clients(
        oauth_state,
        raw.get("clients") or _default_client_specs(),
        user_resolver(store),
        [str(user["id"]) for user in store.list_users()],
    )


def _portal(app: SandboxApp) -> PortalViews:
    from igflow.sandbox.portal.details import ClientDetails

    endpoints = [
        (e.method, e.prefix + e.path, e.scope or "(none)") for e in app.registry.endpoints.values()
    ]
    return PortalViews(app.oauth_state, app.store, app.csrf, ClientDetails(app.db), endpoints)


def _dataset(config: SandboxConfig) -> dict[str, Any]:
    from igflow.sandbox import dataset

    if config.generate:
        return dataset.generate_dataset(
            config.generate["users"], config.generate.get("media", 0), seed=config.seed
        )
    return dataset.read_dataset(config.data)


def _default_client_specs() -> list[dict[str, Any]]:
    """The default dataset's clients (a generated dataset reuses them), else the built-in three."""
    try:
        from igflow.sandbox import dataset

        clients = dataset.read_dataset(None).get("clients")
    except Exception:  # the default dataset is optional for this fallback
        clients = None
    return list(clients or DEFAULT_CLIENTS)
