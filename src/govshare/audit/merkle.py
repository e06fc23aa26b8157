"""Tamper-evident audit log core: an RFC 9162 Merkle tree over audit events, and signed tree heads.

Pure Python + ``cryptography`` (SM2 heads also need sm2.py beside this file); no Django import, so the
verifier and third parties can reuse it.
Byte layouts are specified in docs/audit-verifier.md; change them only together with that file.

Vocabulary: a *leaf hash* is H(0x00 || event bytes); a *complete subtree* at (level, index) covers
leaves [index * 2**level, (index + 1) * 2**level); every other node is derived from those.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "HASH_ALGS",
    "PUBLIC_KEY_LOADERS",
    "SIGNATURE_ALGS",
    "STH_CONTEXT",
    "CompactTree",
    "Ed25519Signer",
    "Hasher",
    "MerkleError",
    "MerkleTree",
    "PublicKey",
    "SM2Signer",
    "Signer",
    "TreeHead",
    "canonical_bytes",
    "complete_subtrees",
    "consistency_proof",
    "consistency_ranges",
    "get_hasher",
    "inclusion_proof",
    "inclusion_ranges",
    "key_id_for",
    "keyring_document",
    "leaf_hashes",
    "load_keyring",
    "load_signer",
    "new_signer",
    "range_hash",
    "root_from_leaf_hashes",
    "sign_tree_head",
    "verify_consistency_proof",
    "verify_inclusion_proof",
    "verify_tree_head",
]

HASH_ALGS = ("sha256", "sm3")
SIGNATURE_ALGS = ("ed25519", "sm2")
STH_CONTEXT = b"govshare-sth-v1\n"


class MerkleError(ValueError):
    """Malformed input (bad size, index, hex, head) — distinct from a proof that merely fails."""


# --------------------------------------------------------------------------- hashing (RFC 9162 §2.1.1)


@dataclass(frozen=True, slots=True)
class Hasher:
    """``new(data)`` returns an object with ``.digest()``; bound locally in hot loops for speed."""

    name: str
    new: Callable[[bytes], Any]
    digest_size: int

    def leaf(self, data: bytes) -> bytes:
        return self.new(b"\x00" + data).digest()

    def node(self, left: bytes, right: bytes) -> bytes:
        return self.new(b"\x01" + left + right).digest()

    def empty_root(self) -> bytes:
        return self.new(b"").digest()


class _CryptographySM3:
    """hashlib-shaped wrapper for cryptography's SM3, used when OpenSSL's hashlib lacks sm3."""

    __slots__ = ("_h",)

    def __init__(self, data: bytes = b"") -> None:
        from cryptography.hazmat.primitives import hashes

        self._h = hashes.Hash(hashes.SM3())
        self._h.update(data)

    def digest(self) -> bytes:
        return self._h.finalize()


def _sm3_constructor() -> Callable[[bytes], Any]:
    try:
        proto = hashlib.new("sm3")  # copying a prototype is ~25% faster than hashlib.new by name
    except ValueError:
        pass
    else:

        def new(data: bytes = b"", _copy=proto.copy) -> Any:
            h = _copy()
            h.update(data)
            return h

        return new
    try:
        _CryptographySM3(b"")
    except Exception as exc:  # UnsupportedAlgorithm, or an OpenSSL built without SM3
        raise MerkleError(
            "SM3 不可用：hashlib 与 cryptography 均不支持 / SM3 unavailable in this build"
        ) from exc
    return _CryptographySM3


_HASHERS: dict[str, Hasher] = {}


def get_hasher(name: str = "sha256") -> Hasher:
    """Return the hasher for ``name`` ("sha256" or "sm3"); raise MerkleError if unknown or unavailable."""
    hasher = _HASHERS.get(name)
    if hasher is None:
        if name == "sha256":
            hasher = Hasher("sha256", hashlib.sha256, 32)
        elif name == "sm3":
            hasher = Hasher("sm3", _sm3_constructor(), 32)
        else:
            raise MerkleError(f"不支持的哈希算法 / unsupported hash algorithm: {name!r}")
        _HASHERS[name] = hasher
    return hasher


_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def canonical_bytes(mapping: Mapping[str, Any]) -> bytes:
    """The bytes a leaf commits to: UTF-8 JSON, keys sorted by code point, no whitespace, no NaN.

    Emit only strings, integers, booleans, null, lists and objects: float formatting differs between
    languages, so a third-party verifier could not reproduce it.
    """
    return _ENCODER.encode(mapping).encode("utf-8")


def leaf_hashes(datas: Iterable[bytes], hash_alg: str = "sha256") -> list[bytes]:
    new = get_hasher(hash_alg).new
    return [new(b"\x00" + d).digest() for d in datas]


def root_from_leaf_hashes(hashes: Sequence[bytes], hash_alg: str = "sha256") -> bytes:
    """MTH of all leaves, level by level; pairing with the odd last node carried up is RFC 9162's tree."""
    new = get_hasher(hash_alg).new
    if not hashes:
        return new(b"").digest()
    level = hashes
    while len(level) > 1:
        it = iter(level)
        nxt = [new(b"\x01" + a + b).digest() for a, b in zip(it, it, strict=False)]
        if len(level) & 1:
            nxt.append(level[-1])
        level = nxt
    return level[0]


# --------------------------------------------------------------------------- append-only tree


class CompactTree:
    """The right edge of the tree (one complete-subtree root per set bit of ``size``, largest first).

    This is all the sealer persists between batches: appending is amortised one node hash per leaf,
    and the root costs popcount(size) - 1 hashes.
    """

    __slots__ = ("frontier", "hash_alg", "size")

    def __init__(self, hash_alg: str = "sha256", size: int = 0, frontier: Iterable[bytes] = ()) -> None:
        get_hasher(hash_alg)
        self.hash_alg, self.size, self.frontier = hash_alg, size, list(frontier)
        if size < 0 or len(self.frontier) != size.bit_count():
            raise MerkleError("frontier does not match tree size")

    def append(self, leaf_hash: bytes) -> None:
        self.extend((leaf_hash,))

    def extend(
        self, leaf_hashes: Iterable[bytes], on_node: Callable[[int, int, bytes], None] | None = None
    ) -> None:
        """Append leaves; ``on_node(level, index, hash)`` is told of each new complete subtree above the
        leaves, so a sealer can store them and later serve proofs without rehashing (see range_hash)."""
        new = get_hasher(self.hash_alg).new
        stack, n = self.frontier, self.size
        if on_node is None:
            for h in leaf_hashes:
                s = n
                while s & 1:
                    h = new(b"\x01" + stack.pop() + h).digest()
                    s >>= 1
                stack.append(h)
                n += 1
        else:
            for h in leaf_hashes:
                s, level = n, 0
                while s & 1:
                    h = new(b"\x01" + stack.pop() + h).digest()
                    s >>= 1
                    level += 1
                    on_node(level, n >> level, h)
                stack.append(h)
                n += 1
        self.size = n

    def root(self) -> bytes:
        hasher = get_hasher(self.hash_alg)
        if not self.frontier:
            return hasher.empty_root()
        r = self.frontier[-1]
        for h in reversed(self.frontier[:-1]):
            r = hasher.node(h, r)
        return r

    def to_dict(self) -> dict[str, Any]:
        return {"hash_alg": self.hash_alg, "size": self.size, "frontier": [h.hex() for h in self.frontier]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CompactTree:
        return cls(d["hash_alg"], d["size"], (bytes.fromhex(h) for h in d["frontier"]))


class MerkleTree:
    """In-memory tree over a list of leaf hashes, keeping every complete-subtree level.

    Serves roots and proofs for any earlier size too; ``node`` is the getter the proof functions take.
    """

    def __init__(self, leaf_hashes: Iterable[bytes] = (), hash_alg: str = "sha256") -> None:
        self.hash_alg = hash_alg
        new = get_hasher(hash_alg).new
        self.levels: list[list[bytes]] = [list(leaf_hashes)]
        while len(self.levels[-1]) > 1:
            it = iter(self.levels[-1])
            self.levels.append([new(b"\x01" + a + b).digest() for a, b in zip(it, it, strict=False)])

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def node(self, level: int, index: int) -> bytes:
        return self.levels[level][index]

    def _size(self, size: int | None) -> int:
        if size is None:
            return self.size
        if not 0 <= size <= self.size:
            raise MerkleError(f"tree size {size} outside 0..{self.size}")
        return size

    def root(self, size: int | None = None) -> bytes:
        return range_hash(self.node, 0, self._size(size), self.hash_alg)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        return inclusion_proof(self.node, index, self._size(size), self.hash_alg)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        return consistency_proof(self.node, old_size, self._size(new_size), self.hash_alg)


# --------------------------------------------------------------------------- proofs (RFC 9162 §2.1.3.1, §2.1.4.1)
# Proofs are computed as leaf ranges first, so a database-backed caller can fetch every stored node it
# needs in one query: {c for a, b in ranges for c in complete_subtrees(a, b)}.

NodeGetter = Callable[[int, int], bytes]


def _split(n: int) -> int:
    """Largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def complete_subtrees(start: int, end: int) -> list[tuple[int, int]]:
    """(level, index) of the complete subtrees whose right-fold is MTH(D[start:end]), left to right.

    Valid for the ranges RFC 9162 recursion produces, where ``start`` is aligned to the largest power
    of two not exceeding ``end - start``.
    """
    out = []
    while start < end:
        level = (end - start).bit_length() - 1
        out.append((level, start >> level))
        start += 1 << level
    return out


def range_hash(get: NodeGetter, start: int, end: int, hash_alg: str = "sha256") -> bytes:
    """MTH(D[start:end]) from complete-subtree hashes; ``get(0, i)`` is leaf hash i."""
    hasher = get_hasher(hash_alg)
    parts = [get(level, index) for level, index in complete_subtrees(start, end)]
    if not parts:
        return hasher.empty_root()
    r = parts[-1]
    for h in reversed(parts[:-1]):
        r = hasher.node(h, r)
    return r


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """Leaf ranges whose MTHs form PATH(index, D[size]), in proof order (leaf's sibling first)."""
    if not 0 <= index < size:
        raise MerkleError(f"leaf index {index} outside tree of size {size}")
    out = []
    a, b, m = 0, size, index
    while b - a > 1:
        k = _split(b - a)
        if m < k:
            out.append((a + k, b))
            b = a + k
        else:
            out.append((a, a + k))
            a, m = a + k, m - k
    return out[::-1]


def consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """Leaf ranges whose MTHs form PROOF(old_size, D[new_size]); empty when old is 0 or equals new."""
    if not 0 <= old_size <= new_size:
        raise MerkleError(f"bad consistency sizes {old_size} -> {new_size}")
    if old_size in (0, new_size):
        return []
    out = []
    a, b, m, whole = 0, new_size, old_size, True
    while m != b - a:
        k = _split(b - a)
        if m <= k:
            out.append((a + k, b))
            b = a + k
        else:
            out.append((a, a + k))
            a, m, whole = a + k, m - k, False
    if not whole:
        out.append((a, b))
    return out[::-1]


def inclusion_proof(get: NodeGetter, index: int, size: int, hash_alg: str = "sha256") -> list[bytes]:
    return [range_hash(get, a, b, hash_alg) for a, b in inclusion_ranges(index, size)]


def consistency_proof(get: NodeGetter, old_size: int, new_size: int, hash_alg: str = "sha256") -> list[bytes]:
    return [range_hash(get, a, b, hash_alg) for a, b in consistency_ranges(old_size, new_size)]


# --------------------------------------------------------------------------- verification (RFC 9162 §2.1.3.2, §2.1.4.2)


def _well_formed(hashes: Sequence[Any], size: int) -> bool:
    return all(isinstance(h, bytes) and len(h) == size for h in hashes)


def verify_inclusion_proof(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes, hash_alg: str = "sha256"
) -> bool:
    """RFC 9162 §2.1.3.2, step by step."""
    hasher = get_hasher(hash_alg)
    if not _well_formed([leaf_hash, root, *proof], hasher.digest_size):
        return False
    if not 0 <= index < size:  # step 1
        return False
    fn, sn = index, size - 1  # step 2
    r = leaf_hash  # step 3
    for p in proof:  # step 4
        if sn == 0:  # 4a
            return False
        if fn & 1 or fn == sn:  # 4b
            r = hasher.node(p, r)
            while not fn & 1 and fn != 0:  # no-op when LSB(fn) was set
                fn >>= 1
                sn >>= 1
        else:
            r = hasher.node(r, p)
        fn >>= 1  # 4c
        sn >>= 1
    return sn == 0 and r == root  # step 5


def verify_consistency_proof(
    old_size: int,
    new_size: int,
    old_root: bytes,
    new_root: bytes,
    proof: Sequence[bytes],
    hash_alg: str = "sha256",
) -> bool:
    """RFC 9162 §2.1.4.2 for 0 < old < new; the trivial cases the RFC leaves open are decided as:
    old == new needs an empty proof and equal roots; old == 0 needs an empty proof and the empty root."""
    hasher = get_hasher(hash_alg)
    if not _well_formed([old_root, new_root, *proof], hasher.digest_size):
        return False
    if not 0 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof and old_root == hasher.empty_root()
    if not proof:  # step 1
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # step 2: first is an exact power of 2
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1  # step 3
    while fn & 1:  # step 4
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]  # step 5
    for c in path[1:]:  # step 6
        if sn == 0:  # 6a
            return False
        if fn & 1 or fn == sn:  # 6b
            fr = hasher.node(c, fr)
            sr = hasher.node(c, sr)
            while not fn & 1 and fn != 0:  # no-op when LSB(fn) was set
                fn >>= 1
                sn >>= 1
        else:
            sr = hasher.node(sr, c)
        fn >>= 1  # 6c
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0  # step 7


# --------------------------------------------------------------------------- keys and signers


class Signer(Protocol):
    """What the sealer needs from a signing key: Ed25519Signer, SM2Signer, or e.g. an HSM (密码机) adapter
    whose algorithm has a public-key loader in PUBLIC_KEY_LOADERS."""

    algorithm: str
    public_key_bytes: bytes
    key_id: str

    def sign(self, message: bytes) -> bytes: ...


class PublicKey(Protocol):
    """Ed25519PublicKey and sm2.SM2PublicKey fit: ``verify`` returns None or raises on a bad signature."""

    def verify(self, signature: bytes, data: bytes) -> None: ...


def _sm2():
    """sm2.py, imported on first use; a standalone verifier needs the copy only for SM2 keys."""
    try:
        from govshare.audit import sm2
    except ModuleNotFoundError as exc:  # copied beside merkle.py for a standalone verifier
        if exc.name not in ("govshare", "govshare.audit"):
            raise
        import sm2  # type: ignore[no-redef]
    return sm2


def _sm2_public_key(raw: bytes) -> PublicKey:
    return _sm2().SM2PublicKey.from_public_bytes(raw)


PUBLIC_KEY_LOADERS: dict[str, Callable[[bytes], PublicKey]] = {
    "ed25519": Ed25519PublicKey.from_public_bytes,
    "sm2": _sm2_public_key,
}


def key_id_for(public_key_bytes: bytes) -> str:
    """Hex SHA-256 of the raw public key (32 bytes for Ed25519, 65 bytes 04‖x‖y for SM2), whatever the
    log's hash algorithm."""
    return hashlib.sha256(public_key_bytes).hexdigest()


class Ed25519Signer:
    algorithm = "ed25519"

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self.private_key = private_key
        self.public_key = private_key.public_key()
        self.public_key_bytes = self.public_key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.key_id = key_id_for(self.public_key_bytes)

    @classmethod
    def generate(cls) -> Ed25519Signer:
        return cls(Ed25519PrivateKey.generate())

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message)

    def private_pem(self, password: bytes | None = None) -> bytes:
        enc = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc
        )


class SM2Signer:
    """GB/T 32918.2 with SM3 and the default identifier 1234567812345678; signature DER (r, s)."""

    algorithm = "sm2"

    def __init__(self, private_key: Any) -> None:  # sm2.SM2PrivateKey
        self.private_key = private_key
        self.public_key = private_key.public_key()
        self.public_key_bytes = self.public_key.public_bytes()
        self.key_id = key_id_for(self.public_key_bytes)

    @classmethod
    def generate(cls) -> SM2Signer:
        return cls(_sm2().SM2PrivateKey.generate())

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message)

    def private_pem(self, password: bytes | None = None) -> bytes:
        """Unencrypted PKCS#8 (OpenSSL reads it: ``openssl pkey -in FILE -text``); protect it by file mode."""
        if password:
            raise MerkleError("SM2 私钥不支持口令加密 / password-protected SM2 keys are not supported")
        return self.private_key.private_pem()


def new_signer(algorithm: str) -> Ed25519Signer | SM2Signer:
    """A fresh key of ``algorithm`` ("ed25519" or "sm2")."""
    if algorithm == "ed25519":
        return Ed25519Signer.generate()
    if algorithm == "sm2":
        return SM2Signer.generate()
    raise MerkleError(f"不支持的签名算法 / unsupported signature algorithm: {algorithm!r}")


def load_signer(data: bytes, password: bytes | None = None) -> Ed25519Signer | SM2Signer:
    """Load a private key: PKCS#8 PEM (Ed25519, or SM2 unencrypted) or a raw 32-byte Ed25519 seed."""
    if data.lstrip().startswith(b"-----BEGIN"):
        sm2 = _sm2()
        if sm2.is_sm2_private_pem(data):
            return SM2Signer(sm2.SM2PrivateKey.from_pem(data))
        key = serialization.load_pem_private_key(data, password)
        if not isinstance(key, Ed25519PrivateKey):
            raise MerkleError("只支持 Ed25519 与 SM2 私钥 / only Ed25519 and SM2 private keys are supported")
        return Ed25519Signer(key)
    if len(data) == 32:
        return Ed25519Signer(Ed25519PrivateKey.from_private_bytes(data))
    raise MerkleError("私钥格式无法识别 / private key is neither PEM nor 32 raw bytes")


def keyring_document(keys: Iterable[tuple[str, bytes]]) -> dict[str, Any]:
    """The published keys.json for (algorithm, raw public key) pairs, old rotated keys included."""
    return {"keys": [{"alg": alg, "public_key": raw.hex(), "key_id": key_id_for(raw)} for alg, raw in keys]}


def load_keyring(doc: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> dict[str, PublicKey]:
    """keys.json -> {key_id: public key}. key_id is recomputed, never trusted from the file."""
    entries = doc["keys"] if isinstance(doc, Mapping) else doc
    ring: dict[str, PublicKey] = {}
    for e in entries:
        alg, raw = e["alg"], bytes.fromhex(e["public_key"])
        if alg not in PUBLIC_KEY_LOADERS:
            raise MerkleError(f"不支持的签名算法 / unsupported signature algorithm: {alg!r}")
        kid = key_id_for(raw)
        if e.get("key_id", kid) != kid:
            raise MerkleError(f"key_id 与公钥不符 / key_id does not match public key {kid}")
        try:
            ring[kid] = PUBLIC_KEY_LOADERS[alg](raw)
        except ValueError as exc:  # wrong length, a point off the curve, …
            raise MerkleError(f"公钥无效 / invalid {alg} public key {kid[:16]}…: {exc}") from exc
    return ring


# --------------------------------------------------------------------------- signed tree heads


def _hex(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or value != value.lower():
        raise MerkleError(f"{what} must be lowercase hex")
    try:
        return bytes.fromhex(value)
    except ValueError as exc:
        raise MerkleError(f"{what} must be lowercase hex") from exc


def _int(value: Any, what: str) -> int:
    if type(value) is not int or value < 0:
        raise MerkleError(f"{what} must be a non-negative integer")
    return value


@dataclass(frozen=True, slots=True)
class TreeHead:
    """A signed statement "the log had ``tree_size`` events with root ``root_hash`` at ``timestamp`` ms"."""

    tree_size: int
    root_hash: bytes
    timestamp: int
    hash_alg: str
    key_id: str
    signature: bytes = b""

    def signing_input(self) -> bytes:
        return STH_CONTEXT + canonical_bytes(
            {
                "hash_alg": self.hash_alg,
                "key_id": self.key_id,
                "root_hash": self.root_hash.hex(),
                "timestamp": self.timestamp,
                "tree_size": self.tree_size,
            }
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "timestamp": self.timestamp,
            "hash_alg": self.hash_alg,
            "key_id": self.key_id,
            "signature": self.signature.hex(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TreeHead:
        """Strict parse: a head that would not re-serialise to the same signed bytes is refused."""
        if not isinstance(d, Mapping):
            raise MerkleError("tree head must be an object")
        try:
            hash_alg, key_id = d["hash_alg"], d["key_id"]
            head = cls(
                _int(d["tree_size"], "tree_size"),
                _hex(d["root_hash"], "root_hash"),
                _int(d["timestamp"], "timestamp"),
                hash_alg,
                key_id,
                _hex(d["signature"], "signature"),
            )
        except KeyError as exc:
            raise MerkleError(f"tree head lacks {exc.args[0]}") from exc
        if hash_alg not in HASH_ALGS:
            raise MerkleError(f"不支持的哈希算法 / unsupported hash algorithm: {hash_alg!r}")
        if len(head.root_hash) != get_hasher(hash_alg).digest_size:
            raise MerkleError("root_hash has the wrong length")
        if len(_hex(key_id, "key_id")) != 32:
            raise MerkleError("key_id must be 64 hex digits")
        return head


def sign_tree_head(
    signer: Signer, tree_size: int, root_hash: bytes, hash_alg: str = "sha256", timestamp: int | None = None
) -> TreeHead:
    ts = time.time_ns() // 1_000_000 if timestamp is None else timestamp
    unsigned = TreeHead(tree_size, root_hash, ts, hash_alg, signer.key_id)
    return TreeHead(tree_size, root_hash, ts, hash_alg, signer.key_id, signer.sign(unsigned.signing_input()))


def verify_tree_head(head: TreeHead, trusted_keys: Mapping[str, PublicKey]) -> bool:
    """True only if ``head.key_id`` is trusted and its key signed exactly these fields."""
    key = trusted_keys.get(head.key_id)
    if key is None:
        return False
    try:
        key.verify(head.signature, head.signing_input())
    except Exception:  # InvalidSignature (cryptography's or sm2's), or whatever a plugged-in key raises
        return False
    return True
