"""Sandbox datasets: read and check a data file, or generate a large one.

The format is documented in docs/sandbox-data.md. ``read_dataset`` checks the structure and
cross-references before anything is loaded, and reports every problem at once with the file
name, so a hand-edited file is easy to fix. ``generate_dataset`` builds a deterministic dataset
of any size that still contains the seed walkthrough's account and media.

Length: over 400 lines: the checker and the generator share the format's constants and are read
together when the format changes; the field tables are data, the generator's word lists too.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import yaml

from igflow.errors import printable
from igflow.regular_file import open_regular
from igflow.resources import package_data
from igflow.sandbox import ids
from igflow.sandbox.datacheck import (
    MAX_INT,
    Kind,
    check_fields,
    invalid,
    is_id,
    load_yaml,
    shown,
    wrong_profile,
)

MEDIA_TYPES = ("image", "video", "carousel")
FORMAT_VERSION = 1
# Each record's optional fields and their kinds (datacheck.py); ids, usernames and references
# are checked by check_dataset itself.
USER_FIELDS: dict[str, Kind] = {
    "full_name": "text",
    "password": "scalar",
    "profile_picture": "text",
    "bio": "text",
    "website": "text",
    "is_business": "bool",
    "private": "bool",
}
LOCATION_FIELDS: dict[str, Kind] = {
    "name": "text",
    "latitude": ("number", -90, 90),
    "longitude": ("number", -180, 180),
    "street_address": "text",
    "foursquare_v2_id": "scalar",
    "foursquare_id": "scalar",
    "facebook_places_id": "scalar",
}
MEDIA_FIELDS: dict[str, Kind] = {
    "created_time": ("int", 0, MAX_INT),
    "caption": "text",
    "caption_id": "decimal",
    "shortcode": "text",
    "filter": "text",
    "tags": "text_list",
    "likes": "text_list",
    "images": "json",
    "videos": "json",
    "carousel": "json",
}
COMMENT_FIELDS: dict[str, Kind] = {
    "id": "decimal",
    "from": "text",
    "text": "text",
    "created_time": ("int", 0, MAX_INT),
}
TAG_FIELDS: dict[str, Kind] = {"user": "text", "x": ("number", 0, 1), "y": ("number", 0, 1)}


def default_path() -> str:
    return str(package_data("sandbox", "data", "default.yaml"))


@lru_cache(maxsize=1)
def _default_dataset() -> dict[str, Any]:
    return read_dataset(default_path())


def read_dataset(path: str | None = None) -> dict[str, Any]:
    """Read and check a dataset file; None reads the packaged default.

    Raises ValueError naming the file and every problem found.
    """
    if path is None:
        return copy.deepcopy(_default_dataset())
    try:
        # A regular file only (judged on the open descriptor): a FIFO would hang the read,
        # /dev/zero never end; NotRegularFile is an OSError naming the file's kind.
        with open_regular(path) as fh:
            raw = load_yaml(path, fh)
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the dataset: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from exc
    other = wrong_profile(raw, path, want="v1")
    if other is not None:
        raise other
    problems = check_dataset(raw)
    if problems:
        raise invalid(path, "sandbox dataset", problems)
    return raw  # type: ignore[no-any-return]


def _is_decimal(value: Any) -> bool:
    return is_id(value)


def check_dataset(raw: Any) -> list[str]:
    """Every structural problem in a dataset, as 'where: what' lines (empty when valid)."""
    if not isinstance(raw, Mapping):
        return ["the top level must be a mapping with users, media, ... (see docs/sandbox-data.md)"]
    problems: list[str] = []
    if raw.get("format", FORMAT_VERSION) != FORMAT_VERSION:
        problems.append(f"format: unsupported version {raw.get('format')!r} (expected 1)")
    known = {"format", "clients", "users", "locations", "media", "follows", "requests"}
    problems += [f"{key}: unknown section" for key in raw if key not in known]

    usernames: set[str] = set()
    user_ids: set[str] = set()
    users = raw.get("users") or []
    if not isinstance(users, list) or not users:
        problems.append("users: must be a non-empty list")
        users = []
    for n, user in enumerate(users):
        where = f"users[{n}]"
        if not isinstance(user, Mapping):
            problems.append(f"{where}: must be a mapping")
            continue
        if not _is_decimal(user.get("id")):
            problems.append(f"{where}: 'id' must be a decimal string such as \"3657782666\"")
        elif str(user["id"]) in user_ids:
            problems.append(f"{where}: duplicate id {user['id']}")
        else:
            user_ids.add(str(user["id"]))
        problems += check_fields(user, USER_FIELDS, where)
        name = user.get("username")
        if not isinstance(name, str) or not name:
            problems.append(f"{where}: 'username' is required (text)")
        elif name.lower() in usernames:
            problems.append(f"{where}: duplicate username {printable(name)}")
        else:
            usernames.add(name.lower())

    def user_ref(value: Any, where: str) -> None:
        if not isinstance(value, str) or value.lower() not in usernames:
            problems.append(f"{where}: unknown user {shown(value)} (refer to users by username)")

    location_ids: set[str] = set()
    for section in ("locations", "media"):
        if raw.get(section) is not None and not isinstance(raw[section], list):
            problems.append(f"{section}: must be a list")
    for n, loc in enumerate(_items(raw.get("locations"))):
        where = f"locations[{n}]"
        if not isinstance(loc, Mapping) or not _is_decimal(loc.get("id")):
            problems.append(f"{where}: needs a decimal 'id'")
            continue
        location_ids.add(str(int(loc["id"])))
        problems += check_fields(loc, LOCATION_FIELDS, where, nullable=False)
        for key in ("latitude", "longitude", "name"):
            if key not in loc:
                problems.append(f"{where}: '{key}' is required")

    for n, item in enumerate(_items(raw.get("media"))):
        problems += _check_media(f"media[{n}]", item, user_ref, location_ids)

    for section in ("follows", "requests"):
        mapping = raw.get(section) or {}
        if not isinstance(mapping, Mapping):
            problems.append(f"{section}: must map a username to a list of usernames")
            continue
        for follower, followees in mapping.items():
            where = f"{section}.{printable(str(follower))[:60]}"
            user_ref(follower, where)
            if followees is not None and not isinstance(followees, list):
                problems.append(f"{where}: must be a list of usernames")
                continue
            for followee in followees or []:
                user_ref(followee, where)
    return problems


def _check_media(where: str, item: Any, user_ref: Any, location_ids: set[str]) -> list[str]:
    if not isinstance(item, Mapping):
        return [f"{where}: must be a mapping"]
    problems = check_fields(item, MEDIA_FIELDS, where)
    user_ref(item.get("owner"), f"{where}.owner")
    if not isinstance(item.get("created_time"), int):
        problems.append(f"{where}: 'created_time' must be an integer (epoch seconds)")
    if item.get("type", "image") not in MEDIA_TYPES:
        problems.append(f"{where}: 'type' must be one of {', '.join(MEDIA_TYPES)}")
    if item.get("id") is not None and (
        not isinstance(item["id"], str) or ids.parse_media_id(item["id"]) is None
    ):
        # Unquoted, YAML 1.1 reads 123_456 as the integer 123456: insist on a quoted string.
        problems.append(f"{where}: 'id' must be a quoted string like \"<pk>_<owner id>\"")
    if item.get("location") is not None and str(item["location"]) not in location_ids:
        problems.append(f"{where}: unknown location {shown(item['location'])}")
    for username in _items(item.get("likes")):
        user_ref(username, f"{where}.likes")
    for key in ("comments", "users_in_photo"):
        if item.get(key) is not None and not isinstance(item[key], list):
            problems.append(f"{where}.{key}: must be a list")
    for n, comment in enumerate(_items(item.get("comments"))):
        if not isinstance(comment, Mapping) or not isinstance(comment.get("text"), str):
            problems.append(f"{where}.comments[{n}]: needs 'from' and 'text'")
            continue
        problems += check_fields(comment, COMMENT_FIELDS, f"{where}.comments[{n}]")
        user_ref(comment.get("from"), f"{where}.comments[{n}].from")
    for n, tagged in enumerate(_items(item.get("users_in_photo"))):
        if isinstance(tagged, Mapping):
            problems += check_fields(tagged, TAG_FIELDS, f"{where}.users_in_photo[{n}]")
        user_ref(
            tagged.get("user") if isinstance(tagged, Mapping) else None,
            f"{where}.users_in_photo[{n}]",
        )
    return problems


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


# ---- generator ----------------------------------------------------------------------------
_WORDS = (
    "garden",
    "sunset",
    "coffee",
    "hiking",
    "baking",
    "city",
    "travel",
    "plants",
    "surf",
    "books",
    "food",
    "music",
    "art",
    "dogs",
    "cats",
    "rain",
    "summer",
    "winter",
    "beach",
    "street",
    "portrait",
    "nature",
    "friends",
    "weekend",
    "morning",
)
_COMMENTS = (
    "Love this!",
    "So good",
    "Great shot",
    "Wow",
    "Beautiful colours",
    "Where is this?",
    "follow4follow",
    "NICE PIC FOLLOW ME",
    "Free followers at http://spam.example",
    "Amazing",
    "Can't wait to visit",
    "l4l f4f #f4f #l4l #follow #like #instagood",
)
GENERATED_START = 1420070400  # 2015-01-01: generated media fall between this and the seed era
ME = "grantwinney"  # the account the housekeeping examples tidy up
HOUSEKEEPING_TAG = "plants"  # a tag with many recent media, every third already liked by ME

# Comments the housekeeping examples tell apart (docs/sandbox-data.md, "Generated datasets").
# Each of ME's generated media gets some of them, in turn, so the prune-spam playbook has
# spam by others to delete, ME's own spam-looking comments to keep, and near misses to keep.
_SPAM = (
    "follow4follow? follow me back!",
    "Get 10k followers fast http://bit.ly/f4st-f0llow",
    "NICE PICS!!! CHECK MY PROFILE",
    "f4f l4l #follow4follow #like4like",
    "Cheap likes at www.cheap-followers.example",
)
_SPAMMERS = ("pixel_pete", "spam_king_4f4")
_OWN_SPAMLIKE = (  # ME's own comments that match the usual spam patterns: never deleted
    "Planting guide on my blog: https://grantwinney.com/garden",
    "No follow4follow here, just vegetables",
    "Check my profile for the seed list",
)
_NEAR_MISS = (  # comments by others that look like spam words but are not spam
    "Following your garden all summer",
    "Check out the colour on those",
    "What variety is that?",
    "Lovely harvest!",
)


def generate_dataset(
    users: int,
    media: int,
    *,
    seed: int = 0,
    likes_per_media: int = 3,
    comments_per_media: int = 1,
    grant_follows: int = 600,
    grant_likes: int = 500,
    grant_media: int = 100,
) -> dict[str, Any]:
    """A deterministic dataset of ``users`` users and ``media`` media (at least the default's).

    It starts from the default dataset (so the seed walkthrough and the clients still work) and
    adds generated users and media, with what the housekeeping playbooks need at a size that
    pages (visible to the live client; the sandbox-mode client sees only its ten users):

    - grantwinney owns ``grant_media`` of the generated media, spread over the years, each with
      spam by others, his own spam-looking comments or near misses in turn (every tenth has no
      caption);
    - he follows up to ``grant_follows`` generated users, a third of whom follow back;
    - he likes the ``grant_likes`` most recent generated media, and every third generated media
      tagged ``HOUSEKEEPING_TAG`` (newest first), so the tag mixes liked and not liked media.
    """
    rng = random.Random(seed)
    data = read_dataset(None)
    base_users = len(data["users"])
    extra_users = max(users - base_users, 0)
    extra_media = max(media - len(data["media"]), 0)
    new_users = []
    for n in range(extra_users):
        user_id = str(6_000_000_000 + n)
        new_users.append(
            {
                "id": user_id,
                "username": f"user{n:05d}",
                "full_name": f"Generated User {n}",
                "password": f"pw{n:05d}",
                "bio": rng.choice(_WORDS).title() + " lover",
                "private": rng.random() < 0.05,
            }
        )
    data["users"].extend(new_users)
    everyone = [u["username"] for u in data["users"]]
    owners = [u["username"] for u in new_users] or everyone
    location_ids = [str(loc["id"]) for loc in data.get("locations") or []]
    step = max((1_500_000_000 - GENERATED_START) // max(extra_media, 1), 1)
    mine = min(grant_media, extra_media)
    # ME's media: evenly spread, so both his last 50 and his older media get spam.
    grant_slots = {(k * extra_media) // mine: k for k in range(mine)} if mine else {}
    new_media = []
    for n in range(extra_media):
        created = GENERATED_START + n * step + rng.randrange(step)
        words = rng.sample(_WORDS, 2)
        likers = rng.sample(everyone, min(likes_per_media, len(everyone)))
        item: dict[str, Any] = {
            "owner": owners[n % len(owners)],
            "created_time": created,
            "type": "video" if n % 17 == 0 else "carousel" if n % 23 == 0 else "image",
            "caption": f"{words[0].title()} and {words[1]} #{words[0]} #{words[1]}",
            "likes": likers,
            "comments": [
                {"from": rng.choice(everyone), "text": rng.choice(_COMMENTS)}
                for _ in range(comments_per_media)
            ],
        }
        if location_ids and n % 5 == 0:
            item["location"] = location_ids[n % len(location_ids)]
        if n in grant_slots:
            item["owner"] = ME
            item["comments"] += _housekeeping_comments(grant_slots[n], everyone)
            if grant_slots[n] % 10 == 9:
                item["caption"] = None  # exports must cope with media without a caption
        new_media.append(item)
    # grantwinney likes the most recent generated media (newest liked last, like a real feed).
    for item in new_media[-grant_likes:] if grant_likes else []:
        if ME not in item["likes"]:
            item["likes"].append(ME)
    # ... and every third media of the housekeeping tag, newest first, liked or not before.
    hashtag = f"#{HOUSEKEEPING_TAG}"
    tagged = [m for m in reversed(new_media) if hashtag in (m["caption"] or "").split()]
    for item in tagged[::3]:
        if ME not in item["likes"]:
            item["likes"].append(ME)
    data["media"].extend(new_media)
    follows = data.setdefault("follows", {})
    grant = follows.setdefault(ME, [])
    grant.extend(u["username"] for u in new_users[:grant_follows])
    # A third of them follow back, so "unfollow who does not follow back" has work to do.
    for u in new_users[:grant_follows:3]:
        follows.setdefault(u["username"], []).append(ME)
    return data


def _housekeeping_comments(k: int, everyone: list[str]) -> list[dict[str, str]]:
    """Comments on ME's k-th generated media: spam by others, his own, near misses (in turn)."""
    others = [name for name in everyone if name != ME]
    comments = []
    if k % 2 == 0:
        spammer = _SPAMMERS[k // 2 % len(_SPAMMERS)] if k % 4 else others[k * 7 % len(others)]
        comments.append({"from": spammer, "text": _SPAM[k // 2 % len(_SPAM)]})
    if k % 3 == 0:
        friend = others[k * 13 % len(others)]
        comments.append({"from": friend, "text": _NEAR_MISS[k // 3 % len(_NEAR_MISS)]})
    if k % 4 == 1:
        comments.append({"from": ME, "text": _OWN_SPAMLIKE[k // 4 % len(_OWN_SPAMLIKE)]})
    return comments
