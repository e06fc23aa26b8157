"""Encryption of TOTP secrets at rest: AES-256-GCM under a key derived from SECRET_KEY (HKDF-SHA256).

A database dump alone does not reveal anyone's second factor. The user id is bound as associated data,
so a ciphertext copied onto another person's row does not decrypt. Keys listed in SECRET_KEY_FALLBACKS
still decrypt, so a rotated SECRET_KEY keeps enrolled devices working.
"""

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

PREFIX = "v1:"


def _derive(secret_key: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"govshare.security", info=b"totp-secret").derive(
        secret_key.encode("utf-8")
    )


def _aad(user_id: int) -> bytes:
    return f"govshare.totp:user:{user_id}".encode()


def seal(plaintext: str, user_id: int) -> str:
    nonce = os.urandom(12)
    ct = AESGCM(_derive(settings.SECRET_KEY)).encrypt(nonce, plaintext.encode("utf-8"), _aad(user_id))
    return PREFIX + base64.b64encode(nonce + ct).decode("ascii")


def unseal(token: str, user_id: int) -> str:
    if not token.startswith(PREFIX):
        raise ValueError("unknown TOTP secret format")
    raw = base64.b64decode(token[len(PREFIX) :])
    nonce, ct = raw[:12], raw[12:]
    for key in (settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", ())):
        try:
            return AESGCM(_derive(key)).decrypt(nonce, ct, _aad(user_id)).decode("utf-8")
        except InvalidTag:
            continue
    raise ValueError("TOTP secret does not decrypt under SECRET_KEY or its fallbacks")
