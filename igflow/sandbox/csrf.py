"""CSRF tokens of the login, consent and portal forms, bound to something the server issued.

A double-submit check (cookie == form field) trusts a value the client can set, so a page that
plants a cookie wins. Here every form token is ``HMAC(server secret, binding)``: on the consent
form and the developer portal's forms (each under its own purpose) the binding is the login
session (a token from another session fails); on the login form, which comes before any
session, it is a nonce the server issued and remembers (a cookie the server never issued is
refused, whatever the form says). The secret lives only in this process.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable

# How many login nonces stay valid at once; the oldest is forgotten first (its form then fails
# the CSRF check and the login page must be loaded again).
MAX_LOGIN_NONCES = 100_000
_HEX = frozenset("0123456789abcdef")


def _is_nonce(value: str) -> bool:
    return len(value) == 32 and set(value) <= _HEX


class CsrfGuard:
    """Issues and checks form tokens. Thread-safe.

    Args:
        remember: Called with every value that must never reach a log (nonces and tokens).
        secret: The HMAC key; random unless given (tests).
    """

    def __init__(
        self, remember: Callable[[str], None] = lambda _value: None, secret: bytes | None = None
    ) -> None:
        self._secret = secret or secrets.token_bytes(32)
        self._remember = remember
        self._nonces: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def _sign(self, purpose: str, binding: str) -> str:
        message = f"{purpose}\x1f{binding}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:32]

    # ---- the consent form: bound to the login session ------------------------------------------
    def consent_token(self, session_id: str) -> str:
        return self._sign("consent", session_id)

    def consent_ok(self, session_id: str, field: str) -> bool:
        return hmac.compare_digest(self.consent_token(session_id).encode(), field.encode())

    # ---- the developer portal's forms: bound to the login session, a purpose of their own ----
    def portal_token(self, session_id: str) -> str:
        return self._sign("portal", session_id)

    def portal_ok(self, session_id: str, field: str) -> bool:
        return bool(session_id) and hmac.compare_digest(
            self.portal_token(session_id).encode(), field.encode()
        )

    # ---- the login form: bound to a nonce the server issued ------------------------------------
    def login_nonce(self, cookie: str | None) -> tuple[str, bool]:
        """The nonce for a login form: the cookie's when this server issued it, else a new one.

        Returns the nonce and whether it is new (the caller then sets the cookie).
        """
        with self._lock:
            if cookie and cookie in self._nonces:
                self._nonces.move_to_end(cookie)
                return cookie, False
            nonce = secrets.token_hex(16)
            self._nonces[nonce] = None
            while len(self._nonces) > MAX_LOGIN_NONCES:
                self._nonces.popitem(last=False)
        self._remember(nonce)
        self._remember(self.login_token(nonce))
        return nonce, True

    def login_token(self, nonce: str) -> str:
        return self._sign("login", nonce)

    def login_ok(self, cookie: str | None, field: str) -> bool:
        if not cookie or not _is_nonce(cookie):
            return False
        with self._lock:
            issued = cookie in self._nonces
        return issued and hmac.compare_digest(self.login_token(cookie).encode(), field.encode())

    def retire(self, nonce: str | None) -> None:
        """Forget a nonce once its login succeeded (a new session gets fresh tokens)."""
        with self._lock:
            if nonce:
                self._nonces.pop(nonce, None)
