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

from django.db import connection, transaction
from django.db.models import CharField, Func, QuerySet

from mappings.models import GlAccount
from reconciliation.models import JournalEntry, JournalLine

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
    ("currency", "currency", False),  # three capital letters (a check constraint): nothing to guard
    ("base_debit", "base_debit", False),
    ("base_credit", "base_credit", False),
    ("base_currency", "entry__base_currency", False),
    ("rate", "entry__rate", False),
]
CHUNK = 1 << 20
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> object:
    """A text cell a spreadsheet will not evaluate."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


_STARTS = ", ".join(f"'{c}'" for c in FORMULA_STARTS)


class CsvSafe(Func):
    """csv_safe in SQL, so the database can write the CSV itself."""

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

    def entries(self) -> QuerySet[JournalEntry]:
        qs = JournalEntry.objects.select_related("settlement", "bank_match__line").exclude(
            status=JournalEntry.Status.VOID
        )
        if self.date_from:
            qs = qs.filter(date__gte=self.date_from)
        if self.date_to:
            qs = qs.filter(date__lte=self.date_to)
        if self.settlement_id:
            qs = qs.filter(settlement__settlement_id=self.settlement_id)
        if self.entry_ids is not None:
            qs = qs.filter(pk__in=self.entry_ids)
        return qs.order_by("pk")

    def lines(self) -> QuerySet[JournalLine]:
        return JournalLine.objects.filter(entry__in=self.entries().values("pk")).order_by("entry_id", "position")


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


def _entry_copy_sql(entry: JournalEntry, accounts: list[tuple[int, str, str]]) -> tuple[str, list[object]]:
    """One entry's lines for COPY. What is the same on every line (entry, settlement, account names) is guarded
    once here and sent as constants, so the database reads the lines alone, in index order: no join, no sort,
    and the guard runs only on the line's own text."""
    codes = " ".join(f"WHEN {pk} THEN %s" for pk, _, _ in accounts)
    sql = f"""
        SELECT l.entry_id, %s, %s, l.position, CASE l.gl_account_id {codes} END, CASE l.gl_account_id {codes} END,
               {_guard("l.description")}, {_guard("l.reference")}, l.debit, l.credit, l.currency,
               l.base_debit, l.base_credit, %s, %s
        FROM {JournalLine._meta.db_table} l
        WHERE l.entry_id = %s
        ORDER BY l.position
    """  # noqa: S608 (fixed identifiers; values are bound by the driver)
    # Accruals and a bank deposit's entry have no settlement (their lines carry their reference): an empty cell.
    settlement_id = entry.settlement.settlement_id if entry.settlement is not None else None
    params: list[object] = [entry.date, csv_safe(settlement_id)]
    params += [csv_safe(code) for _, code, _ in accounts] + [csv_safe(name) for _, _, name in accounts]
    params += [entry.base_currency, entry.rate, entry.pk]
    return sql, params


def journal_csv_chunks(*, filters: JournalFilter, use_copy: bool = True) -> Iterator[bytes]:
    """The CSV (UTF-8, header row) in chunks. PostgreSQL writes it itself (COPY (query) TO STDOUT); use_copy=False
    writes the same rows from Python (the tests' cross-check of the COPY query)."""
    buffer = _Lines()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([name for name, _, _ in COLUMNS])
    if use_copy:
        yield "".join(buffer.parts).encode()
        accounts = list(GlAccount.objects.values_list("pk", "code", "name"))
        if not accounts:
            return  # no account, no journal line
        entries = filters.entries()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")  # compiling this simple scan costs more than it saves
            for entry in entries.iterator():
                sql, params = _entry_copy_sql(entry, accounts)
                statement = cursor.cursor.mogrify(sql, params)  # COPY takes no bind parameters
                with cursor.cursor.copy(f"COPY ({statement}) TO STDOUT WITH (FORMAT csv)") as copy:
                    # The server sends a message per line: hand on ~1 MB at a time, not a million small pieces.
                    chunk = bytearray()
                    for data in copy:
                        chunk += data
                        if len(chunk) >= CHUNK:
                            yield bytes(chunk)
                            chunk.clear()
                    if chunk:
                        yield bytes(chunk)
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
