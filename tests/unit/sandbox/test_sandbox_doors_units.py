"""The sandbox's door-closing pieces on their own: throttle, CSRF guard, secret index, next."""

from __future__ import annotations

import pytest

from igflow.sandbox.clock import FakeClock
from igflow.sandbox.csrf import CsrfGuard
from igflow.sandbox.oauth_input import safe_next
from igflow.sandbox.secretindex import MASK, SecretIndex
from igflow.sandbox.throttle import LoginThrottle

HEX = "0123456789abcdef" * 2


def test_the_throttle_locks_a_key_after_the_limit_and_frees_it_after_the_lockout() -> None:
    clock = FakeClock(1000.0)
    throttle = LoginThrottle(clock.now, max_failures=3, window=60, lockout=30)
    for _ in range(2):
        throttle.failed(["user:a", "addr:x"])
    assert throttle.retry_after(["user:a"]) is None
    throttle.failed(["user:a", "addr:x"])
    assert throttle.retry_after(["user:a"]) == 30
    assert throttle.retry_after(["user:b", "addr:x"]) == 30  # the address too
    assert throttle.retry_after(["user:b", "addr:y"]) is None
    clock.advance(30)
    assert throttle.retry_after(["user:a", "addr:x"]) is None


def test_the_throttle_forgets_old_failures_and_a_success_clears_the_user() -> None:
    clock = FakeClock(0.0)
    throttle = LoginThrottle(clock.now, max_failures=2, window=60, lockout=30)
    throttle.failed(["user:a"])
    clock.advance(61)
    throttle.failed(["user:a"])
    assert throttle.retry_after(["user:a"]) is None
    throttle.succeeded("user:a")
    throttle.failed(["user:a"])
    assert throttle.retry_after(["user:a"]) is None


def test_csrf_tokens_are_bound_to_their_session_and_to_issued_nonces() -> None:
    remembered: list[str] = []
    guard = CsrfGuard(remembered.append)
    assert guard.consent_ok("s1", guard.consent_token("s1"))
    assert not guard.consent_ok("s2", guard.consent_token("s1"))
    assert not guard.consent_ok("s1", "s1")
    nonce, new = guard.login_nonce(None)
    assert new and guard.login_nonce(nonce) == (nonce, False)
    assert guard.login_ok(nonce, guard.login_token(nonce))
    assert not guard.login_ok(nonce, nonce)  # double submit is not enough
    forged = "f" * 32
    assert not guard.login_ok(forged, guard.login_token(forged))  # never issued
    assert guard.login_nonce(forged)[0] != forged
    guard.retire(nonce)
    assert not guard.login_ok(nonce, guard.login_token(nonce))
    assert nonce in remembered and guard.login_token(nonce) in remembered
    # Another server's secret makes other tokens.
    assert CsrfGuard().consent_token("s1") != guard.consent_token("s1")


def test_the_secret_index_masks_values_anywhere_in_a_line() -> None:
    token = f"42.abcdef0.{HEX}"
    index = SecretIndex()
    index.add(token)
    index.add("plain-secret-value")
    assert index.redact(f"/v1/tags/{token}/x") == f"/v1/tags/{MASK}/x"
    assert index.redact(f"q=zz{HEX}") == f"q=zz{MASK}"  # the bare tail, glued to text
    assert index.redact(f"a{HEX}b{HEX}") == f"a{MASK}b{MASK}"
    assert index.redact("ab" + HEX + "cd") == f"ab{MASK}cd"  # found inside a longer hex run
    assert index.redact("say plain-secret-value!") == f"say {MASK}!"
    assert index.redact("nothing " + "1" * 40) == "nothing " + "1" * 40


def test_the_secret_index_asks_the_database_about_unknown_whole_runs() -> None:
    asked: list[str] = []

    def lookup(core: str) -> str | None:
        asked.append(core)
        return core if core == HEX else None

    index = SecretIndex(lookup)
    assert index.redact(f"/x/{HEX}") == f"/x/{MASK}"
    assert HEX in index
    assert index.redact("sig=" + "e" * 64) == "sig=" + "e" * 64
    assert asked == [HEX]  # a 64-digit run is not looked up window by window


@pytest.mark.parametrize(
    "target",
    [
        "",
        "//evil.example",
        "/\\evil",
        "\\/evil",
        "https://evil.example/",
        "javascript:alert(1)",
        "evil.example",
        "/\t/evil",
        "/%09/evil",
        "/%2F/evil",
        "/%2f%2fevil",
        "/%5cevil",
        "/ok\r\nX: y",
        "/é",
        "/" + "a" * 5000,
    ],
)
def test_safe_next_refuses_anything_but_a_local_path(target: str) -> None:
    assert safe_next(target) is None


@pytest.mark.parametrize(
    "target", ["/", "/oauth/authorize?client_id=x&redirect_uri=http%3A%2F%2Flocalhost&state=%5C"]
)
def test_safe_next_keeps_local_paths(target: str) -> None:
    assert safe_next(target) == target
