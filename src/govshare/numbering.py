"""Readable per-day numbers for workflow records (SQ20261121-0001, JC20261121-0002).

One place decides the next number and retries when a concurrent request took it first, so every
workflow numbers the same way (and past 9,999 a day the longer numbers still sort last).
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.db.models.functions import Length
from django.utils import timezone

ATTEMPTS = 5


def next_number(model, prefix: str) -> str:
    stem = f"{prefix}{timezone.localdate():%Y%m%d}-"
    last = (
        model.objects.filter(number__startswith=stem)
        .order_by(Length("number").desc(), "-number")
        .values_list("number", flat=True)
        .first()
    )
    n = int(last.rsplit("-", 1)[1]) + 1 if last else 1
    return f"{stem}{n:04d}"


def save_numbered(obj, prefix: str, before_save: Callable[[object], None] | None = None):
    """Give an unsaved instance the next number and save it; a concurrent twin retries with the next one.

    `before_save` runs inside the same savepoint once the number is known (e.g. to name a file after it).
    """
    for attempt in range(ATTEMPTS):
        obj.number = next_number(type(obj), prefix)
        try:
            with transaction.atomic():
                if before_save is not None:
                    before_save(obj)
                obj.save()
            return obj
        except IntegrityError:
            obj.pk = None
            if attempt == ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")
