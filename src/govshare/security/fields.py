"""Sensitive items at rest (R-SEC-04): the platform's keyring and the per-resource sealer.

Sealing happens on the one write path (collection); opening happens where data leaves the platform
to someone entitled to it — the delivery gate, the open-data build and the provider's own view of its
records — each of which writes its own audit event. Everything else (quality, history, the change
feed's cursor) works on stored tokens and never needs the key.

Keys come from `GOVSHARE_FIELD_KEY` (`kid:base64,…`, the first one active). Without it the instance
makes `field.key` in the audit key directory on first use — convenient for `govshare demo`, warned
about by `govshare check --deploy` (W005): a production key belongs in the environment, apart from
database backups.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

from govshare.errors import DomainError
from govshare.security import fieldcrypt

KEY_FILE = "field.key"


def _key_spec() -> str:
    spec = getattr(settings, "GOVSHARE_FIELD_KEY", "") or os.environ.get("GOVSHARE_FIELD_KEY", "")
    if spec:
        return spec
    return _file_spec(Path(settings.GOVSHARE_AUDIT_KEY_DIR) / KEY_FILE)


@lru_cache(maxsize=4)
def _file_spec(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{KEY_FILE}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write("k1:" + base64.b64encode(os.urandom(32)).decode("ascii") + "\n")
        try:
            os.link(tmp, path)  # whole file or nothing; a second process that raced us keeps the first key
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


@lru_cache(maxsize=1)
def _cipher_for(spec: str, algorithm: str, index_key: str) -> fieldcrypt.FieldCipher:
    index = base64.b64decode(index_key) if index_key else None
    return fieldcrypt.FieldCipher(fieldcrypt.parse_keys(spec), algorithm, index)


_current: fieldcrypt.FieldCipher | None = None


class Unreadable(DomainError):
    """A stored token that does not open: a missing key, or a value altered or moved in the database."""

    def __init__(self, resource_id: int, item_code: str, exc: Exception):
        super().__init__(
            "sealed_value_unreadable",
            "记录中的加密数据无法解密（密钥缺失，或数据在数据库中被改动），本次调用已记入审计日志，请联系平台运维",
            {"resource_id": resource_id, "item": item_code, "cause": str(exc)},
            status=500,
        )


def cipher() -> fieldcrypt.FieldCipher:
    """The instance's cipher, built once (keys change with a restart; tests reset it on setting changes)."""
    global _current
    if _current is None:
        _current = _cipher_for(
            _key_spec(),
            getattr(settings, "GOVSHARE_FIELD_CIPHER", "aes-256-gcm") or "aes-256-gcm",
            getattr(settings, "GOVSHARE_FIELD_INDEX_KEY", ""),
        )
    return _current


@receiver(setting_changed)
def _reset(setting, **kwargs):
    global _current
    if setting.startswith("GOVSHARE_FIELD_") or setting == "GOVSHARE_AUDIT_KEY_DIR":
        _current = None


class Sealer:
    """How one resource's sensitive items are stored: which are sealed, how keys and lookups are blinded."""

    def __init__(
        self,
        resource_id: int,
        sensitive: set[str],
        primary: str | None,
        lookups: set[str],
        upper: set[str] = frozenset(),
    ):
        self.resource_id = resource_id
        self.sensitive = frozenset(sensitive)
        self.primary_sealed = primary in sensitive if primary else False
        self.primary = primary
        self.lookups = frozenset(lookups) & self.sensitive
        # Items the loader upper-cases (公民身份号码, 统一社会信用代码): a lookup must blind the same text.
        self.upper = frozenset(upper)

    def __bool__(self) -> bool:
        return bool(self.sensitive)

    def _canon(self, code: str, value: str) -> str:
        value = value.strip()
        return value.upper() if code in self.upper else value

    def stored_key(self, key: str) -> str:
        """The record key as stored: the blind index when the primary item itself is sensitive."""
        if not self.primary_sealed or key is None:
            return key
        return cipher().blind(self._canon(self.primary, key))

    def stored_keys(self, keys: list) -> list:
        c, code = cipher(), self.primary
        return [None if k is None else c.blind(self._canon(code, k)) for k in keys]

    def lookup_value(self, code: str, value: str) -> str:
        """What to compare a lookup parameter with: the stored key, a sealed item's prefix, or the value."""
        if code == self.primary:
            return self.stored_key(value)
        if code in self.lookups:
            return fieldcrypt.blind_prefix(cipher().blind(self._canon(code, value)))
        return value

    def matches(self, code: str, value: str, data: dict | None) -> bool:
        """Does an opened row really hold the looked-up value (a blind prefix alone is not trusted)?"""
        if code not in self.lookups:
            return True
        got = (data or {}).get(code)
        return got is not None and self._canon(code, str(got)) == self._canon(code, value)

    def digest(self, row_text: str) -> str:
        """Row digest: keyed when the resource has sensitive items, else the plain SHA-256 as before."""
        if not self.sensitive:
            return hashlib.sha256(row_text.encode()).hexdigest()
        return cipher().digest(row_text.encode())

    def seal_literals(self, code: str, literals: list, stored_keys: list) -> list:
        """JSON literal texts of one item → tokens (None stays None); the literal keeps the JSON type."""
        c, rid, lookup = cipher(), self.resource_id, code in self.lookups
        out = []
        for lit, key in zip(literals, stored_keys, strict=True):
            if lit is None:
                out.append(None)
                continue
            blind = c.blind(self._canon(code, str(json.loads(lit)))) if lookup else ""
            out.append(c.seal(lit, fieldcrypt.aad(rid, code, key, blind), blind))
        return out

    def open(self, key: str, data: dict | None) -> dict | None:
        """A copy of the record's data with every sealed value opened (the key as stored).

        Any token is opened, whatever the entry's marks say now: between a catalog change and the end of
        its re-sealing, rows in the old form must still read correctly."""
        if not data:
            return data
        return open_any(self.resource_id, key, data)

    def shown_key(self, key: str, data: dict | None) -> str:
        """The key as a person reads it: the primary item's opened value when the key is blinded."""
        if not self.primary_sealed:
            return key
        opened = self.open(key, data) or {}
        value = opened.get(self.primary)
        return "" if value is None else str(value)


def sealer_for(resource) -> Sealer:
    """The resource's sealer at its current catalog version (items are read once per call)."""
    from govshare.collect.itemspec import specs_for

    specs = specs_for(resource)
    items = [(s.code, s.primary, s.indexed, s.sensitive) for s in specs]
    return sealer_from(resource.pk, items, {s.code for s in specs if s.check in ("ric", "uscc")})


def sealer_from(resource_id: int, items, upper=frozenset()) -> Sealer:
    """`items`: (code, is_primary, is_indexed, is_sensitive) tuples."""
    sensitive = {c for c, _, _, s in items if s}
    primary = next((c for c, p, _, _ in items if p), None)
    lookups = {c for c, p, i, _ in items if i and not p}
    return Sealer(resource_id, sensitive, primary, lookups, set(upper))


def open_any(resource_id: int, key: str, data: dict | None) -> dict | None:
    """Every sealed value of a stored row opened, whatever the entry's flags say now."""
    if not data:
        return data
    out = None
    for code, v in data.items():
        if isinstance(v, str) and v.startswith(fieldcrypt.PREFIX):
            if out is None:
                out, c = dict(data), cipher()
            aad = fieldcrypt.aad(resource_id, code, key, fieldcrypt.blind_of(v))
            try:
                out[code] = json.loads(c.open(v, aad))
            except (fieldcrypt.SealedValueError, fieldcrypt.FieldKeyError) as exc:
                raise Unreadable(resource_id, code, exc) from exc
    return data if out is None else out


def seal_dict(sealer: Sealer, key: str, data: dict | None) -> dict | None:
    """Plain data → data as stored under the sealer (the loader's path, for one row already in Python)."""
    if not data or not sealer:
        return data
    out = dict(data)
    for code in sealer.sensitive:
        v = out.get(code)
        if v is not None:
            out[code] = sealer.seal_literals(code, [json.dumps(v, ensure_ascii=False)], [key])[0]
    return out
