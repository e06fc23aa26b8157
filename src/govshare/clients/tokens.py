"""Bearer token format for client systems (DESIGN §6). Pure Python, no Django import.

A token is ``gs_<prefix>_<secret>``: the prefix (8 URL-safe characters) is public and names the
credential row, the secret (43 URL-safe characters, 32 random bytes) is shown once and only its SHA-256
is stored. Both parts come from ``secrets.token_urlsafe`` and may themselves contain ``_`` or ``-``,
so parsing goes by fixed lengths, never by splitting on ``_``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

SCHEME = "gs"
PREFIX_BYTES = 6  # token_urlsafe(6) -> exactly 8 characters
SECRET_BYTES = 32  # token_urlsafe(32) -> exactly 43 characters
PREFIX_LEN = 8
SECRET_LEN = 43
TOKEN_LEN = len(SCHEME) + 1 + PREFIX_LEN + 1 + SECRET_LEN

_TOKEN = re.compile(rf"{SCHEME}_([A-Za-z0-9_-]{{{PREFIX_LEN}}})_([A-Za-z0-9_-]{{{SECRET_LEN}}})")


def new_prefix() -> str:
    return secrets.token_urlsafe(PREFIX_BYTES)


def new_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def assemble(prefix: str, secret: str) -> str:
    return f"{SCHEME}_{prefix}_{secret}"


def parse(raw: str) -> tuple[str, str] | None:
    """(prefix, secret) of a well-formed token, else None. Length is checked before the regex runs."""
    if not isinstance(raw, str) or len(raw) != TOKEN_LEN:
        return None
    m = _TOKEN.fullmatch(raw)
    return (m.group(1), m.group(2)) if m else None


def hash_secret(secret: str) -> str:
    """SHA-256 hex of the secret.

    A fast unsalted hash is the right tool here, unlike for passwords: the secret is 256 bits from the
    OS CSPRNG, so there is nothing to brute-force or look up in a table, and a slow KDF would only make
    every API call slower (and hand an attacker a cheap way to burn our CPU).
    """
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)
