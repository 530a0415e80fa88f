"""igflow: a declarative, YAML-driven automation runner for the Instagram API."""

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:  # for type checkers; at run time `igflow.mock` is imported on first use
    from igflow.testing.mock import mock as mock


def __getattr__(name: str) -> Any:
    # `igflow.mock` is imported on first use only: the `igflow` command never pays for it.
    if name == "mock":
        from igflow.testing.mock import mock

        return mock
    raise AttributeError(f"module 'igflow' has no attribute {name!r}")
