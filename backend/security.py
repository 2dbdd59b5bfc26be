"""Passwords and API tokens: Argon2 hashing (slow on purpose), the password policy, random digested tokens.

Argon2 is CPU- and memory-heavy: `hash_password` and `verify_password` block, so callers run them in a
worker thread (a sync FastAPI route does), and at most `HASH_SLOTS` of them run at once in a process, so a
burst of logins queues up instead of taking every core away from the rest of the API.
"""

from __future__ import annotations

import functools
import hashlib
import os
import secrets
import string
import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()
TOKEN_PREFIX = "afn_"
# One Argon2 computation already uses several lanes; half the cores for hashing leaves the rest to the API.
HASH_SLOTS = max(1, (os.cpu_count() or 2) // 2)
_hash_slots = threading.BoundedSemaphore(HASH_SLOTS)

PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 256
PASSWORD_POLICY = (
    f"at least {PASSWORD_MIN_LENGTH} characters, at least two kinds of character (lower case, upper case, "
    "digits, others), and not the username"
)


def hash_password(password: str) -> str:
    with _hash_slots:
        return _hasher.hash(password)


_dummy_lock = threading.Lock()


@functools.cache
def _dummy_hash() -> str:
    """A hash nobody knows the password of: unknown users are checked against it, so they take as long.

    Made once per process, under a lock: a burst of first logins must not hash it twenty times at once."""
    with _dummy_lock:
        return _dummy_hash_once()


@functools.cache
def _dummy_hash_once() -> str:
    return hash_password(secrets.token_urlsafe(32))


def verify_password(password: str, password_hash: str | None) -> bool:
    """True when `password` matches; always costs one Argon2 verification, whatever the hash (or none)."""
    dummy = _dummy_hash()
    with _hash_slots:
        try:
            return _hasher.verify(password_hash or dummy, password) and password_hash is not None
        except (VerifyMismatchError, VerificationError):
            return False
        except InvalidHashError:
            # A malformed stored hash must not answer faster than a wrong password.
            try:
                _hasher.verify(dummy, password)
            except VerificationError:
                pass
            return False


def password_problems(password: str, username: str) -> list[str]:
    """What is wrong with `password` under the one policy the API and the CLI share; [] when it is fine.

    The messages never repeat the password."""
    problems = []
    if len(password) < PASSWORD_MIN_LENGTH:
        problems.append(f"must be at least {PASSWORD_MIN_LENGTH} characters long (got {len(password)})")
    if len(password) > PASSWORD_MAX_LENGTH:
        problems.append(f"must be at most {PASSWORD_MAX_LENGTH} characters long")
    kinds = {
        "lower": any(c.islower() for c in password),
        "upper": any(c.isupper() for c in password),
        "digit": any(c.isdigit() for c in password),
        "other": any(not c.isalnum() for c in password),
    }
    if sum(kinds.values()) < 2:
        problems.append("must mix at least two kinds of character (lower case, upper case, digits, others)")
    if username and username.casefold() == password.casefold():
        problems.append("must not be the username")
    return problems


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def digest_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_password(username: str = "") -> str:
    """A random password that passes the policy for `username`."""
    alphabet = string.ascii_letters + string.digits
    while True:
        password = "".join(secrets.choice(alphabet) for _ in range(16))
        if password_problems(password, username):
            continue
        return password
