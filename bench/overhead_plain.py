"""The baseline of bench/overhead.py: the same 400-request chain as a plain requests.Session loop.

For each shortcode: GET /v1/media/shortcode/<shortcode>, parse the JSON, check the envelope,
take the id and the like count, check the count, then GET /v1/media/<id>/likes, parse, check
the envelope, take the usernames and check there is one per like. The same requests (same URLs,
``access_token`` in the query, same timeouts) and the same checks as the generated playbook.
With ``--phased`` it does the same work in the order of the foreach playbook: every media
first, then every list of likes.

    python bench/overhead_plain.py ORIGIN TOKEN EXPECTED.json [--phased]
"""

from __future__ import annotations

import json
import sys
from typing import Any

import requests


def _body(response: requests.Response) -> Any:
    body = response.json()
    if response.status_code != 200 or body["meta"]["code"] != 200:
        raise SystemExit(f"unexpected answer {response.status_code}: {body!r}")
    return body


def main() -> int:
    origin, token, expected_file = sys.argv[1:4]
    phased = "--phased" in sys.argv[4:]
    with open(expected_file) as f:
        expected: list[list[Any]] = json.load(f)  # [[shortcode, like count], ...]
    auth = {"access_token": token}
    timeout = (5.0, 30.0)
    with requests.Session() as session:
        session.headers.update({"User-Agent": "plain/1", "Accept": "application/json"})

        def media(shortcode: str, count: int) -> tuple[str, int]:
            url = f"{origin}/v1/media/shortcode/{shortcode}"
            body = _body(session.get(url, params=auth, timeout=timeout))
            media_id, likes = body["data"]["id"], body["data"]["likes"]["count"]
            if likes != count:
                raise SystemExit(f"{shortcode}: likes == {likes}, expected {count}")
            return media_id, likes

        def likers(media_id: str, likes: int) -> None:
            url = f"{origin}/v1/media/{media_id}/likes"
            body = _body(session.get(url, params=auth, timeout=timeout))
            usernames = [user["username"] for user in body["data"]]
            if len(usernames) != likes:
                raise SystemExit(f"{media_id}: {len(usernames)} likers, expected {likes}")

        if phased:
            found = [media(shortcode, count) for shortcode, count in expected]
            for media_id, likes in found:
                likers(media_id, likes)
        else:
            for shortcode, count in expected:
                likers(*media(shortcode, count))
    return 0


if __name__ == "__main__":
    sys.exit(main())
