"""Bulk loading of parsed settlement rows into SettlementLine.

One COPY straight into the table while Python parses the next rows, so parsing and loading overlap (the server
parses and indexes what it has been sent while Python reads on). Everything happens inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Sum

from reconciliation.models import Settlement, SettlementLine
from reconciliation.parser import ROW_FIELDS

# The parser's row, then what Python decides per row from small caches.
COLUMNS = [*ROW_FIELDS, "kind", "gl_account_id"]
PROGRESS_EVERY = 50_000
COPY_CHUNK = 1 << 20  # characters per write to the COPY stream
NULL = "\\N"


def lines_load(
    rows: Iterable[tuple[str, ...]], *, settlement: Settlement, progress: Callable[[int], None] | None = None
) -> int:
    """Write every row (COLUMNS order, NULL as \\N) as lines of `settlement`."""
    return _copy(rows, settlement, progress)


def _copy(rows: Iterable[tuple[str, ...]], settlement: Settlement, progress: Callable[[int], None] | None) -> int:
    count = 0
    table = SettlementLine._meta.db_table
    names = ", ".join(["settlement_id", "currency", *COLUMNS])
    prefix = f"{settlement.pk}\t{settlement.currency}\t"
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        buffer: list[str] = []
        size = 0
        for row in rows:
            # Values come from a tab-separated file (no tab or line break inside); only backslash needs escaping.
            text = "\t".join(row)
            if "\\" in text:
                text = "\t".join(v if v == NULL else v.replace("\\", "\\\\") for v in row)
            buffer.append(prefix + text)
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


def _chunks(rows: Iterable[tuple[str, ...]], size: int) -> Iterator[list[tuple[str, ...]]]:
    chunk: list[tuple[str, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def lines_total(*, settlement: Settlement) -> Decimal:
    total: Any = settlement.lines.aggregate(total=Sum("amount"))["total"]
    return Decimal(total or 0).quantize(Decimal("0.01"))
