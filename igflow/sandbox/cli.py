"""``igflow sandbox ...``: serve a sandbox, list its users, get a token, manage its clients.

``igflow/cli.py`` owns the top-level parser and calls :func:`add_sandbox_parser` and
:func:`run_sandbox_command`. Every failure is raised as the igflow error of its kind, which the
CLI's one error path words as one line with its exit status: 2 usage or bad values, 4 cannot
connect, 5 authorization refused; never a traceback.

Length: over 400 lines: one small handler per ``igflow sandbox`` command, each with its argparse
declaration beside it.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from igflow import gcpolicy
from igflow.errors import (
    AuthenticationError,
    ExitCode,
    IgflowError,
    TransportError,
    UsageError,
    printable,
)

DEFAULT_URL = "http://127.0.0.1:8765"
GRAPH_BASIC = "instagram_business_basic"  # the Graph token's scope when --scopes is not given
DEFAULT_TIMEOUT = 10.0


def _failure(message: str, status: ExitCode) -> IgflowError:
    """A failure of a sandbox command, as the igflow error of its kind (the CLI words it)."""
    kinds: dict[ExitCode, type[IgflowError]] = {
        ExitCode.USAGE: UsageError,
        ExitCode.TRANSPORT: TransportError,
        ExitCode.AUTH: AuthenticationError,
    }
    return kinds.get(status, UsageError)(message)


# ---- parser ----------------------------------------------------------------------------------
def add_sandbox_parser(subparsers: Any) -> None:
    """Add the sandbox subcommands.

    Accepts the top-level ``subparsers`` action (a ``sandbox`` parser is added to it) or the
    ``sandbox`` parser itself (its subcommands are added to it).
    """
    if hasattr(subparsers, "add_parser"):
        parser = subparsers.add_parser(
            "sandbox",
            help="run and inspect the local Instagram API v1 sandbox",
            description="Serve the sandbox (a local emulator of the retired Instagram API v1) and "
            "work with its demo users, tokens and clients.",
        )
    else:
        parser = subparsers
    commands = parser.add_subparsers(dest="sandbox_command", metavar="COMMAND")
    commands.required = True

    serve = commands.add_parser("serve", help="serve a sandbox on loopback until Ctrl-C")
    serve.add_argument(
        "--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)"
    )
    serve.add_argument(
        "--port", type=int, default=8765, help="port (default: 8765; 0 picks a free one)"
    )
    serve.add_argument(
        "--api",
        choices=("v1", "graph"),
        default="v1",
        help="the legacy API v1 (default) or the Graph API with Instagram Login",
    )
    serve.add_argument(
        "--era", default="2016", help="2016 (default), 2018-04-04, 2018-12-11 or 2020-06-29"
    )
    serve.add_argument(
        "--db", metavar="FILE", help="keep state in this SQLite file (default: in memory)"
    )
    serve.add_argument("--data", metavar="FILE", help="dataset YAML to load into a fresh state")
    serve.add_argument(
        "--generate", metavar="SPEC", help="generate a dataset, e.g. users=50,media=20000"
    )
    serve.add_argument(
        "--rate-limits",
        default="on",
        metavar="on|off|xN",
        help="limits on, off, or multiplied (x10)",
    )
    serve.add_argument(
        "--latency", type=int, default=0, metavar="MS", help="add this latency to every /v1 request"
    )
    serve.add_argument(
        "--fail-nth", type=int, metavar="N", help="answer the Nth handled /v1 request with a 500"
    )
    serve.add_argument(
        "--fail-rate",
        type=float,
        default=0.0,
        metavar="R",
        help="answer this share of /v1 requests with a 500",
    )
    serve.add_argument(
        "--drop-nth",
        type=int,
        metavar="N",
        help="drop the connection of the Nth handled /v1 request",
    )
    serve.add_argument(
        "--drop-rate",
        type=float,
        default=0.0,
        metavar="R",
        help="drop this share of /v1 connections",
    )
    serve.add_argument(
        "--fault-phase",
        choices=("before", "after"),
        default="before",
        help="strike before a write commits, or after it (the response is lost)",
    )
    serve.add_argument(
        "--fault-seed", type=int, default=0, metavar="N", help="seed of the random faults"
    )
    serve.add_argument(
        "--exhaust-rate-limit", action="store_true", help="answer every token's calls with 429"
    )
    serve.add_argument(
        "--clock",
        choices=("real", "fake"),
        default="real",
        help="real time, or a clock moved by POST /_sandbox/clock",
    )
    serve.add_argument(
        "--request-log", metavar="FILE", help="append every request (redacted) as JSON Lines"
    )

    users = commands.add_parser("users", help="list the demo users and their passwords")
    _add_target(users)

    token = commands.add_parser("token", help="get an access token through the real OAuth flow")
    token.add_argument(
        "--url",
        type=sandbox_url,
        default=DEFAULT_URL,
        help=f"the running sandbox (default: {DEFAULT_URL})",
    )
    token.add_argument("--user", required=True, help="log in as this user")
    token.add_argument(
        "--scopes",
        help="comma-separated scopes (default: basic; on a Graph sandbox: "
        "instagram_business_basic)",
    )
    token.add_argument("--client", default="default", help="client name (default: default)")
    token.add_argument("--password", help="the user's password (default: the demo password)")

    clients = commands.add_parser("clients", help="list or register OAuth clients")
    actions = clients.add_subparsers(dest="clients_command", metavar="ACTION")
    actions.required = True
    _add_target(actions.add_parser("list", help="list the registered clients"))
    add = actions.add_parser("add", help="register a client")
    _add_target(add)
    add.add_argument("--name", help="client name (default: client-N)")
    add.add_argument(
        "--redirect-uri",
        action="append",
        dest="redirect_uris",
        metavar="URI",
        help="a registered redirect URI (repeatable; default: http://localhost)",
    )
    implicit = add.add_mutually_exclusive_group()
    implicit.add_argument(
        "--implicit", action="store_true", help="allow implicit OAuth (default: disabled)"
    )
    implicit.add_argument(
        "--no-implicit", action="store_true", help="disable implicit OAuth (the default)"
    )
    add.add_argument("--signed", action="store_true", help="enforce signed requests (sig)")
    add.add_argument(
        "--live", action="store_true", help="live mode (no sandbox caps, live rate limits)"
    )
    add.add_argument(
        "--sandbox-user",
        action="append",
        dest="sandbox_users",
        metavar="USER",
        help="a sandbox user (repeatable; default: the default client's)",
    )
    from igflow.sandbox.cli_manage import add_client_actions, add_commands

    add_client_actions(actions)
    add_commands(commands)


def sandbox_url(text: str) -> str:
    """argparse ``type`` of every sandbox subcommand's ``--url``: an http(s) URL with a host.

    Checked here, once, so a typo is a usage error (exit 2) naming the option, not a transport
    failure (exit 4) quoting requests' exception name.
    """
    from urllib.parse import urlsplit

    shown = printable(text[:200])
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number 0-65535
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or printable(text) != text
        or any(c.isspace() for c in text)
    ):
        raise argparse.ArgumentTypeError(
            f"'{shown}' is not a sandbox URL: expected http://HOST:PORT (e.g. {DEFAULT_URL})"
        )
    return text


def _add_target(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--url", type=sandbox_url, help=f"a running sandbox (default: {DEFAULT_URL})"
    )
    group.add_argument("--db", metavar="FILE", help="a sandbox state file (from serve --db)")


# ---- dispatch ----------------------------------------------------------------------------------
def run_sandbox_command(args: argparse.Namespace, out: TextIO, err: TextIO | None = None) -> int:
    """Run a parsed ``igflow sandbox ...`` command; return its exit status.

    ``err`` gets notes that are not the command's output (default: sys.stderr).
    """
    if args.sandbox_command == "users":
        import sys

        return _users(args, out, err or sys.stderr)
    commands: dict[str, Callable[[argparse.Namespace, TextIO], int]] = {
        "serve": _serve,
        "token": _token,
        "clients": _clients,
        "grants": _manage("run_grants"),
        "reset": _manage("run_reset"),
    }
    # Failures are igflow errors: they go to the CLI's one error path (igflow.cli.main).
    return commands[args.sandbox_command](args, out)


def _manage(name: str) -> Callable[[argparse.Namespace, TextIO], int]:
    def run(args: argparse.Namespace, out: TextIO) -> int:
        from igflow.sandbox import cli_manage

        command: Callable[[argparse.Namespace, TextIO], int] = getattr(cli_manage, name)
        return command(args, out)

    return run


def _serve(args: argparse.Namespace, out: TextIO) -> int:
    from igflow.sandbox.server import serve_forever

    config = config_from_args(args)
    try:
        gcpolicy.settled()
        return serve_forever(config, args.host, args.port, out=out)
    except OSError as exc:
        raise _failure(
            f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", ExitCode.USAGE
        ) from None
    except ValueError as exc:  # a dataset file that does not load
        raise _failure(str(exc), ExitCode.USAGE) from None


def config_from_args(args: argparse.Namespace) -> Any:
    """Build a SandboxConfig from ``serve``'s options (bad values → UsageError, exit 2)."""
    from igflow.sandbox.config import ConfigError, SandboxConfig, parse_generate
    from igflow.sandbox.faults import FaultSpec, FaultSpecError

    try:
        faults = FaultSpec(
            latency_ms=args.latency,
            fail_nth=args.fail_nth,
            fail_rate=args.fail_rate,
            drop_nth=args.drop_nth,
            drop_rate=args.drop_rate,
            exhaust_rate_limit=args.exhaust_rate_limit,
            phase=args.fault_phase,
            seed=args.fault_seed,
        )
        if args.data and not os.path.exists(args.data):
            raise ConfigError(f"no such dataset file: {args.data}")
        if args.data and not os.path.isfile(args.data):  # as `run --sandbox-data` says it
            from igflow.regular_file import file_kind

            kind = file_kind(os.stat(args.data).st_mode)
            raise ConfigError(f"--data: {args.data} is {kind}, not a dataset file")
        return SandboxConfig(
            api=getattr(args, "api", "v1"),
            era=args.era,
            db=args.db or ":memory:",
            data=args.data,
            generate=parse_generate(args.generate) if args.generate else None,
            rate_limits=args.rate_limits,
            faults=faults,
            request_log=args.request_log,
            clock=args.clock,
        )
    except (ConfigError, FaultSpecError) as exc:
        raise _failure(str(exc), ExitCode.USAGE) from None


# ---- users ------------------------------------------------------------------------------------
def _users(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.db:
        with _open_state(args.db) as (state, store):
            users = store.list_users()
    elif args.url:
        users = _get_json(args.url, "/_sandbox/info").get("users", [])
    else:
        users = _users_here_or_default(err)
    rows = [
        (
            u.get("username", ""),
            str(u.get("id", "")),
            "yes" if u.get("private") else "no",
            u.get("password", ""),
        )
        for u in users
    ]
    _table(out, ("USERNAME", "ID", "PRIVATE", "PASSWORD"), rows)
    return 0


def _users_here_or_default(err: TextIO) -> list[dict[str, Any]]:
    """The users of the sandbox at the default URL, else of the default dataset (saying so)."""
    try:
        users: list[dict[str, Any]] = _get_json(DEFAULT_URL, "/_sandbox/info").get("users", [])
        return users
    except TransportError:
        from igflow.sandbox.admin import user_summary
        from igflow.sandbox.dataset import read_dataset

        # On stderr, so the table on stdout reads the same either way.
        print(
            f"igflow: no sandbox is running at {DEFAULT_URL}; these are the default dataset's "
            "users (what `igflow run` and `igflow sandbox serve` start with)",
            file=err,
        )
        return [user_summary(user) for user in read_dataset(None).get("users", [])]


# ---- token ------------------------------------------------------------------------------------
def _token(args: argparse.Namespace, out: TextIO) -> int:
    import requests

    from igflow.auth import authorize_sandbox, fetch_sandbox_info
    from igflow.errors import AuthenticationError, TransportError

    url = args.url.rstrip("/")
    given = args.scopes
    scopes = [s for s in (part.strip() for part in (given or "").replace("+", ",").split(",")) if s]
    with requests.Session() as session:
        try:
            info = fetch_sandbox_info(session, url, DEFAULT_TIMEOUT)
            if info is None:
                raise _failure(
                    f"{url} is not an igflow sandbox (no /_sandbox/info)", ExitCode.TRANSPORT
                )
            client = info.clients.get(args.client)
            if client is None:
                known = ", ".join(sorted(info.clients))
                raise _failure(f"no client named '{args.client}' (known: {known})", ExitCode.USAGE)
            password = args.password if args.password is not None else info.passwords.get(args.user)
            if password is None:
                raise _failure(
                    f"no demo password for '{args.user}'; pass --password "
                    "(see `igflow sandbox users`)",
                    ExitCode.USAGE,
                )
            if info.api == "instagram.graph":
                token = _graph_token(
                    session, url, client, args.user, password, scopes or [GRAPH_BASIC]
                )
                print(token, file=out)
                return 0
            token = authorize_sandbox(
                session,
                url,
                client_id=client.client_id,
                redirect_uri=client.redirect_uri,
                username=args.user,
                password=password,
                scopes=scopes or ["basic"],
                timeout=DEFAULT_TIMEOUT,
                # Implicit OAuth off (new clients' default): the code flow, as a server would.
                client_secret=None if client.implicit else client.client_secret,
            )
        except TransportError as exc:
            raise _failure(str(exc), ExitCode.TRANSPORT) from None
        except AuthenticationError as exc:
            raise _failure(f"authorization refused: {exc}", ExitCode.AUTH) from None
    print(token, file=out)
    return 0


def _graph_token(
    session: Any, url: str, client: Any, user: str, password: str, scopes: list[str]
) -> str:
    """A Graph sandbox: Instagram Login on its pages, the code exchange and the long-lived
    exchange, as the ``authorize`` step does it (igflow/auth_graph.py); a long-lived token.

    Raises the igflow errors of the flow: OAuthError (a refused login, a personal account, an
    unknown permission), ApiError (the exchange answered a Graph error), TransportError."""
    from igflow.auth_graph import authorize_graph_sandbox
    from igflow.client import ApiClient
    from igflow.errors import ApiError
    from igflow.redact import Redactor
    from igflow.registry import load_registry

    api = ApiClient(
        load_registry("instagram.graph"),
        url,
        redactor=Redactor([client.client_secret, password]),
        session=session,
        client_id=client.client_id,
        client_secret=client.client_secret,
        sign_requests=client.signed,
    )
    try:
        return authorize_graph_sandbox(
            session,
            url,
            api=api,
            client_id=client.client_id,
            client_secret=client.client_secret,
            redirect_uri=client.redirect_uri,
            username=user,
            password=password,
            scopes=scopes,
            timeout=DEFAULT_TIMEOUT,
        )
    except ApiError as exc:  # the long-lived exchange refused: an authorization failure
        raise AuthenticationError(str(exc)) from None


# ---- clients ----------------------------------------------------------------------------------
def _clients(args: argparse.Namespace, out: TextIO) -> int:
    if args.clients_command in ("update", "remove"):
        from igflow.sandbox.cli_manage import run_client_action

        return run_client_action(args, out)
    if args.clients_command == "list":
        if args.db:
            with _open_state(args.db) as (state, _store):
                clients = [c.public() for c in state.clients()]
        else:
            info = _get_json(args.url or DEFAULT_URL, "/_sandbox/info")
            clients = info.get("clients", []) if isinstance(info, dict) else []
            if isinstance(info, dict) and info.get("api") == "instagram.graph":
                return _graph_apps(clients, out)
        rows = [
            (
                c["name"],
                c["client_id"],
                c["client_secret"],
                c["mode"],
                "yes" if c["implicit"] else "no",
                "yes" if c["signed"] else "no",
                " ".join(c["redirect_uris"]),
            )
            for c in clients
        ]
        _table(
            out,
            ("NAME", "CLIENT_ID", "CLIENT_SECRET", "MODE", "IMPLICIT", "SIGNED", "REDIRECT_URIS"),
            rows,
        )
        return 0
    body: dict[str, Any] = {
        "implicit": bool(args.implicit),
        "signed": args.signed,
        "mode": "live" if args.live else "sandbox",
        "redirect_uris": args.redirect_uris or ["http://localhost"],
    }
    if args.name:
        body["name"] = args.name
    if args.sandbox_users:
        body["sandbox_users"] = args.sandbox_users
    if args.db:
        from igflow.sandbox.admin import add_client_from_json
        from igflow.sandbox.clients import ClientSpecError

        with _open_state(args.db) as (state, store):
            try:
                client = add_client_from_json(state, store, body).public()
            except ClientSpecError as exc:
                raise _failure(str(exc), ExitCode.USAGE) from None
    else:
        client = _post_json(args.url or DEFAULT_URL, "/_sandbox/clients", body)
    print_client(client, out)
    return 0


def _graph_apps(apps: list[dict[str, Any]], out: TextIO) -> int:
    """A Graph sandbox's apps: no mode or signed flag there, an API version and proof instead."""
    rows = [
        (
            str(a.get("name", "")),
            str(a.get("client_id", "")),
            str(a.get("client_secret", "")),
            str(a.get("api_version", "")),
            "yes" if a.get("require_app_secret") else "no",
            " ".join(a.get("redirect_uris", [])),
        )
        for a in apps
    ]
    header = ("NAME", "CLIENT_ID", "CLIENT_SECRET", "API_VERSION", "APPSECRET_PROOF")
    _table(out, (*header, "REDIRECT_URIS"), rows)
    return 0


def print_client(client: dict[str, Any], out: TextIO) -> None:
    """A client as ``clients add`` and ``clients update`` print it, one ``key: value`` a line."""
    for key in (
        "name",
        "client_id",
        "client_secret",
        "mode",
        "implicit",
        "signed",
        "redirect_uris",
    ):
        value = client.get(key)
        shown = (
            " ".join(value)
            if isinstance(value, list)
            else str(value).lower()
            if isinstance(value, bool)
            else value
        )
        print(f"{key}: {printable(str(shown))}", file=out)


# ---- helpers ----------------------------------------------------------------------------------
class _open_state:
    """Open a sandbox state file (``serve --db``) for direct reading and writing."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __enter__(self) -> tuple[Any, Any]:
        from igflow.sandbox.clients import OAuthState
        from igflow.sandbox.db import Database
        from igflow.sandbox.store import Store

        if not os.path.isfile(self.path):
            raise _failure(f"no such sandbox state file: {self.path}", ExitCode.USAGE)
        try:
            self.db = Database(self.path)
            state = OAuthState(self.db)
            initialized = state.initialized()
        except Exception as exc:  # sqlite3.DatabaseError: not a database at all
            raise _failure(
                f"{self.path} is not a sandbox state file ({exc})", ExitCode.USAGE
            ) from None
        if not initialized:
            self.db.close()
            raise _failure(
                f"{self.path} is not a sandbox state file (run `igflow sandbox serve --db` first)",
                ExitCode.USAGE,
            )
        return state, Store(self.db)

    def __exit__(self, *exc_info: object) -> None:
        if hasattr(self, "db"):
            self.db.close()


def _request(method: str, url: str, path: str, body: Any = None) -> Any:
    import requests

    target = url.rstrip("/") + path
    try:
        response = requests.request(method, target, json=body, timeout=DEFAULT_TIMEOUT)
    except requests.ConnectionError:
        raise _failure(
            f"cannot connect to a sandbox at {url} (is `igflow sandbox serve` running?)",
            ExitCode.TRANSPORT,
        ) from None
    except requests.RequestException as exc:
        raise _failure(
            f"the sandbox at {url} failed: {type(exc).__name__}", ExitCode.TRANSPORT
        ) from None
    try:
        payload = response.json()
    except ValueError:
        payload = None
    explained = isinstance(payload, dict) and isinstance(payload.get("error"), str)
    if response.status_code == 404 and path.startswith("/_sandbox/") and not explained:
        raise _failure(f"{url} is not an igflow sandbox (no {path})", ExitCode.TRANSPORT)
    if response.status_code >= 400:
        message = payload.get("error") if isinstance(payload, dict) else None
        raise _failure(
            message or f"the sandbox answered HTTP {response.status_code}", ExitCode.USAGE
        )
    if path == "/_sandbox/info" and not isinstance(payload, dict):  # callers read its keys
        raise _failure(f"{url} is not an igflow sandbox (no /_sandbox/info)", ExitCode.TRANSPORT)
    return payload


def _get_json(url: str, path: str) -> Any:
    return _request("GET", url, path)


def _post_json(url: str, path: str, body: Any) -> Any:
    return _request("POST", url, path, body)


def _cell(text: str) -> str:
    """``text`` printable, with format characters (U+202E reverses the row) and lone
    surrogates (unprintable as UTF-8) escaped too: a name stored before the rule may hold one."""
    import unicodedata

    return "".join(
        f"\\u{ord(c):04x}" if unicodedata.category(c) in ("Cf", "Cs") else c
        for c in printable(text)
    )


def _table(out: TextIO, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Aligned columns; every cell printable (a name must not move the cursor or set a title)."""
    rows = [[_cell(str(cell)) for cell in row] for row in rows]
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    for row in (header, *rows):
        print(
            "  ".join(
                str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)
            ).rstrip(),
            file=out,
        )
