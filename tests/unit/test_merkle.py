"""Merkle log core and standalone verifier, checked against RFC 9162 definitions written out here."""

import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import govshare.audit
from govshare.audit import merkle
from govshare.audit.merkle import (
    CompactTree,
    Ed25519Signer,
    MerkleError,
    MerkleTree,
    TreeHead,
    canonical_bytes,
    consistency_proof,
    get_hasher,
    inclusion_proof,
    keyring_document,
    leaf_hashes,
    load_keyring,
    load_signer,
    root_from_leaf_hashes,
    sign_tree_head,
    verify_consistency_proof,
    verify_inclusion_proof,
    verify_tree_head,
)
from govshare.audit.verifier import verify_consistency, verify_receipt

ALGS = ["sha256", "sm3"]
SLOW = settings(max_examples=50, deadline=None)

SRC = Path(govshare.audit.__file__).resolve().parents[2]


# --------------------------------------------------------------------------- RFC 9162 §2.1 as written


class Rfc:
    """MTH, PATH and PROOF transcribed from RFC 9162 §2.1.1, §2.1.3.1, §2.1.4.1 (memoised by range)."""

    def __init__(self, data, alg="sha256"):
        self.data, self.alg = data, alg
        self.mth = cache(self._mth)

    def h(self, b):
        return hashlib.new(self.alg, b).digest()

    @staticmethod
    def k(n):  # the largest power of two smaller than n
        k = 1
        while k * 2 < n:
            k *= 2
        return k

    def _mth(self, a, b):
        n = b - a
        if n == 0:
            return self.h(b"")
        if n == 1:
            return self.h(b"\x00" + self.data[a])
        k = self.k(n)
        return self.h(b"\x01" + self.mth(a, a + k) + self.mth(a + k, b))

    def path(self, m, a, b):
        n = b - a
        if n == 1:
            return []
        k = self.k(n)
        if m < k:
            return [*self.path(m, a, a + k), self.mth(a + k, b)]
        return [*self.path(m - k, a + k, b), self.mth(a, a + k)]

    def subproof(self, m, a, b, whole):
        n = b - a
        if m == n:
            return [] if whole else [self.mth(a, b)]
        k = self.k(n)
        if m <= k:
            return [*self.subproof(m, a, a + k, whole), self.mth(a + k, b)]
        return [*self.subproof(m - k, a + k, b, False), self.mth(a, a + k)]


def distinct_leaves(n, salt=b""):
    return [salt + i.to_bytes(3, "big") + b"#" * (i % 5) for i in range(n)]


def flip(h, bit):
    return h[: bit // 8] + bytes([h[bit // 8] ^ (1 << (bit % 8))]) + h[bit // 8 + 1 :]


# --------------------------------------------------------------------------- hashing and serialisation


def test_sm3_known_answer_and_fallback_agree():
    assert get_hasher("sm3").new(b"abc").digest().hex() == (
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"  # GB/T 32905 A.1
    )
    for data in (b"", b"abc" * 100, os.urandom(1000)):
        assert merkle._CryptographySM3(data).digest() == get_hasher("sm3").new(data).digest()


def test_sm3_falls_back_to_cryptography_then_fails_clearly(monkeypatch):
    def no_sm3(name, *args):
        raise ValueError(f"unsupported hash type {name}")

    monkeypatch.setattr(merkle.hashlib, "new", no_sm3)
    assert merkle._sm3_constructor() is merkle._CryptographySM3

    def broken(self, data=b""):
        raise RuntimeError("no SM3 in this OpenSSL")

    monkeypatch.setattr(merkle._CryptographySM3, "__init__", broken)
    with pytest.raises(MerkleError, match="SM3"):
        merkle._sm3_constructor()


def test_hashing_domain_separation_and_unknown_algorithm():
    h = get_hasher("sha256")
    assert h.leaf(b"x") == hashlib.sha256(b"\x00x").digest()
    assert h.node(b"a" * 32, b"b" * 32) == hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()
    assert h.empty_root() == hashlib.sha256(b"").digest()
    with pytest.raises(MerkleError):
        get_hasher("md5")


def test_canonical_bytes():
    assert canonical_bytes({"b": 1, "a": ["甲", None, True], "c": {"z": "", "y": -2}}) == (
        '{"a":["甲",null,true],"b":1,"c":{"y":-2,"z":""}}'.encode()
    )
    assert canonical_bytes({"s": 'q"\\\n\x01'}) == b'{"s":"q\\"\\\\\\n\\u0001"}'
    with pytest.raises(ValueError):
        canonical_bytes({"x": float("nan")})


# --------------------------------------------------------------------------- roots


@pytest.mark.parametrize("alg", ALGS)
@given(data=st.lists(st.binary(max_size=20), max_size=300))
@SLOW
def test_roots_match_rfc(alg, data):
    rfc = Rfc(data, alg)
    leaves = leaf_hashes(data, alg)
    expected = rfc.mth(0, len(data))
    assert root_from_leaf_hashes(leaves, alg) == expected
    assert MerkleTree(leaves, alg).root() == expected
    tree = CompactTree(alg)
    tree.extend(leaves)
    assert tree.root() == expected


@given(n=st.integers(0, 300))
@SLOW
def test_prefix_roots_match_rfc(n):
    data = distinct_leaves(n)
    rfc, tree = Rfc(data), MerkleTree(leaf_hashes(data))
    for m in range(n + 1):
        assert tree.root(m) == rfc.mth(0, m)


# --------------------------------------------------------------------------- inclusion proofs


@given(n=st.integers(1, 300), salt=st.binary(max_size=4), rnd=st.randoms(use_true_random=False))
@SLOW
def test_inclusion_proofs_verify_and_forgeries_fail(n, salt, rnd):
    data = distinct_leaves(n + 3, salt)  # three extra leaves give "wrong size" a real root to aim at
    rfc, tree = Rfc(data), MerkleTree(leaf_hashes(data))
    roots = [tree.root(size) for size in range(n + 4)]
    root = roots[n]
    for i in range(n):
        leaf, proof = tree.levels[0][i], tree.inclusion_proof(i, n)
        assert proof == rfc.path(i, 0, n)
        assert verify_inclusion_proof(leaf, i, n, proof, root)

        assert not verify_inclusion_proof(get_hasher("sha256").leaf(data[i] + b"!"), i, n, proof, root)
        other = (i + rnd.randrange(1, n + 3)) % (n + 3)
        assert not verify_inclusion_proof(tree.levels[0][other], i, n, proof, root)
        assert not verify_inclusion_proof(leaf, other, n, proof, root)
        for size in {i + 1, n - 1, n + 1, n + 3, rnd.randint(i + 1, n + 3)} - {n}:
            if size > i:
                assert not verify_inclusion_proof(leaf, i, size, proof, roots[size])
        if proof:
            assert not verify_inclusion_proof(leaf, i, n, proof[:-1], root)
            assert not verify_inclusion_proof(leaf, i, n, proof[1:], root)
            k = rnd.randrange(len(proof))
            forged = [*proof[:k], flip(proof[k], rnd.randrange(256)), *proof[k + 1 :]]
            assert not verify_inclusion_proof(leaf, i, n, forged, root)
        assert not verify_inclusion_proof(leaf, i, n, [*proof, root], root)
        x, node = tree.levels[0][-1], get_hasher("sha256").node  # extended to reach a root of my choosing
        assert not verify_inclusion_proof(leaf, i, n, [*proof, x], node(root, x))
        assert not verify_inclusion_proof(leaf, i, n, [*proof, x], node(x, root))
        assert not verify_inclusion_proof(leaf, i, n, [*proof, tree.levels[0][-1]], root)
        assert not verify_inclusion_proof(leaf, i, n, proof, flip(root, rnd.randrange(256)))
        assert not verify_inclusion_proof(leaf[:-1], i, n, proof, root)


def test_same_root_binds_size_only_through_the_signature():
    """RFC 9162 proofs do not encode the size: (0, 3) verifies as (0, 4) against root(3). Harmless, since
    a signed head pairs root(3) with 3; documented here so nobody "fixes" the verifier into rejecting it."""
    tree = MerkleTree(leaf_hashes(distinct_leaves(3)))
    assert verify_inclusion_proof(tree.levels[0][0], 0, 4, tree.inclusion_proof(0), tree.root())


# --------------------------------------------------------------------------- consistency proofs


@given(n=st.integers(0, 300), salt=st.binary(max_size=4), rnd=st.randoms(use_true_random=False))
@SLOW
def test_consistency_proofs_verify_and_forgeries_fail(n, salt, rnd):
    data = distinct_leaves(n, salt)
    rfc, tree = Rfc(data), MerkleTree(leaf_hashes(data))
    new_root = tree.root()
    for m in range(n + 1):
        old_root, proof = tree.root(m), tree.consistency_proof(m)
        assert proof == (rfc.subproof(m, 0, n, True) if 0 < m < n else [])
        assert verify_consistency_proof(m, n, old_root, new_root, proof)
        assert not verify_consistency_proof(m, n, flip(old_root, rnd.randrange(256)), new_root, proof)
        if m > 0:  # the empty tree is a prefix of every tree, whatever its root
            assert not verify_consistency_proof(m, n, old_root, flip(new_root, rnd.randrange(256)), proof)
        assert not verify_consistency_proof(m, n, old_root, new_root, [*proof, new_root])
        x, node = tree.root(1) if n else new_root, get_hasher("sha256").node
        assert not verify_consistency_proof(m, n, old_root, node(new_root, x), [*proof, x])
        assert not verify_consistency_proof(m, n, node(x, old_root), node(x, new_root), [*proof, x])
        for other in (m - 1, m + 1):  # wrong old size, with that size's real root
            if 0 <= other <= n and tree.consistency_proof(other) != proof:
                assert not verify_consistency_proof(other, n, tree.root(other), new_root, proof)
        if 0 < m < n:  # wrong new size, with that size's real root
            assert not verify_consistency_proof(m, n - 1, old_root, tree.root(n - 1), proof)
            assert not verify_consistency_proof(n, m, new_root, old_root, proof)
        if proof:
            assert not verify_consistency_proof(m, n, old_root, new_root, proof[:-1])
            assert not verify_consistency_proof(m, n, old_root, new_root, proof[1:])
            k = rnd.randrange(len(proof))
            forged = [*proof[:k], flip(proof[k], rnd.randrange(256)), *proof[k + 1 :]]
            assert not verify_consistency_proof(m, n, old_root, new_root, forged)


def test_every_small_tree_exhaustively():
    for n in range(65):
        data = distinct_leaves(n)
        rfc, tree = Rfc(data), MerkleTree(leaf_hashes(data))
        for m in range(n + 1):
            assert verify_consistency_proof(m, n, rfc.mth(0, m), rfc.mth(0, n), tree.consistency_proof(m))
        for i in range(n):
            assert verify_inclusion_proof(tree.levels[0][i], i, n, rfc.path(i, 0, n), rfc.mth(0, n))


def test_trivial_consistency_cases():
    tree = MerkleTree(leaf_hashes(distinct_leaves(5)))
    empty = get_hasher("sha256").empty_root()
    assert verify_consistency_proof(0, 5, empty, tree.root(), [])
    assert not verify_consistency_proof(0, 5, tree.root(1), tree.root(), [])
    assert verify_consistency_proof(5, 5, tree.root(), tree.root(), [])
    assert not verify_consistency_proof(5, 5, tree.root(), tree.root(), [tree.root()])
    with pytest.raises(MerkleError):
        tree.consistency_proof(3, 6)
    with pytest.raises(MerkleError):
        tree.inclusion_proof(5)


# --------------------------------------------------------------------------- incremental append and stored nodes


@given(batches=st.lists(st.integers(0, 40), max_size=15), alg=st.sampled_from(ALGS))
@SLOW
def test_incremental_batches_match_from_scratch(batches, alg):
    all_leaves = leaf_hashes(distinct_leaves(sum(batches)), alg)
    stored = {}
    state = CompactTree(alg).to_dict()
    done = 0
    for b in batches:
        tree = CompactTree.from_dict(json.loads(json.dumps(state)))  # persisted between batches
        batch = all_leaves[done : done + b]
        for i, h in enumerate(batch):
            stored[0, done + i] = h
        tree.extend(batch, on_node=lambda level, index, h: stored.__setitem__((level, index), h))
        done += b
        assert tree.size == done
        assert tree.root() == root_from_leaf_hashes(all_leaves[:done], alg)
        state = tree.to_dict()
        assert len(state["frontier"]) == bin(done).count("1")

    full = MerkleTree(all_leaves, alg)
    assert stored == {(lv, i): h for lv, level in enumerate(full.levels) for i, h in enumerate(level)}
    get = lambda level, index: stored[level, index]  # noqa: E731 - what a database-backed getter does
    for i in range(0, done, 7):
        assert inclusion_proof(get, i, done, alg) == full.inclusion_proof(i)
    for m in range(0, done + 1, 5):
        assert consistency_proof(get, m, done, alg) == full.consistency_proof(m)


def test_compact_tree_rejects_inconsistent_state():
    with pytest.raises(MerkleError):
        CompactTree("sha256", 3, [b"\x00" * 32])


# --------------------------------------------------------------------------- signed tree heads and keys


def test_signed_head_round_trip_and_tampering():
    signer = Ed25519Signer.generate()
    keys = load_keyring(
        json.loads(json.dumps(keyring_document([(signer.algorithm, signer.public_key_bytes)])))
    )
    assert signer.key_id == hashlib.sha256(signer.public_key_bytes).hexdigest() and list(keys) == [
        signer.key_id
    ]
    root = MerkleTree(leaf_hashes(distinct_leaves(10))).root()
    head = sign_tree_head(signer, 10, root, "sha256", timestamp=1_767_225_600_123)
    assert head.signing_input() == (
        b"govshare-sth-v1\n"
        + b'{"hash_alg":"sha256","key_id":"%s","root_hash":"%s","timestamp":1767225600123,"tree_size":10}'
        % (signer.key_id.encode(), root.hex().encode())
    )
    again = TreeHead.from_dict(json.loads(json.dumps(head.to_dict())))
    assert again == head and verify_tree_head(again, keys)
    for field, value in [
        ("tree_size", 11),
        ("root_hash", flip(root, 3)),
        ("timestamp", 1),
        ("hash_alg", "sm3"),
    ]:
        assert not verify_tree_head(dataclasses.replace(head, **{field: value}), keys)


def test_key_rotation():
    old, new, stranger = Ed25519Signer.generate(), Ed25519Signer.generate(), Ed25519Signer.generate()
    root = get_hasher("sha256").empty_root()
    old_head, new_head = sign_tree_head(old, 0, root), sign_tree_head(new, 0, root)
    both = load_keyring(
        keyring_document([("ed25519", old.public_key_bytes), ("ed25519", new.public_key_bytes)])
    )
    only_new = load_keyring(keyring_document([("ed25519", new.public_key_bytes)]))
    assert verify_tree_head(old_head, both) and verify_tree_head(new_head, both)
    assert not verify_tree_head(old_head, only_new)  # rotated out
    assert not verify_tree_head(sign_tree_head(stranger, 0, root), both)
    impostor = TreeHead(
        0, root, old_head.timestamp, "sha256", old.key_id, stranger.sign(old_head.signing_input())
    )
    assert not verify_tree_head(impostor, both)


def test_key_loading():
    signer = Ed25519Signer.generate()
    assert load_signer(signer.private_pem()).key_id == signer.key_id
    assert load_signer(signer.private_pem(b"pw"), b"pw").key_id == signer.key_id
    raw = signer.private_key.private_bytes_raw()
    assert load_signer(raw).key_id == signer.key_id
    with pytest.raises(MerkleError):
        load_signer(b"short")
    with pytest.raises(MerkleError):  # key_id in keys.json must match the key
        load_keyring(
            {"keys": [{"alg": "ed25519", "public_key": signer.public_key_bytes.hex(), "key_id": "00" * 32}]}
        )
    with pytest.raises(MerkleError):
        load_keyring([{"alg": "sm2", "public_key": "04" + "00" * 64}])


@pytest.mark.parametrize(
    "field,value",
    [
        ("tree_size", True),
        ("tree_size", -1),
        ("timestamp", 1.5),
        ("root_hash", "AB" * 32),
        ("root_hash", "ab"),
        ("hash_alg", "md5"),
        ("key_id", "xyz"),
        ("signature", "zz"),
    ],
)
def test_tree_head_parsing_is_strict(field, value):
    head = sign_tree_head(Ed25519Signer.generate(), 1, b"\x11" * 32).to_dict()
    with pytest.raises(MerkleError):
        TreeHead.from_dict({**head, field: value})


# --------------------------------------------------------------------------- receipts and the CLI


def _log(n=25, alg="sha256"):
    signer = Ed25519Signer.generate()
    events = [
        {"seq": i, "action": "sharing.record.read", "actor": f"用户{i}", "ok": i % 2 == 0} for i in range(n)
    ]
    tree = MerkleTree(leaf_hashes((canonical_bytes(e) for e in events), alg), alg)
    keys_doc = keyring_document([("ed25519", signer.public_key_bytes)])
    return signer, events, tree, keys_doc


def _receipt(signer, events, tree, i, size):
    head = sign_tree_head(signer, size, tree.root(size), tree.hash_alg)
    proof = [h.hex() for h in tree.inclusion_proof(i, size)]
    return {"event": events[i], "leaf_index": i, "inclusion_proof": proof, "tree_head": head.to_dict()}


@pytest.mark.parametrize("alg", ALGS)
def test_verify_receipt(alg):
    signer, events, tree, keys_doc = _log(alg=alg)
    keys = load_keyring(keys_doc)
    receipt = _receipt(signer, events, tree, 7, 20)
    assert verify_receipt(receipt, keys).code == "ok"
    assert verify_receipt({**receipt, "event": {**events[7], "actor": "张三"}}, keys).code == "bad_proof"
    assert verify_receipt({**receipt, "leaf_index": 8}, keys).code == "bad_proof"
    assert verify_receipt({**receipt, "leaf_index": 20}, keys).code == "bad_index"
    assert (
        verify_receipt({**receipt, "inclusion_proof": receipt["inclusion_proof"][1:]}, keys).code
        == "bad_proof"
    )
    assert verify_receipt({**receipt, "inclusion_proof": ["zz"]}, keys).code == "malformed"
    forged_head = {**receipt["tree_head"], "tree_size": 21}
    assert verify_receipt({**receipt, "tree_head": forged_head}, keys).code == "bad_signature"
    assert verify_receipt(receipt, {}).code == "unknown_key"
    assert verify_receipt({"event": {}}, keys).code == "malformed"


def test_verify_consistency_of_heads():
    signer, _events, tree, keys_doc = _log()
    keys = load_keyring(keys_doc)
    old = sign_tree_head(signer, 9, tree.root(9)).to_dict()
    new = sign_tree_head(signer, 25, tree.root(25)).to_dict()
    proof = [h.hex() for h in tree.consistency_proof(9, 25)]
    assert verify_consistency(old, new, proof, keys).ok
    assert verify_consistency(new, old, proof, keys).code == "bad_order"
    rewritten = MerkleTree([*tree.levels[0][:8], b"\x00" * 32, *tree.levels[0][9:]])
    fork = sign_tree_head(signer, 25, rewritten.root()).to_dict()
    assert (
        verify_consistency(old, fork, [h.hex() for h in rewritten.consistency_proof(9)], keys).code
        == "bad_proof"
    )


def _cli(args, cwd=None, script=None):
    cmd = [sys.executable, script] if script else [sys.executable, "-m", "govshare.audit.verifier"]
    env = {**os.environ, "PYTHONPATH": "" if script else str(SRC)}
    return subprocess.run([*cmd, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=60)


def test_cli_exit_codes(tmp_path):
    signer, events, tree, keys_doc = _log()
    receipt = _receipt(signer, events, tree, 3, 25)
    (tmp_path / "keys.json").write_text(json.dumps(keys_doc))
    (tmp_path / "ok.json").write_text(json.dumps(receipt, ensure_ascii=False), encoding="utf-8")
    tampered = {**receipt, "event": {**receipt["event"], "action": "sharing.record.delete"}}
    (tmp_path / "bad.json").write_text(json.dumps(tampered, ensure_ascii=False), encoding="utf-8")
    consistency = {
        "old_head": sign_tree_head(signer, 4, tree.root(4)).to_dict(),
        "new_head": receipt["tree_head"],
        "consistency_proof": [h.hex() for h in tree.consistency_proof(4, 25)],
    }
    (tmp_path / "cons.json").write_text(json.dumps(consistency))

    ok = _cli([str(tmp_path / "ok.json"), "--keys", str(tmp_path / "keys.json")])
    assert ok.returncode == 0 and ok.stdout.startswith("有效 VALID") and ok.stdout.count("\n") == 1, ok
    bad = _cli([str(tmp_path / "bad.json"), "--keys", str(tmp_path / "keys.json")])
    assert bad.returncode == 1 and "无效" in bad.stdout and "does not match" in bad.stdout, bad
    assert _cli([str(tmp_path / "cons.json"), "--keys", str(tmp_path / "keys.json")]).returncode == 0
    assert _cli([str(tmp_path / "ok.json")]).returncode == 1  # no trusted keys: never "valid"
    assert _cli([str(tmp_path / "missing.json"), "--keys", str(tmp_path / "keys.json")]).returncode == 1

    # a third party's copy: just the two files, no govshare package on the path
    for name in ("merkle.py", "verifier.py"):
        shutil.copy(SRC / "govshare" / "audit" / name, tmp_path / name)
    standalone = _cli(["ok.json", "--keys", "keys.json"], cwd=tmp_path, script="verifier.py")
    assert standalone.returncode == 0, standalone
    assert _cli(["bad.json", "--keys", "keys.json"], cwd=tmp_path, script="verifier.py").returncode == 1


def test_documented_vectors():
    """The values printed in docs/audit-verifier.md §9, so the document cannot drift from the code."""
    events = [
        {"seq": 0, "action": "sharing.record.read", "actor": "张三"},
        {"seq": 1, "action": "catalog.resource.publish", "actor": "李四"},
        {"seq": 2, "action": "sharing.grant.approve", "actor": "王五", "ok": True, "note": None},
    ]
    tree = MerkleTree(leaf_hashes(canonical_bytes(e) for e in events))
    assert [h.hex()[:8] for h in tree.levels[0]] == ["f4816f00", "4ba2e047", "eb936a73"]
    assert tree.root().hex() == "01867df1baad1813248cfcca22f52b06473b05ba8e551adbea26ed9870cec224"
    assert (
        tree.inclusion_proof(2)[0].hex() == "bbdd9faba4e30690e3282631c01661c408c7bc75f64a175faa8783d78468b6bf"
    )
    assert tree.consistency_proof(1) == tree.levels[0][1:]
    sm3 = MerkleTree(leaf_hashes((canonical_bytes(e) for e in events), "sm3"), "sm3")
    assert sm3.root().hex() == "f5f0174682f4dee276dbee881db2dda0d0cf76e7caa51235f004a76869ddd8d5"
    signer = load_signer(bytes(range(32)))
    assert signer.key_id == "56475aa75463474c0285df5dbf2bcab73da651358839e9b77481b2eab107708c"
    head = sign_tree_head(signer, 3, tree.root(), "sha256", timestamp=1767225600000)
    assert head.signature.hex().startswith("43bf022a35001f8c")
    receipt = {"event": events[2], "leaf_index": 2, "inclusion_proof": [tree.inclusion_proof(2)[0].hex()]}
    keys = load_keyring({"keys": [{"alg": "ed25519", "public_key": signer.public_key_bytes.hex()}]})
    assert verify_receipt({**receipt, "tree_head": head.to_dict()}, keys).ok
