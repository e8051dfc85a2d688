"""Journal lines as CSV for accounting packages, streamed (1M lines never sit in memory).

Text cells starting with = + - @ (or tab / carriage return) are prefixed with an apostrophe so a spreadsheet
shows them as text instead of running them as formulas (OWASP CSV injection). Amounts are plain numbers with a
decimal point, debit and credit in separate columns, never negative, so they need no such guard.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import IO

from django.db import connection
from django.db.models import CharField, Func, QuerySet

from reconciliation.models import JournalLine

# (CSV column, field path, text that needs the formula guard)
COLUMNS = [
    ("journal_id", "entry_id", False),
    ("date", "entry__date", False),
    ("settlement_id", "entry__settlement__settlement_id", True),
    ("line", "position", False),
    ("account_code", "gl_account__code", True),
    ("account_name", "gl_account__name", True),
    ("description", "description", True),
    ("reference", "reference", True),
    ("debit", "debit", False),
    ("credit", "credit", False),
    ("currency", "currency", True),
    ("base_debit", "base_debit", False),
    ("base_credit", "base_credit", False),
    ("base_currency", "entry__base_currency", True),
    ("rate", "entry__rate", False),
]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> object:
    """A text cell a spreadsheet will not evaluate."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


_STARTS = ", ".join(f"'{c}'" for c in FORMULA_STARTS)


class CsvSafe(Func):
    """csv_safe in SQL (PostgreSQL and SQLite), so the database can write the CSV itself."""

    template = (
        f"CASE WHEN SUBSTR(%(expressions)s, 1, 1) IN ({_STARTS}) THEN '''' || %(expressions)s ELSE %(expressions)s END"
    )
    output_field = CharField()


@dataclass(frozen=True)
class JournalFilter:
    date_from: date | None = None
    date_to: date | None = None
    settlement_id: str | None = None
    entry_ids: tuple[int, ...] | None = None

    def lines(self) -> QuerySet[JournalLine]:
        qs = JournalLine.objects.all()
        if self.date_from:
            qs = qs.filter(entry__date__gte=self.date_from)
        if self.date_to:
            qs = qs.filter(entry__date__lte=self.date_to)
        if self.settlement_id:
            qs = qs.filter(entry__settlement__settlement_id=self.settlement_id)
        if self.entry_ids is not None:
            qs = qs.filter(entry_id__in=self.entry_ids)
        return qs.order_by("entry_id", "position")


def _rows(filters: JournalFilter) -> QuerySet[JournalLine, tuple[object, ...]]:
    guarded = {f"csv_{name}": CsvSafe(path) for name, path, text in COLUMNS if text}
    fields = [f"csv_{name}" if text else path for name, path, text in COLUMNS]
    return filters.lines().annotate(**guarded).values_list(*fields)


class _Lines:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, text: str) -> None:
        self.parts.append(text)


def _guard(expression: str) -> str:
    return CsvSafe.template.replace("%(expressions)s", expression)


def _copy_sql(filters: JournalFilter) -> tuple[str, list[object]]:
    """The same rows as _rows, written for COPY: the guard runs once per account and per entry (materialized
    CTEs), not once per line, and rows come in (entry, position) order without a sort (unique index)."""
    where, params = ["TRUE"], list[object]()
    if filters.date_from:
        where.append("je.date >= %s")
        params.append(filters.date_from)
    if filters.date_to:
        where.append("je.date <= %s")
        params.append(filters.date_to)
    if filters.settlement_id:
        where.append("s.settlement_id = %s")
        params.append(filters.settlement_id)
    if filters.entry_ids is not None:
        where.append("je.id = ANY(%s)")
        params.append(list(filters.entry_ids))
    sql = f"""
        WITH e AS MATERIALIZED (
            SELECT je.id, je.date, {_guard("s.settlement_id")} AS settlement_id,
                   {_guard("je.base_currency")} AS base_currency, je.rate
            FROM reconciliation_journalentry je JOIN reconciliation_settlement s ON s.id = je.settlement_id
            WHERE {" AND ".join(where)}
        ), a AS MATERIALIZED (
            SELECT id, {_guard("code")} AS code, {_guard("name")} AS name FROM mappings_glaccount
        )
        SELECT l.entry_id, e.date, e.settlement_id, l.position, a.code, a.name, {_guard("l.description")},
               {_guard("l.reference")}, l.debit, l.credit, {_guard("l.currency")}, l.base_debit, l.base_credit,
               e.base_currency, e.rate
        FROM reconciliation_journalline l
        JOIN e ON e.id = l.entry_id
        JOIN a ON a.id = l.gl_account_id
        ORDER BY l.entry_id, l.position
    """  # noqa: S608 (fixed identifiers; values are bound by the driver)
    return sql, params


def journal_csv_chunks(*, filters: JournalFilter) -> Iterator[bytes]:
    """The CSV (UTF-8, header row) in chunks. PostgreSQL writes it itself (COPY (query) TO STDOUT); elsewhere the
    same rows are written out by Python."""
    buffer = _Lines()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([name for name, _, _ in COLUMNS])
    if connection.vendor == "postgresql":
        yield "".join(buffer.parts).encode()
        sql, params = _copy_sql(filters)
        with connection.cursor() as cursor:
            statement = cursor.cursor.mogrify(sql, params)  # COPY takes no bind parameters
            with cursor.cursor.copy(f"COPY ({statement}) TO STDOUT WITH (FORMAT csv)") as copy:
                for data in copy:
                    yield bytes(data)
        return
    for n, row in enumerate(_rows(filters).iterator(chunk_size=5_000), 1):
        writer.writerow(row)
        if n % 5_000 == 0:
            yield "".join(buffer.parts).encode()
            buffer.parts.clear()
    yield "".join(buffer.parts).encode()


def journal_csv_write(*, out: IO[bytes], filters: JournalFilter) -> int:
    """Write the CSV to a binary stream. Returns bytes written."""
    written = 0
    for chunk in journal_csv_chunks(filters=filters):
        out.write(chunk)
        written += len(chunk)
    return written
