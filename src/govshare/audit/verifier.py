"""Standalone verifier for govshare audit receipts and consistency proofs (审计回执独立验证工具).

Needs only Python >= 3.11 and ``cryptography``; heads signed with SM2 (国密) use sm2.py, pure Python,
nothing more to install. Run either way:

    python -m govshare.audit.verifier receipt.json --keys keys.json
    python verifier.py receipt.json --keys keys.json   # this file copied beside merkle.py and sm2.py

The file may be a receipt {"event", "leaf_index", "inclusion_proof", "tree_head"} or a consistency
document {"old_head", "new_head", "consistency_proof"}. Exit status 0 = valid, 1 = not valid, with a
one-line Chinese / English reason. Formats: docs/audit-verifier.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

try:
    from govshare.audit.merkle import (
        MerkleError,
        PublicKey,
        TreeHead,
        canonical_bytes,
        get_hasher,
        load_keyring,
        verify_consistency_proof,
        verify_inclusion_proof,
        verify_tree_head,
    )
except ModuleNotFoundError as exc:  # run as a copied script next to merkle.py
    if exc.name not in ("govshare", "govshare.audit"):
        raise
    from merkle import (  # type: ignore[no-redef]
        MerkleError,
        PublicKey,
        TreeHead,
        canonical_bytes,
        get_hasher,
        load_keyring,
        verify_consistency_proof,
        verify_inclusion_proof,
        verify_tree_head,
    )

__all__ = ["VerificationResult", "main", "verify_consistency", "verify_receipt"]


@dataclass(frozen=True, slots=True)
class VerificationResult:
    ok: bool
    code: str  # ok, malformed, unknown_key, bad_signature, bad_index, bad_proof, bad_order, no_keys, bad_keys
    zh: str
    en: str

    def __bool__(self) -> bool:
        return self.ok

    @property
    def message(self) -> str:
        return f"{'有效 VALID' if self.ok else '无效 INVALID'}: {self.zh} / {self.en}"


def _fail(code: str, zh: str, en: str) -> VerificationResult:
    return VerificationResult(False, code, zh, en)


def _head(d: Any, trusted_keys: Mapping[str, PublicKey]) -> TreeHead | VerificationResult:
    """Parse and authenticate a signed tree head, or say why not."""
    try:
        head = TreeHead.from_dict(d)  # also refuses a hash_alg this Python cannot compute
    except MerkleError as exc:
        return _fail("malformed", "树头格式错误", f"malformed tree head: {exc}")
    if head.key_id not in trusted_keys:
        return _fail(
            "unknown_key",
            "签名密钥不在可信公钥列表中",
            f"tree head signed by untrusted key {head.key_id[:16]}…",
        )
    if not verify_tree_head(head, trusted_keys):
        return _fail("bad_signature", "树头签名无效", "tree head signature does not verify")
    return head


def _proof(value: Any) -> list[bytes]:
    if not isinstance(value, list) or not all(isinstance(h, str) and h == h.lower() for h in value):
        raise MerkleError("proof must be a list of lowercase hex strings")
    try:
        return [bytes.fromhex(h) for h in value]
    except ValueError as exc:
        raise MerkleError("proof must be a list of lowercase hex strings") from exc


def verify_receipt(receipt: Mapping[str, Any], trusted_keys: Mapping[str, PublicKey]) -> VerificationResult:
    """Is ``receipt["event"]`` leaf ``leaf_index`` of the tree whose head a trusted key signed?"""
    if not isinstance(receipt, Mapping):
        return _fail("malformed", "回执格式错误", "receipt must be a JSON object")
    head = _head(receipt.get("tree_head"), trusted_keys)
    if isinstance(head, VerificationResult):
        return head
    try:
        event, index = receipt["event"], receipt["leaf_index"]
        proof = _proof(receipt["inclusion_proof"])
        if not isinstance(event, Mapping) or type(index) is not int:
            raise MerkleError("event must be an object and leaf_index an integer")
        leaf = get_hasher(head.hash_alg).leaf(canonical_bytes(event))
    except (KeyError, MerkleError, TypeError, ValueError) as exc:
        return _fail("malformed", "回执格式错误", f"malformed receipt: {exc}")
    if not 0 <= index < head.tree_size:
        return _fail(
            "bad_index", "叶子序号超出树大小", f"leaf_index {index} outside tree of size {head.tree_size}"
        )
    if not verify_inclusion_proof(leaf, index, head.tree_size, proof, head.root_hash, head.hash_alg):
        return _fail(
            "bad_proof",
            "事件内容或包含证明与签名树根不符",
            "event or inclusion proof does not match the signed root",
        )
    return VerificationResult(
        True,
        "ok",
        f"事件为第 {index} 号记录，包含于规模 {head.tree_size} 的已签名日志",
        f"event is leaf {index} of the signed log of size {head.tree_size} (key {head.key_id[:16]}…)",
    )


def verify_consistency(
    old_head: Mapping[str, Any],
    new_head: Mapping[str, Any],
    proof: Sequence[str],
    trusted_keys: Mapping[str, PublicKey],
) -> VerificationResult:
    """Is the newer signed head an append-only extension of the older one? Heads are JSON dicts."""
    old = _head(old_head, trusted_keys)
    if isinstance(old, VerificationResult):
        return old
    new = _head(new_head, trusted_keys)
    if isinstance(new, VerificationResult):
        return new
    try:
        path = _proof(proof)
    except MerkleError as exc:
        return _fail("malformed", "一致性证明格式错误", f"malformed consistency proof: {exc}")
    if old.hash_alg != new.hash_alg:
        return _fail("bad_proof", "两个树头的哈希算法不同", "the two heads use different hash algorithms")
    if old.tree_size > new.tree_size:
        return _fail("bad_order", "旧树头大于新树头", f"old head size {old.tree_size} > new {new.tree_size}")
    if not verify_consistency_proof(
        old.tree_size, new.tree_size, old.root_hash, new.root_hash, path, old.hash_alg
    ):
        return _fail(
            "bad_proof",
            "一致性证明无效，日志可能被改写",
            "consistency proof fails: the log may have been rewritten",
        )
    return VerificationResult(
        True,
        "ok",
        f"规模 {new.tree_size} 的日志是规模 {old.tree_size} 日志的追加扩展",
        f"log of size {new.tree_size} extends log of size {old.tree_size} append-only",
    )


def _verify_document(doc: Any, trusted_keys: Mapping[str, PublicKey]) -> VerificationResult:
    if isinstance(doc, Mapping) and "consistency_proof" in doc:
        return verify_consistency(
            doc.get("old_head"), doc.get("new_head"), doc["consistency_proof"], trusted_keys
        )
    return verify_receipt(doc, trusted_keys)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m govshare.audit.verifier",
        description="验证审计回执或一致性证明 / verify an audit receipt",
    )
    parser.add_argument("file", help="receipt or consistency JSON ('-' for stdin)")
    parser.add_argument("--keys", help="trusted public keys JSON published by the platform")
    args = parser.parse_args(argv)
    result = _run(args.file, args.keys)
    print(result.message)
    return 0 if result.ok else 1


def _run(path: str, keys_path: str | None) -> VerificationResult:
    try:
        if path == "-":
            doc = json.load(sys.stdin)
        else:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
    except (OSError, ValueError) as exc:
        return _fail("malformed", "无法读取回执文件", f"cannot read {path}: {exc}")
    if keys_path is None:
        return _fail(
            "no_keys",
            "未提供可信公钥（--keys），无法验证签名",
            "no trusted keys given (--keys); cannot check the signature",
        )
    try:
        with open(keys_path, encoding="utf-8") as f:
            keys = load_keyring(json.load(f))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return _fail("bad_keys", "无法读取可信公钥文件", f"cannot load keys from {keys_path}: {exc}")
    return _verify_document(doc, keys)


if __name__ == "__main__":
    sys.exit(main())
