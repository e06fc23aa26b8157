"""Model instances from hand-written SQL, converted exactly as the ORM converts them.

The delivery gate and token authentication run on every client call; compiling their ORM queries
costs more than executing them. They run fixed SQL instead and build instances here, with the
backend's own converters (SQLite's text dates, JSON as text), so the rest of the code sees ordinary
model instances. Fields not selected are deferred and load on access like `.only()` ones.

Where `Model.__init__` would do nothing but store the values (no custom `__init__`, no `pre_init` or
`post_init` receiver, plain field descriptors), the instance is made directly: on the delivery path
`__init__` with its two signal sends cost more than the query that fetched the row.

`fetch` runs such a statement on the connection's own DB-API cursor, with Django's checks and error
translation but without its cursor wrapper: on SQLite that wrapper rewrites `%s` to `?` with a regular
expression on every call, which for the gate's 1,800-character query cost more than running it. With
query logging on (DEBUG, tests counting queries) or an execute wrapper installed, it takes Django's
ordinary cursor, so nothing that observes queries misses one.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache, lru_cache

from django.core.signals import setting_changed
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model
from django.db.models.base import ModelState
from django.db.models.fields.related_descriptors import ForeignKeyDeferredAttribute
from django.db.models.query_utils import DeferredAttribute
from django.db.models.signals import post_init, pre_init
from django.dispatch import receiver


@cache
def _cols(model, names: tuple[str, ...]) -> tuple:
    return tuple(model._meta.get_field(n).get_col(model._meta.db_table) for n in names)


# Field types whose converted values are immutable: a value converted once can be handed out again.
_IMMUTABLE = {
    "BooleanField",
    "DateField",
    "DateTimeField",
    "DecimalField",
    "DurationField",
    "TimeField",
    "UUIDField",
}
_SCALARS = (str, int, float, bool)
_MEMO_SIZE = 256


def _converters(wrapper, model, names: tuple[str, ...]) -> list[tuple]:
    """(position, column, converters, memo) of the columns that have converters; the others pass as
    fetched. `memo` (raw value → converted value, copier) is kept for immutable results and for JSON.

    Kept on this thread's connection wrapper (not the module-level proxy): converters are bound to its
    backend operations, and the memo to its time zone."""
    cache_ = wrapper.__dict__.setdefault("_govshare_converters", {})
    key = (model, names)
    found = cache_.get(key)
    if found is None:
        found = cache_[key] = [
            (i, col, converters, {} if col.target.get_internal_type() in (*_IMMUTABLE, "JSONField") else None)
            for i, col in enumerate(_cols(model, names))
            if (converters := wrapper.ops.get_db_converters(col) + col.get_db_converters(wrapper))
        ]
    return found


def _same(value):
    return value


def _copier(value, col):
    """How to hand out a converted value again as a fresh object; None if that cannot be done cheaply."""
    if col.target.get_internal_type() in _IMMUTABLE or value is None or type(value) in _SCALARS:
        return _same
    if type(value) is list and all(v is None or type(v) in _SCALARS for v in value):
        return list.copy
    if type(value) is dict and all(v is None or type(v) in _SCALARS for v in value.values()):
        return dict.copy
    return None  # nested or decoded into other objects: converted afresh each time


@receiver(setting_changed)
def _forget_converted(setting, **kwargs):
    if setting in ("TIME_ZONE", "USE_TZ"):
        for wrapper in connections.all(initialized_only=True):
            wrapper.__dict__.pop("_govshare_converters", None)


@cache
def _plain(model, names: tuple[str, ...]) -> bool:
    """Whether `Model.from_db` would only store these values: then `build` skips `__init__`.

    Decided once per process; signal receivers are connected when the apps load, before any request.
    """
    if model.__init__ is not Model.__init__ or model.from_db.__func__ is not Model.from_db.__func__:
        return False
    if pre_init.has_listeners(model) or post_init.has_listeners(model):
        return False
    # A data descriptor other than Django's own FK one could transform or refuse a value on assignment.
    return all(
        type(getattr(model, n, None)) in (DeferredAttribute, ForeignKeyDeferredAttribute) for n in names
    )


def build(model, names: tuple[str, ...], values: Sequence, wrapper=None):
    """One instance of `model` from `values` of the columns of fields `names` (attnames, e.g. "client_id").

    `wrapper`: this thread's connection (`current()`), when the caller has it at hand.
    """
    wrapper = wrapper or connections[DEFAULT_DB_ALIAS]
    out = list(values)
    if len(out) != len(names):
        raise ValueError(f"{model.__name__}: {len(out)} values for {len(names)} fields")
    for i, col, converters, memo in _converters(wrapper, model, names):
        raw = out[i]
        if raw is None:
            continue
        if memo is not None:
            try:
                hit = memo.get(raw)
            except TypeError:  # unhashable: a value the driver already decoded
                hit = memo = None
            if hit is not None:
                out[i] = hit[1](hit[0])
                continue
        value = raw
        for convert in converters:
            value = convert(value, col, wrapper)
        out[i] = value
        # The same raw value converts the same way (converters are pure given the connection): keep a
        # pristine copy; JSON that is not flat is not kept.
        if memo is not None and (copy := _copier(value, col)) is not None:
            if len(memo) >= _MEMO_SIZE:
                memo.clear()
            memo[raw] = (copy(value), copy)
    if not _plain(model, names):
        return model.from_db(wrapper.alias, list(names), out)
    # What from_db leaves behind: the selected values, the others deferred, state "loaded from alias".
    obj = model.__new__(model)
    state = ModelState()
    state.adding = False
    state.db = wrapper.alias
    attrs = obj.__dict__
    attrs["_state"] = state
    attrs.update(zip(names, out, strict=True))
    return obj


@cache
def _complete(model, names: tuple[str, ...]) -> bool:
    """`names` are every concrete field of `model` but an auto primary key, and instances need no __init__."""
    fields = {f.attname for f in model._meta.concrete_fields}
    pk = model._meta.pk
    return _plain(model, names) and fields - set(names) == {pk.attname} and pk.get_default() is None


def new(model, values: dict):
    """`model(**values)` for a row about to be inserted: every field given but the auto primary key."""
    if not _complete(model, tuple(values)):
        return model(**values)
    obj = model.__new__(model)
    attrs = obj.__dict__
    attrs["_state"] = ModelState()
    attrs[model._meta.pk.attname] = None
    attrs.update(values)
    return obj


def relate(instance, name: str, value) -> None:
    """`instance.<name> = value` for a foreign key whose id `instance` already holds, as when both come
    from the same joined row: caching the related object is all the descriptor's assignment would do."""
    field = instance._meta.get_field(name)
    if value is None or getattr(instance, field.attname) != value.pk or instance._state.db != value._state.db:
        setattr(instance, name, value)
        return
    field.set_cached_value(instance, value)


def current():
    """This thread's default connection wrapper. `django.db.connection` is a proxy that looks it up again
    (through asgiref's context-local storage) on every attribute access."""
    return connections[DEFAULT_DB_ALIAS]


@lru_cache(maxsize=64)
def _qmark(sql: str) -> str:
    from django.db.backends.sqlite3.base import FORMAT_QMARK_REGEX

    return FORMAT_QMARK_REGEX.sub("?", sql).replace("%%", "%")


def fetch(sql: str, params: Sequence, wrapper=None) -> list[tuple]:
    """All rows of one fixed statement (`%s` placeholders), run as Django's cursor would run it."""
    return _run(sql, params, wrapper or connections[DEFAULT_DB_ALIAS], _rows)


def insert(sql: str, params: Sequence, pk: str, wrapper=None):
    """Run one fixed INSERT and return the new row's primary key `pk`: on SQLite the row id the driver
    reports (the key of a table with an integer primary key; cheaper than RETURNING), elsewhere by
    `RETURNING`."""
    wrapper = wrapper or connections[DEFAULT_DB_ALIAS]
    if wrapper.vendor != "sqlite" and wrapper.features.can_return_columns_from_insert:
        return _run(f"{sql} RETURNING {pk}", params, wrapper, _rows)[0][0]
    return _run(sql, params, wrapper, _lastrowid)


def _rows(cur):
    return cur.fetchall()


def _lastrowid(cur):
    return cur.lastrowid


def _run(sql: str, params: Sequence, wrapper, result):
    if wrapper.queries_logged or wrapper.execute_wrappers:
        with wrapper.cursor() as cur:
            cur.execute(sql, params)
            return result(cur)
    # BaseDatabaseWrapper._cursor and CursorWrapper._execute, minus the wrapper objects.
    wrapper.close_if_health_check_failed()
    wrapper.ensure_connection()
    wrapper.validate_thread_sharing()
    wrapper.validate_no_broken_transaction()
    sqlite = wrapper.vendor == "sqlite"
    if sqlite:
        sql = _qmark(sql)
    with wrapper.wrap_database_errors:
        # SQLite: the plain cursor (the backend's own one would rewrite placeholders again); others: the
        # backend's cursor, set up as for any query (PostgreSQL registers the time zone loader).
        cur = wrapper.connection.cursor() if sqlite else wrapper.create_cursor()
        try:
            cur.execute(sql, params)
            return result(cur)
        finally:
            cur.close()


def columns(alias: str, model, names: tuple[str, ...]) -> str:
    """`alias.col1, alias.col2, …` for the fields `names` of `model`."""
    return ", ".join(f"{alias}.{c.target.column}" for c in _cols(model, names))
