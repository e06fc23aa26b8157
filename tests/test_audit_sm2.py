"""国密 audit trail: SM2 head signatures (GB/T 32918.2) and SM3 hashing, selectable per deployment. # R-SEC-08

SM2 is checked against the standards' worked examples, against two independent implementations (OpenSSL's
command line and the gmssl package) when they are present, and end to end through sealing, receipts, the
standalone verifier and `govshare audit verify`, including a log signed first with Ed25519 then with SM2.
"""

import json
import os
import secrets
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from govshare.audit import keys, merkle, services, sm2, triggers, verifier
from govshare.audit.models import TreeHead

AUDIT_DIR = Path(services.__file__).parent


def h(text: str) -> int:
    return int(text.replace(" ", ""), 16)


# GM/T 0003.5-2012 Annex A: signature on the recommended curve with the default identifier.
GMT_D = h("3945208F 7B2144B1 3F36E38A C6D39F95 88939369 2860B51A 42FB81EF 4DF7C5B8")
GMT_X = h("09F9DF31 1E5421A1 50DD7D16 1E4BC5C6 72179FAD 1833FC07 6BB08FF3 56F35020")
GMT_Y = h("CCEA490C E26775A5 2DC6EA71 8CC1AA60 0AED05FB F35E084A 6632F607 2DA9AD13")
GMT_E = h("F0B43E94 BA45ACCA ACE692ED 534382EB 17E6AB5A 19CE7B31 F4486FDF C0D28640")
GMT_K = h("59276E27 D506861A 16680F3A D9C02DCC EF3CC1FA 3CDBE4CE 6D54B80D EAC1BC21")
GMT_R = h("F5A03B06 48D2C463 0EEAC513 E1BB81A1 5944DA38 27D5B741 43AC7EAC EEE720B3")
GMT_S = h("B1B6AA29 DF212FD8 763182BC 0D421CA1 BB9038FD 1F7F42D4 840B69C4 85BBC1AA")
MSG = b"message digest"


@pytest.fixture(autouse=True)
def key_dir(settings, tmp_path):
    settings.GOVSHARE_AUDIT_KEY_DIR = tmp_path / "keys"
    return settings.GOVSHARE_AUDIT_KEY_DIR


# ---------------------------------------------------------------- the algorithm itself


def test_gmt_0003_5_example_on_the_recommended_curve():
    key = sm2.SM2PrivateKey(GMT_D)
    pub = key.public_key()
    assert (pub.x, pub.y) == (GMT_X, GMT_Y)
    assert pub.digest(MSG) == GMT_E  # SM3(Z_A ‖ M) with ID 1234567812345678
    assert sm2.decode_signature(key.sign(MSG, k=GMT_K)) == (GMT_R, GMT_S)
    standard = sm2.encode_signature(GMT_R, GMT_S)
    sm2.SM2PublicKey.from_public_bytes(pub.public_bytes()).verify(standard, MSG)
    with pytest.raises(sm2.InvalidSignature):
        pub.verify(standard, b"message digesT")


def test_gbt_32918_2_annex_a_example_on_its_test_curve():
    curve = sm2.Curve(
        "GB/T 32918.2 Annex A Fp-256",
        p=h("8542D69E 4C044F18 E8B92435 BF6FF7DE 45728391 5C45517D 722EDB8B 08F1DFC3"),
        a=h("787968B4 FA32C3FD 2417842E 73BBFEFF 2F3C848B 6831D7E0 EC65228B 3937E498"),
        b=h("63E4C6D3 B23B0C84 9CF84241 484BFE48 F61D59A5 B16BA06E 6E12D1DA 27C5249A"),
        n=h("8542D69E 4C044F18 E8B92435 BF6FF7DD 29772063 0485628D 5AE74EE7 C32E79B7"),
        gx=h("421DEBD6 1B62EAB6 746434EB C3CC315E 32220B3B ADD50BDC 4C4E6C14 7FEDD43D"),
        gy=h("0680512B CBB42C07 D47349D2 153B70C4 E5D7FDFC BFA36EA1 A85841B9 E46E09A2"),
    )
    uid = b"ALICE123@YAHOO.COM"
    key = sm2.SM2PrivateKey(
        h("128B2FA8 BD433C6C 068C8D80 3DFF7979 2A519A55 171B1B65 0C23661D 15897263"), curve
    )
    pub = key.public_key()
    assert pub.x == h("0AE4C779 8AA0F119 471BEE11 825BE462 02BB79E2 A5844495 E97C04FF 4DF2548A")
    assert pub.y == h("7C0240F8 8F1CD4E1 6352A73C 17B7F16F 07353E53 A176D684 A9FE0C6B B798E857")
    assert pub.z(uid).hex() == "f4a38489e32b45b6f876e3ac2168ca392362dc8f23459c1d1146fc3dbfb7bc9a"
    assert pub.digest(MSG, uid) == h(
        "B524F552 CD82B8B0 28476E00 5C377FB1 9A87E6FC 682D48BB 5D42E3D9 B9EFFE76"
    )
    k = h("6CB28D99 385C175C 94F94E93 4817663F C176D925 DD72B727 260DBAAE 1FB2F96F")
    sig = key.sign(MSG, uid, k=k)
    assert sm2.decode_signature(sig) == (
        h("40F1EC59 F793D9F4 9E09DCEF 49130D41 94F79FB1 EED2CAA5 5BACDB49 C4E755D1"),
        h("6FC6DAC3 2C5D5CF1 0C77DFB2 0F7C2EB6 67A45787 2FB09EC5 6327A67E C7DEEBE7"),
    )
    pub.verify(sig, MSG, uid)
    with pytest.raises(sm2.InvalidSignature):
        pub.verify(sig, MSG)  # another identifier gives another Z_A


_KEY = sm2.SM2PrivateKey.generate()


@hsettings(max_examples=30, deadline=None)
@given(message=st.binary(max_size=300), flip=st.integers(min_value=0))
def test_sign_verify_round_trip_and_any_changed_byte_fails(message, flip):
    sig = _KEY.sign(message)
    pub = sm2.SM2PublicKey.from_public_bytes(_KEY.public_key().public_bytes())
    pub.verify(sig, message)
    assert sm2.decode_signature(sm2.encode_signature(*sm2.decode_signature(sig))) == sm2.decode_signature(sig)
    bad = bytearray(sig)
    bad[flip % len(bad)] ^= 1 << (flip % 8)
    with pytest.raises(sm2.InvalidSignature):
        pub.verify(bytes(bad), message)
    with pytest.raises(sm2.InvalidSignature):
        pub.verify(sig, message + b"\x00")


def test_nonces_are_fresh_and_out_of_range_or_loose_signatures_are_refused():
    key = sm2.SM2PrivateKey(GMT_D)
    assert key.sign(MSG) != key.sign(MSG)  # a repeated nonce would reveal the private key
    pub, n = key.public_key(), sm2.SM2P256.n
    for r, s in [(GMT_R, GMT_S + n), (GMT_R + n, GMT_S), (0, GMT_S), (GMT_R, 0)]:
        with pytest.raises(sm2.InvalidSignature):  # GB/T 32918.2 §7.1 B1, B2
            pub.verify(sm2.encode_signature(r, s), MSG)
    good = sm2.encode_signature(GMT_R, GMT_S)
    for loose in [good + b"\x00", b"\x30\x81" + good[1:], good[:2] + b"\x02\x22\x00" + good[4:]]:
        with pytest.raises(sm2.InvalidSignature):  # BER variants of the same (r, s) are not DER
            pub.verify(loose, MSG)
    off_curve = b"\x04" + GMT_X.to_bytes(32, "big") + (GMT_Y ^ 1).to_bytes(32, "big")
    with pytest.raises(ValueError):
        merkle.load_keyring({"keys": [{"alg": "sm2", "public_key": off_curve.hex()}]})


def test_private_key_pem_round_trip():
    key = sm2.SM2PrivateKey.generate()
    pem = key.private_pem()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----\n") and sm2.is_sm2_private_pem(pem)
    signer = merkle.load_signer(pem)
    assert isinstance(signer, merkle.SM2Signer) and signer.private_key.d == key.d
    assert len(signer.public_key_bytes) == 65 and signer.key_id == merkle.key_id_for(signer.public_key_bytes)
    assert not sm2.is_sm2_private_pem(merkle.Ed25519Signer.generate().private_pem())
    with pytest.raises(merkle.MerkleError):
        signer.private_pem(password=b"secret")


def test_documented_sm2_head_vector():
    """docs/audit-verifier.md §9: the size-3 SM3 log signed with the GM/T 0003.5 key and nonce."""
    events = [
        {"seq": 0, "action": "sharing.record.read", "actor": "张三"},
        {"seq": 1, "action": "catalog.resource.publish", "actor": "李四"},
        {"seq": 2, "action": "sharing.grant.approve", "actor": "王五", "ok": True, "note": None},
    ]
    tree = merkle.MerkleTree(merkle.leaf_hashes((merkle.canonical_bytes(e) for e in events), "sm3"), "sm3")
    signer = merkle.SM2Signer(sm2.SM2PrivateKey(GMT_D))
    assert signer.key_id == "7ad64964540082dd8bbe4e35de2da6880163d87ddad5cd453f5d6370d4533735"
    unsigned = merkle.TreeHead(3, tree.root(), 1767225600000, "sm3", signer.key_id)
    head = {
        **unsigned.to_dict(),
        "signature": signer.private_key.sign(unsigned.signing_input(), k=GMT_K).hex(),
    }
    assert head["signature"] == (
        "3046022100a542100c1636f6ea239994215f597d7f1806a154957d8760eb4b3643cc060b38"
        "022100c578d11d45a3eff62725ee57a08a3a2cc14262fbabf54fbb0d4f652935406e40"
    )
    receipt = {
        "event": events[2],
        "leaf_index": 2,
        "inclusion_proof": [tree.inclusion_proof(2)[0].hex()],
        "tree_head": head,
    }
    ring = merkle.load_keyring(merkle.keyring_document([("sm2", signer.public_key_bytes)]))
    assert verifier.verify_receipt(receipt, ring).ok


# ---------------------------------------------------------------- independent implementations


def _openssl_sm2() -> str | None:
    exe = shutil.which("openssl")
    if exe is None:
        return None
    out = subprocess.run([exe, "list", "-public-key-algorithms"], capture_output=True, text=True)
    return exe if "sm2" in out.stdout.lower() else None


@pytest.mark.skipif(_openssl_sm2() is None, reason="no openssl command with SM2")
def test_openssl_reads_our_keys_and_signatures_and_we_read_its(tmp_path):
    exe = _openssl_sm2()

    def run(*args):
        return subprocess.run([exe, *args], capture_output=True, check=True, cwd=tmp_path).stdout

    (tmp_path / "msg").write_bytes(b"govshare-sth-v1\n" + MSG)
    ours = sm2.SM2PrivateKey.generate()
    (tmp_path / "ours.pem").write_bytes(ours.private_pem())
    (tmp_path / "ours.sig").write_bytes(ours.sign((tmp_path / "msg").read_bytes()))
    run("pkey", "-in", "ours.pem", "-pubout", "-out", "ours.pub")
    der = run("pkey", "-pubin", "-in", "ours.pub", "-outform", "DER")
    assert der.endswith(ours.public_key().public_bytes())
    distid = ["-sigopt", "distid:1234567812345678"]
    assert b"Verified OK" in run(
        "dgst", "-sm3", "-verify", "ours.pub", *distid, "-signature", "ours.sig", "msg"
    )

    run("genpkey", "-algorithm", "SM2", "-out", "theirs.pem")
    run("dgst", "-sm3", "-sign", "theirs.pem", *distid, "-out", "theirs.sig", "msg")
    theirs = merkle.load_signer((tmp_path / "theirs.pem").read_bytes())
    assert theirs.private_key.private_pem() == (tmp_path / "theirs.pem").read_bytes()  # same bytes as OpenSSL
    theirs.public_key.verify((tmp_path / "theirs.sig").read_bytes(), (tmp_path / "msg").read_bytes())


def test_gmssl_agrees_in_both_directions():
    gm = pytest.importorskip("gmssl.sm2")
    key = sm2.SM2PrivateKey(GMT_D)
    xy = key.public_key().public_bytes()[1:].hex()  # without "04": gmssl's lstrip("04") would eat x's 0
    other = gm.CryptSM2(private_key=f"{GMT_D:064x}", public_key=xy, asn1=True)
    assert other.verify_with_sm3(key.sign(MSG).hex(), MSG)
    theirs = other.sign_with_sm3(MSG, f"{secrets.randbelow(sm2.SM2P256.n - 1) + 1:064x}")
    key.public_key().verify(bytes.fromhex(theirs), MSG)


# ---------------------------------------------------------------- the audit log


def _events(n):
    return [
        services.record(f"test.sm2.{i}", object_type="test", object_id=i, detail={"i": i}) for i in range(n)
    ]


def _receipt(seq, capsys) -> dict:
    capsys.readouterr()
    call_command("audit", "receipt", str(seq))
    return json.loads(capsys.readouterr().out)


def _cli(tmp_path, doc: dict, keyring: dict) -> tuple[int, str]:
    """The standalone verifier's command line, as a third party runs it."""
    (tmp_path / "doc.json").write_text(json.dumps(doc, ensure_ascii=False), "utf-8")
    (tmp_path / "keys.json").write_text(json.dumps(keyring), "utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "govshare.audit.verifier", "doc.json", "--keys", "keys.json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    return proc.returncode, proc.stdout


@pytest.mark.parametrize(("hash_alg", "sig_alg"), [("sm3", "sm2"), ("sm3", "ed25519"), ("sha256", "sm2")])
def test_seal_receipt_and_verify_end_to_end(city, settings, capsys, tmp_path, hash_alg, sig_alg):
    settings.GOVSHARE_AUDIT_HASH_ALG, settings.GOVSHARE_AUDIT_SIGNATURE = hash_alg, sig_alg
    evs = _events(7)
    assert services.seal_pending(batch=3) == {"sealed": 7, "heads": 3, "tree_size": 7}
    heads = list(TreeHead.objects.order_by("tree_size"))
    assert {hd.hash_alg for hd in heads} == {hash_alg}
    (key_file,) = keys.key_dir().glob("*.pem")
    assert f"-{sig_alg}-" in key_file.name and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    c = Client()
    c.force_login(city.reviewer)
    published = c.get("/api/v1/audit/keys").json()
    assert [k["alg"] for k in published["keys"]] == [sig_alg]
    assert published["keys"][0]["key_id"] == heads[-1].key_id
    doc = _receipt(evs[4].seq, capsys)
    assert doc["tree_head"]["hash_alg"] == hash_alg
    assert verifier.verify_receipt(doc, merkle.load_keyring(published)).ok
    code, out = _cli(tmp_path, doc, published)
    assert code == 0 and out.startswith("有效 VALID"), out
    call_command("audit", "verify")
    assert "全部校验通过" in capsys.readouterr().out
    # the receipt commits to the event under the log's own hash: changing the event breaks it
    forged = dict(doc, event=dict(doc["event"], purpose="私自查询"))
    assert verifier.verify_receipt(forged, merkle.load_keyring(published)).code == "bad_proof"


class _Untriggered:
    def __enter__(self):
        triggers.execute(connection, triggers.drop_sql(connection.vendor))

    def __exit__(self, *exc):
        triggers.execute(connection, triggers.create_sql(connection.vendor))


def test_tampered_sm2_head_signature_is_rejected(db, settings, capsys, tmp_path):
    settings.GOVSHARE_AUDIT_HASH_ALG, settings.GOVSHARE_AUDIT_SIGNATURE = "sm3", "sm2"
    evs = _events(4)
    services.seal_pending()
    head = TreeHead.objects.get()
    r, s = sm2.decode_signature(bytes.fromhex(head.signature))
    forged = sm2.encode_signature(r, (s + 1) % sm2.SM2P256.n).hex()  # well-formed, wrong value
    with _Untriggered():
        TreeHead.objects.filter(pk=head.pk).update(signature=forged)
    with pytest.raises(CommandError) as exc:
        call_command("audit", "verify")
    assert "树头签名无效" in str(exc.value)
    doc = _receipt(evs[1].seq, capsys)
    ring = keys.keyring()
    assert verifier.verify_receipt(doc, merkle.load_keyring(ring)).code == "bad_signature"
    code, out = _cli(tmp_path, doc, ring)
    assert code == 1 and "树头签名无效" in out


def test_log_sealed_across_a_switch_from_ed25519_to_sm2_stays_verifiable(
    city, settings, capsys, caplog, tmp_path
):
    _events(3)
    services.seal_pending()  # first key created on demand: Ed25519, the default
    old = keys.active_signer()
    assert old.algorithm == "ed25519"
    settings.GOVSHARE_AUDIT_SIGNATURE = "sm2"
    services.record("test.sm2.before_rotation")
    services.seal_pending()  # the setting alone changes nothing until a deliberate rotation
    assert TreeHead.objects.order_by("tree_size").last().key_id == old.key_id
    assert "govshare audit rotate-key" in caplog.text  # but the operator is told
    capsys.readouterr()
    call_command("audit", "rotate-key")
    assert "新签名密钥已启用：sm2 " in capsys.readouterr().out
    evs = _events(5)
    services.seal_pending()
    h_old, h_mid, h_new = TreeHead.objects.order_by("tree_size")
    new = keys.active_signer()
    assert (h_old.key_id, h_mid.key_id, h_new.key_id) == (old.key_id, old.key_id, new.key_id)
    assert new.algorithm == "sm2"
    c = Client()
    c.force_login(city.reviewer)
    ring = c.get("/api/v1/audit/keys").json()
    assert {(k["key_id"], k["alg"]) for k in ring["keys"]} == {(old.key_id, "ed25519"), (new.key_id, "sm2")}
    # the old private key may be deleted: keyring.json keeps its public half
    for f in keys.key_dir().glob("*.pem"):
        if old.key_id[:16] in f.name:
            f.unlink()
    call_command("audit", "verify")
    assert "全部校验通过" in capsys.readouterr().out
    # an Ed25519 head and an SM2 head, one consistency proof, checked by a third party
    doc = c.get("/api/v1/audit/consistency", {"old": h_old.tree_size, "new": h_new.tree_size}).json()
    assert (doc["old_head"]["key_id"], doc["new_head"]["key_id"]) == (old.key_id, new.key_id)
    code, out = _cli(tmp_path, doc, ring)
    assert code == 0, out
    assert verifier.verify_receipt(_receipt(evs[0].seq, capsys), merkle.load_keyring(ring)).ok
    # a keyring without the Ed25519 key vouches for nothing it signed
    sm2_only = {"keys": [k for k in ring["keys"] if k["alg"] == "sm2"]}
    assert (
        verifier.verify_consistency(
            doc["old_head"], doc["new_head"], doc["consistency_proof"], merkle.load_keyring(sm2_only)
        ).code
        == "unknown_key"
    )


def test_unknown_signature_setting_is_refused(db, settings):
    settings.GOVSHARE_AUDIT_SIGNATURE = "rsa"
    with pytest.raises(ImproperlyConfigured):
        call_command("audit", "rotate-key")


def test_copied_verifier_checks_sm2_heads_without_govshare(db, settings, capsys, tmp_path):
    """docs/audit-verifier.md §1: merkle.py, sm2.py and verifier.py copied into one directory."""
    settings.GOVSHARE_AUDIT_HASH_ALG, settings.GOVSHARE_AUDIT_SIGNATURE = "sm3", "sm2"
    evs = _events(3)
    services.seal_pending()
    for name in ("merkle.py", "sm2.py", "verifier.py"):
        shutil.copy(AUDIT_DIR / name, tmp_path / name)
    (tmp_path / "r.json").write_text(json.dumps(_receipt(evs[2].seq, capsys), ensure_ascii=False), "utf-8")
    (tmp_path / "keys.json").write_text(json.dumps(keys.keyring()), "utf-8")
    block = "import runpy, sys; sys.modules['govshare'] = None; sys.argv = sys.argv[1:]; "
    run = block + "runpy.run_path('verifier.py', run_name='__main__')"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [sys.executable, "-c", run, "verifier.py", "r.json", "--keys", "keys.json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert proc.returncode == 0 and proc.stdout.startswith("有效 VALID"), proc.stdout + proc.stderr
