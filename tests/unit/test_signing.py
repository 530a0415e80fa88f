"""Signed requests: the documented test vectors of legacy-v1-api.md §9, verbatim."""

from __future__ import annotations

import pytest

from igflow.signing import base_string, insta_forwarded_for, sign, signature_matches

SECRET = "6dc1787668c64c939929c17683d7cb74"
TOKEN = "fb2e77d.47a0479900504cb3ab4a1f626d174d2d"
MEDIA = "/media/657988443280050001_25025320"

VECTORS = [
    pytest.param(
        "/users/self",
        {"access_token": TOKEN},
        "/users/self|access_token=fb2e77d.47a0479900504cb3ab4a1f626d174d2d",
        "cbf5a1f41db44412506cb6563a3218b50f45a710c7a8a65a3e9b18315bb338bf",
        id="users-self",
    ),
    pytest.param(
        MEDIA,
        {"count": "10", "access_token": TOKEN},
        "/media/657988443280050001_25025320|access_token=fb2e77d.47a0479900504cb3ab4a1f626d174d2d"
        "|count=10",
        "260634b241a6cfef5e4644c205fb30246ff637591142781b86e2075faf1b163a",
        id="media-count",
    ),
    pytest.param(
        MEDIA + "/comments",
        {"text": "Nice shot", "access_token": TOKEN},
        "/media/657988443280050001_25025320/comments"
        "|access_token=fb2e77d.47a0479900504cb3ab4a1f626d174d2d|text=Nice shot",
        "4727f9fbaa1b4faa25af9eb63b4af91f51d82ecb4f50e0f3bc7ab06e7c168afe",
        id="post-comment",
    ),
]


@pytest.mark.parametrize(("endpoint", "params", "base", "sig"), VECTORS)
def test_doc_vectors(endpoint: str, params: dict[str, str], base: str, sig: str) -> None:
    assert base_string(endpoint, params) == base
    assert sign(endpoint, params, SECRET) == sig


def test_sig_param_is_not_signed() -> None:
    with_sig = {"access_token": TOKEN, "sig": "whatever"}
    assert sign("/users/self", with_sig, SECRET) == sign(
        "/users/self", {"access_token": TOKEN}, SECRET
    )


def test_insta_forwarded_for_example() -> None:
    assert insta_forwarded_for("127.0.0.1", SECRET) == (
        "127.0.0.1|efa694d61d03eedf2c0d761c18531455caeba5b50f7d2ba812d68405a045f833"
    )


GOOD = "cbf5a1f41db44412506cb6563a3218b50f45a710c7a8a65a3e9b18315bb338bf"


@pytest.mark.parametrize(
    ("received_path", "signed_path"),
    [
        ("/users/self", "/users/self"),
        ("/users/self/", "/users/self"),
        ("/users/self.json", "/users/self"),
        ("/users/self", "/users/self.json"),
        ("/users/self", "/users/self/"),
        ("/users/self.json", "/users/self.json"),
    ],
)
def test_signature_matches_tolerates_client_quirks(received_path: str, signed_path: str) -> None:
    sig = sign(signed_path, {"access_token": TOKEN}, SECRET)
    assert signature_matches(received_path, {"access_token": TOKEN, "sig": sig}, SECRET, [sig])


def test_signature_matches_any_candidate() -> None:
    params = {"access_token": TOKEN}
    assert signature_matches("/users/self", params, SECRET, ["deadbeef", GOOD])
    assert signature_matches("/users/self", params, SECRET, [GOOD.upper()])


@pytest.mark.parametrize(
    ("path", "params", "secret", "candidates"),
    [
        ("/users/self", {"access_token": TOKEN}, SECRET, []),
        ("/users/self", {"access_token": TOKEN}, SECRET, ["0" * 64]),
        ("/users/self", {"access_token": TOKEN}, "wrong-secret", [GOOD]),
        ("/users/self", {"access_token": TOKEN, "count": "1"}, SECRET, [GOOD]),
        ("/users/other", {"access_token": TOKEN}, SECRET, [GOOD]),
        ("/users/self", {"access_token": TOKEN}, SECRET, ["é"]),
    ],
)
def test_signature_mismatch(
    path: str, params: dict[str, str], secret: str, candidates: list[str]
) -> None:
    assert not signature_matches(path, params, secret, candidates)
