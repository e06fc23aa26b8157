"""SM2 signatures (GB/T 32918.2-2016, SM3 digest, GB/T 32918.5 curve) in pure Python, for 国密 tree heads.

Our own because neither the standard library nor ``cryptography`` offers SM2, and the pure-Python
``gmssl`` 3.2.2 draws its default nonce from ``random`` (not a CSPRNG), corrupts ``04``-prefixed public keys
whose x starts with hex 0 or 4 (``lstrip("04")``; the GM/T 0003.5 example key is one) and spends ~20 ms
of CPU per verification, while `govshare audit verify` checks every head ever signed. Here both scalar
products use fixed-base window tables (built once per key): ~1 ms per verification, ~0.5 ms per signature.

Like any pure-Python curve code this is not constant-time: it suits a sealer in the platform's own
process and verification by anyone, not a 商用密码 product certification; a deployment that must use a
certified 密码机 plugs it in through ``merkle.Signer``.

Byte formats: public key ``04 ‖ x ‖ y`` (65 bytes); signature DER ``SEQUENCE { r INTEGER, s INTEGER }``
(GB/T 35276); private key PKCS#8 PEM with ``id-ecPublicKey`` and the SM2 curve OID, as OpenSSL writes it.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass

try:
    from govshare.audit.merkle import get_hasher
except ModuleNotFoundError as exc:  # copied beside merkle.py for a standalone verifier
    if exc.name not in ("govshare", "govshare.audit"):
        raise
    from merkle import get_hasher  # type: ignore[no-redef]

__all__ = [
    "DEFAULT_ID",
    "SM2P256",
    "Curve",
    "InvalidSignature",
    "SM2Error",
    "SM2PrivateKey",
    "SM2PublicKey",
    "decode_signature",
    "encode_signature",
    "is_sm2_private_pem",
]

DEFAULT_ID = b"1234567812345678"  # GB/T 35276 default distinguishing identifier


class SM2Error(ValueError):
    """Malformed key, signature encoding or parameters."""


class InvalidSignature(Exception):
    """The signature does not verify (merkle.PublicKey contract: verify raises)."""


@dataclass(frozen=True, slots=True)
class Curve:
    """Short Weierstrass curve y² = x³ + ax + b over F_p with base point G of prime order n (cofactor 1)."""

    name: str
    p: int
    a: int
    b: int
    n: int
    gx: int
    gy: int

    def on_curve(self, x: int, y: int) -> bool:
        p = self.p
        return 0 <= x < p and 0 <= y < p and (y * y - x * x * x - self.a * x - self.b) % p == 0


SM2P256 = Curve(  # GB/T 32918.5-2017 recommended parameters (sm2p256v1)
    "sm2p256v1",
    p=0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF,
    a=0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC,
    b=0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93,
    n=0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123,
    gx=0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7,
    gy=0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0,
)

# --------------------------------------------------------------------------- point arithmetic
# Jacobian (X, Y, Z) ~ affine (X/Z², Y/Z³); Z == 0 is the point at infinity.

_INF = (0, 1, 0)
_W = 4  # window width of the fixed-base tables: 64 windows of 15 points for a 256-bit order


def _double(P: tuple[int, int, int], c: Curve) -> tuple[int, int, int]:
    X, Y, Z = P
    p = c.p
    if Z == 0 or Y == 0:
        return _INF
    YY = Y * Y % p
    S = 4 * X * YY % p
    ZZ = Z * Z % p
    M = (3 * X * X + c.a * ZZ * ZZ) % p
    X3 = (M * M - 2 * S) % p
    return X3, (M * (S - X3) - 8 * YY * YY) % p, 2 * Y * Z % p


def _add_affine(P: tuple[int, int, int], x2: int, y2: int, c: Curve) -> tuple[int, int, int]:
    """P + (x2, y2), the second point affine and finite."""
    X1, Y1, Z1 = P
    p = c.p
    if Z1 == 0:
        return x2, y2, 1
    ZZ = Z1 * Z1 % p
    H = (x2 * ZZ - X1) % p
    R = (y2 * Z1 * ZZ - Y1) % p
    if H == 0:
        return _double(P, c) if R == 0 else _INF
    HH = H * H % p
    HHH = H * HH % p
    V = X1 * HH % p
    X3 = (R * R - HHH - 2 * V) % p
    return X3, (R * (V - X3) - Y1 * HHH) % p, Z1 * H % p


def _affine(P: tuple[int, int, int], c: Curve) -> tuple[int, int] | None:
    X, Y, Z = P
    if Z == 0:
        return None
    zi = pow(Z, -1, c.p)
    zi2 = zi * zi % c.p
    return X * zi2 % c.p, Y * zi2 * zi % c.p


def _batch_affine(points: list[tuple[int, int, int]], c: Curve) -> list[tuple[int, int]]:
    """Finite Jacobian points to affine with one inversion (Montgomery's trick)."""
    p, prefix, acc = c.p, [], 1
    for _, _, z in points:
        prefix.append(acc)
        acc = acc * z % p
    inv, out = pow(acc, -1, p), []
    for (x, y, z), before in zip(reversed(points), reversed(prefix), strict=True):
        zi = inv * before % p  # 1 / z
        inv = inv * z % p  # 1 / (product of the z before this one)
        zi2 = zi * zi % p
        out.append((x * zi2 % p, y * zi2 * zi % p))
    return out[::-1]


class _Table:
    """rows[i][d - 1] = d · 2^(W·i) · Q in affine form, so k·Q is one addition per non-zero window of k."""

    __slots__ = ("curve", "rows")

    def __init__(self, x: int, y: int, c: Curve) -> None:
        self.curve = c
        rows, base, size = [], (x, y), 1 << _W
        for _ in range((c.n.bit_length() + _W - 1) // _W):
            multiples, acc = [], (base[0], base[1], 1)
            for _ in range(size - 1):
                acc = _add_affine(acc, base[0], base[1], c)
                multiples.append(acc)  # never infinity: n is a prime far above every multiplier's factors
            row = [base, *_batch_affine(multiples, c)]
            base = row.pop()  # 2^W · base starts the next row
            rows.append(row)
        self.rows = rows

    def accumulate(self, P: tuple[int, int, int], k: int) -> tuple[int, int, int]:
        """P + k·Q."""
        c, mask = self.curve, (1 << _W) - 1
        for row in self.rows:
            d = k & mask
            if d:
                x, y = row[d - 1]
                P = _add_affine(P, x, y, c)
            k >>= _W
            if not k:
                break
        return P


_BASE_TABLES: dict[Curve, _Table] = {}


def _base_table(c: Curve) -> _Table:
    t = _BASE_TABLES.get(c)
    if t is None:
        t = _BASE_TABLES[c] = _Table(c.gx, c.gy, c)
    return t


# --------------------------------------------------------------------------- encodings


def _int32(v: int) -> bytes:
    return v.to_bytes(32, "big")


def _der_len(n: int) -> bytes:
    return bytes([n]) if n < 0x80 else bytes([0x81, n]) if n < 0x100 else bytes([0x82]) + n.to_bytes(2, "big")


def _der(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _der_len(len(body)) + body


def _der_int(v: int) -> bytes:
    return _der(0x02, v.to_bytes(v.bit_length() // 8 + 1, "big"))  # +1 byte keeps the sign bit clear


def encode_signature(r: int, s: int) -> bytes:
    return _der(0x30, _der_int(r) + _der_int(s))


def _read(data: bytes, pos: int, tag: int) -> tuple[bytes, int]:
    """One DER TLV with the expected tag at ``pos`` -> (value, position after it); strict lengths."""
    if pos + 2 > len(data) or data[pos] != tag:
        raise SM2Error(f"DER: expected tag 0x{tag:02x}")
    n, pos = data[pos + 1], pos + 2
    if n & 0x80:
        k = n & 0x7F
        if not 1 <= k <= 2 or pos + k > len(data):
            raise SM2Error("DER: bad length")
        n = int.from_bytes(data[pos : pos + k], "big")
        if n < 0x80 or (k == 2 and n < 0x100):
            raise SM2Error("DER: non-minimal length")
        pos += k
    if pos + n > len(data):
        raise SM2Error("DER: truncated")
    return data[pos : pos + n], pos + n


def _read_uint(data: bytes, pos: int) -> tuple[int, int]:
    v, pos = _read(data, pos, 0x02)
    if not v or v[0] & 0x80 or (len(v) > 1 and v[0] == 0 and not v[1] & 0x80):
        raise SM2Error("DER: integer not minimal or negative")
    return int.from_bytes(v, "big"), pos


def decode_signature(sig: bytes) -> tuple[int, int]:
    """Strict DER: exactly one SEQUENCE of two minimal non-negative INTEGERs, nothing after it."""
    body, end = _read(sig, 0, 0x30)
    if end != len(sig):
        raise SM2Error("DER: trailing bytes after signature")
    r, pos = _read_uint(body, 0)
    s, pos = _read_uint(body, pos)
    if pos != len(body):
        raise SM2Error("DER: extra members in signature")
    return r, s


_OID_EC_PUBLIC_KEY = _der(0x06, bytes.fromhex("2a8648ce3d0201"))  # 1.2.840.10045.2.1
_OID_SM2 = _der(0x06, bytes.fromhex("2a811ccf5501822d"))  # 1.2.156.10197.1.301
_ALG_ID = _der(0x30, _OID_EC_PUBLIC_KEY + _OID_SM2)
_PEM_BEGIN, _PEM_END = b"-----BEGIN PRIVATE KEY-----", b"-----END PRIVATE KEY-----"


def _pem_body(data: bytes) -> bytes | None:
    text = data.strip()
    if not (text.startswith(_PEM_BEGIN) and text.endswith(_PEM_END)):
        return None
    try:
        return base64.b64decode(b"".join(text[len(_PEM_BEGIN) : -len(_PEM_END)].split()), validate=True)
    except binascii.Error:
        return None


def is_sm2_private_pem(data: bytes) -> bool:
    """An unencrypted PKCS#8 PEM whose algorithm is id-ecPublicKey on the SM2 curve."""
    der = _pem_body(data)
    if der is None:
        return False
    try:
        body, _ = _read(der, 0, 0x30)
        _, pos = _read_uint(body, 0)
        alg, _ = _read(body, pos, 0x30)
    except SM2Error:
        return False
    return alg == _OID_EC_PUBLIC_KEY + _OID_SM2


# --------------------------------------------------------------------------- keys, signing, verification


class SM2PublicKey:
    algorithm = "sm2"

    __slots__ = ("_table", "_z", "curve", "x", "y")

    def __init__(self, x: int, y: int, curve: Curve = SM2P256) -> None:
        if not curve.on_curve(x, y):  # GB/T 32918.1 §6.2.1; cofactor 1, so n·P = O follows
            raise SM2Error("SM2 公钥不在曲线上 / public key is not a point on the SM2 curve")
        self.curve, self.x, self.y = curve, x, y
        self._table: _Table | None = None
        self._z: dict[bytes, bytes] = {}

    @classmethod
    def from_public_bytes(cls, raw: bytes, curve: Curve = SM2P256) -> SM2PublicKey:
        if len(raw) != 65 or raw[0] != 4:
            raise SM2Error("SM2 公钥须为 65 字节的 04‖x‖y / public key must be 65 bytes 04‖x‖y")
        return cls(int.from_bytes(raw[1:33], "big"), int.from_bytes(raw[33:], "big"), curve)

    def public_bytes(self) -> bytes:
        return b"\x04" + _int32(self.x) + _int32(self.y)

    def z(self, uid: bytes = DEFAULT_ID) -> bytes:
        """Z_A = SM3(ENTL ‖ ID ‖ a ‖ b ‖ x_G ‖ y_G ‖ x_A ‖ y_A) (GB/T 32918.2 §5.5)."""
        z = self._z.get(uid)
        if z is None:
            if len(uid) >= 8192:
                raise SM2Error("distinguishing identifier too long")
            c = self.curve
            data = (len(uid) * 8).to_bytes(2, "big") + uid
            data += b"".join(_int32(v) for v in (c.a, c.b, c.gx, c.gy, self.x, self.y))
            z = self._z[uid] = get_hasher("sm3").new(data).digest()
        return z

    def digest(self, message: bytes, uid: bytes = DEFAULT_ID) -> int:
        """e = SM3(Z_A ‖ M) as an integer."""
        return int.from_bytes(get_hasher("sm3").new(self.z(uid) + message).digest(), "big")

    def verify(self, signature: bytes, data: bytes, uid: bytes = DEFAULT_ID) -> None:
        """GB/T 32918.2 §7.1; raises InvalidSignature unless (r, s) is a valid signature of ``data``."""
        try:
            r, s = decode_signature(signature)
        except SM2Error as exc:
            raise InvalidSignature(str(exc)) from exc
        c = self.curve
        n = c.n
        if not (0 < r < n and 0 < s < n):  # B1, B2
            raise InvalidSignature("r or s outside [1, n-1]")
        e = self.digest(data, uid)  # B3, B4
        t = (r + s) % n  # B5
        if t == 0:
            raise InvalidSignature("t = 0")
        if self._table is None:
            self._table = _Table(self.x, self.y, c)
        point = _affine(self._table.accumulate(_base_table(c).accumulate(_INF, s), t), c)  # B6
        if point is None or (e + point[0]) % n != r:  # B7
            raise InvalidSignature("signature does not verify")


class SM2PrivateKey:
    algorithm = "sm2"

    __slots__ = ("_inv", "_public", "curve", "d")

    def __init__(self, d: int, curve: Curve = SM2P256) -> None:
        if not 1 <= d <= curve.n - 2:  # GB/T 32918.1 §6.1: 1 + d must be invertible mod n
            raise SM2Error("SM2 私钥超出范围 / private key outside [1, n-2]")
        self.curve, self.d = curve, d
        self._inv = pow(1 + d, -1, curve.n)
        xy = _affine(_base_table(curve).accumulate(_INF, d), curve)
        assert xy is not None
        self._public = SM2PublicKey(*xy, curve)

    @classmethod
    def generate(cls, curve: Curve = SM2P256) -> SM2PrivateKey:
        return cls(secrets.randbelow(curve.n - 2) + 1, curve)

    def public_key(self) -> SM2PublicKey:
        return self._public

    def sign(self, data: bytes, uid: bytes = DEFAULT_ID, k: int | None = None) -> bytes:
        """GB/T 32918.2 §6.1 with a fresh CSPRNG nonce; ``k`` is only for the standard's test vectors."""
        c = self.curve
        n = c.n
        e = self._public.digest(data, uid)  # A1, A2
        table = _base_table(c)
        while True:
            kk = secrets.randbelow(n - 1) + 1 if k is None else k  # A3
            x1 = _affine(table.accumulate(_INF, kk), c)[0]  # A4
            r = (e + x1) % n  # A5
            if r == 0 or r + kk == n:
                if k is not None:
                    raise SM2Error("nonce gives r = 0 or r + k = n")
                continue
            s = self._inv * (kk - r * self.d) % n  # A6
            if s:
                return encode_signature(r, s)  # A7
            if k is not None:
                raise SM2Error("nonce gives s = 0")

    def private_der(self) -> bytes:
        """PKCS#8 PrivateKeyInfo wrapping RFC 5915 ECPrivateKey (with the public key), as OpenSSL writes."""
        ec = _der(
            0x30,
            _der(0x02, b"\x01")
            + _der(0x04, _int32(self.d))
            + _der(0xA1, _der(0x03, b"\x00" + self._public.public_bytes())),
        )
        return _der(0x30, _der(0x02, b"\x00") + _ALG_ID + _der(0x04, ec))

    def private_pem(self) -> bytes:
        b64 = base64.b64encode(self.private_der())
        lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
        return b"\n".join([_PEM_BEGIN, *lines, _PEM_END]) + b"\n"

    @classmethod
    def from_pem(cls, data: bytes) -> SM2PrivateKey:
        """Our own files and OpenSSL's ``genpkey -algorithm SM2`` output; the embedded public key, if
        any, must match the private scalar."""
        der = _pem_body(data)
        if der is None or not is_sm2_private_pem(data):
            raise SM2Error("不是 SM2 的 PKCS#8 私钥 / not an unencrypted SM2 PKCS#8 private key")
        body, end = _read(der, 0, 0x30)
        if end != len(der):
            raise SM2Error("DER: trailing bytes after private key")
        _, pos = _read_uint(body, 0)
        _, pos = _read(body, pos, 0x30)
        ec, _ = _read(body, pos, 0x04)
        ec, _ = _read(ec, 0, 0x30)
        version, pos = _read_uint(ec, 0)
        scalar, pos = _read(ec, pos, 0x04)
        if version != 1 or not scalar:
            raise SM2Error("ECPrivateKey: bad version or empty key")
        key = cls(int.from_bytes(scalar, "big"))
        if pos < len(ec) and ec[pos] == 0xA0:  # optional parameters: must name the SM2 curve
            params, pos = _read(ec, pos, 0xA0)
            if params != _OID_SM2:
                raise SM2Error("ECPrivateKey: parameters are not the SM2 curve")
        if pos < len(ec) and ec[pos] == 0xA1:
            bits, pos = _read(ec, pos, 0xA1)
            pub, _ = _read(bits, 0, 0x03)
            if pub != b"\x00" + key._public.public_bytes():
                raise SM2Error("ECPrivateKey: embedded public key does not match the private key")
        return key
