"""igflow: a declarative, YAML-driven automation runner for the Instagram API."""

__version__ = "0.1.0"

# Not `from typing import TYPE_CHECKING`: importing typing (and re, enum with it) would cost
# `igflow --help` about 15 ms, more than everything else it does (bench/startup.py).
TYPE_CHECKING = False
if TYPE_CHECKING:  # for type checkers; at run time `igflow.mock` is imported on first use
    from typing import Any

    from igflow.testing.mock import mock as mock


def __getattr__(name: str) -> "Any":
    # `igflow.mock` is imported on first use only: the `igflow` command never pays for it.
    if name == "mock":
        from igflow.testing.mock import mock

        return mock
    raise AttributeError(f"module 'igflow' has no attribute {name!r}")
