"""Bulk loading of parsed settlement rows into a staging table, then into SettlementLine in one statement.

PostgreSQL: one COPY into a temporary table (no WAL, no indexes) while Python parses the next rows, so parsing
and loading overlap; then one INSERT … SELECT that classifies each row, joins it to its order and its GL account
and writes the real table once. Other databases (SQLite for the demo): executemany into the same staging table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import Any

from django.db import connection

from reconciliation.models import SettlementLine

STAGE = "reconciliation_stage"
# Staging columns: the parser's row, then what Python decides per row from a tiny cache.
STAGE_COLUMNS = [
    ("line_number", "integer"), ("transaction_type", "text"), ("amazon_order_id", "text"),
    ("merchant_order_id", "text"), ("adjustment_id", "text"), ("shipment_id", "text"), ("marketplace_name", "text"),
    ("amount_type", "text"), ("amount_description", "text"), ("amount", "numeric(18,2)"), ("fulfillment_id", "text"),
    ("posted_at", "timestamp with time zone"), ("order_item_code", "text"), ("merchant_order_item_id", "text"),
    ("merchant_adjustment_item_id", "text"), ("sku", "text"), ("quantity", "integer"), ("promotion_id", "text"),
    ("kind", "text"), ("gl_account_id", "bigint"),
]  # fmt: skip
PROGRESS_EVERY = 50_000
COPY_CHUNK = 1 << 20  # characters per write to the COPY stream


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def stage_create() -> None:
    columns = ", ".join(f"{name} {kind}" for name, kind in STAGE_COLUMNS)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
        temp = "TEMPORARY " if _postgres() else "TEMP "
        cursor.execute(f"CREATE {temp}TABLE {STAGE} ({columns})")


def stage_drop() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")


def stage_load(rows: Iterable[tuple[Any, ...]], *, progress: Callable[[int], None] | None = None) -> int:
    """Write every row (ROW_FIELDS + kind + gl_account_id, None for NULL) to the staging table."""
    if _postgres():
        return _copy(rows, progress)
    return _executemany(rows, progress)


def _copy(rows: Iterable[tuple[Any, ...]], progress: Callable[[int], None] | None) -> int:
    count = 0
    names = ", ".join(name for name, _ in STAGE_COLUMNS)
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {STAGE} ({names}) FROM STDIN") as copy:
        buffer: list[str] = []
        size = 0
        for row in rows:
            # Values come from a tab-separated file (no tab or line break inside); only backslash needs escaping.
            text = "\t".join(row)
            if "\\" in text:
                text = "\t".join(v if v == "\\N" else v.replace("\\", "\\\\") for v in row)
            buffer.append(text)
            size += len(text)
            count += 1
            if size >= COPY_CHUNK:
                buffer.append("")
                copy.write("\n".join(buffer))
                buffer, size = [], 0
            if progress is not None and count % PROGRESS_EVERY == 0:
                progress(count)
        if buffer:
            buffer.append("")
            copy.write("\n".join(buffer))
    return count


def _executemany(rows: Iterable[tuple[Any, ...]], progress: Callable[[int], None] | None) -> int:
    count = 0
    names = ", ".join(name for name, _ in STAGE_COLUMNS)
    sql = f"INSERT INTO {STAGE} ({names}) VALUES ({', '.join(['%s'] * len(STAGE_COLUMNS))})"  # noqa: S608
    with connection.cursor() as cursor:
        for chunk in _chunks(rows, 5_000):
            cursor.executemany(sql, [[None if v == "\\N" else v for v in row] for row in chunk])
            count += len(chunk)
            if progress is not None:
                progress(count)
    return count


def _chunks(rows: Iterable[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def stage_total() -> Decimal:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(SUM(amount), 0) FROM {STAGE}")  # noqa: S608
        (total,) = cursor.fetchone()
    return Decimal(str(total)).quantize(Decimal("0.01"))  # SQLite sums REALs: back to cents


# What each kind of row is matched to. Order and refund rows must find their order; the rest are account-level.
_MATCH_SQL = """
    CASE
        WHEN s.kind = 'reserve' THEN 'transfer'
        WHEN s.kind = 'fee' THEN 'fee'
        WHEN COALESCE(a.id, e.id) IS NULL THEN 'unmatched'
        WHEN s.kind = 'refund' THEN 'refund'
        ELSE 'order'
    END
"""
_REASON_SQL = """
    CASE
        WHEN s.kind = 'reserve' THEN 'Reserve held or released by Amazon'
        WHEN s.kind = 'fee' THEN 'Account-level ' || s.transaction_type || ' (no order)'
        WHEN COALESCE(a.id, e.id) IS NULL THEN
            'No order ' || COALESCE(NULLIF(s.amazon_order_id, ''), s.merchant_order_id)
            || ' in Ledgerline (not synced yet, or sold on an account not connected)'
        ELSE ''
    END
"""


def stage_publish(*, settlement_id: int, currency: str) -> int:
    """Move the staged rows into SettlementLine, matched to their orders, in one INSERT … SELECT."""
    table = SettlementLine._meta.db_table
    copied = [name for name, _ in STAGE_COLUMNS if name not in ("kind", "gl_account_id")]
    columns = ", ".join(copied)
    select = ", ".join(f"s.{name}" for name in copied)
    sql = f"""
        INSERT INTO {table} (settlement_id, currency, {columns}, gl_account_id, match, match_reason, order_id)
        SELECT %s, %s, {select}, s.gl_account_id, {_MATCH_SQL}, {_REASON_SQL}, COALESCE(a.id, e.id)
        FROM {STAGE} s
        LEFT JOIN orders_order a
            ON s.kind IN ('order', 'refund') AND a.channel = 'amazon' AND a.external_id = s.amazon_order_id
        LEFT JOIN orders_order e
            ON s.kind IN ('order', 'refund') AND e.channel = 'ecommerce' AND e.external_id = s.merchant_order_id
            AND s.merchant_order_id <> ''
    """  # noqa: S608 (fixed identifiers only)
    with connection.cursor() as cursor:
        cursor.execute(sql, [settlement_id, currency])
        return int(cursor.rowcount)
