"""Database helpers for the hot paths of ingestion."""

from __future__ import annotations

import contextlib
import threading
import zlib
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection, connections, models, transaction
from django.utils import timezone


def thread_pool_shutdown(pool: ThreadPoolExecutor, *, workers: int) -> None:
    """Wait for `pool`'s work, then have each of its `workers` threads close the database connections Django opened
    for it (the shared rate limiter queries from these threads). Django leaves closing to the thread; a pool thread
    that ends with its connection open leaves it to the garbage collector, so a worker would keep idle
    connections after every cycle. The barrier puts one close on each thread."""
    barrier = threading.Barrier(workers)

    def close() -> None:
        with contextlib.suppress(threading.BrokenBarrierError):  # a thread still busy: close anyway
            barrier.wait(timeout=30)
        connections.close_all()

    for _ in range(workers):
        pool.submit(close)
    pool.shutdown(wait=True)


def bulk_update_rows(objs: Sequence[models.Model], fields: Sequence[str]) -> int:
    """UPDATE each row's `fields` by primary key in one executemany (pipelined by psycopg 3).

    Django's bulk_update builds one CASE expression per field and row, which costs more Python time than
    the whole rest of an ingestion page; this sends the same values as plain parameters. `updated_at` is
    set when the model has it. Values go through each field's own database preparation (JSON, dates).
    """
    if not objs:
        return 0
    model = type(objs[0])
    meta = model._meta
    names = list(fields)
    if any(f.name == "updated_at" for f in meta.concrete_fields) and "updated_at" not in names:
        names.append("updated_at")
    columns: list[models.Field[Any, Any]] = []
    for name in names:
        field = meta.get_field(name)
        assert isinstance(field, models.Field) and field.column, f"{name} is not a concrete column"
        columns.append(field)
    pk = meta.pk
    assert pk is not None and pk.column
    now = timezone.now()
    qn = connection.ops.quote_name
    assignments = ", ".join(f"{qn(str(field.column))} = %s" for field in columns)
    sql = f"UPDATE {qn(meta.db_table)} SET {assignments} WHERE {qn(pk.column)} = %s"  # noqa: S608 (quoted model identifiers only)
    params = []
    for obj in objs:
        if "updated_at" in names:
            obj.updated_at = now  # type: ignore[attr-defined]
        row = [field.get_db_prep_save(getattr(obj, field.attname), connection) for field in columns]
        params.append([*row, obj.pk])
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
    return len(params)


# Field classes (exactly these: a subclass such as EncryptedTextField transforms its values) whose values psycopg
# adapts as they are; Django's per-value preparation of them only re-checks types, and cost more than the COPY.
_PLAIN_FIELDS: frozenset[type[models.Field[Any, Any]]] = frozenset(
    {
        models.CharField,
        models.TextField,
        models.BooleanField,
        models.IntegerField,
        models.PositiveIntegerField,
        models.PositiveSmallIntegerField,
        models.SmallIntegerField,
        models.BigIntegerField,
        models.ForeignKey,
    }
)
_PLAIN, _DATETIME, _DECIMAL, _PREPARE = range(4)


def _copy_kind(field: models.Field[Any, Any]) -> int:
    if type(field) in _PLAIN_FIELDS:
        return _PLAIN
    if type(field) is models.DateTimeField:
        return _DATETIME
    if type(field) is models.DecimalField:
        return _DECIMAL
    return _PREPARE


def _copy_prepare(objs: Sequence[models.Model]) -> tuple[list[models.Field[Any, Any]], list[list[Any]]]:
    """The non-pk concrete columns of `objs`' model and each object's values for them, as bulk_create would send
    them: related objects' ids taken over, auto_now/auto_now_add stamps set (one time for all), every value
    through its field's database preparation (JSON to Jsonb, encryption, ...) except those that preparation
    would return unchanged (plain text, numbers, ids, aware datetimes, finite Decimals, their NULLs)."""
    meta = type(objs[0])._meta
    pk = meta.pk
    fields = [f for f in meta.concrete_fields if f is not pk]
    stamps = [f.attname for f in fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)]
    columns = [(f, f.attname, _copy_kind(f)) for f in fields]
    conn = connections[connection.alias]  # not the proxy: it is read once per value
    now = timezone.now()
    rows = []
    for obj in objs:
        obj._prepare_related_fields_for_save(operation_name="bulk_create")  # type: ignore[attr-defined]
        for attname in stamps:
            setattr(obj, attname, now)
        row = []
        for field, attname, kind in columns:
            value = getattr(obj, attname)
            if not (
                kind == _PLAIN
                or (kind == _DATETIME and (value is None or (isinstance(value, datetime) and value.tzinfo)))
                or (kind == _DECIMAL and (value is None or (type(value) is Decimal and value.is_finite())))
            ):
                value = field.get_db_prep_save(value, conn)
            row.append(value)
        rows.append(row)
    return fields, rows


def copy_insert(objs: Sequence[models.Model], *, key: Sequence[str] = ()) -> None:
    """INSERT `objs` with one COPY; with a `key` (unique fields), set their primary keys, found again by it.

    For many small rows: Django's bulk_create prepares every value in Python and psycopg escapes its UNNEST
    arrays in Python too, and a pipelined executemany costs one statement per row; COPY's rows are formatted by
    psycopg's C build. A unique violation (another poller stored the same row first) is Django's IntegrityError."""
    if not objs:
        return
    meta = type(objs[0])._meta
    pk = meta.pk
    assert pk is not None
    fields, rows = _copy_prepare(objs)
    qn = connection.ops.quote_name
    key_fields = [meta.get_field(name) for name in key]
    key_columns = [qn(str(f.column)) for f in key_fields]  # type: ignore[union-attr]
    key_attnames = [str(f.attname) for f in key_fields]  # type: ignore[union-attr]
    columns = ", ".join(qn(str(f.column)) for f in fields)
    where = " AND ".join(f"{column} = ANY(%s)" for column in key_columns)
    select = f"SELECT {qn(str(pk.column))}, {', '.join(key_columns)} FROM {qn(meta.db_table)} WHERE {where}"  # noqa: S608 (quoted identifiers)
    wanted = {tuple(getattr(obj, name) for name in key_attnames): obj for obj in objs}
    with connection.cursor() as wrapper, connection.wrap_database_errors:  # IntegrityError as Django's, for retries
        cursor = wrapper.cursor  # psycopg's own: Django's wrapper has no copy()
        with cursor.copy(f"COPY {qn(meta.db_table)} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        if not key:
            return
        cursor.execute(select, [list({k[i] for k in wanted}) for i in range(len(key_columns))])
        for found_pk, *found_key in cursor.fetchall():
            obj = wanted.get(tuple(found_key))
            if obj is not None:
                obj.pk = found_pk
                obj._state.adding, obj._state.db = False, connection.alias
    missing = [obj for obj in objs if obj.pk is None]
    assert not missing, f"{len(missing)} copied rows not found again by {key}"


def copy_values(
    model: type[models.Model], attnames: Sequence[str], rows: Iterable[Sequence[Any]], *, key: Sequence[str] = ()
) -> dict[tuple[Any, ...], Any]:
    """COPY `rows` into `model`'s table: tuples of database-ready values in `attnames`' order (aware datetimes,
    finite Decimals, ids, JSON as its text; a column left out is NULL). With a `key` (unique attnames, among
    `attnames`), returns key values → primary key of those rows, found again by them.

    The caller builds the values straight from what it parsed: making model objects only to take their values apart
    again (copy_insert) costs more Python time per row than the COPY itself."""
    meta = model._meta
    qn = connection.ops.quote_name
    columns = ", ".join(qn(_column(meta, name)) for name in attnames)
    table = qn(meta.db_table)
    positions = [list(attnames).index(name) for name in key]
    found: dict[tuple[Any, ...], Any] = {}
    with connection.cursor() as wrapper, connection.wrap_database_errors:  # IntegrityError as Django's, for retries
        cursor = wrapper.cursor  # psycopg's own: Django's wrapper has no copy()
        with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                if positions:
                    found[tuple(row[i] for i in positions)] = None
        if found:
            pk = meta.pk
            assert pk is not None and pk.column
            key_columns = [qn(_column(meta, name)) for name in key]
            where = " AND ".join(f"{column} = ANY(%s)" for column in key_columns)
            cursor.execute(
                f"SELECT {', '.join(key_columns)}, {qn(pk.column)} FROM {table} WHERE {where}",  # noqa: S608 (quoted identifiers)
                [list({k[i] for k in found}) for i in range(len(key))],
            )
            for *found_key, found_pk in cursor.fetchall():
                if tuple(found_key) in found:
                    found[tuple(found_key)] = found_pk
    missing = [k for k, v in found.items() if v is None]
    assert not missing, f"{len(missing)} copied rows not found again by {key}"
    return found


def ids_reserve(model: type[models.Model], count: int) -> list[int]:
    """`count` new primary keys from the table's sequence, for rows COPYed with their ids (nothing to find again
    afterwards). One that ends up unused is a gap in the numbering, as a rolled-back insert leaves."""
    if count <= 0:
        return []
    meta = model._meta
    pk = meta.pk
    assert pk is not None and pk.column
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, pk.column, count],
        )
        return [row[0] for row in cursor.fetchall()]


def _column(meta: Any, attname: str) -> str:
    for field in meta.concrete_fields:
        if field.attname == attname:
            return str(field.column)
    raise ValueError(f"{meta.label} has no column {attname}")


def copy_upsert_values(
    model: type[models.Model],
    attnames: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    unique: Sequence[str],
    update: Sequence[str],
) -> None:
    """INSERT `rows` (as copy_values takes them), or UPDATE the `update` attnames of the rows already there with the
    same `unique` attnames: the same statement as bulk_create(update_conflicts=True), fed by COPY into a temporary
    table. The temporary table lives as long as the connection, empty between uses."""
    meta = model._meta
    qn = connection.ops.quote_name
    table = qn(meta.db_table)
    columns = ", ".join(qn(_column(meta, name)) for name in attnames)
    # Named by its columns too: a connection that outlives a migration never reuses a table of the old shape.
    staging = qn(f"_copy_{meta.db_table}_{zlib.crc32(columns.encode()):08x}")
    conflict = ", ".join(qn(_column(meta, name)) for name in unique)
    updates = ", ".join(f"{column} = EXCLUDED.{column}" for column in (qn(_column(meta, name)) for name in update))
    # One transaction: outside one, the staging rows would be deleted by the COPY's own commit.
    with transaction.atomic(savepoint=False), connection.cursor() as wrapper, connection.wrap_database_errors:
        cursor = wrapper.cursor
        cursor.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {staging} ON COMMIT DELETE ROWS AS "  # noqa: S608 (quoted identifiers)
            f"SELECT {columns} FROM {table} WITH NO DATA"
        )
        with cursor.copy(f"COPY {staging} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {staging} "  # noqa: S608 (quoted identifiers)
            f"ON CONFLICT ({conflict}) DO UPDATE SET {updates}; DELETE FROM {staging}"
        )


def copy_upsert(objs: Sequence[models.Model], *, unique_fields: Sequence[str], update_fields: Sequence[str]) -> None:
    """INSERT `objs`, or UPDATE `update_fields` of the rows already there with the same `unique_fields` (see
    copy_upsert_values). Primary keys are not set on `objs`."""
    if not objs:
        return
    meta = type(objs[0])._meta
    fields, rows = _copy_prepare(objs)
    attname = {f.name: f.attname for f in meta.concrete_fields}
    copy_upsert_values(
        type(objs[0]),
        [str(f.attname) for f in fields],
        rows,
        unique=[attname[name] for name in unique_fields],
        update=[attname[name] for name in update_fields],
    )


def without_nul(value: Any) -> Any:
    """PostgreSQL text and jsonb cannot hold U+0000: keep it visible as the six characters \\u0000 instead,
    so a raw payload is still stored (and shown) rather than lost to a database error."""
    if isinstance(value, str):
        return value.replace("\x00", "\\u0000") if "\x00" in value else value
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [without_nul(v) for v in value]
    return value
