"""Accounts of the web page: password hashes (scrypt, standard library), the sign-in rate limit
and the CSRF token. Knows neither Flask's request nor the database: app.py and the CLI call it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections import deque

# scrypt's cost: 16 MiB of memory and ~50 ms a hash; stored with the hash so it can be raised.
SCRYPT_N = 2 ** 14
SCRYPT_R = 8
SCRYPT_P = 1
MIN_PASSWORD_LENGTH = 10


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p,
                          maxmem=256 * n * r, dklen=32)


def hash_password(password: str) -> str:
    """'scrypt$N$r$p$salt$hash' (base64): what the web_user table keeps."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


# Checked when the name is unknown, so a wrong name takes as long as a wrong password.
_DUMMY = hash_password(secrets.token_urlsafe(16))


def check_password(password: str, stored: str | None) -> bool:
    """True when `password` matches the stored hash; False for a malformed or missing one."""
    try:
        scheme, n, r, p, salt, digest = (stored or _DUMMY).split("$")
        if scheme != "scrypt":
            return False
        computed = _scrypt(password, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return stored is not None and hmac.compare_digest(computed, base64.b64decode(digest))


def password_problem(password: str) -> str:
    """Why a new password is refused, in Indonesian; '' when it is fine."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"kata sandi minimal {MIN_PASSWORD_LENGTH} karakter"
    return ""


class SignInLimiter:
    """At most `limit` failed sign-ins per (name, address) within `window` seconds; in memory
    (one server process; a restart forgets, which only helps a user who was locked out)."""

    def __init__(self, limit: int = 5, window: float = 15 * 60,
                 clock: object = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        q = self._failures.setdefault(key, deque())
        while q and q[0] <= now - self.window:
            q.popleft()
        return q

    def blocked(self, name: str, address: str) -> bool:
        key = (name.strip().lower(), address)
        with self._lock:
            return len(self._recent(key, self.clock())) >= self.limit  # type: ignore[operator]

    def failed(self, name: str, address: str) -> None:
        key = (name.strip().lower(), address)
        with self._lock:
            now = self.clock()  # type: ignore[operator]
            self._recent(key, now).append(now)
            if len(self._failures) > 10_000:  # a flood of made-up names: forget the stale
                for k in [k for k, q in self._failures.items() if not q]:
                    del self._failures[k]

    def succeeded(self, name: str, address: str) -> None:
        with self._lock:
            self._failures.pop((name.strip().lower(), address), None)


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_ok(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))
