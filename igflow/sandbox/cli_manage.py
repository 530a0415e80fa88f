"""``igflow sandbox clients update|remove``, ``grants list|revoke`` and ``reset``.

Each works on a running sandbox (``--url``, through the ``/_sandbox/`` admin API) or on a state
file (``--db``, through the same ``OAuthState`` calls the admin API makes), like ``clients add``.
Failures are igflow errors with one line each: 2 bad arguments or refused values (unknown
client, bad redirect URI), 4 no sandbox at the URL.
"""

from __future__ import annotations

import argparse
from typing import Any, TextIO
from urllib.parse import quote, urlencode

from igflow.errors import ExitCode
from igflow.sandbox.cli import (
    DEFAULT_URL,
    _add_target,
    _failure,
    _open_state,
    _request,
    _table,
)


def add_client_actions(actions: Any) -> None:
    """``clients update`` and ``clients remove`` (beside ``list`` and ``add``)."""
    update = actions.add_parser("update", help="change a client's settings")
    _add_target(update)
    update.add_argument("client", metavar="CLIENT", help="the client's name (or id)")
    _flag(update, "implicit", "allow implicit OAuth (response_type=token)")
    _flag(update, "signed", "enforce signed requests (sig)")
    update.add_argument(
        "--redirect-uri",
        action="append",
        dest="redirect_uris",
        metavar="URI",
        help="the redirect URIs (repeatable; replaces the registered ones)",
    )
    update.add_argument("--mode", choices=("sandbox", "live"), help="sandbox or live mode")
    update.add_argument(
        "--sandbox-user",
        action="append",
        dest="sandbox_users",
        metavar="USER",
        help="the sandbox users (repeatable; replaces the invited ones)",
    )
    remove = actions.add_parser("remove", help="delete a client (its tokens stop working)")
    _add_target(remove)
    remove.add_argument("client", metavar="CLIENT", help="the client's name (or id)")


def add_commands(commands: Any) -> None:
    """``grants list|revoke`` and ``reset``."""
    grants = commands.add_parser("grants", help="list or revoke what users allowed clients")
    actions = grants.add_subparsers(dest="grants_command", metavar="ACTION")
    actions.required = True
    listing = actions.add_parser("list", help="which clients hold which scopes")
    _add_target(listing)
    listing.add_argument("--user", help="only this user's grants")
    revoke = actions.add_parser("revoke", help="withdraw a grant (its token stops working)")
    _add_target(revoke)
    revoke.add_argument("--user", required=True, help="the user who granted access")
    revoke.add_argument("--client", required=True, help="the client's name (or id)")
    reset = commands.add_parser(
        "reset", help="put the sandbox back to its dataset (clients, grants, content)"
    )
    _add_target(reset)


def _flag(parser: argparse.ArgumentParser, name: str, text: str) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(f"--{name}", dest=name, action="store_true", default=None, help=text)
    group.add_argument(f"--no-{name}", dest=name, action="store_false", help="the opposite")


# ---- clients update / remove -------------------------------------------------------------------
def run_client_action(args: argparse.Namespace, out: TextIO) -> int:
    from igflow.sandbox.cli import print_client

    if args.clients_command == "remove":
        if args.db:
            with _open_state(args.db) as (state, _store):
                client = _find(state, args.client)
                state.remove_client(client.client_id)
        else:
            _request("DELETE", _url(args), "/_sandbox/clients/" + quote(args.client, safe=""))
        print(f"removed client {args.client}", file=out)
        return 0
    body: dict[str, Any] = {}
    for key in ("implicit", "signed", "redirect_uris", "mode", "sandbox_users"):
        value = getattr(args, key)
        if value is not None:
            body[key] = value
    if not body:
        raise _failure(
            "nothing to change: give --implicit/--no-implicit, --signed/--no-signed, "
            "--redirect-uri, --mode or --sandbox-user",
            ExitCode.USAGE,
        )
    if args.db:
        from igflow.sandbox.admin import client_json, update_client_from_json
        from igflow.sandbox.clients import ClientSpecError

        with _open_state(args.db) as (state, store):
            try:
                shown = client_json(
                    update_client_from_json(state, store, _find(state, args.client), body)
                )
            except ClientSpecError as exc:
                raise _failure(str(exc), ExitCode.USAGE) from None
    else:
        shown = _request(
            "PATCH", _url(args), "/_sandbox/clients/" + quote(args.client, safe=""), body
        )
    print_client(shown, out)
    return 0


def _find(state: Any, name: str) -> Any:
    from igflow.sandbox.admin import find_client, unknown_client_message

    client = find_client(state, name)
    if client is None:
        raise _failure(unknown_client_message(state, name), ExitCode.USAGE)
    return client


# ---- grants ------------------------------------------------------------------------------------
def run_grants(args: argparse.Namespace, out: TextIO) -> int:
    if args.grants_command == "list":
        rows = _grants_list(args)
        _table(
            out,
            ("USER", "CLIENT", "SCOPES"),
            [(g["user"], g["client"], " ".join(g["scopes"])) for g in rows],
        )
        if not rows:
            print("(no grants)", file=out)
        return 0
    if args.db:
        from igflow.sandbox.clients import user_resolver

        with _open_state(args.db) as (state, store):
            client = _find(state, args.client)
            user_id = user_resolver(store)(args.user)
            if user_id is None:
                raise _failure(f"no sandbox user '{args.user}'", ExitCode.USAGE)
            if state.revoke(user_id, client.client_id) is None:
                raise _failure(f"'{args.user}' has not authorized '{client.name}'", ExitCode.USAGE)
    else:
        query = urlencode({"user": args.user, "client": args.client})
        _request("DELETE", _url(args), "/_sandbox/grants?" + query)
    print(f"revoked {args.user}'s grant to {args.client}", file=out)
    return 0


def _grants_list(args: argparse.Namespace) -> list[dict[str, Any]]:
    if not args.db:
        query = "?" + urlencode({"user": args.user}) if args.user else ""
        rows: list[dict[str, Any]] = _request("GET", _url(args), "/_sandbox/grants" + query)
        return rows
    from igflow.sandbox.admin import grant_json
    from igflow.sandbox.clients import user_resolver

    with _open_state(args.db) as (state, store):
        user_id = None
        if args.user:
            user_id = user_resolver(store)(args.user)
            if user_id is None:
                raise _failure(f"no sandbox user '{args.user}'", ExitCode.USAGE)
        return [grant_json(state, store, grant) for grant in state.grants(user_id)]


# ---- reset -------------------------------------------------------------------------------------
def run_reset(args: argparse.Namespace, out: TextIO) -> int:
    if args.db:
        from igflow.sandbox.app import create_app
        from igflow.sandbox.config import SandboxConfig

        with _open_state(args.db):
            pass  # refuses a missing file or one that is no sandbox, with its message
        # A state file remembers no dataset: it goes back to the default one (docs/sandbox.md).
        app = create_app(SandboxConfig(db=args.db))
        try:
            app.reset()
        finally:
            app.close()
        print(f"reset {args.db} to the default dataset", file=out)
        return 0
    url = _url(args)
    _request("POST", url, "/_sandbox/reset", {})
    print(f"reset the sandbox at {url} to its dataset", file=out)
    return 0


def _url(args: argparse.Namespace) -> str:
    return str(args.url or DEFAULT_URL)
