"""Settings from the environment, in the Hurl style: ``IGFLOW_TARGET``, ``IGFLOW_VAR_name``,
``IGFLOW_SECRET_name``.

``IGFLOW_VAR_shortcode=Bcizg1_B3nu`` sets the variable ``shortcode`` (a string, as Hurl's
``HURL_VARIABLE_x``); ``IGFLOW_SECRET_token=...`` sets ``token`` too and redacts its value
everywhere, as if the playbook listed it in ``secrets:``. They are the weakest source of
variables: ``--vars-file`` overrides them and ``--var`` overrides both. ``IGFLOW_TARGET``
is the target when ``--target`` is not given (it wins over the playbook's own ``target:``, as
``--target`` does). The pytest plugin reads the same variables.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from igflow.errors import UsageError

__all__ = ["SECRET_PREFIX", "TARGET", "VAR_PREFIX", "EnvOverrides", "env_overrides"]

TARGET = "IGFLOW_TARGET"
VAR_PREFIX = "IGFLOW_VAR_"
SECRET_PREFIX = "IGFLOW_SECRET_"


class EnvOverrides(NamedTuple):
    target: str | None
    variables: dict[str, str]
    secret_names: frozenset[str]  # the variables whose values are redacted


def env_overrides(environ: Mapping[str, str]) -> EnvOverrides:
    """Read the overrides from ``environ``.

    Raises:
        UsageError: a variable name that is not an identifier, a reserved name, or one name
            given both as IGFLOW_VAR_ and IGFLOW_SECRET_.
    """
    from igflow.variables import RESERVED_NAMES

    variables: dict[str, str] = {}
    secrets: set[str] = set()
    for key in sorted(environ):
        for prefix in (VAR_PREFIX, SECRET_PREFIX):
            if not key.startswith(prefix):
                continue
            name = key[len(prefix) :]
            if not name.isidentifier():
                raise UsageError(f"{key}: '{name}' is not a variable name")
            if name in RESERVED_NAMES:
                raise UsageError(f"{key}: '{name}' is a reserved name and cannot be set")
            if name in variables:
                raise UsageError(
                    f"{VAR_PREFIX}{name} and {SECRET_PREFIX}{name} are both set: keep one"
                )
            variables[name] = environ[key]
            if prefix == SECRET_PREFIX:
                secrets.add(name)
    target = environ.get(TARGET) or None
    return EnvOverrides(target, variables, frozenset(secrets))
