"""Re-sealing a resource's stored records after its 敏感 marks or the active key change (R-SEC-04).

A catalog version that marks an item 敏感 (or clears the mark) would otherwise leave earlier rows as
they were written: readable (readers open any token), but not findable by a new blind index and, when
the primary item changes, keyed differently from the rows loaded next. Publishing such a version sets
`Series.reseal_pending` (loads answer 409 meanwhile) and queues this work; it rewrites every record and
earlier value to the current marks under the active key, holding the resource's load lock per chunk,
and then clears the flag. Row digests become keyed for a resource with sealed items; the change
sequence does not move, so consumers see nothing.
"""

from __future__ import annotations

import hashlib
import json

from django.db import transaction
from django.dispatch import Signal
from django_tasks import task

from govshare.audit import services as audit
from govshare.catalog.models import Resource
from govshare.collect import store
from govshare.collect.itemspec import specs_for
from govshare.collect.models import Record, RecordHistory, Series
from govshare.security import fields

# Sent inside the re-keying transaction with `rekey(old_key) -> new_key`, before any record changes key,
# so other apps holding record keys (correction tickets) can follow.
keys_changing = Signal()


@task()
def reseal_task(resource_id: int) -> dict:
    return reseal(Resource.objects.get(pk=resource_id))


def mark_pending(resource: Resource) -> None:
    """Called in the publishing transaction: stop loads until the stored rows follow the new marks."""
    Series.objects.filter(resource=resource).update(reseal_pending=True)
    # Queued inside the transaction (the database task backend commits the task with the flag).
    reseal_task.enqueue(resource.pk)


def _canonical(codes: list[str], data: dict) -> str:
    """The loader's row text (items in catalog order, compact JSON) for a digest of a stored row."""
    return (
        "{"
        + ",".join(
            f"{json.dumps(c, ensure_ascii=False)}:{json.dumps(data.get(c), ensure_ascii=False)}"
            for c in codes
        )
        + "}"
    )


def reseal(resource: Resource, chunk: int = 2000, actor=None) -> dict:
    specs = specs_for(resource)
    codes = [s.code for s in specs]
    sealer = fields.sealer_for(resource)
    series, _ = Series.objects.get_or_create(resource=resource)
    to_blind = sealer.primary_sealed
    rekey_all = series.keys_sealed != to_blind
    counts = {"records": 0, "history": 0, "rekeyed": 0}

    def new_key_of(key: str, plain: dict | None) -> str:
        """The key in the new form; a row already in it (a re-run after an interruption) keeps its key."""
        if not rekey_all:
            return key
        value = (plain or {}).get(sealer.primary)
        if to_blind:
            if value is not None and sealer.stored_key(str(value)) == key:
                return key
            if value is None and _looks_blind(key):
                return key
            return sealer.stored_key(key)  # the loader blinds the key text it was given, canonicalised
        return key if value is None else str(value)  # a blinded tombstone keeps its index: nothing to read

    if rekey_all:
        with transaction.atomic():
            Series.objects.select_for_update().get(pk=series.pk)

            def rekey(old: str) -> str:
                data = (
                    Record.objects.filter(resource=resource, key=old).values_list("data", flat=True).first()
                )
                return new_key_of(old, fields.open_any(resource.pk, old, data))

            keys_changing.send(sender=Resource, resource=resource, rekey=rekey)
    for model, label in ((Record, "records"), (RecordHistory, "history")):
        last = 0
        while True:
            with transaction.atomic():
                Series.objects.select_for_update().get(
                    pk=series.pk
                )  # one writer: loads merge under this lock
                rows = list(
                    model.objects.filter(resource=resource, id__gt=last)
                    .order_by("id")
                    .values_list("id", "key", "data", "digest")[:chunk]
                )
                if not rows:
                    break
                last = rows[-1][0]
                for pk, key, data, digest in rows:
                    plain = fields.open_any(resource.pk, key, data)
                    new_key = new_key_of(key, plain)
                    new_data = fields.seal_dict(sealer, new_key, plain)
                    new_digest = digest
                    if plain is not None:
                        text = _canonical(codes, plain)
                        new_digest = (
                            sealer.digest(text) if sealer else hashlib.sha256(text.encode()).hexdigest()
                        )
                    if new_key != key or new_data != data or new_digest != digest:
                        model.objects.filter(pk=pk).update(key=new_key, data=new_data, digest=new_digest)
                        counts[label] += 1
                        counts["rekeyed"] += new_key != key
    with transaction.atomic():
        series = Series.objects.select_for_update().get(pk=series.pk)
        wanted = [
            s.code + (store.SEALED if s.sensitive else "") for s in specs if s.indexed and not s.primary
        ]
        series.indexed_items = store.ensure_indexes(resource.pk, wanted)
        series.keys_sealed, series.reseal_pending, series.sealed_version = to_blind, False, resource.version
        series.save(update_fields=["indexed_items", "keys_sealed", "reseal_pending", "sealed_version"])
        audit.record(
            "collect.resource.reseal",
            actor=actor,
            object=resource,
            detail={"resource": resource.code, **counts, "sensitive": ",".join(sorted(sealer.sensitive))},
        )
    return counts


def _looks_blind(key: str) -> bool:
    return len(key or "") == fields.fieldcrypt.BLIND_LEN and all(ch in "0123456789abcdef" for ch in key)
