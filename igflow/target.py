"""Where a run sends its requests: the embedded sandbox, a served sandbox, or a real API origin.

A target is an origin (``http://127.0.0.1:8765``, ``https://api.instagram.com``); the registry
holds the API prefix. ``sandbox`` starts a fresh in-memory sandbox on a loopback port for the run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from igflow.errors import AuthenticationError, UsageError

if TYPE_CHECKING:
    import requests

    from igflow.auth import SandboxInfo
    from igflow.client import ApiClient
    from igflow.pacing import Pacer
    from igflow.redact import Redactor
    from igflow.registry import Registry
    from igflow.sandbox.config import SandboxConfig
    from igflow.sandbox.server import RunningSandbox
    from igflow.settings import ClientHooks, ClientSettings

SANDBOX = "sandbox"


def normalize_origin(target: str) -> str:
    """Validate a target URL and reduce it to its origin (scheme://host[:port]).

    The one place an origin is checked: the CLI's --target, a playbook's ``target``, the
    clients, the journal's binding and the sandbox tools' --url all go through it.
    """
    parts = urlsplit(target.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(
            f"target must be 'sandbox' or an http(s) origin such as http://127.0.0.1:8765, "
            f"not '{target}'"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise UsageError(
            f"target '{target}' has a path or a query; give the origin only (the registry adds /v1)"
        )
    return f"{parts.scheme}://{parts.netloc}"


def _session_for(origin: str) -> requests.Session:
    """A Session for one origin, with the environment's settings for it read once.

    A Session reads the environment on every request (``trust_env``): proxies and ``no_proxy``,
    ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``, and ``~/.netrc``. That walks ``os.environ`` twice
    and reads a file per request, about a quarter of a small request's time on loopback (bench:
    670 -> 490 microseconds). A run talks to one origin and its environment does not change, so
    the same settings are taken once, for that origin, and the per-request lookups turned off.
    """
    import requests
    from requests.utils import get_netrc_auth

    from igflow.bounded import bounded_session

    session = bounded_session(requests.Session())
    settings = session.merge_environment_settings(origin, {}, None, None, None)
    netrc_auth = get_netrc_auth(origin)
    session.trust_env = False
    session.proxies.update(settings["proxies"])
    session.verify = settings["verify"]
    session.cert = settings["cert"]
    if netrc_auth is not None:
        session.auth = netrc_auth
    return session


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


@dataclass
class Authorized:
    """The result of an `authorize` step: a client bound to a token."""

    client: ApiClient
    token: str
    scopes: tuple[str, ...]
    user: str | None


class TargetSession(AbstractContextManager["TargetSession"]):
    """One run's connection to its target: shared HTTP session, sandbox discovery, auth."""

    def __init__(
        self,
        target: str,
        *,
        registry: Registry,
        redactor: Redactor,
        settings: ClientSettings | None = None,
        hooks: ClientHooks | None = None,
        sandbox_config: SandboxConfig | None = None,
        scope_cap: frozenset[str] | None = None,
    ) -> None:
        """Set up the run's connection (nothing is started before ``with``).

        ``settings`` and ``hooks`` go to every client the session builds (see
        :class:`igflow.client.ApiClient`), and all of them share one pacer, since v1 counts
        requests per token whichever client object sends them.
        """
        from igflow.pacing import RATE_LIMIT_MAX_WAIT, RATE_LIMIT_WAIT, check_rate_limit_settings
        from igflow.settings import ClientHooks, ClientSettings

        self.settings = settings if settings is not None else ClientSettings()
        self.hooks = hooks if hooks is not None else ClientHooks()
        check_rate_limit_settings(  # at once, not when the first client is built
            self.settings.rate_limit_policy,
            _or(self.settings.rate_limit_wait, RATE_LIMIT_WAIT),
            _or(self.settings.rate_limit_max_wait, RATE_LIMIT_MAX_WAIT),
        )
        self.timeouts = self.settings.timeouts
        self.max_response_bytes = self.settings.max_response_bytes
        self._pacer: Pacer | None = None
        self.target = target
        self.registry = registry
        self.redactor = redactor
        self._sandbox_config = sandbox_config
        # A dry run's cap on the scopes a sandbox login asks for (igflow.dry_scopes).
        self.scope_cap = scope_cap
        self._running: RunningSandbox | None = None
        self._session: requests.Session | None = None
        self._info: SandboxInfo | None = None
        self._info_fetched = False
        self._clients: dict[str, ApiClient] = {}
        self.origin = ""

    # -- lifecycle -----------------------------------------------------------------------
    def __enter__(self) -> TargetSession:
        if self.target == SANDBOX:
            from igflow.sandbox.config import SandboxConfig
            from igflow.sandbox.server import start_sandbox

            # The profile says which emulator serves it (v1, or Graph); --sandbox-data its data.
            config = self._sandbox_config or SandboxConfig()
            config = replace(config, api=self.registry.sandbox)
            try:
                self._running = start_sandbox(config)
            except ValueError as exc:  # a --sandbox-data file that does not load
                raise UsageError(str(exc)) from None
            self.origin = self._running.url
        else:
            self.origin = normalize_origin(self.target)
        self._session = _session_for(self.origin)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            self._session.close()
        if self._running is not None:
            self._running.stop()

    @property
    def session(self) -> requests.Session:
        assert self._session is not None, "TargetSession used outside `with`"
        return self._session

    # -- discovery ------------------------------------------------------------------------
    def sandbox_info(self) -> SandboxInfo | None:
        """The sandbox's clients and demo users, or None when the target is not a sandbox."""
        if not self._info_fetched:
            from igflow.auth import fetch_sandbox_info

            self._info = fetch_sandbox_info(
                self.session,
                self.origin,
                self.timeouts.connect,
                max_response_bytes=self.max_response_bytes,
            )
            self._info_fetched = True
            if self._info is not None:
                for client in self._info.clients.values():
                    self.redactor.add(client.client_secret)
        return self._info

    def _client(self, key: str, **kwargs: Any) -> ApiClient:
        if key not in self._clients:
            from igflow.client import ApiClient

            client = ApiClient(
                self.registry,
                self.origin,
                redactor=self.redactor,
                settings=self.settings,
                hooks=self.hooks,
                session=self.session,
                pacer=self._pacer,
                **kwargs,
            )
            # One pacer for the whole run: the first client's (it uses the session's sleep
            # and on_rate_limit_wait, or the client's defaults for them).
            self._pacer = client.pacer
            self._clients[key] = client
        return self._clients[key]

    def anonymous_client(self) -> ApiClient:
        """A client for endpoints that need no token (oEmbed; client credentials on a sandbox)."""
        info = self.sandbox_info()
        if info is not None:
            default = info.client(None)
            return self._client(
                "client:" + default.name,
                client_id=default.client_id,
                client_secret=default.client_secret,
                sign_requests=default.signed,
            )
        return self._client("anonymous")

    # -- the authorize step ----------------------------------------------------------------
    def authorize(
        self,
        *,
        scopes: Sequence[str],
        user: str | None,
        password: str | None,
        client: str | None,
        token: str | None,
        app_secret: str | None = None,
    ) -> Authorized:
        if token is not None:
            if not token.strip():
                raise AuthenticationError(
                    "the authorize step's token is empty (is the environment variable set?)"
                )
            self.redactor.add(token)
            if app_secret:  # every call signed (Graph: appsecret_proof), as the app requires
                self.redactor.add(app_secret)
                import hashlib

                key = "token+secret:" + hashlib.sha256(app_secret.encode()).hexdigest()[:16]
                signing = self._client(key, client_secret=app_secret, sign_requests=True)
                return Authorized(signing, token, tuple(scopes), user)
            return Authorized(self._client("token"), token, tuple(scopes), user)

        info = self.sandbox_info()
        if info is None:
            raise AuthenticationError(
                f"{self.origin} is not an igflow sandbox, so igflow cannot log in as a user "
                f'there; give the authorize step a `token:` (e.g. "{{{{ env.IG_TOKEN }}}}")'
            )
        if user is None:
            raise AuthenticationError(
                "the authorize step needs `user:` (a sandbox user) or `token:`"
            )
        chosen = info.client(client)
        if password is None:
            password = info.passwords.get(user)
            if password is None:
                raise AuthenticationError(_unknown_user(user, info.passwords))
        self.redactor.add(password)
        if self.scope_cap is not None:  # a dry run: the reads' scopes only (igflow.dry_scopes)
            from igflow.dry_scopes import capped

            scopes = capped(scopes, self.scope_cap, self.registry.base_scope)
        if self.registry.login_flow == "instagram-login":
            return self._instagram_login(chosen, user, password, scopes)
        from igflow.auth import authorize_sandbox

        new_token = authorize_sandbox(
            self.session,
            self.origin,
            client_id=chosen.client_id,
            redirect_uri=chosen.redirect_uri,
            username=user,
            password=password,
            scopes=scopes,
            timeout=self.timeouts.read,
            client_secret=None if chosen.implicit else chosen.client_secret,
            max_response_bytes=self.max_response_bytes,
        )
        self.redactor.add(new_token)
        api = self._client(
            "client:" + chosen.name,
            client_id=chosen.client_id,
            client_secret=chosen.client_secret,
            sign_requests=chosen.signed,
        )
        return Authorized(api, new_token, tuple(scopes), user)

    def _instagram_login(
        self, chosen: Any, user: str, password: str, scopes: Sequence[str]
    ) -> Authorized:
        """Graph: Instagram Login on the sandbox's pages, then the long-lived token."""
        from igflow.auth_graph import authorize_graph_sandbox

        api = self._client(
            "client:" + chosen.name,
            client_id=chosen.client_id,
            client_secret=chosen.client_secret,
            sign_requests=chosen.signed,
        )
        token = authorize_graph_sandbox(
            self.session,
            self.origin,
            api=api,
            client_id=chosen.client_id,
            client_secret=chosen.client_secret,
            redirect_uri=chosen.redirect_uri,
            username=user,
            password=password,
            scopes=scopes,
            timeout=self.timeouts.read,
            max_response_bytes=self.max_response_bytes,
        )
        return Authorized(api, token, tuple(scopes), user)


def _unknown_user(user: str, known: Mapping[str, str]) -> str:
    """Why a sandbox user without a password cannot log in: usually a typo of a demo user."""
    from igflow.playbook.suggest import did_you_mean

    hint = did_you_mean(user, known)
    return (
        f"no demo password is known for sandbox user '{user}'{hint} "
        "(`igflow sandbox users` lists the users; give `password:` for another one)"
    )
