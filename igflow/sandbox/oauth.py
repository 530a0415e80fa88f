"""The OAuth 2.0 views of reference §5: authorize (login, consent), and the code exchange.

Errors on these endpoints are bare ``{"code", "error_type", "error_message"}`` bodies with the
exact §5.5 texts. The login and consent pages are small HTML forms that a browser, or igflow's
``authorize_sandbox`` acting as one, fills in: a ``sessionid`` cookie marks the logged-in user and
each form's ``csrfmiddlewaretoken`` must be the one the server made for that session (consent)
or for the ``csrftoken`` nonce it issued (login), see ``csrf.py``. Every parameter is checked by
``oauth_input`` first; failed logins are throttled (``throttle.py``).

Length: a little over 400 lines, because the OAuth views share one request-checking and page-
rendering path; split, each half would import the other's helpers.
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
from igflow.sandbox.clients import Client, OAuthState, UserStore
from igflow.sandbox.contract import era_reached
from igflow.sandbox.csrf import CsrfGuard
from igflow.sandbox.oauth_input import BadInput, check_request, safe_next
from igflow.sandbox.throttle import THROTTLED, LoginThrottle

SESSION_COOKIE = "sessionid"
CSRF_COOKIE = "csrftoken"
CSRF_FIELD = "csrfmiddlewaretoken"
LOGIN_PATH = "/accounts/login/"
AUTHORIZE_PATH = "/oauth/authorize/"
# public_content could no longer be requested once it was removed (reference §12, 2019 report).
PUBLIC_CONTENT_REMOVED = "2018-12-11"

MISSING_PARAMS = "You must include a valid client_id, response_type, and redirect_uri parameters"
INVALID_CLIENT = "Invalid Client ID"
REDIRECT_MISMATCH = "Redirect URI does not match registered redirect URI"
WRONG_PASSWORD = "Sorry, your password was incorrect. Please double-check your password."
UNKNOWN_USER = (
    "The username you entered doesn't belong to an account. "
    "Please check your username and try again."
)
DENIED = (
    "error=access_denied&error_reason=user_denied&error_description=The+user+denied+your+request."
)


class _OAuthFailure(Exception):
    """Stops a view with an OAuth error body."""

    def __init__(self, code: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.response = envelope.oauth_error(code, error_type, message)


@dataclass(frozen=True)
class AuthorizeRequest:
    """The validated parameters of an authorize request (GET query or consent-form POST)."""

    client: Client
    redirect_uri: str
    response_type: str  # "code" | "token"
    scopes: tuple[str, ...]  # requested, in order, without duplicates; at least "basic"
    state: str | None

    def params(self) -> dict[str, str]:
        """The parameters to carry through the login page and the consent form."""
        values = {
            "client_id": self.client.client_id,
            "redirect_uri": self.redirect_uri,
            "response_type": self.response_type,
            "scope": " ".join(self.scopes),
        }
        if self.state is not None:
            values["state"] = self.state
        return values


class OAuthViews:
    """The /oauth/* and /accounts/login/ endpoints.

    Args:
        state: Clients, grants, codes and sessions.
        store: Users (authentication and the token-exchange user object).
        scopes: Known scope names and their descriptions (from the registry).
        era: The sandbox's era (decides which scopes can still be requested).
        now: The sandbox clock.
        csrf: Issues and checks the forms' CSRF tokens.
        throttle: Counts failed logins (defaults to one on ``now``).
    """

    def __init__(
        self,
        state: OAuthState,
        store: UserStore,
        scopes: Mapping[str, str],
        era: str,
        now: Callable[[], float],
        csrf: CsrfGuard | None = None,
        throttle: LoginThrottle | None = None,
    ) -> None:
        self.state = state
        self.store = store
        self.scopes = scopes
        self.era = era
        self.now = now
        self.csrf = csrf or CsrfGuard()
        self.throttle = throttle or LoginThrottle(now)

    # ---- /oauth/authorize ------------------------------------------------------------------
    def authorize(self, request: Request) -> Response:
        try:
            check_request(request)
        except BadInput as exc:
            return _bad_input(exc)
        params = request.form if request.method == "POST" else request.args
        try:
            auth = self._validate(params)
        except _OAuthFailure as failure:
            return failure.response
        session_id = request.cookies.get(SESSION_COOKIE, "")
        user_id = self.state.session_user(session_id)
        if user_id is None:
            # Keep the whole authorize request in `next`, as the real login redirect did.
            original = AUTHORIZE_PATH.rstrip("/") + "?" + urlencode(auth.params())
            return _redirect(f"{LOGIN_PATH}?next={quote(original, safe='/')}")
        if auth.client.mode == "sandbox" and user_id not in auth.client.sandbox_users:
            return envelope.oauth_error(
                403, "OAuthForbiddenException", "You are not a sandbox user of this client"
            )
        if request.method == "POST":
            if not self.csrf.consent_ok(session_id, request.form.get(CSRF_FIELD, "")):
                return _csrf_failure()
            if "allow" not in request.form:
                return _redirect(_append_query(auth.redirect_uri, DENIED, auth.state))
            return self._approve(auth, user_id)
        grant = self.state.grant_for(user_id, auth.client.client_id)
        if grant is not None and set(auth.scopes) <= grant.scopes:
            return self._approve(auth, user_id)
        token = self.csrf.consent_token(session_id)
        return envelope.html_response(self._consent_page(auth, user_id, token))

    def _validate(self, params: Mapping[str, str]) -> AuthorizeRequest:
        client_id = params.get("client_id", "")
        redirect_uri = params.get("redirect_uri", "")
        response_type = params.get("response_type", "")
        if not client_id or not redirect_uri or response_type not in ("code", "token"):
            raise _OAuthFailure(400, "OAuthException", MISSING_PARAMS)
        client = self.state.client(client_id)
        if client is None:
            raise _OAuthFailure(400, "OAuthException", INVALID_CLIENT)
        if redirect_uri not in client.redirect_uris:
            raise _OAuthFailure(400, "OAuthException", REDIRECT_MISMATCH)
        if response_type == "token" and not client.implicit:
            raise _OAuthFailure(
                403, "OAuthForbiddenException", "Implicit authentication is disabled"
            )
        return AuthorizeRequest(
            client=client,
            redirect_uri=redirect_uri,
            response_type=response_type,
            scopes=self._parse_scopes(params.get("scope", "")),
            state=params.get("state") or None,
        )

    def _parse_scopes(self, raw: str) -> tuple[str, ...]:
        # Clients joined scopes with "+" (a space once decoded) or spaces; a literal "%2B" arrives
        # as "+", so both separate.
        names = list(dict.fromkeys(raw.replace("+", " ").split()))
        removed = {"public_content"} if era_reached(self.era, PUBLIC_CONTENT_REMOVED) else set()
        invalid = [name for name in names if name not in self.scopes or name in removed]
        if invalid:
            raise _OAuthFailure(
                400, "OAuthException", "Invalid scope field(s): " + ", ".join(invalid)
            )
        return tuple(names) or ("basic",)

    def _approve(self, auth: AuthorizeRequest, user_id: str) -> Response:
        grant = self.state.grant(user_id, auth.client.client_id, auth.scopes)
        if auth.response_type == "token":
            fragment = "access_token=" + grant.token
            if auth.state is not None:
                fragment += "&" + urlencode({"state": auth.state})
            return _redirect(f"{auth.redirect_uri}#{fragment}")
        code = self.state.issue_code(auth.client.client_id, user_id, auth.redirect_uri, self.now())
        return _redirect(_append_query(auth.redirect_uri, "code=" + code, auth.state))

    def _consent_page(self, auth: AuthorizeRequest, user_id: str, csrf: str) -> str:
        user = self.store.user_by_id(user_id) or {}
        items = "".join(
            f"<li><strong>{escape(name)}</strong>: {escape(self.scopes.get(name, ''))}</li>"
            for name in auth.scopes
        )
        hidden = _hidden({**auth.params(), CSRF_FIELD: csrf})
        app = escape(auth.client.name)
        return _page(
            "Authorization Request",
            f"<p><strong>{app}</strong> would like to access your Instagram account</p>"
            f"<p>Logged in as {escape(str(user.get('username', user_id)))}. "
            "This application will be able to:</p>"
            f"<ul>{items}</ul>"
            f'<form method="post" action="{AUTHORIZE_PATH}">{hidden}'
            '<button type="submit" name="allow" value="Authorize">Authorize</button> '
            '<button type="submit" name="deny" value="Cancel">Cancel</button>'
            "</form>",
        )

    # ---- /accounts/login/ --------------------------------------------------------------------
    def login(self, request: Request) -> Response:
        try:
            check_request(request)
        except BadInput as exc:
            return _bad_input(exc)
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
            # Refused without looking at the password: guessing on stays pointless.
            response = self._login_form(request, target, username, THROTTLED, status=429)
            response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
            return response
        if self.store.user_by_username(username) is None:
            self.throttle.failed(keys)
            return self._login_form(request, target, username, UNKNOWN_USER)
        user_id = self.store.authenticate(username, password)
        if user_id is None:
            self.throttle.failed(keys)
            # The real site answered a wrong password with the form again, status 200.
            return self._login_form(request, target, username, WRONG_PASSWORD)
        self.throttle.succeeded(keys[0])
        self.csrf.retire(nonce)
        session_id = self.state.create_session(str(user_id))
        local = safe_next(target)
        if local is not None:
            response = _redirect(local)
        else:
            response = envelope.html_response(
                _page("Logged in", f"<p>You are logged in as {escape(username)}.</p>")
            )
        _set_cookie(response, SESSION_COOKIE, session_id)
        return response

    def _login_form(
        self,
        request: Request,
        target: str,
        username: str,
        error: str | None,
        *,
        status: int = 200,
    ) -> Response:
        nonce, is_new = self.csrf.login_nonce(request.cookies.get(CSRF_COOKIE))
        token = self.csrf.login_token(nonce)
        # Only a path on this sandbox is carried on; anything else would be dropped anyway.
        target = safe_next(target) or ""
        message = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
        body = (
            f"{message}"
            f'<form method="post" action="{LOGIN_PATH}">'
            f"{_hidden({CSRF_FIELD: token, 'next': target})}"
            '<label>Username <input type="text" name="username" '
            f'value="{escape(username)}"></label> '
            '<label>Password <input type="password" name="password" value=""></label> '
            '<button type="submit">Log In</button>'
            "</form>"
        )
        response = envelope.html_response(_page("Login • Instagram", body), status=status)
        if is_new:
            _set_cookie(response, CSRF_COOKIE, nonce)
        return response

    # ---- /oauth/access_token -------------------------------------------------------------------
    def access_token(self, request: Request) -> Response:
        try:
            check_request(request)
        except BadInput as exc:
            return _bad_input(exc)
        # Only form fields count: a JSON body leaves the server with no client_id (§1, §5.5).
        form: Mapping[str, str]
        if request.mimetype:
            form = request.form
        else:
            # python-instagram's exchange_code_for_access_token posts urlencoded fields with no
            # Content-Type at all (httplib2 adds none), and the real endpoint read them as a
            # form. An untyped body is read so; a typed non-form body (JSON) still is not.
            form = MultiDict(parse_qsl(request.get_data(as_text=True), keep_blank_values=True))
        try:
            return self._exchange(form)
        except _OAuthFailure as failure:
            return failure.response

    def _exchange(self, form: Mapping[str, str]) -> Response:
        client_id = form.get("client_id", "")
        if not client_id:
            raise _OAuthFailure(400, "OAuthException", "You must provide a client_id")
        client = self.state.client(client_id)
        if client is None:
            raise _OAuthFailure(400, "OAuthException", INVALID_CLIENT)
        if not hmac.compare_digest(
            form.get("client_secret", "").encode(), client.client_secret.encode()
        ):
            raise _OAuthFailure(400, "OAuthException", "Invalid Client Secret")
        if form.get("grant_type", "") != "authorization_code":
            raise _OAuthFailure(
                400, "OAuthException", "Invalid grant_type: only authorization_code is supported"
            )
        redirect_uri = form.get("redirect_uri", "")
        if redirect_uri not in client.redirect_uris:
            raise _OAuthFailure(400, "OAuthException", REDIRECT_MISMATCH)
        code = self.state.code(form.get("code", ""))
        not_found = _OAuthFailure(
            400, "OAuthException", "Matching code was not found or was already used."
        )
        if code is None:
            raise not_found
        if code.client_id != client.client_id:
            raise _OAuthFailure(400, "OAuthException", "Client ID doesn't match original request")
        if code.used or code.expires <= self.now():
            raise not_found
        if code.redirect_uri != redirect_uri:
            raise _OAuthFailure(400, "OAuthException", REDIRECT_MISMATCH)
        if not self.state.use_code(code.code):
            raise not_found
        grant = self.state.grant_for(code.user_id, client.client_id)
        if grant is None:  # consent recorded the grant; only a tampered database lacks it
            raise not_found
        return envelope.json_response(
            {"access_token": grant.token, "user": self.store.user_json(code.user_id)}
        )


# ---- small helpers ------------------------------------------------------------------------------
def _redirect(location: str) -> Response:
    return Response("", status=302, headers={"Location": location})


def _append_query(uri: str, query: str, state: str | None) -> str:
    if state is not None:
        query += "&" + urlencode({"state": state})
    return uri + ("&" if "?" in uri else "?") + query


def _set_cookie(response: Response, name: str, value: str) -> None:
    """Every cookie the sandbox sets: no script reads it, and no other site's POST sends it."""
    response.set_cookie(name, value, path="/", httponly=True, samesite="Lax")


def _bad_input(exc: BadInput) -> Response:
    return envelope.oauth_error(400, "OAuthException", str(exc))


def _csrf_failure() -> Response:
    return envelope.html_response(
        _page(
            "403 Forbidden",
            "<h1>Forbidden (403)</h1><p>CSRF verification failed. Request aborted.</p>",
        ),
        status=403,
    )


def _hidden(values: Mapping[str, str]) -> str:
    return "".join(
        f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'
        for name, value in values.items()
    )


# Enough style that the pages read well in a browser during a demo; no external resources, since
# the sandbox must work offline.
_STYLE = (
    "body{font-family:system-ui,sans-serif;background:#fafafa;color:#262626;margin:0}"
    "main{max-width:350px;margin:48px auto;background:#fff;border:1px solid #dbdbdb;"
    "padding:24px 32px}"
    "h1{font-family:Georgia,serif;font-weight:normal;text-align:center;margin:0 0 4px}"
    ".sub{text-align:center;color:#8e8e8e;font-size:13px;margin:0 0 20px}"
    "label{display:block;font-size:13px;color:#8e8e8e;margin:8px 0}"
    "input[type=text],input[type=password]{display:block;width:100%;box-sizing:border-box;"
    "padding:8px;margin-top:4px;border:1px solid #dbdbdb;border-radius:3px;background:#fafafa}"
    "button{padding:7px 16px;margin:12px 8px 0 0;border:0;border-radius:4px;"
    "background:#0095f6;color:#fff;font-weight:600;cursor:pointer}"
    "button[name=deny]{background:#efefef;color:#262626}"
    ".error{color:#ed4956;font-size:14px}li{margin:6px 0;font-size:14px}"
)


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body><main>"
        '<h1>Instagram</h1><p class="sub">igflow sandbox of API v1 · demo accounts: '
        "<code>igflow sandbox users</code></p>"
        f"{body}</main></body></html>"
    )
