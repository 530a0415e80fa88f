"""Per API profile: the sandbox app that emulates it and the real hosts it answers for.

This mapping is the one place a new profile is added to the test doubles: ``igflow.mock`` routes
its hosts into its app, and the fixtures serve that app. ``instagram.graph`` joins when its
emulator lands (its hosts are graph.instagram.com for the API, api.instagram.com and
www.instagram.com for OAuth).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from igflow.errors import UsageError

if TYPE_CHECKING:
    from igflow.sandbox.app import SandboxApp
    from igflow.sandbox.config import SandboxConfig

__all__ = ["DEFAULT_API", "PROFILES", "Profile", "profile"]

DEFAULT_API = "instagram.v1"


@dataclass(frozen=True)
class Profile:
    """An API profile's emulator, as the test doubles use it."""

    api: str
    # The real hosts whose requests ``igflow.mock`` answers (http or https); the first one,
    # over https, is the mock's ``url``.
    hosts: tuple[str, ...]
    # A fresh emulator from a config and a dataset (None: the config's own data).
    make_app: Callable[[SandboxConfig, dict[str, Any] | None], SandboxApp]

    @property
    def origin(self) -> str:
        return f"https://{self.hosts[0]}"


def _v1_app(config: SandboxConfig, dataset: dict[str, Any] | None) -> SandboxApp:
    from igflow.sandbox.app import create_app

    return create_app(config, dataset=dataset)


PROFILES: dict[str, Profile] = {
    # The v1 API, its OAuth pages (api.instagram.com/oauth/...) and the web host that served
    # oEmbed and permalinks.
    "instagram.v1": Profile(
        "instagram.v1", ("api.instagram.com", "instagram.com", "www.instagram.com"), _v1_app
    ),
}


def profile(api: str) -> Profile:
    """The profile named ``api``; a usage error naming the known ones otherwise."""
    found = PROFILES.get(api)
    if found is None:
        known = ", ".join(sorted(PROFILES))
        raise UsageError(f"no sandbox for API profile '{api}' (known: {known})")
    return found
