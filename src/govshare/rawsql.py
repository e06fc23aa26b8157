"""Model instances from hand-written SQL, converted exactly as the ORM converts them.

The delivery gate and token authentication run on every client call; compiling their ORM queries
costs more than executing them. They run fixed SQL instead and build instances here, with the
backend's own converters (SQLite's text dates, JSON as text), so the rest of the code sees ordinary
model instances. Fields not selected are deferred and load on access like `.only()` ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from django.db import connection, connections


@cache
def _cols(model, names: tuple[str, ...]) -> tuple:
    return tuple(model._meta.get_field(n).get_col(model._meta.db_table) for n in names)


def _converters(model, names: tuple[str, ...]) -> list[tuple]:
    # Kept on this thread's connection wrapper (not the module-level proxy): converters are bound to its
    # backend operations.
    wrapper = connections[connection.alias]
    cache_ = wrapper.__dict__.setdefault("_govshare_converters", {})
    key = (model, names)
    found = cache_.get(key)
    if found is None:
        found = cache_[key] = [
            (col, wrapper.ops.get_db_converters(col) + col.get_db_converters(wrapper))
            for col in _cols(model, names)
        ]
    return found


def build(model, names: tuple[str, ...], values: Sequence):
    """One instance of `model` from `values` of the columns of fields `names` (attnames, e.g. "client_id")."""
    out = []
    for (col, converters), value in zip(_converters(model, names), values, strict=True):
        if value is not None:
            for convert in converters:
                value = convert(value, col, connection)
        out.append(value)
    return model.from_db(connection.alias, list(names), out)


def columns(alias: str, model, names: tuple[str, ...]) -> str:
    """`alias.col1, alias.col2, …` for the fields `names` of `model`."""
    return ", ".join(f"{alias}.{c.target.column}" for c in _cols(model, names))
