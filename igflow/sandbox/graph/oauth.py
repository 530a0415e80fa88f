"""Instagram Login (§2.1): the authorize page (login, then consent) and the code exchange.

The pages are shaped like the v1 sandbox's (``username``/``password`` fields, the
``csrfmiddlewaretoken`` hidden field, an ``allow`` submit button) so one form-filling client
drives both. CSRF tokens and the failed-login throttle are the v1 sandbox's (``csrf.py``,
``throttle.py``); input checks are ``oauth_input``'s. A personal account's login is refused on the
page: Instagram Login serves professional accounts only.
"""

from __future__ import annotations

import hmac
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from html import escape
from urllib.parse import parse_qsl, quote, urlencode

from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Request, Response

from igflow.sandbox import envelope
from igflow.sandbox.csrf import CsrfGuard
from igflow.sandbox.db import Database
from igflow.sandbox.graph.errors import oauth_body
from igflow.sandbox.graph.rules import Rules
from igflow.sandbox.graph.store import App, GraphStore
from igflow.sandbox.oauth_input import BadInput, check_request, safe_next
from igflow.sandbox.throttle import THROTTLED, LoginThrottle

SESSION_COOKIE = "sessionid"
CSRF_COOKIE = "csrftoken"
CSRF_FIELD = "csrfmiddlewaretoken"
LOGIN_PATH = "/accounts/login/"
AUTHORIZE_PATH = "/oauth/authorize"
DENIED = (
    "error=access_denied&error_reason=user_denied&error_description=The+user+denied+your+request"
)
NOT_PROFESSIONAL = (
    "This account is not a professional account. Switch to a business or creator account "
    "to log in to this app."
)
WRONG_PASSWORD = "Sorry, your password was incorrect. Please double-check your password."
UNKNOWN_USER = "The username you entered doesn't belong to an account."
REQUIRED_SCOPES = ("instagram_business_basic", "instagram_basic")


class _Failure(Exception):
    def __init__(self, message: str, code: int = 400) -> None:
        super().__init__(message)
        self.response = envelope.json_response(oauth_body(message, code), status=code)


@dataclass(frozen=True)
class AuthorizeRequest:
    app: App
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str | None

    def params(self) -> dict[str, str]:
        values = {
            "client_id": self.app.client_id,
            "redirect_uri": self.redirect_uri,
            "response_type": "code",
            "scope": ",".join(self.scopes),
        }
        if self.state is not None:
            values["state"] = self.state
        return values


class GraphOAuth:
    def __init__(
        self,
        db: Database,
        store: GraphStore,
        rules: Rules,
        now: Callable[[], float],
        csrf: CsrfGuard,
        remember: Callable[[str], None],
    ) -> None:
        self.db = db
        self.store = store
        self.rules = rules
        self.now = now
        self.csrf = csrf
        self.remember = remember
        self.throttle = LoginThrottle(now)

    # ---- authorize ------------------------------------------------------------------------
    def authorize(self, request: Request) -> Response:
        try:
            check_request(request)
        except BadInput as exc:
            return envelope.json_response(oauth_body(str(exc)), status=400)
        params = request.form if request.method == "POST" else request.args
        try:
            with self.db.transaction():
                auth = self._validate(params)
                user_id = self.store.session_user(request.cookies.get(SESSION_COOKIE, ""))
        except _Failure as failure:
            return failure.response
        session = request.cookies.get(SESSION_COOKIE, "")
        if user_id is None:
            original = AUTHORIZE_PATH + "?" + urlencode(auth.params())
            return _redirect(f"{LOGIN_PATH}?next={quote(original, safe='/')}")
        if request.method == "POST":
            if not self.csrf.consent_ok(session, request.form.get(CSRF_FIELD, "")):
                return _csrf_failure()
            if "allow" not in request.form:
                return _redirect(_append(auth.redirect_uri, DENIED, auth.state))
            expires = self.now() + self.rules.number("tokens", "code_seconds")
            with self.db.transaction():
                code = self.store.issue_code(
                    auth.app.client_id, user_id, auth.redirect_uri, auth.scopes, expires
                )
            self.remember(code)
            # The real redirect ends in "#_", which is not part of the code (§2.1).
            return _redirect(_append(auth.redirect_uri, "code=" + code, auth.state) + "#_")
        with self.db.transaction():
            account = self.store.account(user_id) or {}
        return envelope.html_response(
            self._consent_page(
                auth, str(account.get("username", "")), self.csrf.consent_token(session)
            )
        )

    def _validate(self, params: Mapping[str, str]) -> AuthorizeRequest:
        client_id = params.get("client_id", "")
        redirect_uri = params.get("redirect_uri", "")
        if not client_id or not redirect_uri or params.get("response_type", "") != "code":
            raise _Failure(
                "You must include a valid client_id, response_type=code and redirect_uri"
            )
        app = self.store.app(client_id)
        if app is None:
            raise _Failure("Invalid platform app")
        if redirect_uri not in app.redirect_uris:
            raise _Failure("Error validating application. Invalid redirect_uri.")
        names = [n for n in params.get("scope", "").replace(",", " ").split() if n]
        names = list(dict.fromkeys(names))
        known = self.rules.scopes
        invalid = [n for n in names if n not in known and n != "instagram_basic"]
        if invalid:
            raise _Failure("Invalid Scopes: " + ", ".join(invalid))
        if not any(n in REQUIRED_SCOPES for n in names):
            raise _Failure("Invalid Scopes: the scope must include instagram_business_basic")
        return AuthorizeRequest(app, redirect_uri, tuple(names), params.get("state") or None)

    def _consent_page(self, auth: AuthorizeRequest, username: str, token: str) -> str:
        items = "".join(
            f"<li><strong>{escape(n)}</strong>: {escape(self.rules.scopes.get(n, ''))}</li>"
            for n in auth.scopes
        )
        hidden = _hidden({**auth.params(), CSRF_FIELD: token})
        return _page(
            "Allow access",
            f"<p><strong>{escape(auth.app.name)}</strong> is requesting access to your "
            f"professional account <strong>{escape(username)}</strong>:</p><ul>{items}</ul>"
            f'<form method="post" action="{AUTHORIZE_PATH}">{hidden}'
            '<button type="submit" name="allow" value="Allow">Allow</button> '
            '<button type="submit" name="deny" value="Cancel">Cancel</button></form>',
        )

    # ---- login ----------------------------------------------------------------------------
    def login(self, request: Request) -> Response:
        try:
            check_request(request)
        except BadInput as exc:
            return envelope.json_response(oauth_body(str(exc)), status=400)
        if request.method == "GET":
            return self._login_form(request, request.args.get("next", ""), "", None)
        nonce = request.cookies.get(CSRF_COOKIE)
        if not self.csrf.login_ok(nonce, request.form.get(CSRF_FIELD, "")):
            return _csrf_failure()
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        target = request.form.get("next", "")
        keys = ("user:" + username.lower(), "addr:" + (request.remote_addr or "-"))
        wait = self.throttle.retry_after(keys)
        if wait is not None:
            response = self._login_form(request, target, username, THROTTLED, status=429)
            response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
            return response
        with self.db.transaction():
            account = self.store.account_by_username(username)
        if account is None:
            self.throttle.failed(keys)
            return self._login_form(request, target, username, UNKNOWN_USER)
        if not hmac.compare_digest(str(account["password"]).encode(), password.encode()):
            self.throttle.failed(keys)
            return self._login_form(request, target, username, WRONG_PASSWORD)
        self.throttle.succeeded(keys[0])
        if account["account_type"] not in ("Business", "Media_Creator"):
            return self._login_form(request, target, username, NOT_PROFESSIONAL)
        self.csrf.retire(nonce)
        with self.db.transaction():
            session = self.store.create_session(str(account["id"]), self.now())
        self.remember(session)
        self.remember(self.csrf.consent_token(session))
        local = safe_next(target)
        response = (
            _redirect(local)
            if local is not None
            else envelope.html_response(
                _page("Logged in", f"<p>Logged in as {escape(username)}.</p>")
            )
        )
        response.set_cookie(SESSION_COOKIE, session, path="/", httponly=True, samesite="Lax")
        return response

    def _login_form(
        self, request: Request, target: str, username: str, error: str | None, *, status: int = 200
    ) -> Response:
        nonce, is_new = self.csrf.login_nonce(request.cookies.get(CSRF_COOKIE))
        target = safe_next(target) or ""
        message = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
        body = (
            f'{message}<form method="post" action="{LOGIN_PATH}">'
            f"{_hidden({CSRF_FIELD: self.csrf.login_token(nonce), 'next': target})}"
            '<label>Username <input type="text" name="username" '
            f'value="{escape(username)}"></label> '
            '<label>Password <input type="password" name="password" value=""></label> '
            '<button type="submit">Log in</button></form>'
        )
        response = envelope.html_response(_page("Log in • Instagram", body), status=status)
        if is_new:
            response.set_cookie(CSRF_COOKIE, nonce, path="/", httponly=True, samesite="Lax")
        return response

    # ---- POST /oauth/access_token ---------------------------------------------------------
    def access_token(self, request: Request) -> Response:
        try:
            check_request(request)
        except BadInput as exc:
            return envelope.json_response(oauth_body(str(exc)), status=400)
        form: Mapping[str, str] = (
            request.form
            if request.mimetype
            else MultiDict(parse_qsl(request.get_data(as_text=True), keep_blank_values=True))
        )
        try:
            with self.db.transaction():
                body = self._exchange(form)
        except _Failure as failure:
            return failure.response
        entry = body["data"][0]
        self.remember(entry["access_token"])
        flat = self.rules.section("tokens").get("exchange_shape") == "flat"
        return envelope.json_response(entry if flat else body)

    def _exchange(self, form: Mapping[str, str]) -> dict[str, list[dict[str, str]]]:
        app = self.store.app(form.get("client_id", ""))
        if app is None:
            raise _Failure("Invalid platform app")
        if not hmac.compare_digest(form.get("client_secret", "").encode(), app.secret.encode()):
            raise _Failure("Error validating client secret.")
        if form.get("grant_type", "") != "authorization_code":
            raise _Failure("Invalid grant_type: only authorization_code is supported")
        raw_code = form.get("code", "").removesuffix("#_")
        code = self.store.use_code(raw_code)
        if code is None or code["client_id"] != app.client_id or code["expires"] <= self.now():
            raise _Failure("Matching code was not found or was already used")
        if code["redirect_uri"] != form.get("redirect_uri", ""):
            raise _Failure(
                "Error validating verification code. Please make sure your redirect_uri is "
                "identical to the one you used in the OAuth dialog request"
            )
        scopes = frozenset(filter(None, code["scopes"].split(",")))
        token = self.store.issue_token(
            "short",
            code["user_id"],
            app.client_id,
            scopes,
            self.now(),
            self.rules.number("tokens", "short_seconds"),
        )
        return {
            "data": [
                {
                    "access_token": token.token,
                    "user_id": token.user_id,
                    "permissions": ",".join(sorted(scopes)),
                }
            ]
        }


def _redirect(location: str) -> Response:
    return Response("", status=302, headers={"Location": location})


def _append(uri: str, query: str, state: str | None) -> str:
    if state is not None:
        query += "&" + urlencode({"state": state})
    return uri + ("&" if "?" in uri else "?") + query


def _hidden(values: Mapping[str, str]) -> str:
    return "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in values.items()
    )


def _csrf_failure() -> Response:
    return envelope.html_response(
        _page("403 Forbidden", "<p>CSRF verification failed. Request aborted.</p>"), status=403
    )


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>body{{font-family:system-ui,sans-serif;"
        "max-width:380px;margin:40px auto}.error{color:#ed4956}</style></head><body>"
        "<h1>Instagram</h1><p>igflow Graph sandbox · demo accounts: <code>igflow sandbox "
        f"users --url ...</code></p>{body}</body></html>"
    )
