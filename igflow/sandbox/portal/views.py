"""The portal's pages: one method per page, each taking the request and returning a response.

Pages that change something are POST forms with a ``csrfmiddlewaretoken`` bound to the login
session (``CsrfGuard.portal_token``); they redirect after success (post/redirect/get) and show
the form again with a message when the input is refused. Pages for logged-in users send anyone
else to the sandbox's login page with ``next`` set, as the real site did.

Length: a little over 400 lines: one short method per page of the portal, sharing the session,
form and rendering helpers below; split, each half would import the other's helpers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from igflow.sandbox import bodylimit, envelope
from igflow.sandbox.clients import (
    MAX_NAME_CHARS,
    MAX_SANDBOX_USERS,
    Client,
    ClientSpecError,
    OAuthState,
    UserStore,
    redirect_uri_problem,
)
from igflow.sandbox.csrf import CsrfGuard
from igflow.sandbox.portal.details import ClientDetails
from igflow.sandbox.portal.render import render

log = logging.getLogger("igflow.sandbox")

SESSION_COOKIE = "sessionid"  # the OAuth login's cookie (oauth.py)
CSRF_FIELD = "csrfmiddlewaretoken"
LOGIN_PATH = "/accounts/login/"
MANAGE_PATH = "/developer/clients/manage/"
# Bounds on what a form may send; no real form comes near them.
MAX_FIELD_CHARS = MAX_NAME_CHARS  # one limit for every text field, the name's too
MAX_REDIRECT_URIS = 20
TABS = ("details", "security", "sandbox")
CSRF_FAILED = "CSRF verification failed. Request aborted."


class _Refused(Exception):
    """Input a form refuses; the message goes on the page."""


@dataclass(frozen=True)
class Visitor:
    """A logged-in user of the portal."""

    session_id: str
    user_id: str
    username: str


class PortalViews:
    """The developer portal over a sandbox's OAuth state and users.

    Args:
        state: Clients and grants (the same object the OAuth views and admin API use).
        store: The sandbox's users.
        csrf: The sandbox's CSRF guard.
        details: The registration form's descriptive fields.
        endpoints: (method, path, scope) of every API endpoint, for the endpoints page.
    """

    def __init__(
        self,
        state: OAuthState,
        store: UserStore,
        csrf: CsrfGuard,
        details: ClientDetails,
        endpoints: list[tuple[str, str, str]],
    ) -> None:
        self.state = state
        self.store = store
        self.csrf = csrf
        self.details = details
        self.endpoints = endpoints

    def routes(self) -> dict[str, tuple[tuple[str, ...], Callable[..., Response]]]:
        """Path (a werkzeug rule, without trailing slash) → (methods, view)."""
        return {
            "/": (("GET",), self.index),
            "/developer": (("GET",), self.developer),
            "/developer/authentication": (("GET",), self.authentication),
            "/developer/endpoints": (("GET",), self.endpoints_page),
            "/developer/clients/manage": (("GET",), self.manage),
            "/developer/clients/register": (("GET", "POST"), self.register),
            "/developer/clients/<client_id>/registered": (("GET",), self.registered),
            "/developer/clients/<client_id>/edit": (("GET", "POST"), self.edit),
            "/accounts/manage_access": (("GET", "POST"), self.manage_access),
            "/accounts/logout": (("POST",), self.logout),
        }

    def too_large(self, request: Request) -> Response:
        """The page for a body over the sandboxes' one bound."""
        return self._page(
            request,
            "error.html",
            status=413,
            title="Request too large",
            message=f"A form may send at most {bodylimit.MAX_BODY_BYTES} bytes.",
        )

    def handle(self, view: Callable[..., Response], request: Request, **args: Any) -> Response:
        """Run a view; a bad body or a bug becomes a portal page, never a traceback."""
        if bodylimit.bound(request):
            return self.too_large(request)
        try:
            return view(request, **args)
        except RequestEntityTooLarge:
            return self.too_large(request)
        except HTTPException as exc:  # werkzeug refusing the request itself (a garbled body)
            return self._page(
                request,
                "error.html",
                status=exc.code or 400,
                title="Bad request",
                message="The request could not be read.",
            )
        except Exception:
            log.exception("sandbox portal page %s failed", request.path)
            return self._page(
                request,
                "error.html",
                status=500,
                title="Something went wrong",
                message="Oops, an error occurred (see the sandbox's log).",
            )

    def not_found(self, request: Request) -> Response:
        return self._page(
            request,
            "error.html",
            status=404,
            title="Page not found",
            message="Sorry, this page isn't available.",
        )

    def method_not_allowed(self, request: Request, allowed: Iterable[str]) -> Response:
        response = self._page(
            request,
            "error.html",
            status=405,
            title="Method not allowed",
            message=f"This page does not accept {request.method} requests.",
        )
        response.headers["Allow"] = ", ".join(sorted(set(allowed)))
        return response

    # ---- public pages ----------------------------------------------------------------------
    def index(self, request: Request) -> Response:
        return self._page(
            request, "index.html", users=self.store.list_users(), clients=self.state.clients()
        )

    def developer(self, request: Request) -> Response:
        return self._page(request, "developer.html")

    def authentication(self, request: Request) -> Response:
        return self._page(request, "authentication.html", host=request.host_url.rstrip("/"))

    def endpoints_page(self, request: Request) -> Response:
        return self._page(request, "endpoints.html", endpoints=self.endpoints)

    # ---- the dashboard and registration ----------------------------------------------------
    def manage(self, request: Request) -> Response:
        visitor = self._visitor(request)
        if visitor is None:
            return self._to_login(request)
        return self._page(request, "manage.html", visitor=visitor, clients=self.state.clients())

    def register(self, request: Request) -> Response:
        visitor = self._visitor(request)
        if visitor is None:
            return self._to_login(request)
        values = {
            "name": "",
            "description": "",
            "company": "",
            "website": "",
            "redirect_uris": "",
            "privacy_url": "",
            "contact_email": "",
        }
        error = None
        if request.method == "POST":
            if not self._csrf_ok(request, visitor):
                return self._csrf_failure(request, visitor)
            try:
                values.update({name: _field(request, name) for name in values})
                client = self._register(values, visitor)
            except (_Refused, ClientSpecError) as exc:
                error = str(exc)
            else:
                return _redirect(f"/developer/clients/{client.client_id}/registered/")
        return self._page(
            request,
            "register.html",
            visitor=visitor,
            values=values,
            error=error,
            status=400 if error else 200,
        )

    def _register(self, values: Mapping[str, str], visitor: Visitor) -> Client:
        name = values["name"].strip()
        if not name:
            raise _Refused("Application Name: this field is required.")
        _check_details(values)
        uris = _uri_lines(values["redirect_uris"])
        if self.state.client_by_name(name) is not None:
            raise _Refused(f"Application Name: a client named '{name}' already exists.")
        # The developer who registers an app is its first sandbox user, as on the real site.
        client = self.state.add_client(
            name=name, redirect_uris=uris, sandbox_users=[visitor.user_id]
        )
        self.details.save(client.client_id, {k: v.strip() for k, v in values.items()})
        return client

    def registered(self, request: Request, client_id: str) -> Response:
        visitor = self._visitor(request)
        if visitor is None:
            return self._to_login(request)
        client = self.state.client(client_id)
        if client is None:
            return self.not_found(request)
        return self._page(request, "registered.html", visitor=visitor, client=client)

    # ---- a client's page ------------------------------------------------------------------
    def edit(self, request: Request, client_id: str) -> Response:
        visitor = self._visitor(request)
        if visitor is None:
            return self._to_login(request)
        client = self.state.client(client_id)
        if client is None:
            return self.not_found(request)
        tab = request.values.get("tab", "details")
        tab = tab if tab in TABS else "details"
        error = None
        notice = None
        if request.method == "POST":
            if not self._csrf_ok(request, visitor):
                return self._csrf_failure(request, visitor)
            try:
                result = self._change(request, client, tab)
            except (_Refused, ClientSpecError) as exc:
                error = str(exc)
            else:
                if result is None:  # the client was deleted
                    return _redirect(MANAGE_PATH + "?removed=" + quote(client.name, safe=""))
                return _redirect(f"/developer/clients/{client_id}/edit/?tab={tab}&saved=1")
        elif request.args.get("saved"):
            notice = "Your changes have been saved."
        client = self.state.client(client_id) or client
        users = [
            self.store.user_by_id(uid) or {"id": uid, "username": uid}
            for uid in client.sandbox_users
        ]
        return self._page(
            request,
            "client.html",
            visitor=visitor,
            client=client,
            tab=tab,
            error=error,
            notice=notice,
            sandbox_users=users,
            max_users=MAX_SANDBOX_USERS,
            details=self.details.get(client.client_id),
            reveal=request.args.get("reveal") == "secret",
            status=400 if error else 200,
        )

    def _change(self, request: Request, client: Client, tab: str) -> Client | None:
        """Apply one tab's form; None when the client was deleted."""
        if tab == "details":
            if request.form.get("action") == "delete":
                self.state.remove_client(client.client_id)
                self.details.forget(client.client_id)
                return None
            values = {
                name: _field(request, name).strip()
                for name in ("description", "company", "website", "privacy_url", "contact_email")
            }
            _check_details(values)
            self.details.save(client.client_id, values)
            return client
        if tab == "security":
            return self.state.update_client(
                client.client_id,
                redirect_uris=_uri_lines(_field(request, "redirect_uris")),
                implicit="disable_implicit" not in request.form,
                signed="enforce_signed" in request.form,
            )
        users = list(client.sandbox_users)
        remove = request.form.get("remove")
        if remove is not None:
            return self.state.update_client(
                client.client_id, sandbox_users=[uid for uid in users if uid != remove]
            )
        wanted = _field(request, "username").strip()
        user = self.store.user_by_username(wanted) if wanted else None
        if user is None:
            raise _Refused(
                f"There is no sandbox user named '{wanted}'."
                if wanted
                else "Enter the username of the user to invite."
            )
        if str(user["id"]) in users:
            raise _Refused(f"{wanted} is already a sandbox user of this client.")
        if client.mode == "sandbox" and len(users) >= MAX_SANDBOX_USERS:
            raise _Refused(
                f"A client in sandbox mode can have at most {MAX_SANDBOX_USERS} "
                "sandbox users. Remove one before inviting another."
            )
        return self.state.update_client(client.client_id, sandbox_users=[*users, str(user["id"])])

    # ---- the user's authorized apps ----------------------------------------------------------
    def manage_access(self, request: Request) -> Response:
        visitor = self._visitor(request)
        if visitor is None:
            return self._to_login(request)
        notice = None
        if request.method == "POST":
            if not self._csrf_ok(request, visitor):
                return self._csrf_failure(request, visitor)
            revoked = self.state.revoke(visitor.user_id, request.form.get("client_id", ""))
            name = ""
            if revoked is not None:
                client = self.state.client(revoked.client_id)
                name = client.name if client else revoked.client_id
            return _redirect("/accounts/manage_access/?revoked=" + quote(name, safe=""))
        if "revoked" in request.args:
            name = request.args.get("revoked", "")
            notice = f"Access revoked for {name}." if name else "There was no access to revoke."
        apps = []
        for grant in self.state.grants(visitor.user_id):
            client = self.state.client(grant.client_id)
            if client is not None:
                apps.append((client, sorted(grant.scopes)))
        return self._page(request, "manage_access.html", visitor=visitor, apps=apps, notice=notice)

    def logout(self, request: Request) -> Response:
        visitor = self._visitor(request)
        if visitor is not None and not self._csrf_ok(request, visitor):
            return self._csrf_failure(request, visitor)
        if visitor is not None:
            self.state.end_session(visitor.session_id)
        response = _redirect("/")
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="Lax")
        return response

    # ---- helpers ------------------------------------------------------------------------------
    def _visitor(self, request: Request) -> Visitor | None:
        session_id = request.cookies.get(SESSION_COOKIE, "")
        user_id = self.state.session_user(session_id)
        if user_id is None:
            return None
        user = self.store.user_by_id(user_id) or {}
        return Visitor(session_id, user_id, str(user.get("username", user_id)))

    def _csrf_ok(self, request: Request, visitor: Visitor) -> bool:
        return self.csrf.portal_ok(visitor.session_id, request.form.get(CSRF_FIELD, ""))

    def _csrf_failure(self, request: Request, visitor: Visitor) -> Response:
        return self._page(
            request,
            "error.html",
            status=403,
            visitor=visitor,
            title="Forbidden (403)",
            message=CSRF_FAILED,
        )

    def _to_login(self, request: Request) -> Response:
        target = request.path + (
            "?" + request.query_string.decode("latin-1") if request.query_string else ""
        )
        return _redirect(f"{LOGIN_PATH}?next={quote(target, safe='/')}")

    def _page(
        self, request: Request, template: str, *, status: int = 200, **context: Any
    ) -> Response:
        visitor = context.get("visitor")
        if visitor is None and "visitor" not in context:
            visitor = context["visitor"] = self._visitor(request)
        if visitor is not None:
            context["csrf_token"] = self.csrf.portal_token(visitor.session_id)
        html = render(template, path=request.path, **context)
        return envelope.html_response(html, status=status)


def _check_details(values: Mapping[str, str]) -> None:
    """The rule for an app's details, one for the register form and the Details tab."""
    if not values["description"].strip():
        raise _Refused("Description: this field is required.")
    for key, label in (("website", "Website URL"), ("privacy_url", "Privacy Policy URL")):
        value = values[key].strip()
        if (value or key == "website") and redirect_uri_problem(value):
            raise _Refused(f"{label}: enter a valid URL, such as http://localhost.")
    if "@" not in values["contact_email"].strip("@ "):
        raise _Refused("Contact email: enter a valid email address.")


def _field(request: Request, name: str) -> str:
    value = request.form.get(name, "")
    if len(value) > MAX_FIELD_CHARS:
        raise _Refused(f"The field '{name}' is too long (at most {MAX_FIELD_CHARS} characters).")
    return value


def _uri_lines(text: str) -> list[str]:
    """Redirect URIs, one per line (or separated by spaces), each checked."""
    uris = list(dict.fromkeys(text.split()))
    if not uris:
        raise _Refused("Valid redirect URIs: enter at least one, such as http://localhost.")
    if len(uris) > MAX_REDIRECT_URIS:
        raise _Refused(f"Valid redirect URIs: at most {MAX_REDIRECT_URIS}.")
    for uri in uris:
        problem = redirect_uri_problem(uri)
        if problem:
            raise _Refused("Valid redirect URIs: " + problem + ".")
    return uris


def _redirect(location: str) -> Response:
    return Response("", status=303, headers={"Location": location})
