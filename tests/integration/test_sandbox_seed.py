"""The seed walkthrough at the HTTP level, against the real sandbox (real handlers and dataset)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from test_sandbox_support import authorize, client, token_from

from igflow.sandbox.config import SandboxConfig
from igflow.sandbox.server import RunningSandbox, start_sandbox

MEDIA_ID = "1667121369441597934_3657782666"
SEED_PERMISSIONS = (
    "This request requires scope=likes, but this access token is not authorized with this scope. "
    "The user must re-authorize your application with scope=likes to be granted this permissions."
)


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with start_sandbox(SandboxConfig()) as running:
        yield running


def test_seed_walkthrough(sandbox: RunningSandbox) -> None:
    url = sandbox.url
    default = client(url)
    browser = requests.Session()

    # No token: an error instead of data.
    assert (
        requests.get(f"{url}/v1/media/shortcode/Bcizg1_B3nu").json()["meta"]["error_type"]
        == "OAuthParameterException"
    )

    token = token_from(authorize(url, browser, client_id=default["client_id"]))

    media = requests.get(f"{url}/v1/media/shortcode/Bcizg1_B3nu", params={"access_token": token})
    assert media.status_code == 200
    assert media.headers["X-Ratelimit-Limit"] == "500"
    data = media.json()["data"]
    assert data["id"] == MEDIA_ID
    assert data["caption"]["text"] == "Snap peas in our garden, summer 2017"
    assert data["link"] == "https://www.instagram.com/p/Bcizg1_B3nu/"

    me = requests.get(f"{url}/v1/users/self", params={"access_token": token}).json()
    assert me["meta"] == {"code": 200}
    assert me["data"]["username"] == "grantwinney"

    likes = requests.get(f"{url}/v1/media/{MEDIA_ID}/likes", params={"access_token": token}).json()
    assert [u["username"] for u in likes["data"]] == ["grantwinney"]

    refused = requests.delete(f"{url}/v1/media/{MEDIA_ID}/likes", params={"access_token": token})
    assert refused.status_code == 400
    assert refused.json() == {
        "meta": {
            "code": 400,
            "error_type": "OAuthPermissionsException",
            "error_message": SEED_PERMISSIONS,
        }
    }

    wider = authorize(
        url,
        browser,
        client_id=default["client_id"],
        scope="public_content+follower_list+comments+relationships+likes",
    )
    assert token_from(wider) == token

    unliked = requests.delete(f"{url}/v1/media/{MEDIA_ID}/likes", params={"access_token": token})
    assert unliked.json() == {"data": None, "meta": {"code": 200}}
    after = requests.get(
        f"{url}/v1/media/shortcode/Bcizg1_B3nu", params={"access_token": token}
    ).json()
    assert after["data"]["likes"]["count"] == 0
