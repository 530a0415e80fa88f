"""Redaction: known values and secret shapes, table-driven."""

from __future__ import annotations

import threading

import pytest

from igflow.redact import MASK, Redactor, is_secret_key, redact_shapes

TOKEN = "493881988.0b9e96a.779354c34d7b459d8ed3de0e077a7f2b"
DOC_TOKEN = "fb2e77d.47a0479900504cb3ab4a1f626d174d2d"
SECRET = "6dc1787668c64c939929c17683d7cb74"

SHAPES = [
    # (input, expected)
    ("/v1/users/self?access_token=123.abc.def", "/v1/users/self?access_token=***"),
    (
        "/v1/users/self?count=2&access_token=abc&max_id=9",
        "/v1/users/self?count=2&access_token=***&max_id=9",
    ),
    (
        "HTTPConnectionPool(host='127.0.0.1', port=1): Max retries exceeded with url: "
        "/v1/users/self?access_token=123.abc.def (Caused by NewConnectionError('x'))",
        "HTTPConnectionPool(host='127.0.0.1', port=1): Max retries exceeded with url: "
        "/v1/users/self?access_token=*** (Caused by NewConnectionError('x'))",
    ),
    ("http://localhost/cb#access_token=" + TOKEN, "http://localhost/cb#access_token=***"),
    (
        "client_id=abc&client_secret=s3cr3t&grant_type=authorization_code",
        "client_id=abc&client_secret=***&grant_type=authorization_code",
    ),
    ("code=b689e0dc8edb476ea1f5668bac3a5a31&redirect_uri=x", "code=***&redirect_uri=x"),
    ("http://localhost/?code=b689e0dc&state=1", "http://localhost/?code=***&state=1"),
    ("/v1/users/self?access_token=x&sig=cbf5a1f4", "/v1/users/self?access_token=***&sig=***"),
    ("username=grant&password=hunter22", "username=grant&password=***"),
    ("new_password=hunter22", "new_password=***"),
    ("refresh_token=abcd; path=/", "refresh_token=***; path=/"),
    (
        "hub.verify_token=myVerifyToken&hub.mode=subscribe",
        "hub.verify_token=***&hub.mode=subscribe",
    ),
    # Encoded inside another URL (e.g. a login `next` parameter).
    (
        "next=/oauth/authorize%3Fcode%3Dabcdef%26client_id%3D1",
        "next=/oauth/authorize%3Fcode%3D***%26client_id%3D1",
    ),
    ("next=%2Fcb%3Faccess_token%3Dabcdef%26x%3D1", "next=%2Fcb%3Faccess_token%3D***%26x%3D1"),
    # JSON and repr key/value pairs with string values.
    ('{"access_token": "334680324.55b167a.x", "user": {}}', '{"access_token": "***", "user": {}}'),
    ("{'client_secret': 'abc'}", "{'client_secret': '***'}"),
    ('{"code": "b689e0dc"}', '{"code": "***"}'),
    # Bare v1-shaped tokens anywhere.
    (f"token {TOKEN} expired", "token *** expired"),
    (f"bad token: {DOC_TOKEN}.", "bad token: ***."),
    ("Authorization: Bearer IGQVJ.abc-def_123", "Authorization: Bearer ***"),
    # Not secrets: left alone.
    ('{"meta": {"code": 400, "error_type": "X"}}', '{"meta": {"code": 400, "error_type": "X"}}'),
    ("error code=400 from server", "error code=400 from server"),
    ("design=flat&signature=ok", "design=flat&signature=ok"),
    ("/v1/users/self?access_token=", "/v1/users/self?access_token="),
    ("count=10&max_tag_id=1410528728840665", "count=10&max_tag_id=1410528728840665"),
    ("", ""),
]


@pytest.mark.parametrize(("text", "expected"), SHAPES)
def test_shapes(text: str, expected: str) -> None:
    assert Redactor().redact(text) == expected
    assert redact_shapes(text) == expected


@pytest.mark.parametrize(("text", "expected"), SHAPES)
def test_redaction_is_idempotent(text: str, expected: str) -> None:
    redactor = Redactor()
    assert redactor.redact(redactor.redact(text)) == expected


KNOWN = [
    ("the secret is hunter2hunter2", "the secret is ***"),
    ("percent-encoded: a%2Fb%3Dc%26d", "percent-encoded: ***"),
    ("plus-encoded: my+pass+phrase", "plus-encoded: ***"),
    ("x-hunter2hunter2-x and longer-secret-value", "x-***-x and ***"),
    ("nothing to see", "nothing to see"),
]


@pytest.mark.parametrize(("text", "expected"), KNOWN)
def test_known_values(text: str, expected: str) -> None:
    redactor = Redactor(["hunter2hunter2", "a/b=c&d", "my pass phrase"])
    redactor.add("longer-secret-value")
    assert redactor.redact(text) == expected


@pytest.mark.parametrize("value", [None, "", "a", "abc", 1234])
def test_short_or_odd_values_are_ignored(value: object) -> None:
    redactor = Redactor()
    redactor.add(value)  # type: ignore[arg-type]
    assert len(redactor) == 0
    assert redactor.redact("a abc 1234") == "a abc 1234"


def test_longest_secret_wins() -> None:
    redactor = Redactor(["abcd", "abcdefgh"])
    assert redactor.redact("abcdefgh") == MASK


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({"access_token": TOKEN, "count": 2}, {"access_token": MASK, "count": 2}),
        (
            {"Client-Secret": "x", "X-Client-Secret": "y"},
            {"Client-Secret": MASK, "X-Client-Secret": MASK},
        ),
        ({"meta": {"code": 400}}, {"meta": {"code": 400}}),
        ({"code": "b689e0dc"}, {"code": MASK}),
        ({"password": None}, {"password": None}),
        (
            {"pagination": {"next_url": "http://h/v1/x?access_token=abc&max_id=1"}},
            {"pagination": {"next_url": "http://h/v1/x?access_token=***&max_id=1"}},
        ),
        ([{"sig": "abc"}, ("hunter2hunter2", 3)], [{"sig": MASK}, (MASK, 3)]),
        ({"hunter2hunter2": 1}, {MASK: 1}),
        ({1: "hunter2hunter2"}, {1: MASK}),
        ("plain", "plain"),
        (42, 42),
    ],
)
def test_redact_mapping(obj: object, expected: object) -> None:
    redactor = Redactor(["hunter2hunter2"])
    assert redactor.redact_mapping(obj) == expected


def test_redact_mapping_does_not_modify_input() -> None:
    original = {"access_token": "abc", "nested": [{"sig": "x"}]}
    Redactor().redact_mapping(original)
    assert original == {"access_token": "abc", "nested": [{"sig": "x"}]}


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("access_token", True),
        ("Authorization", True),
        ("set-cookie", True),
        ("verify_token", True),
        ("count", False),
        ("code", False),
        ("next_url", False),
        ("user_id", False),
    ],
)
def test_is_secret_key(key: str, secret: bool) -> None:
    assert is_secret_key(key) is secret


def test_concurrent_adds_are_all_kept() -> None:
    redactor = Redactor()
    values = [f"secret-value-{i:04d}" for i in range(200)]

    def worker(chunk: list[str]) -> None:
        for value in chunk:
            redactor.add(value)
            redactor.redact(value)

    threads = [threading.Thread(target=worker, args=(values[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    text = " ".join(values)
    assert set(redactor.redact(text).split()) == {MASK}


def test_a_short_secret_is_masked_anywhere_even_next_to_an_escape() -> None:
    """A 5-letter password is masked wherever it appears: after a percent-escape, a JSON
    escape or an ANSI sequence (where a whole-word rule leaked it), inside a word too."""
    redactor = Redactor(["s3cr3t"])
    for text in (
        "next=https%3A%2F%2Fh%2Fcb%3Fpin%3Ds3cr3t",
        '{"pin": "\\ns3cr3t"}',
        "\x1b[31ms3cr3t\x1b[0m",
        "password=s3cr3t&next=1",
        "/tmp/s3cr3tdir/x.yml",
    ):
        assert "s3cr3t" not in redactor.redact(text), text


def test_a_long_secret_is_masked_anywhere_even_inside_a_word() -> None:
    redactor = Redactor(["hunter2hunter2"])
    assert redactor.redact("xhunter2hunter2y") == f"x{MASK}y"
    assert redactor.redact("a=hunter2hunter2&b") == f"a={MASK}&b"


def test_what_redaction_cannot_do_a_transformed_secret_is_new_text() -> None:
    """Documented in docs/safety.md: the redactor knows values, not what a template makes of
    them. This pins the limit down so the docs stay true."""
    redactor = Redactor(["hunter2hunter2"])
    for transformed in ("HUNTER2HUNTER2", "hunter2hunt", "2retnuh2retnuh"):
        assert redactor.redact(transformed) == transformed
    assert redactor.redact("abc") == "abc" and len(Redactor(["abc"])) == 0
