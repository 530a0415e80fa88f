"""The Graph sandbox's dataset: read and check a YAML file, load it into a fresh state.

The format is in docs/graph-sandbox.md. Times are ``age_hours`` before the clock's "now" when the
state is created, so "recent" and "old" posts stay so whatever the clock says. Every problem is
reported at once, with the file name.
"""

from __future__ import annotations

from typing import Any

import yaml

from igflow.regular_file import open_regular
from igflow.resources import package_data
from igflow.sandbox.clients import name_problem
from igflow.sandbox.datacheck import (
    MAX_INT,
    Kind,
    check_fields,
    invalid,
    load_yaml,
    shown,
    wrong_profile,
)
from igflow.sandbox.graph.store import App, GraphStore

ACCOUNT_TYPES = ("Business", "Media_Creator", "Personal")
MEDIA_TYPES = ("IMAGE", "VIDEO", "CAROUSEL_ALBUM")
PRODUCT_TYPES = ("FEED", "REELS", "STORY")
MAX_AGE_HOURS = 24 * 365 * 50  # fifty years before "now": older is a typo
_COUNT: Kind = ("int", 0, MAX_INT)
_AGE: Kind = ("number", 0, MAX_AGE_HOURS)
# Each record's fields and their kinds (datacheck.py); what is required is checked in _check.
APP_FIELDS: dict[str, Kind] = {
    "name": "text",
    "client_id": "scalar",
    "client_secret": "text",
    "redirect_uris": "text_list",
    "api_version": "text",
    "require_app_secret": "bool",
}
ACCOUNT_FIELDS: dict[str, Kind] = {
    "id": "decimal",
    "username": "text",
    "password": "scalar",
    "account_type": "text",
    "name": "text",
    "biography": "text",
    "website": "text",
    "profile_picture_url": "text",
    "followers_count": _COUNT,
    "follows_count": _COUNT,
    "media_count": _COUNT,
    "impressions_24h": _COUNT,
    "is_private": "bool",
}
MEDIA_FIELDS: dict[str, Kind] = {
    "id": "decimal",
    "owner": "text",
    "media_type": "text",
    "media_product_type": "text",
    "caption": "text",
    "alt_text": "text",
    "shortcode": "text",
    "permalink": "text",
    "media_url": "text",
    "thumbnail_url": "text",
    "like_count": _COUNT,
    "comments_count": _COUNT,
    "story_viewers": _COUNT,
    "age_hours": _AGE,
    "is_comment_enabled": "bool",
}
CHILD_FIELDS: dict[str, Kind] = {"id": "decimal", "media_type": "text"}
COMMENT_FIELDS: dict[str, Kind] = {
    "id": "decimal",
    "media": "decimal",
    "by": "text",
    "text": "text",
    "reply_to": "decimal",
    "age_hours": _AGE,
    "hidden": "bool",
    "like_count": _COUNT,
}


def default_path() -> str:
    return str(package_data("sandbox", "data", "graph_default.yaml"))


def read_dataset(path: str | None = None) -> dict[str, Any]:
    """Read and check a Graph dataset; None reads the packaged default. ValueError on problems."""
    path = path or default_path()
    try:
        # A regular file only (judged on the open descriptor): a FIFO would hang the read,
        # /dev/zero never end; NotRegularFile is an OSError naming the file's kind.
        with open_regular(path) as fh:
            raw = load_yaml(path, fh)
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the dataset: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from None
    other = wrong_profile(raw, path, want="graph")
    if other is not None:
        raise other
    problems = _check(raw)
    if problems:
        raise invalid(path, "Graph sandbox dataset", problems)
    assert isinstance(raw, dict)
    return raw


def check_dataset(raw: Any) -> list[str]:
    """Every problem of a dataset given as data (empty when valid): igflow.testing's ``load``."""
    return _check(raw)


def _check(raw: Any) -> list[str]:
    if not isinstance(raw, dict):
        return ["the dataset must be a mapping with accounts, media, ... (docs/graph-sandbox.md)"]
    problems: list[str] = []
    known = {"format", "apps", "accounts", "media", "comments"}
    problems += [f"{shown(key)}: unknown section" for key in raw if key not in known]
    sections: dict[str, list[Any]] = {}
    for name in ("apps", "accounts", "media", "comments"):
        value = raw.get(name)
        if value is not None and not isinstance(value, list):
            problems.append(f"{name}: must be a list")
            value = None
        sections[name] = value or []
    usernames: set[str] = set()
    account_ids: set[str] = set()
    for i, account in enumerate(sections["accounts"]):
        where = f"accounts[{i}]"
        if not isinstance(account, dict):
            problems.append(f"{where}: must be a mapping")
            continue
        problems += check_fields(account, ACCOUNT_FIELDS, where)
        for key in ("id", "username", "password", "account_type"):
            if not account.get(key):
                problems.append(f"{where}: needs '{key}'")
        if account.get("account_type") not in ACCOUNT_TYPES:
            problems.append(f"{where}.account_type: must be one of {', '.join(ACCOUNT_TYPES)}")
        problems += _unique(account_ids, account.get("id"), f"{where}.id", "account id")
        problems += _unique(usernames, account.get("username"), f"{where}.username", "username")
    media_ids: set[str] = set()
    for i, media in enumerate(sections["media"]):
        where = f"media[{i}]"
        if not isinstance(media, dict):
            problems.append(f"{where}: must be a mapping")
            continue
        problems += check_fields(media, MEDIA_FIELDS, where)
        if not media.get("id"):
            problems.append(f"{where}: needs 'id'")
        if str(media.get("owner", "")) not in usernames:
            problems.append(f"{where}.owner: {shown(media.get('owner'))} is not an account")
        if media.get("media_type") not in MEDIA_TYPES:
            problems.append(f"{where}.media_type: must be one of {', '.join(MEDIA_TYPES)}")
        if media.get("media_product_type", "FEED") not in PRODUCT_TYPES:
            problems.append(
                f"{where}.media_product_type: must be one of {', '.join(PRODUCT_TYPES)}"
            )
        # an album's children are media rows too: one id space
        problems += _unique(media_ids, media.get("id"), f"{where}.id", "media id")
        problems += _check_children(media.get("children"), where, media_ids)
    comment_ids: set[str] = set()
    for i, comment in enumerate(sections["comments"]):
        where = f"comments[{i}]"
        if not isinstance(comment, dict):
            problems.append(f"{where}: must be a mapping")
            continue
        problems += check_fields(comment, COMMENT_FIELDS, where)
        if str(comment.get("media", "")) not in media_ids:
            problems.append(f"{where}.media: must name a media of the dataset")
        elif not comment.get("id") or not comment.get("by") or "text" not in comment:
            problems.append(f"{where}: needs id, by and text")
        problems += _unique(comment_ids, comment.get("id"), f"{where}.id", "comment id")
    client_ids: set[str] = set()
    app_names: set[str] = set()
    for i, app in enumerate(sections["apps"]):
        where = f"apps[{i}]"
        if not isinstance(app, dict) or not app.get("client_id") or not app.get("client_secret"):
            problems.append(f"{where}: needs client_id and client_secret")
            continue
        problems += check_fields(app, APP_FIELDS, where)
        problems += _unique(client_ids, app.get("client_id"), f"{where}.client_id", "client_id")
        if "name" in app:
            named = name_problem(app["name"])  # the rule every client-naming door applies
            if named is not None:
                problems.append(f"{where}.name: {named}")
            problems += _unique(app_names, app.get("name"), f"{where}.name", "app name")
    return problems


def _unique(seen: set[str], value: Any, where: str, what: str) -> list[str]:
    """A problem when ``value`` was seen before (each is a table's unique key), else none."""
    if value is None or isinstance(value, (dict, list)):
        return []  # missing or mistyped: said by the field checks
    key = str(value)
    if key in seen:
        return [f"{where}: duplicate {what} {shown(value)}"]
    seen.add(key)
    return []


def _check_children(children: Any, where: str, media_ids: set[str]) -> list[str]:
    if children is None:
        return []
    if not isinstance(children, list):
        return [f"{where}.children: must be a list"]
    problems: list[str] = []
    for n, child in enumerate(children):
        if not isinstance(child, dict) or not child.get("id"):
            problems.append(f"{where}.children[{n}]: must be a mapping with an 'id'")
            continue
        problems += check_fields(child, CHILD_FIELDS, f"{where}.children[{n}]")
        child_id = f"{where}.children[{n}].id"
        problems += _unique(media_ids, child.get("id"), child_id, "media id")
        if child.get("media_type", "IMAGE") not in MEDIA_TYPES:
            kinds = ", ".join(MEDIA_TYPES)
            problems.append(f"{where}.children[{n}].media_type: must be one of {kinds}")
    return problems


def from_id_for(username: str, accounts: dict[str, str]) -> str:
    """An account's own id, or a stable app-scoped-looking id (an IGSID) for other users."""
    if username in accounts:
        return accounts[username]
    return str(17841450000000000 + sum(ord(c) * 31**i for i, c in enumerate(username)) % 10**9)


def load(store: GraphStore, raw: dict[str, Any], now: float) -> None:
    """Fill a fresh state (inside the caller's transaction)."""
    for app in raw.get("apps") or []:
        store.add_app(
            App(
                client_id=str(app["client_id"]),
                name=str(app.get("name") or app["client_id"]),
                secret=str(app["client_secret"]),
                redirect_uris=tuple(
                    str(u) for u in app.get("redirect_uris") or ["http://localhost"]
                ),
                api_version=str(app.get("api_version") or "v25.0"),
                require_app_secret=bool(app.get("require_app_secret", False)),
            )
        )
    accounts: dict[str, str] = {}
    for account in raw.get("accounts") or []:
        entry = {k: v for k, v in account.items()}
        entry["id"] = str(entry["id"])
        store.add_account(entry)
        accounts[str(account["username"])] = entry["id"]
    for media in raw.get("media") or []:
        owner = accounts[str(media["owner"])]
        created = now - float(media.get("age_hours", 1)) * 3600
        media_id = str(media["id"])
        body = {k: v for k, v in media.items() if k not in ("id", "owner", "age_hours", "children")}
        body.setdefault("media_product_type", "FEED")
        body.setdefault("is_comment_enabled", True)
        body.setdefault("caption", "")
        store.add_media(media_id, owner, created, body)
        for position, child in enumerate(media.get("children") or []):
            child_body = {
                "media_type": child.get("media_type", "IMAGE"),
                "media_product_type": "FEED",
                "shortcode": f"{body.get('shortcode', media_id)}{position + 1}",
            }
            store.add_media(
                str(child["id"]), owner, created, child_body, parent=media_id, position=position
            )
    for comment in raw.get("comments") or []:
        username = str(comment["by"])
        store.add_comment(
            {
                "id": str(comment["id"]),
                "media": str(comment["media"]),
                "parent": str(comment["reply_to"]) if comment.get("reply_to") else None,
                "created": now - float(comment.get("age_hours", 1)) * 3600,
                "username": username,
                "from_id": from_id_for(username, accounts),
                "text": str(comment["text"]),
                "hidden": bool(comment.get("hidden", False)),
                "like_count": int(comment.get("like_count", 0)),
            }
        )
