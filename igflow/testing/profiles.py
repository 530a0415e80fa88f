"""Per API profile: the sandbox app that emulates it and the real hosts it answers for.

This mapping is the one place a new profile is added to the test doubles: ``igflow.mock`` routes
its hosts into its app, and the fixtures serve that app. What differs in the helpers (tokens,
users, state views) is chosen by ``graph``: :mod:`igflow.testing.graph` for the Graph profile.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from igflow.errors import UsageError

if TYPE_CHECKING:
    from igflow.sandbox.config import SandboxConfig

__all__ = ["DEFAULT_API", "GRAPH_API", "PROFILES", "Profile", "profile"]

DEFAULT_API = "instagram.v1"
GRAPH_API = "instagram.graph"


@dataclass(frozen=True)
class Profile:
    """An API profile's emulator, as the test doubles use it."""

    api: str
    # The real hosts whose requests ``igflow.mock`` answers (http or https); the first one,
    # over https, is the mock's ``url``.
    hosts: tuple[str, ...]
    # A fresh emulator from a config and a dataset (None: the config's own data): a v1
    # SandboxApp or a GraphApp (typed Any: the two share only the WSGI call and close()).
    make_app: Callable[[SandboxConfig, dict[str, Any] | None], Any]
    # Scopes a token gets when a test names none.
    default_scopes: tuple[str, ...] = ("basic",)

    @property
    def origin(self) -> str:
        return f"https://{self.hosts[0]}"

    @property
    def graph(self) -> bool:
        return self.api == GRAPH_API


def _v1_app(config: SandboxConfig, dataset: dict[str, Any] | None) -> Any:
    from igflow.sandbox.app import create_app

    return create_app(config, dataset=dataset)


def _graph_app(config: SandboxConfig, dataset: dict[str, Any] | None) -> Any:
    from dataclasses import replace

    from igflow.sandbox.graph.app import create_graph_app

    # The profile decides the emulator: a config made for v1 (the default api="v1") is the
    # same config served by the Graph sandbox.
    return create_graph_app(replace(config, api="graph"), dataset=dataset)


PROFILES: dict[str, Profile] = {
    # The v1 API, its OAuth pages (api.instagram.com/oauth/...) and the web host that served
    # oEmbed and permalinks.
    "instagram.v1": Profile(
        "instagram.v1", ("api.instagram.com", "instagram.com", "www.instagram.com"), _v1_app
    ),
    # The Instagram API with Instagram Login: the API and the token exchange/refresh on
    # graph.instagram.com, the code exchange on api.instagram.com, the authorize page on
    # www.instagram.com. One sandbox answers all three, as it does on one served origin.
    GRAPH_API: Profile(
        GRAPH_API,
        ("graph.instagram.com", "api.instagram.com", "www.instagram.com"),
        _graph_app,
        ("instagram_business_basic",),
    ),
}


def profile(api: str) -> Profile:
    """The profile named ``api``; a usage error naming the known ones otherwise."""
    found = PROFILES.get(api)
    if found is None:
        known = ", ".join(sorted(PROFILES))
        raise UsageError(f"no sandbox for API profile '{api}' (known: {known})")
    return found
