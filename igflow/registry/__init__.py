"""The endpoint registry: API profiles described as data (one YAML file per profile).

The client, ``igflow check``, ``igflow endpoints`` and the sandbox all read the same file, so
they cannot drift apart.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from functools import cache
from types import MappingProxyType
from typing import Any, NamedTuple
from urllib.parse import quote

from igflow.errors import UnknownEndpointError
from igflow.resources import package_data

PROFILES = {"instagram.v1": "instagram_v1.yaml"}


class Param(NamedTuple):
    name: str
    location: str  # "path" | "query" | "form"
    required: bool = False
    type: str = "string"  # "string" | "integer" | "number" | "boolean"
    enum: tuple[str, ...] = ()
    doc: str = ""


class Pagination(NamedTuple):
    """How a list endpoint pages: the request's cursor parameter and the response's next key."""

    cursor_param: str
    next_cursor: str


class Reconcile(NamedTuple):
    """How to tell, with a read, whether an in-doubt non-idempotent write was applied.

    ``call`` is read with parameters taken from the write's (``with``: read param -> write
    param); an entry found by ``find`` whose fields equal the write's params (``match``: dotted
    field -> write param) is the write, already applied.
    """

    call: str
    with_params: Mapping[str, str]
    find: str
    match: Mapping[str, str]
    # Dotted entry field that must equal the id of the account the write was sent as (the
    # comment's author): without it, someone else's comment with the same text would pass for
    # ours. None: the entries carry no author (a subscription belongs to the client).
    author: str | None = None
    id_field: str = "id"  # the entry field that identifies it (to tell old entries from new)


_NO_PARAMS: Mapping[str, Param] = MappingProxyType({})


class Endpoint(NamedTuple):
    id: str
    method: str
    path: str  # with {placeholders}, after the prefix
    doc: str
    prefix: str  # "/v1" for API endpoints, "" for oEmbed and OAuth
    auth: str  # "token" | "client" (client_id + client_secret) | "none"
    scope: str | None
    scope_if_not_owner: str | None
    mutates: bool
    idempotent: bool
    params: Mapping[str, Param] = _NO_PARAMS
    pagination: Pagination | None = None
    rate_bucket: str | None = (
        None  # per-endpoint write limit bucket: likes | comments | relationships
    )
    retired: str | None = None  # era (date) from which the endpoint is retired for everyone
    retired_for_others: str | None = (
        None  # era from which it is retired except on the caller's own data
    )
    legacy_only: bool = False  # unavailable to apps created after 2015-11-17 (the sandbox's apps)
    reconcile: Reconcile | None = None  # non-idempotent writes: how a resume checks them

    @property
    def required_params(self) -> list[str]:
        return [p.name for p in self.params.values() if p.required]

    @property
    def path_params(self) -> list[str]:
        return [p.name for p in self.params.values() if p.location == "path"]

    def build_path(self, values: Mapping[str, Any]) -> str:
        """The request path after the prefix, placeholders filled and percent-encoded."""
        path = self.path
        for name in self.path_params:
            path = path.replace("{" + name + "}", quote(str(values[name]), safe=""))
        return path


class AccountLookup(NamedTuple):
    """How to learn which account a token acts for: a read and the dotted path to its id."""

    call: str
    id_field: str


class Registry(NamedTuple):
    profile: str
    title: str
    origin: str  # the real service's origin
    prefix: str
    token_param: str
    sign_param: str
    next_url_path: str  # dotted path to the next-page link in a response body
    scopes: Mapping[str, str]
    endpoints: Mapping[str, Endpoint]
    account: AccountLookup | None = None

    def get(self, endpoint_id: str) -> Endpoint:
        try:
            return self.endpoints[endpoint_id]
        except KeyError:
            raise UnknownEndpointError(self.unknown_message(endpoint_id)) from None

    def closest(self, endpoint_id: str, n: int = 3) -> list[str]:
        return difflib.get_close_matches(endpoint_id, list(self.endpoints), n=n, cutoff=0.5)

    def unknown_message(self, endpoint_id: str) -> str:
        message = f"unknown endpoint '{endpoint_id}' in {self.profile}"
        suggestions = self.closest(endpoint_id)
        if suggestions:
            message += "; did you mean " + ", ".join(f"'{s}'" for s in suggestions) + "?"
        return message + " (see `igflow endpoints`)"


def _endpoint(endpoint_id: str, raw: Mapping[str, Any], defaults: Mapping[str, Any]) -> Endpoint:
    params = {
        name: Param(
            name=name,
            location=spec["in"],
            required=bool(spec.get("required", spec["in"] == "path")),
            type=spec.get("type", "string"),
            enum=tuple(spec.get("enum", ())),
            doc=spec.get("doc", ""),
        )
        for name, spec in (raw.get("params") or {}).items()
    }
    paging = raw.get("pagination")
    mutates = bool(raw.get("mutates", False))
    check = raw.get("reconcile")
    reconcile = (
        Reconcile(
            check["call"],
            dict(check.get("with") or {}),
            check["find"],
            dict(check["match"]),
            check.get("author"),
        )
        if check
        else None
    )
    return Endpoint(
        id=endpoint_id,
        method=raw["method"],
        path=raw["path"],
        doc=raw.get("doc", ""),
        prefix=raw.get("prefix", defaults["prefix"]),
        auth=raw.get("auth", "token"),
        scope=raw.get("scope"),
        scope_if_not_owner=raw.get("scope_if_not_owner"),
        mutates=mutates,
        idempotent=bool(raw.get("idempotent", not mutates)),
        params=params,
        pagination=Pagination(paging["cursor_param"], paging["next_cursor"]) if paging else None,
        rate_bucket=raw.get("rate_bucket"),
        retired=raw.get("retired"),
        retired_for_others=raw.get("retired_for_others"),
        legacy_only=bool(raw.get("legacy_only", False)),
        reconcile=reconcile,
    )


def parse_registry(raw: Mapping[str, Any]) -> Registry:
    """Build a Registry from already-validated data."""
    endpoints = {eid: _endpoint(eid, spec, raw) for eid, spec in raw["endpoints"].items()}
    return Registry(
        profile=raw["profile"],
        title=raw.get("title", raw["profile"]),
        origin=raw["origin"],
        prefix=raw["prefix"],
        token_param=raw["auth"]["token_param"],
        sign_param=raw["signing"]["param"],
        next_url_path=raw["pagination"]["next_url"],
        scopes=dict(raw.get("scopes", {})),
        endpoints=endpoints,
        account=(
            AccountLookup(raw["account"]["call"], raw["account"]["id"])
            if raw.get("account")
            else None
        ),
    )


@cache
def load_registry(profile: str = "instagram.v1") -> Registry:
    """Load and cache a registry profile shipped with igflow.

    The shipped files are checked against ``schemas/registry.schema.json`` by the test suite
    (tests/unit/test_registry.py), not at every start: they change only with igflow itself, and
    validating took longer than reading (about 4.6 ms against 3.4 ms), besides importing
    jsonschema, the costliest import of a run (about 80 ms).
    """
    return parse_registry(read_profile(profile))


def read_profile(profile: str) -> dict[str, Any]:
    """The raw data of a shipped registry profile (not validated; see :func:`load_registry`)."""
    import yaml

    try:
        filename = PROFILES[profile]
    except KeyError:
        known = ", ".join(sorted(PROFILES))
        raise UnknownEndpointError(f"unknown API profile '{profile}' (known: {known})") from None
    # libyaml's loader reads the registry about 6x faster than the pure-Python one; the
    # registry is our own data, so the playbook loader's position tracking is not needed here.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(package_data("registry", filename), encoding="utf-8") as fh:
        raw: dict[str, Any] = yaml.load(fh, Loader=loader)
    return raw
