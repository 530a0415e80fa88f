"""The Graph sandbox's WSGI application and its request pipeline.

Every API request goes through, in order: version (an unknown one is an error, an expired one is
served by the oldest available, §1) → token (Bearer header or ``access_token``; missing,
unknown, revoked, expired: §5.2's 104/2500/190 and subcodes) → ``appsecret_proof`` → faults
(latency, 5xx, dropped connection, before or after the write) → injected errors → BUC usage
(80002) → the node and its route (unknown ids: 100/33; Facebook-Login-only: as the real host
answers) → the permission → the handler in one transaction. Every answer carries the usage
headers and ``facebook-api-version``; every error is the Graph envelope with an ``fbtrace_id``.
Nothing lives at module level: any number of sandboxes run in one process.

Length: over 400 lines: the pipeline is one sequence and reads best in order, as v1's app.py.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from igflow.errors import printable
from igflow.sandbox import bodylimit, envelope, jsonbody
from igflow.sandbox.clock import Clock, make_clock
from igflow.sandbox.config import SandboxConfig
from igflow.sandbox.csrf import CsrfGuard
from igflow.sandbox.db import Database
from igflow.sandbox.faults import DROP, DroppedConnection, FaultInjector
from igflow.sandbox.graph import routes, tokens
from igflow.sandbox.graph.context import Ctx
from igflow.sandbox.graph.errors import GraphError, fbtrace_id, oauth_body
from igflow.sandbox.graph.oauth import GraphOAuth
from igflow.sandbox.graph.rules import Rules, load_rules
from igflow.sandbox.graph.store import App, GraphStore, Token
from igflow.sandbox.graph.usage import Usage, UsageMeter
from igflow.sandbox.graph.webhooks import Dispatcher
from igflow.sandbox.requestlog import LogEntry, RequestLog, redact_params
from igflow.sandbox.secretindex import SecretIndex
from igflow.sandbox.wsgi import LoggedWsgiApp, Trace

if TYPE_CHECKING:
    pass

log = logging.getLogger("igflow.sandbox")

API_NAME = "instagram.graph"
_VERSION = re.compile(r"^v\d+\.\d+$")
_TRANSPORT_PARAMS = frozenset({"access_token", "appsecret_proof"})
MAX_PARAMS = 100
MAX_VALUE_CHARS = 16_384
MAX_SEGMENTS = 3


@dataclass(frozen=True)
class Caller:
    token: Token
    app: App
    account: dict[str, Any]


class GraphApp(LoggedWsgiApp):
    """The WSGI callable. Build it with :func:`create_graph_app`."""

    api = API_NAME

    def __init__(
        self, config: SandboxConfig, *, db: Database, store: GraphStore, rules: Rules, clock: Clock
    ) -> None:
        self.config = config
        self.dataset: dict[str, Any] | None = None  # an injected dataset is what reset restores
        self.db = db
        self.store = store
        self.rules = rules
        self.clock = clock
        self.secrets = SecretIndex()
        with db.transaction():
            self.secrets.add_all(store.secrets())
        self.csrf = CsrfGuard(remember=self.secrets.add)
        self.oauth = GraphOAuth(db, store, rules, clock.now, self.csrf, self.secrets.add)
        self.faults = FaultInjector(config.faults)
        self.usage = UsageMeter(rules, clock.now, config.rate_multiplier)
        hooks = rules.section("webhooks")
        self.webhooks = Dispatcher(
            float(hooks["timeout_seconds"]), int(hooks["queue_max"]), int(hooks["log_max"])
        )
        self._injected: list[dict[str, Any]] = []
        self._inject_lock = threading.Lock()
        self.request_log = (
            RequestLog(config.request_log, redact=self.secrets.redact)
            if config.request_log
            else None
        )
        from igflow.sandbox.graph.admin import GraphAdmin

        self.admin = GraphAdmin(self)
        self._admin_routes = self.admin.routes()

    def dispatch(self, request: Request, trace: Trace) -> Response:
        path = request.path
        if len(path) > 1 and path.endswith("/"):
            path = path[:-1]
        # Every body is bounded; an API call's is refused in _params (bound() keeps its
        # verdict and has emptied the stream), so the 413 carries the Graph envelope's headers.
        if bodylimit.bound(request) and path.startswith(("/_sandbox", "/oauth/", "/accounts/")):
            return self._too_large(path)
        try:
            if path == "/oauth/authorize" and request.method in ("GET", "POST"):
                return self.oauth.authorize(request)
            if path == "/oauth/access_token" and request.method == "POST":
                return self.oauth.access_token(request)
            if path == "/accounts/login" and request.method in ("GET", "POST"):
                return self.oauth.login(request)
            if path.startswith(("/oauth/", "/accounts/")):
                return envelope.json_response(
                    {
                        "error_type": "OAuthException",
                        "code": 404,
                        "error_message": "No such OAuth endpoint",
                    },
                    status=404,
                )
            if path.startswith("/_sandbox/") or path == "/_sandbox":
                entry = self._admin_routes.get(path)
                if entry is None:
                    return envelope.json_response({"error": _no_control(path)}, 404)
                methods, view = entry
                if request.method not in methods:
                    response = envelope.json_response(
                        {"error": f"{path} does not support {request.method}"}, 405
                    )
                    response.headers["Allow"] = ", ".join(methods)
                    return response
                problem = jsonbody.surrogate_problem(request)
                if problem is not None:
                    return envelope.json_response({"error": problem}, 400)
                return view(request)
        except RequestEntityTooLarge:
            return self._too_large(path)
        except Exception:  # a view bug must never take the server down
            log.exception("sandbox view for %s failed", request.path)
            return envelope.json_response({"error": "internal error (see the sandbox's log)"}, 500)
        return self.serve_api(request, path, trace)

    def _too_large(self, path: str) -> Response:
        """A 413 in the shape of the control or OAuth door it was sent to."""
        if path.startswith(("/oauth/", "/accounts/")):
            return envelope.json_response(oauth_body(bodylimit.TOO_LARGE, 413), 413)
        return envelope.json_response({"error": bodylimit.TOO_LARGE}, 413)

    # ---- the API pipeline ------------------------------------------------------------------
    def serve_api(self, request: Request, path: str, trace: Trace) -> Response:
        now = self.clock.now()
        segments = [s for s in path.split("/") if s]
        label: str | None = None
        if segments and _VERSION.match(segments[0]):
            label = segments.pop(0)
        version = self.rules.default_version
        usage: Usage | None = None
        fault: str | None = None
        issued: list[str] = []
        try:
            if label is not None:
                served = self.rules.serving_version(label, now)
                if served is None:
                    raise GraphError("unknown_version", version=label)
                version = served
            params = _params(request)
            if not segments or len(segments) > MAX_SEGMENTS:
                raise GraphError("unknown_path", path="/" + "/".join(segments))
            token_call = len(segments) == 1 and segments[0] in routes.TOKEN_ENDPOINTS
            if token_call:
                trace.endpoint = routes.TOKEN_ENDPOINTS[segments[0]]
            elif segments == ["me"] and request.method == "GET":
                trace.endpoint = "me"
            caller = self._authenticate(request, params, me=segments[0] == "me", now=now)
            impressions = int(caller.account.get("impressions_24h", 0))
            # From here on every answer, an error too, carries the account's usage.
            usage = self.usage.peek(caller.app.client_id, caller.account["id"], impressions)
            if label is None:
                version = self.rules.serving_version(caller.app.api_version, now) or version
            self._check_proof(caller, params)
            if self.faults.spec.latency_ms:
                time.sleep(self.faults.spec.latency_ms / 1000.0)
            fault = self.faults.next_fault()
            if fault is not None and self.faults.spec.phase == "before":
                return self._strike(fault, usage, trace, version)
            usage = self.usage.hit(
                caller.app.client_id,
                caller.account["id"],
                impressions,
                exhausted=self.faults.spec.exhaust_rate_limit,
            )
            if usage.throttled:
                if self.faults.spec.exhaust_rate_limit:
                    trace.fault = "rate-limit"
                raise GraphError("buc_limit")
            ctx = Ctx(
                store=self.store,
                rules=self.rules,
                now=now,
                method=request.method,
                version=version,
                params={k: v for k, v in params.items() if k not in _TRANSPORT_PARAMS},
                token=caller.token,
                app=caller.app,
                url_for=_url_builder(request, path),
            )
            with self.db.transaction():
                if token_call:
                    injected = self._take_injected(trace.endpoint)
                    if injected:
                        raise GraphError(injected)
                    body = (tokens.exchange if segments[0] == "access_token" else tokens.refresh)(
                        ctx
                    )
                else:
                    body = self._route(ctx, request.method, segments, caller, trace)
            if "issued" in ctx.extra:
                issued.append(str(ctx.extra["issued"]))
            status = 200
        except DroppedConnection:
            raise
        except GraphError as error:
            body, status = error.body(), error.status
        except Exception:  # a handler bug must never take the server down
            log.exception("graph sandbox handler for %s failed", trace.endpoint)
            internal = GraphError("internal")
            body, status = internal.body(), internal.status
        for value in issued:
            self.secrets.add(value)
        if fault is not None:  # phase "after": the write committed, the client never hears
            return self._strike(fault, usage, trace, version)
        return self._respond(body, status, usage, version)

    def _respond(self, body: Any, status: int, usage: Usage | None, version: str) -> Response:
        response = envelope.json_response(body, status=status)
        if usage is not None:
            response.headers.update(usage.headers())
        else:
            response.headers.update(
                {"X-App-Usage": '{"call_count":0,"total_time":0,"total_cputime":0}'}
            )
        response.headers["facebook-api-version"] = version
        trace_id = body.get("error", {}).get("fbtrace_id") if isinstance(body, dict) else None
        response.headers["x-fb-trace-id"] = trace_id or fbtrace_id()
        return response

    def _strike(self, fault: str, usage: Usage | None, trace: Trace, version: str) -> Response:
        trace.fault = fault
        outcome = "dropped the connection" if fault == DROP else "answered an error"
        log.info("sandbox fault '%s': %s of a %s request", fault, outcome, trace.endpoint)
        if fault == DROP:
            raise DroppedConnection()
        error = GraphError("unknown_error")
        response = self._respond(error.body(), self.faults.spec.fail_status, usage, version)
        response.headers["X-Sandbox-Fault"] = fault
        return response

    def _authenticate(
        self, request: Request, params: dict[str, str], *, me: bool, now: float
    ) -> Caller:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        value = value.strip()
        if scheme.lower() in ("bearer", "oauth") and value:
            raw = value
        else:
            raw = params.get("access_token", "")
        if not raw:
            raise GraphError("token_missing_me" if me else "token_missing")
        with self.db.transaction():
            token = self.store.token(raw)
            app = self.store.app(token.client_id) if token else None
            account = self.store.account(token.user_id) if token else None
        if token is None or app is None or account is None:
            raise GraphError("token_invalid")
        if token.revoked:
            raise GraphError(token.revoked, app_id=app.client_id)
        if token.expires <= now:
            raise GraphError("token_expired", expired=_when(token.expires), now=_when(now))
        return Caller(token, app, account)

    def _check_proof(self, caller: Caller, params: dict[str, str]) -> None:
        proof = params.get("appsecret_proof")
        if proof is None:
            if caller.app.require_app_secret:
                raise GraphError("appsecret_proof_missing")
            return
        expected = hmac.new(
            caller.app.secret.encode(), caller.token.token.encode(), hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(expected.encode(), proof.encode()):
            raise GraphError("appsecret_proof_invalid")

    def _route(
        self, ctx: Ctx, method: str, segments: list[str], caller: Caller, trace: Trace
    ) -> Any:
        head = segments[0]
        edge = segments[1] if len(segments) > 1 else ""
        if len(segments) > 2:
            raise GraphError("unknown_path", path="/" + "/".join(segments))
        if head == "ig_hashtag_search" and not edge:
            trace.endpoint = routes.HASHTAG_SEARCH.endpoint
            raise GraphError("fb_login_only", method=method.lower(), id=head)
        kind, row = self._resolve(head, caller)
        if kind is None:
            if edge in routes.HASHTAG_EDGES:
                trace.endpoint = routes.HASHTAG_EDGES[edge].endpoint
                raise GraphError("fb_login_only", method=method.lower(), id=head)
            raise GraphError("no_object", method=method.lower(), id=head)
        assert row is not None
        route = routes.ROUTES.get((kind, edge, method))
        if route is None:
            if edge and not any(k == kind and e == edge for k, e, _ in routes.ROUTES):
                raise GraphError("nonexisting_field", field=edge, node=kind)
            raise GraphError("method_not_allowed", method=method.lower())
        if trace.endpoint != "me":
            trace.endpoint = route.endpoint
        if kind == "IGUser" and not edge and "business_discovery" in ctx.params.get("fields", ""):
            trace.endpoint = routes.BUSINESS_DISCOVERY
        injected = self._take_injected(trace.endpoint)
        if injected:
            raise GraphError(injected, id=head, method=method.lower(), path="/" + head)
        if route.handler is None:
            raise GraphError("fb_login_only", method=method.lower(), id=head)
        if route.permission and route.permission not in caller.token.scopes:
            if method == "GET":
                raise GraphError("permission_read")
            raise GraphError("permission_write", permission=route.permission)
        return route.handler(ctx, row)

    def _resolve(self, node_id: str, caller: Caller) -> tuple[str | None, dict[str, Any] | None]:
        """The node type and row of an id the caller may see (its own account's objects)."""
        user_id = caller.account["id"]
        if node_id in ("me", user_id):
            return "IGUser", caller.account
        media = self.store.media(node_id)
        if media is not None:
            return ("IGMedia", media) if media["owner"] == user_id else (None, None)
        comment = self.store.comment(node_id)
        if comment is not None:
            parent_media = self.store.media(comment["media"]) or {}
            visible = parent_media.get("owner") == user_id or comment["from_id"] == user_id
            return ("IGComment", comment) if visible else (None, None)
        container = self.store.container(node_id)
        if container is not None and container["owner"] == user_id:
            return "IGContainer", container
        return None, None

    def reset(self) -> None:
        """Put the state back to the dataset: content, apps, tokens, codes, sessions, counters.

        One transaction: other requests wait meanwhile, none sees the tables half made. The
        webhook delivery records stay (they are what was sent, not state).
        """
        from igflow.sandbox.graph import dataset as graph_dataset

        raw = self.dataset or graph_dataset.read_dataset(self.config.data)
        with self.db.transaction():
            self.store.wipe()
            graph_dataset.load(self.store, raw, self.clock.now())
            self.store.mark_ready()
        self.usage.reset()
        self.clear_injected()

    # ---- injected errors (POST /_sandbox/graph/errors) --------------------------------------
    def inject(self, name: str, times: int, endpoint: str | None) -> None:
        GraphError(name)  # raises KeyError for an unknown name
        with self._inject_lock:
            self._injected.append({"error": name, "times": times, "endpoint": endpoint})

    def injected(self) -> list[dict[str, Any]]:
        with self._inject_lock:
            return [dict(entry) for entry in self._injected]

    def clear_injected(self) -> None:
        with self._inject_lock:
            self._injected.clear()

    def _take_injected(self, endpoint: str | None) -> str | None:
        with self._inject_lock:
            for entry in self._injected:
                if entry["endpoint"] in (None, endpoint):
                    entry["times"] -= 1
                    if entry["times"] <= 0:
                        self._injected.remove(entry)
                    return str(entry["error"])
        return None

    # ---- webhooks -----------------------------------------------------------------------------
    def notify(self, user_id: str, field: str, value: dict[str, Any]) -> int:
        """Queue a notification to every app subscribed to ``field`` for this account."""
        with self.db.transaction():
            account = self.store.account(user_id) or {}
            account_subs = self.store.account_subs(user_id)
            app_subs = self.store.app_subs()
            apps = {app.client_id: app for app in self.store.apps()}
        if account.get("is_private"):
            return 0  # private accounts get no comment notifications (§7)
        sent = 0
        for sub in app_subs:
            app = apps.get(sub["client_id"])
            if app is None or field not in sub["fields"]:
                continue
            if field not in account_subs.get(app.client_id, []):
                continue
            payload = {
                "object": "instagram",
                "entry": [
                    {
                        "id": user_id,
                        "time": int(self.clock.now()),
                        "changes": [{"field": field, "value": value}],
                    }
                ],
            }
            self.webhooks.send(sub["callback_url"], field, payload, app.secret)
            sent += 1
        return sent

    # ---- request log and shutdown ---------------------------------------------------------------
    def _log(self, request: Request, status: int | None, trace: Trace, started: float) -> None:
        if self.request_log is None:
            return
        try:
            form = redact_params(request.form)
        except RequestEntityTooLarge:
            form = {}
        self.request_log.write(
            LogEntry(
                time=time.time(),
                method=request.method,
                path=request.path,
                query=redact_params(request.args),
                form=form,
                status=status,
                endpoint=trace.endpoint,
                fault=trace.fault,
                duration_ms=(time.perf_counter() - started) * 1000.0,
            )
        )

    def close(self) -> None:
        self.webhooks.close()
        if self.request_log is not None:
            self.request_log.close()
        self.db.close()


# The v1 sandbox's control endpoints a v1 tool may try here, and what the Graph sandbox has.
_V1_ONLY = {
    "grants": "the Graph sandbox has no grants endpoint: a user's grant is their token. "
    "Revoke one with POST /_sandbox/graph/revoke; see users and apps in GET /_sandbox/info",
    "clients": "the Graph sandbox has no clients endpoint: its apps are fixed by its dataset. "
    "List them with `igflow sandbox clients list` or GET /_sandbox/info",
}


def _no_control(path: str) -> str:
    first = path.removeprefix("/_sandbox/").partition("/")[0]
    return _V1_ONLY.get(first, f"no such control endpoint {printable(path[:200])}")


def _when(epoch: float) -> str:
    return time.strftime("%A, %d-%b-%y %H:%M:%S UTC", time.gmtime(epoch))


def _params(request: Request) -> dict[str, str]:
    """Query, form and JSON-body parameters (the query wins), bounded in count and size."""
    values: dict[str, str] = {}
    if bodylimit.bound(request):  # declared or chunked; the body is gone, nothing reads it
        raise GraphError("body_too_large", detail=bodylimit.TOO_LARGE)
    try:
        if request.method in ("POST", "DELETE"):
            if request.mimetype == "application/json":
                body = request.get_json(silent=True)
                if isinstance(body, dict):
                    for key, value in body.items():
                        values[str(key)] = _as_param(value)
            else:
                values.update({k: request.form[k] for k in request.form})
    except RequestEntityTooLarge:
        raise GraphError("body_too_large", detail=bodylimit.TOO_LARGE) from None
    values.update({k: request.args[k] for k in request.args})
    if len(values) > MAX_PARAMS:
        raise GraphError("bad_param", detail=f"More than {MAX_PARAMS} parameters")
    for key, value in values.items():
        if len(value) > MAX_VALUE_CHARS:
            raise GraphError(
                "bad_param", detail=f"Param {key[:40]} is longer than {MAX_VALUE_CHARS} characters"
            )
    return values


def _as_param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_as_param(item) for item in value)
    if isinstance(value, (dict,)):
        return json.dumps(value)
    return str(value)


def _url_builder(request: Request, path: str) -> Callable[[dict[str, str]], str]:
    """The caller's own URL with the cursor replaced: a full URL on the sandbox's origin (§4)."""
    base = request.host_url.rstrip("/") + path
    original = [(k, v) for k, v in request.args.items(multi=True) if k not in ("after", "before")]

    def url_for(replace: dict[str, str]) -> str:
        items = original + list(replace.items())
        return base + "?" + urlencode(items)

    return url_for


def create_graph_app(config: SandboxConfig, *, dataset: dict[str, Any] | None = None) -> GraphApp:
    """Build a Graph sandbox; a fresh state gets the dataset (default: graph_default.yaml)."""
    from igflow.sandbox.graph import dataset as graph_dataset

    rules = load_rules()
    start = config.clock_start if config.clock_start is not None else rules.fake_epoch
    clock = make_clock(config.clock, start)
    db = Database(config.db)
    try:
        store = GraphStore(db)
        if not store.initialized():
            with db.transaction() as conn:
                known = conn.execute(
                    "SELECT count(*) FROM sqlite_master WHERE type='table'"
                ).fetchone()[0]
            if known:
                raise ValueError(f"{config.db} is not a Graph sandbox state file")
            raw = dataset if dataset is not None else graph_dataset.read_dataset(config.data)
            store.create_schema()
            with db.transaction():
                graph_dataset.load(store, raw, clock.now())
                store.mark_ready()
    except BaseException:
        db.close()
        raise
    app = GraphApp(config, db=db, store=store, rules=rules, clock=clock)
    app.dataset = dataset
    return app
