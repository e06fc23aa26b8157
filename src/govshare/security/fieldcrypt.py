"""Encryption at rest of information items flagged sensitive (敏感, R-SEC-04). No Django here.

A sealed value is a text token stored where the plain value would be, inside the record's JSON:

    ENC1.<kid>.<alg>.<base64url(nonce ‖ ciphertext ‖ tag)>            any sensitive item
    ENC1.<blind>.<kid>.<alg>.<base64url(…)>                              a sensitive lookup item

`alg` is `a` (AES-256-GCM, the default) or `s` (SM4-GCM, GB/T 32907, for 国密 deployments); both come
from `cryptography`. The token names its key and algorithm, so rotating either keeps old values readable.

Why deterministic: the nonce is HMAC-SHA256(nonce key, aad ‖ 0 ‖ value)[:12] (the synthetic-IV
construction), so one value under one key and one associated data always seals to the same token. The
loader's "unchanged row" test compares digests of the stored JSON, and a reload of the same file must
not rewrite a million rows. Nonces repeat only for identical (aad, value) pairs, which GCM tolerates:
it then repeats the identical ciphertext and reveals nothing but that equality.

Associated data binds a token to its resource, item, record key and blind index, so a token copied to
another record or item, or given another blind index, does not open. Lookups use a *blind index*: HMAC-SHA256 under a separate index key,
the same for every resource so a person's record joins across resources without decrypting.
"""

from __future__ import annotations

import base64
import hmac
import json
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "ENC1."
BLIND_LEN = 32  # hex characters of the blind index kept (128 bits)
ALGORITHMS = {"aes-256-gcm": "a", "sm4-gcm": "s"}
_ALG_NAMES = {v: k for k, v in ALGORITHMS.items()}


class FieldKeyError(ValueError):
    """The configured keys are unusable, or a token names a key that is not configured."""


class SealedValueError(ValueError):
    """A token that does not open: altered, moved to another record or item, or not a token."""


def _hkdf(master: bytes, info: str, length: int) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=length, salt=b"govshare.fieldcrypt", info=info.encode()
    ).derive(master)


def parse_keys(spec: str) -> list[tuple[str, bytes]]:
    """`kid:base64[,kid:base64…]` (first is active), or one bare base64 key named `k1`."""
    keys = []
    for part in [p.strip() for p in (spec or "").split(",") if p.strip()]:
        kid, _, b64 = part.rpartition(":") if ":" in part else ("k1", "", part)
        if not kid.isalnum() or len(kid) > 16:
            raise FieldKeyError(f"字段加密密钥编号“{kid}”只能由字母和数字组成（至多16位）")
        try:
            raw = base64.b64decode(b64, validate=True)
        except ValueError as exc:
            raise FieldKeyError(f"字段加密密钥“{kid}”不是有效的 Base64") from exc
        if len(raw) < 32:
            raise FieldKeyError(f"字段加密密钥“{kid}”至少需要32字节（当前{len(raw)}字节）")
        if any(k == kid for k, _ in keys):
            raise FieldKeyError(f"字段加密密钥编号“{kid}”重复")
        keys.append((kid, raw))
    if not keys:
        raise FieldKeyError("未配置字段加密密钥")
    return keys


@dataclass(frozen=True)
class _Key:
    enc_aes: bytes
    enc_sm4: bytes
    nonce: bytes


class FieldCipher:
    """Seals and opens sensitive values under a keyring; new values go under the first key."""

    def __init__(
        self, keys: list[tuple[str, bytes]], algorithm: str = "aes-256-gcm", index_key: bytes | None = None
    ):
        if algorithm not in ALGORITHMS:
            raise FieldKeyError(f"不支持的字段加密算法“{algorithm}”（可选：{'、'.join(ALGORITHMS)}）")
        self.active = keys[0][0]
        self.alg = ALGORITHMS[algorithm]
        self._keys = {
            kid: _Key(_hkdf(raw, "enc-aes", 32), _hkdf(raw, "enc-sm4", 16), _hkdf(raw, "nonce", 32))
            for kid, raw in keys
        }
        # The index key must outlive rotations (stored keys and indexes depend on it): by default it comes
        # from the oldest key listed, which therefore stays listed unless an explicit index key is given.
        # HMAC keys, used with the one-shot hmac.digest (OpenSSL, no Python-level HMAC object per value).
        self._index = _hkdf(index_key or keys[-1][1], "blind-index", 32)
        self._digest = _hkdf(index_key or keys[-1][1], "row-digest", 32)
        self._aes = {kid: AESGCM(k.enc_aes) for kid, k in self._keys.items()}

    @property
    def key_ids(self) -> list[str]:
        return list(self._keys)

    def blind(self, value: str) -> str:
        return hmac.digest(self._index, value.encode("utf-8"), "sha256").hex()[:BLIND_LEN]

    def digest(self, row: bytes) -> str:
        """A row digest that a dump does not let anyone test guesses against (unlike a bare SHA-256)."""
        return hmac.digest(self._digest, row, "sha256").hex()

    def seal(self, value: str, aad: bytes, blind: str | None = None) -> str:
        """`blind`: the blind index of a lookup item's value, put in front so an index can find it."""
        kid = self.active
        data = value.encode("utf-8")
        nonce = hmac.digest(self._keys[kid].nonce, len(aad).to_bytes(4, "big") + aad + data, "sha256")[:12]
        body = nonce + self._encrypt(self.alg, kid, nonce, data, aad)
        token = f"{kid}.{self.alg}.{base64.urlsafe_b64encode(body).decode('ascii').rstrip('=')}"
        return PREFIX + (f"{blind}.{token}" if blind else token)

    def open(self, token: str, aad: bytes) -> str:
        if not is_sealed(token):
            raise SealedValueError("不是加密值")
        parts = token[len(PREFIX) :].split(".")
        if len(parts) == 4:
            parts = parts[1:]
        if len(parts) != 3 or parts[1] not in _ALG_NAMES:
            raise SealedValueError("加密值格式错误")
        kid, alg, b64 = parts
        if kid not in self._keys:
            raise FieldKeyError(f"加密值使用的密钥“{kid}”未配置")
        try:
            body = base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4))
            if len(body) < 12 + 16:
                raise ValueError
            return self._decrypt(alg, kid, body[:12], body[12:], aad).decode("utf-8")
        except (InvalidTag, ValueError) as exc:
            raise SealedValueError("加密值无法解密：已被改动或不属于此记录") from exc

    def _encrypt(self, alg: str, kid: str, nonce: bytes, data: bytes, aad: bytes) -> bytes:
        if alg == "a":
            return self._aes[kid].encrypt(nonce, data, aad)
        enc = Cipher(algorithms.SM4(self._keys[kid].enc_sm4), modes.GCM(nonce)).encryptor()
        enc.authenticate_additional_data(aad)
        return enc.update(data) + enc.finalize() + enc.tag

    def _decrypt(self, alg: str, kid: str, nonce: bytes, body: bytes, aad: bytes) -> bytes:
        if alg == "a":
            return self._aes[kid].decrypt(nonce, body, aad)
        dec = Cipher(algorithms.SM4(self._keys[kid].enc_sm4), modes.GCM(nonce, body[-16:])).decryptor()
        dec.authenticate_additional_data(aad)
        return dec.update(body[:-16]) + dec.finalize()


def is_sealed(value) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def blind_of(token: str) -> str:
    """The blind index a lookup token carries in front ("" for others); it is part of the token's AAD."""
    parts = token[len(PREFIX) :].split(".")
    return parts[0] if len(parts) == 4 else ""


def token_key(token: str) -> str:
    """The key id a token was sealed under (re-sealing after a rotation looks for old ones)."""
    parts = token[len(PREFIX) :].split(".")
    return parts[-3]


def aad(resource_id: int, item_code: str, record_key: str, blind: str = "") -> bytes:
    """Unambiguous associated data (a JSON array): the token's place, and its blind index if it has one."""
    return json.dumps(
        ["govshare.field", resource_id, item_code, record_key, blind], ensure_ascii=False
    ).encode()


def blind_prefix(blind: str) -> str:
    """What a sealed lookup item's stored text starts with: the index and the lookup compare this."""
    return PREFIX + blind
