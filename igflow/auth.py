"""The `authorize` step: obtaining a v1 access token.

Against a sandbox igflow performs the real OAuth 2.0 implicit flow over HTTP, as a person in a
browser would: open the authorize URL, log in as the sandbox user, grant consent, and read the
token from the redirect's ``#access_token=`` fragment. Against a real target the playbook supplies
the token (``token: "{{ env.IG_TOKEN }}"``) and igflow only checks it is there.

The login and consent pages are driven by :func:`drive_login_pages`, which the Graph profile's
Instagram Login (:mod:`igflow.auth_graph`) shares.

Length: a little over 400 lines: the page driver, the form parser and the OAuth error shapes
are one browser-like client of the sandbox's pages, used by both profiles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html.parser import HTMLParser
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import requests

from igflow.bounded import (
    DEFAULT_MAX_RESPONSE_BYTES,
    BodyTooLarge,
    DeadlinePassed,
    begin,
    end,
    read_body,
    show_bytes,
)
from igflow.errors import (
    AuthenticationError,
    ConnectError,
    MalformedResponse,
    OAuthError,
    RequestTimeout,
    TransportError,
    printable,
)
from igflow.transport_errors import TRANSPORT_EXCEPTIONS

_MAX_HOPS = 8  # authorize → login → authorize → consent → redirect, with room to spare


class SandboxClient(NamedTuple):
    """A client registered with a sandbox, as ``/_sandbox/info`` describes it."""

    name: str
    client_id: str
    client_secret: str
    redirect_uri: str
    implicit: bool
    signed: bool
    mode: str


class SandboxInfo(NamedTuple):
    era: str
    clients: Mapping[str, SandboxClient]
    passwords: Mapping[str, str]  # demo passwords by username
    api: str = "instagram.v1"  # "api" of /_sandbox/info: which emulator answers

    def client(self, name: str | None) -> SandboxClient:
        wanted = name or "default"
        try:
            return self.clients[wanted]
        except KeyError:
            known = ", ".join(sorted(self.clients))
            raise AuthenticationError(
                f"the sandbox has no client named '{wanted}' (known: {known})"
            ) from None


def fetch_sandbox_info(
    session: requests.Session,
    origin: str,
    timeout: float,
    *,
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
) -> SandboxInfo | None:
    """Ask a target whether it is an igflow sandbox; None when it is not."""
    response = _send(
        session,
        "GET",
        origin + "/_sandbox/info",
        timeout=timeout,
        where=f"cannot reach {origin}",
        max_bytes=max_response_bytes,
    )
    if response.status_code != 200:
        return None
    try:
        body = response.json()
    except (ValueError, RecursionError):
        return None
    if not isinstance(body, dict) or body.get("sandbox") is not True:
        return None
    # Any origin can answer this URL: take only what has the shape an igflow sandbox gives.
    clients = {}
    for entry in _list_of_mappings(body.get("clients")):
        client = _sandbox_client(entry)
        if client is not None:
            clients[client.name] = client
    passwords: dict[str, str] = {}
    for user in _list_of_mappings(body.get("users")):
        name, password = user.get("username"), user.get("password")
        if isinstance(name, str):
            passwords[name] = password if isinstance(password, str) else ""
    api = body.get("api") if isinstance(body.get("api"), str) else "instagram.v1"
    return SandboxInfo(
        era=str(body.get("era", "2016")), clients=clients, passwords=passwords, api=str(api)
    )


def _list_of_mappings(value: Any) -> list[dict[str, Any]]:
    return [entry for entry in value if isinstance(entry, dict)] if isinstance(value, list) else []


def _sandbox_client(entry: dict[str, Any]) -> SandboxClient | None:
    texts = [entry.get(key) for key in ("name", "client_id", "client_secret")]
    if not all(isinstance(text, str) and text for text in texts):
        return None
    uris = entry.get("redirect_uris")
    first = uris[0] if isinstance(uris, list) and uris else "http://localhost"
    return SandboxClient(
        name=entry["name"],
        client_id=entry["client_id"],
        client_secret=entry["client_secret"],
        redirect_uri=first if isinstance(first, str) else "http://localhost",
        implicit=bool(entry.get("implicit", True)),
        # Graph apps say "require_app_secret" (every call carries appsecret_proof).
        signed=bool(entry.get("signed", False) or entry.get("require_app_secret", False)),
        mode=str(entry.get("mode", "sandbox")),
    )


def _send(
    session: requests.Session,
    method: str,
    url: str,
    *,
    timeout: float,
    where: str,
    max_bytes: int,
    data: Any = None,
) -> requests.Response:
    """One OAuth-flow request; every way it can fail becomes a transport error.

    ``timeout`` bounds the connect and each read; the whole exchange may take twice that (see
    :mod:`igflow.bounded`), and its body at most ``max_bytes``.

    Raised ``from None``: requests' exception texts carry URLs (the last redirect holds the
    token), and what leaks from below requests (a reset connection, an undecodable Location
    header) must not end as an internal error.
    """
    response: requests.Response | None = None
    failure: TransportError | None = None
    deadline = begin(2 * timeout)
    try:
        response = session.request(
            method, url, data=data, timeout=timeout, allow_redirects=False, stream=True
        )
        read_body(response, max_bytes, deadline)
    except (*TRANSPORT_EXCEPTIONS, DeadlinePassed) as exc:
        if deadline.expired:  # a socket shut down at the deadline reads as a broken connection
            failure = RequestTimeout(
                f"{where}: no complete answer within {deadline.seconds:g}s (connect + read "
                "timeout; raise it with --timeout)"
            )
        elif isinstance(exc, requests.ConnectionError):
            failure = ConnectError(f"{where}: connection refused or failed")
        else:
            failure = TransportError(f"{where}: {type(exc).__name__}")
    except BodyTooLarge as exc:
        failure = MalformedResponse(
            f"{where}: the response is larger than the {show_bytes(exc.limit)} "
            "--max-response-bytes allows; stopped reading"
        )
    finally:
        end(deadline)
    if failure is not None:
        if response is not None:
            response.close()
        raise failure from None
    assert response is not None
    return response


class _FormParser(HTMLParser):
    """Collects the first form's action and its inputs (hidden fields and submit buttons)."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.method = "get"
        self.fields: dict[str, str] = {}
        self.submits: dict[str, str] = {}
        self.alert = ""  # the text of a role="alert" element (the page's error message)
        self._in_alert = False
        self._in_form = False
        self._done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        if attributes.get("role") == "alert" and not self.alert:
            self._in_alert = True
        if self._done:
            return
        if tag == "form":
            self._in_form = True
            self.action = attributes.get("action", "")
            self.method = attributes.get("method", "get").lower()
        elif self._in_form and tag in ("input", "button") and "name" in attributes:
            kind = attributes.get("type", "text" if tag == "input" else "submit").lower()
            target = self.submits if kind == "submit" else self.fields
            target[attributes["name"]] = attributes.get("value", "")

    def handle_data(self, data: str) -> None:
        if self._in_alert and len(self.alert) < 300:
            self.alert += data

    def handle_endtag(self, tag: str) -> None:
        if self._in_alert and tag in ("p", "div", "span"):
            self._in_alert = False
        if tag == "form" and self._in_form:
            self._in_form = False
            self._done = True


def _parse_form(html: str) -> _FormParser:
    parser = _FormParser()
    parser.feed(html)
    return parser


def _oauth_error(response: requests.Response) -> OAuthError:
    """Turn an OAuth error body (no ``meta`` wrapper) into an OAuthError."""
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "error_message" in body:
        return OAuthError(
            str(body["error_message"]),
            error_type=str(body.get("error_type", "OAuthException")),
            status=response.status_code,
        )
    return OAuthError(
        f"the sandbox's authorize flow answered HTTP {response.status_code}",
        status=response.status_code,
    )


def _grant_from_redirect(location: str, redirect_uri: str) -> tuple[str, str]:
    """("token", access_token) from the implicit flow, or ("code", code) from the code flow."""
    parts = urlsplit(location)
    fragment = parse_qs(parts.fragment)
    if "access_token" in fragment:
        return "token", fragment["access_token"][0]
    query = parse_qs(parts.query)
    if "error" in query:
        reason = query.get("error_description", query["error"])[0]
        raise OAuthError(f"authorization refused: {reason}", error_type="access_denied")
    if "code" in query:
        return "code", query["code"][0]
    raise OAuthError(f"the redirect to {redirect_uri} carried no access token or code")


def _exchange_code(
    session: requests.Session,
    origin: str,
    *,
    code: str,
    client_id: str,
    client_secret: str,
    redirect_uri: str,
    timeout: float,
    max_bytes: int,
) -> str:
    """The explicit flow's second half: POST /oauth/access_token with the client's secret."""
    form = {
        "client_id": client_id,
        "client_secret": client_secret,
        "grant_type": "authorization_code",
        "redirect_uri": redirect_uri,
        "code": code,
    }
    response = _send(
        session,
        "POST",
        f"{origin}/oauth/access_token",
        data=form,
        timeout=timeout,
        where=f"the sandbox at {origin}",
        max_bytes=max_bytes,
    )
    try:
        body: Any = response.json()
    except (ValueError, RecursionError):
        body = None
    if response.status_code == 200 and isinstance(body, dict) and "access_token" in body:
        return str(body["access_token"])
    raise _oauth_error(response)


def authorize_sandbox(
    session: requests.Session,
    origin: str,
    *,
    client_id: str,
    redirect_uri: str,
    username: str,
    password: str,
    scopes: Sequence[str],
    timeout: float = 10.0,
    client_secret: str | None = None,
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
) -> str:
    """Log in to a sandbox as ``username`` and grant ``scopes``; return the access token.

    Uses the implicit flow, or the explicit (code) flow when ``client_secret`` is given, which
    clients with implicit OAuth disabled require.

    Raises:
        OAuthError: the sandbox refused (bad client, redirect mismatch, not a sandbox user,
            wrong password, implicit OAuth disabled, ...), with the sandbox's own message.
        TransportError: the sandbox could not be reached.
    """
    query = urlencode(
        {
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "response_type": "token" if client_secret is None else "code",
            "scope": " ".join(scopes),
        }
    )
    location = drive_login_pages(
        session,
        f"{origin}/oauth/authorize/?{query}",
        origin=origin,
        redirect_uri=redirect_uri,
        username=username,
        password=password,
        timeout=timeout,
        max_response_bytes=max_response_bytes,
    )
    kind, value = _grant_from_redirect(location, redirect_uri)
    if kind == "token":
        return value
    assert client_secret is not None
    return _exchange_code(
        session,
        origin,
        code=value,
        client_id=client_id,
        client_secret=client_secret,
        redirect_uri=redirect_uri,
        timeout=timeout,
        max_bytes=max_response_bytes,
    )


def drive_login_pages(
    session: requests.Session,
    url: str,
    *,
    origin: str,
    redirect_uri: str,
    username: str,
    password: str,
    timeout: float,
    max_response_bytes: int,
) -> str:
    """Go through a sandbox's login and consent pages from ``url``, as a browser would; return
    the Location of the redirect to ``redirect_uri`` (it carries the grant, or the refusal).

    Both profiles' sandboxes serve the same page shapes (v1 and Graph: Instagram Login).

    Raises:
        OAuthError: A page refused (wrong password, unknown client, ...) or had no form.
        TransportError: The sandbox could not be reached.
    """
    method, data = "GET", None
    logged_in = False
    for _ in range(_MAX_HOPS):
        response = _send(
            session,
            method,
            url,
            data=data,
            timeout=timeout,
            where=f"the sandbox at {origin}",
            max_bytes=max_response_bytes,
        )

        if response.is_redirect:
            location = response.headers["Location"]
            if location.startswith(redirect_uri):
                return location
            url, method, data = urljoin(url, location), "GET", None
            continue
        if response.status_code != 200 or "html" not in response.headers.get("Content-Type", ""):
            raise _oauth_error(response)

        form = _parse_form(response.text)
        if form.action is None:
            raise OAuthError("the sandbox's authorize page had no form to submit")
        fields = dict(form.fields)
        if "password" in fields or "username" in fields:
            if logged_in:
                why = printable(" ".join(form.alert.split()))
                raise OAuthError(
                    f"the sandbox refused the login of user '{username}'"
                    + (f": {why}" if why else " (wrong password?)")
                )
            fields.update(username=username, password=password)
            logged_in = True
        else:
            allow = next((k for k, v in form.submits.items() if k == "allow"), None)
            if allow is None:
                raise OAuthError("the sandbox's consent page had no 'allow' button")
            fields[allow] = form.submits[allow]
        url = urljoin(url, form.action)
        method, data = form.method.upper(), fields
    raise OAuthError("the sandbox's authorize flow did not finish (too many redirects)")
