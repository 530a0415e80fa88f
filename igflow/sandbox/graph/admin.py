"""The Graph sandbox's control endpoints under ``/_sandbox/`` (not part of the Graph API).

``info``, ``token``, ``clock``, ``faults``, ``reset-rate-limits`` mirror the v1 sandbox's (clock
and faults are the same views, ``igflow.sandbox.control``); ``graph/comments`` stands for
"another user commented" (and triggers webhooks), ``graph/webhooks`` is the app-level webhook
subscription of the App Dashboard (with the verification handshake), ``graph/errors`` makes
the next call(s) answer a catalogued error, ``graph/revoke`` invalidates an account's tokens as
a password change, an app removal or a logout would. Loopback only, so no authentication.
``/_sandbox/info`` shows secrets and demo passwords: demo data, the one documented exception.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from igflow.errors import printable
from igflow.sandbox import control, envelope
from igflow.sandbox.graph.dataset import from_id_for
from igflow.sandbox.graph.webhooks import WebhookError, check_callback, verify_handshake

if TYPE_CHECKING:
    from igflow.sandbox.graph.app import GraphApp

REVOKE_REASONS = {
    "password_changed": "token_password_changed",
    "app_removed": "token_app_removed",
    "logged_out": "token_revoked",
}
MAX_TEXT = 2200
_MENTION = re.compile(r"(?<![\w.])@([A-Za-z0-9_.]{1,30})")


def _error(status: int, message: str) -> Response:
    return envelope.json_response({"error": message}, status=status)


def _body(request: Request) -> dict[str, Any] | None:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else None


class GraphAdmin:
    def __init__(self, app: GraphApp) -> None:
        self.app = app

    def routes(self) -> dict[str, tuple[tuple[str, ...], Callable[[Request], Response]]]:
        return {
            "/_sandbox/info": (("GET",), self.info),
            "/_sandbox/token": (("POST",), self.token),
            "/_sandbox/clock": (("GET", "POST"), lambda r: control.clock_view(self.app.clock, r)),
            "/_sandbox/faults": (
                ("GET", "POST"),
                lambda r: control.faults_view(self.app.faults, r),
            ),
            "/_sandbox/reset-rate-limits": (("POST",), self.reset_rate_limits),
            "/_sandbox/reset": (("POST",), self.reset),
            "/_sandbox/graph/comments": (("POST",), self.comment),
            "/_sandbox/graph/webhooks": (("GET", "POST"), self.webhooks),
            "/_sandbox/graph/errors": (("GET", "POST", "DELETE"), self.errors),
            "/_sandbox/graph/revoke": (("POST",), self.revoke),
        }

    def info(self, request: Request) -> Response:
        app = self.app
        with app.db.transaction():
            apps = [a.public() for a in app.store.apps()]
            accounts = app.store.accounts()
        users = [
            {
                "id": a["id"],
                "username": a["username"],
                "password": a["password"],
                "account_type": a["account_type"],
                "professional": a["account_type"] in ("Business", "Media_Creator"),
                "name": a.get("name", ""),
                "full_name": a.get("name", ""),  # v1's info shape
                "private": bool(a.get("is_private", False)),
            }
            for a in accounts
        ]
        return envelope.json_response(
            {
                "sandbox": True,
                "api": "instagram.graph",
                "default_version": app.rules.default_version,
                "versions": {
                    v.name: app.rules.serving_version(v.name, app.clock.now())
                    for v in app.rules.versions
                },
                "clock": {
                    "kind": "fake" if app.clock.controllable else "real",
                    "now": app.clock.now(),
                },
                "scopes": app.rules.scopes,
                "clients": apps,
                "users": users,
            }
        )

    def token(self, request: Request) -> Response:
        """``{"user", "scopes", "client"?, "kind"?}`` → a token without the login pages."""
        body = _body(request)
        if body is None or not isinstance(body.get("user"), str):
            return _error(400, 'send {"user": username, "scopes": [...], "client": name}')
        scopes = body.get("scopes", ["instagram_business_basic"])
        if isinstance(scopes, str):
            scopes = [s for s in scopes.replace(",", " ").split() if s]
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            return _error(400, "scopes must be a list of permission names")
        unknown = [s for s in scopes if s not in self.app.rules.scopes]
        if unknown:
            return _error(400, f"unknown permission(s): {', '.join(unknown)}")
        kind = body.get("kind", "long")
        if kind not in ("short", "long"):
            return _error(400, "kind must be short or long")
        store = self.app.store
        with self.app.db.transaction():
            account = store.account_by_username(body["user"])
            client = body.get("client") or "default"
            app = store.app_by_name(str(client)) or store.app(str(client))
            if account is None:
                return _error(404, f"no account '{body['user']}'")
            if app is None:
                return _error(404, f"no app '{client}'")
            if account["account_type"] not in ("Business", "Media_Creator"):
                return _error(400, f"'{account['username']}' is not a professional account")
            lifetime = self.app.rules.number("tokens", f"{kind}_seconds")
            token = store.issue_token(
                kind,
                account["id"],
                app.client_id,
                frozenset(scopes),
                self.app.clock.now(),
                lifetime,
            )
        self.app.secrets.add(token.token)
        return envelope.json_response(
            {
                "access_token": token.token,
                "token_type": "bearer",
                "user_id": token.user_id,
                "expires_in": int(lifetime),
                "permissions": ",".join(sorted(scopes)),
            }
        )

    def reset(self, request: Request) -> Response:
        """Back to the dataset (the shape of the v1 sandbox's ``/_sandbox/reset``)."""
        self.app.reset()
        return envelope.json_response({"reset": True})

    def reset_rate_limits(self, request: Request) -> Response:
        self.app.usage.reset()
        return envelope.json_response({"reset": True})

    def comment(self, request: Request) -> Response:
        """ "Another user commented": ``{"media_id", "username", "text", "parent_id"?}``."""
        body = _body(request)
        if body is None or not all(
            isinstance(body.get(k), str) for k in ("media_id", "username", "text")
        ):
            return _error(400, 'send {"media_id", "username", "text", "parent_id"?}')
        if len(body["text"]) > MAX_TEXT or not body["username"] or len(body["username"]) > 30:
            return _error(400, f"text is at most {MAX_TEXT} characters, username 1 to 30")
        store = self.app.store
        with self.app.db.transaction():
            media = store.media(body["media_id"])
            if media is None:
                return _error(404, f"no media {body['media_id']}")
            parent = body.get("parent_id")
            if parent is not None:
                top = store.comment(str(parent))
                if top is None or top["media"] != media["id"]:
                    return _error(404, f"no comment {parent} on that media")
                parent = top.get("parent") or top["id"]
            owner = store.account(media["owner"]) or {}
            known = store.account_by_username(body["username"])
            from_id = known["id"] if known else from_id_for(body["username"], {})
            comment_id = store.next_id("comment")
            store.add_comment(
                {
                    "id": comment_id,
                    "media": media["id"],
                    "parent": parent,
                    "created": self.app.clock.now(),
                    "username": body["username"],
                    "from_id": from_id,
                    "text": body["text"],
                }
            )
        value: dict[str, Any] = {
            "id": comment_id,
            "text": body["text"],
            "from": {"id": from_id, "username": body["username"]},
            "media": {
                "id": media["id"],
                "media_product_type": media.get("media_product_type", "FEED"),
            },
        }
        if parent:
            value["parent_id"] = parent
        owner_id = str(owner.get("id", media["owner"]))
        queued = self.app.notify(owner_id, "comments", value)
        # An @mention of another professional account is a `mentions` notification to it (§7).
        for mentioned in self._mentioned(body["text"], exclude=owner_id):
            change = {"media_id": media["id"], "comment_id": comment_id}
            queued += self.app.notify(mentioned, "mentions", change)
        return envelope.json_response({"id": comment_id, "notifications": queued}, status=201)

    def _mentioned(self, text: str, exclude: str) -> list[str]:
        found: list[str] = []
        with self.app.db.transaction():
            for name in dict.fromkeys(_MENTION.findall(text)):
                account = self.app.store.account_by_username(name.rstrip("."))
                if account and account["id"] != exclude and account["id"] not in found:
                    found.append(str(account["id"]))
        return found

    def webhooks(self, request: Request) -> Response:
        app = self.app
        if request.method == "GET":
            with app.db.transaction():
                subs = app.store.app_subs()
            return envelope.json_response(
                {
                    "subscriptions": [
                        {
                            "client_id": s["client_id"],
                            "callback_url": s["callback_url"],
                            "fields": s["fields"],
                        }
                        for s in subs
                    ],
                    "deliveries": app.webhooks.records(),
                }
            )
        body = _body(request)
        if body is None or not isinstance(body.get("callback_url"), str):
            return _error(400, 'send {"callback_url", "verify_token", "fields": [...], "client"?}')
        fields = body.get("fields", ["comments"])
        known = [str(f) for f in app.rules.section("webhooks")["fields"]]
        if not isinstance(fields, list) or not all(f in known for f in fields):
            return _error(400, f"fields must be a list of: {', '.join(known)}")
        verify_token = str(body.get("verify_token", ""))
        try:
            url = check_callback(body["callback_url"])
            with app.db.transaction():
                client = app.store.app_by_name(
                    str(body.get("client") or "default")
                ) or app.store.app(str(body.get("client")))
            if client is None:
                return _error(404, f"no app '{body.get('client')}'")
            # The dashboard verifies the callback before it saves the subscription (§7).
            verify_handshake(url, verify_token, app.webhooks.timeout)
        except WebhookError as exc:
            return _error(400, str(exc))
        with app.db.transaction():
            app.store.set_app_sub(client.client_id, url, verify_token, list(dict.fromkeys(fields)))
        return envelope.json_response(
            {"success": True, "client_id": client.client_id, "fields": fields}
        )

    def errors(self, request: Request) -> Response:
        """``{"error": catalogue name, "times": n, "endpoint": id?}``: the next call(s) fail so."""
        if request.method == "DELETE":
            self.app.clear_injected()
        elif request.method == "POST":
            body = _body(request)
            if body is None or not isinstance(body.get("error"), str):
                return _error(400, 'send {"error": name, "times": 1, "endpoint": id}')
            times = body.get("times", 1)
            if not isinstance(times, int) or not 1 <= times <= 10_000:
                return _error(400, "times must be a number from 1 to 10000")
            endpoint = body.get("endpoint")
            try:
                self.app.inject(body["error"], times, str(endpoint) if endpoint else None)
            except KeyError:
                return _error(400, f"no error '{body['error']}' in the catalogue")
        return envelope.json_response(
            {"pending": self.app.injected(), "catalogue": sorted(self.app.rules.section("errors"))}
        )

    def revoke(self, request: Request) -> Response:
        body = _body(request)
        reason = body.get("reason") if body else None
        if body is None or not isinstance(body.get("user"), str) or reason not in REVOKE_REASONS:
            return _error(400, f'send {{"user", "reason": one of {", ".join(REVOKE_REASONS)}}}')
        with self.app.db.transaction():
            account = self.app.store.account_by_username(body["user"])
            if account is None:
                return _error(404, f"no account '{body['user']}'")
            count = self.app.store.revoke_tokens(account["id"], REVOKE_REASONS[str(reason)])
        return envelope.json_response({"revoked": count})


def describe_graph(app: GraphApp, url: str) -> str:
    """The banner ``igflow sandbox serve --api graph`` prints."""
    with app.db.transaction():
        apps = app.store.apps()
        accounts = app.store.accounts()
    lines = [
        f"igflow Graph sandbox (instagram.graph) serving on {url}  "
        f"(default version {app.rules.default_version}, clock {app.config.clock})",
        f"API: {url}/{app.rules.default_version}/me   authorize: {url}/oauth/authorize",
        "apps:",
    ]
    for entry in apps:
        lines.append(
            f"  {printable(entry.name):<10} client_id={entry.client_id}  secret={entry.secret}  "
            f"redirect={printable(','.join(entry.redirect_uris))}"
        )
    lines.append("accounts:")
    for account in accounts:
        lines.append(
            f"  {printable(str(account['username'])):<20} password={account['password']:<14} "
            f"{account['account_type']}  id={account['id']}"
        )
    lines.append("Press Ctrl-C to stop.")
    return "\n".join(lines)
