"""Signing keys for tree heads: PKCS#8 PEM files in GOVSHARE_AUDIT_KEY_DIR, never in the database.

GOVSHARE_AUDIT_SIGNATURE ("ed25519", default, or "sm2" for 国密 deployments) picks the type of keys
created from now on; existing keys keep their type. Files are named
``<UTC yyyymmddHHMMSSffffff>-<alg>-<key_id[:16]>.pem`` (older files lack ``<alg>-``: the type is read
from the PKCS#8 content either way); the newest is the active key. ``keyring.json`` in the same
directory accumulates every public key ever created with its algorithm, so heads signed before a
rotation stay verifiable even after the old private key file is deleted (which the operator may do),
and after a switch from Ed25519 to SM2.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from govshare.audit import merkle

KEYRING = "keyring.json"
log = logging.getLogger(__name__)
_warned: set[str] = set()


def key_dir() -> Path:
    return Path(settings.GOVSHARE_AUDIT_KEY_DIR)


def _private_files(d: Path) -> list[Path]:
    return sorted(d.glob("*.pem")) if d.is_dir() else []


def _read_ring(d: Path) -> list[dict]:
    path = d / KEYRING
    if not path.exists():
        return []
    return json.loads(path.read_text("utf-8"))["keys"]


def _write_ring(d: Path, entries: list[dict]) -> None:
    tmp = d / (KEYRING + ".tmp")
    tmp.write_text(json.dumps({"keys": entries}, ensure_ascii=False, indent=2) + "\n", "utf-8")
    os.replace(tmp, d / KEYRING)


def signature_alg() -> str:
    alg = getattr(settings, "GOVSHARE_AUDIT_SIGNATURE", "ed25519")
    if alg not in merkle.SIGNATURE_ALGS:
        raise ImproperlyConfigured(
            f"GOVSHARE_AUDIT_SIGNATURE 只能是 {' 或 '.join(merkle.SIGNATURE_ALGS)}，当前为 {alg!r}"
        )
    return alg


def create_key() -> merkle.Ed25519Signer | merkle.SM2Signer:
    """Generate a new key of the configured type, which becomes the active one (rotation)."""
    signer = merkle.new_signer(signature_alg())
    d = key_dir()
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S%f")
    path = d / f"{stamp}-{signer.algorithm}-{signer.key_id[:16]}.pem"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(signer.private_pem())
    ring = [e for e in _read_ring(d) if e["key_id"] != signer.key_id]
    ring += merkle.keyring_document([(signer.algorithm, signer.public_key_bytes)])["keys"]
    _write_ring(d, ring)
    return signer


def active_signer(create: bool = True) -> merkle.Ed25519Signer | merkle.SM2Signer | None:
    """The newest private key; the first one is created on demand (dev/demo convenience)."""
    files = _private_files(key_dir())
    if not files:
        return create_key() if create else None
    signer = merkle.load_signer(files[-1].read_bytes())
    wanted = getattr(settings, "GOVSHARE_AUDIT_SIGNATURE", "ed25519")
    if signer.algorithm != wanted and signer.key_id not in _warned:
        _warned.add(signer.key_id)  # once per process and key: the sealer runs every tick
        log.warning(
            "审计签名密钥 %s… 为 %s，而 GOVSHARE_AUDIT_SIGNATURE=%s：执行 govshare audit rotate-key 后生效",
            signer.key_id[:16],
            signer.algorithm,
            wanted,
        )
    return signer


def keyring() -> dict:
    """The public keyring document (docs/audit-verifier.md §5): keyring.json plus every private key file."""
    d = key_dir()
    entries = {e["key_id"]: e for e in _read_ring(d)}
    for f in _private_files(d):
        s = merkle.load_signer(f.read_bytes())
        entries.setdefault(s.key_id, merkle.keyring_document([(s.algorithm, s.public_key_bytes)])["keys"][0])
    return {"keys": list(entries.values())}


def trusted_keys() -> dict:
    return merkle.load_keyring(keyring())
