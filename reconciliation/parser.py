"""Streaming reader of Amazon's GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2 (tab-separated).

Constant memory whatever the size: rows are read, checked and handed on one at a time. Columns are found by
header name (23 documented, a 24th `promotion-id` in real files). The first data row is the summary. Dates come
in the formats Amazon uses across marketplaces; amounts with a decimal point or comma, decided once per file
from the summary total. Anything malformed stops the read with the line number and the reason.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import IO

REQUIRED = [
    "settlement-id", "settlement-start-date", "settlement-end-date", "deposit-date", "total-amount", "currency",
    "transaction-type", "order-id", "amount-type", "amount-description", "amount", "posted-date",
]  # fmt: skip
OPTIONAL = [
    "merchant-order-id", "adjustment-id", "shipment-id", "marketplace-name", "fulfillment-id", "posted-date-time",
    "order-item-code", "merchant-order-item-id", "merchant-adjustment-item-id", "sku", "quantity-purchased",
    "promotion-id",
]  # fmt: skip
# Output order of a parsed amount row (what the importer copies into SettlementLine).
ROW_FIELDS = [
    "line_number", "transaction_type", "amazon_order_id", "merchant_order_id", "adjustment_id", "shipment_id",
    "marketplace_name", "amount_type", "amount_description", "amount", "fulfillment_id", "posted_at",
    "order_item_code", "merchant_order_item_id", "merchant_adjustment_item_id", "sku", "quantity", "promotion_id",
]  # fmt: skip
_DATE_FORMATS = [
    "%Y-%m-%d %H:%M:%S %Z", "%d.%m.%Y %H:%M:%S %Z", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S%z",
    "%d/%m/%Y %H:%M:%S %Z", "%m/%d/%Y %H:%M:%S %Z", "%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y", "%m/%d/%y", "%d/%m/%y",
]  # fmt: skip
_POINT = re.compile(r"^-?(\d{1,3}(,\d{3})+|\d+)(\.\d{1,2})?$")
_COMMA = re.compile(r"^-?(\d{1,3}(\.\d{3})+|\d+)(,\d{1,2})?$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


class SettlementParseError(Exception):
    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line, self.reason = line, reason


@dataclass(frozen=True)
class SettlementSummary:
    settlement_id: str
    start_date: datetime | None
    end_date: datetime | None
    deposit_date: datetime | None
    total_amount: Decimal
    currency: str
    decimal_comma: bool
    columns: int


def detect_encoding(stream: IO[bytes], sample: int = 1 << 20) -> str:
    """UTF-8 (with or without BOM) when the start decodes as UTF-8, else windows-1252 (Amazon EU/US files)."""
    head = stream.read(sample)
    stream.seek(0)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the sample's end
            return "cp1252"
    return "utf-8"


class SettlementReader:
    """Iterate a settlement file: `summary` first, then `rows()` (each a tuple in ROW_FIELDS order, text)."""

    def __init__(self, text: IO[str]) -> None:
        self._reader = csv.reader(text, delimiter="\t", quoting=csv.QUOTE_NONE, strict=True)
        self._dates: dict[str, str | None] = {}
        try:
            header = next(self._reader)
        except StopIteration:
            raise SettlementParseError(1, "the file is empty") from None
        except csv.Error as exc:
            raise SettlementParseError(1, f"unreadable header: {exc}") from None
        self.header = [h.strip().lower() for h in header]
        while self.header and not self.header[-1]:
            self.header.pop()  # trailing tab on the header row
        missing = [c for c in REQUIRED if c not in self.header]
        if missing:
            raise SettlementParseError(1, f"not a V2 settlement report: missing column(s) {', '.join(missing)}")
        self.index = {name: self.header.index(name) for name in REQUIRED + OPTIONAL if name in self.header}
        self.summary = self._read_summary()

    def _cells(self) -> tuple[int, list[str]] | None:
        while True:
            try:
                cells = next(self._reader)
            except StopIteration:
                return None
            except csv.Error as exc:
                raise SettlementParseError(self._reader.line_num, f"unreadable row: {exc}") from None
            if cells and any(c.strip() for c in cells):
                return self._reader.line_num, cells

    def _get(self, cells: list[str], name: str) -> str:
        i = self.index.get(name)
        return cells[i].strip() if i is not None and i < len(cells) else ""

    def _read_summary(self) -> SettlementSummary:
        found = self._cells()
        if found is None:
            raise SettlementParseError(2, "no summary row: the file ends after the header")
        line, cells = found
        self._check_width(line, cells)
        settlement_id = self._get(cells, "settlement-id")
        total = self._get(cells, "total-amount")
        currency = self._get(cells, "currency")
        if not settlement_id or not total:
            raise SettlementParseError(line, "the summary row needs settlement-id and total-amount")
        if self._get(cells, "transaction-type") or self._get(cells, "amount"):
            raise SettlementParseError(line, "the first data row must be the summary (no transaction-type or amount)")
        if not _CURRENCY.match(currency):
            raise SettlementParseError(line, f"invalid currency {currency!r} in the summary row")
        decimal_comma = "," in total and "." not in total[-3:]
        amount = self._amount(total, line, "total-amount", decimal_comma)
        return SettlementSummary(
            settlement_id=settlement_id,
            start_date=self._date_value(self._get(cells, "settlement-start-date"), line, "settlement-start-date"),
            end_date=self._date_value(self._get(cells, "settlement-end-date"), line, "settlement-end-date"),
            deposit_date=self._date_value(self._get(cells, "deposit-date"), line, "deposit-date"),
            total_amount=Decimal(amount),
            currency=currency,
            decimal_comma=decimal_comma,
            columns=len(self.header),
        )

    def _check_width(self, line: int, cells: list[str]) -> None:
        width = len(cells)
        while width > len(self.header) and not cells[width - 1].strip():
            width -= 1  # trailing empty cells
        if width != len(self.header):
            raise SettlementParseError(
                line, f"{len(cells)} columns where the header has {len(self.header)} (truncated or malformed row)"
            )

    def _amount(self, text: str, line: int, column: str, decimal_comma: bool) -> str:
        """Normalised to a plain decimal string ('1234.56'); the database does the arithmetic."""
        value = text.strip()
        if decimal_comma:
            if not _COMMA.match(value):
                raise SettlementParseError(line, f"{column} {text!r} is not an amount (decimal comma file)")
            return value.replace(".", "").replace(",", ".")
        if not _POINT.match(value):
            raise SettlementParseError(line, f"{column} {text!r} is not an amount")
        return value.replace(",", "")

    def _date_value(self, text: str, line: int, column: str) -> datetime | None:
        iso = self._date(text, line, column)
        return datetime.fromisoformat(iso) if iso else None

    def _date(self, text: str, line: int, column: str) -> str | None:
        if not text:
            return None
        cached = self._dates.get(text, "")
        if cached != "":
            return cached
        for fmt in _DATE_FORMATS:
            try:
                parsed = datetime.strptime(text, fmt)  # noqa: DTZ007 - some formats carry no zone; UTC below
            except ValueError:
                continue
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)  # Amazon writes these in UTC
            iso = parsed.astimezone(UTC).isoformat()
            if len(self._dates) < 100_000:
                self._dates[text] = iso
            return iso
        raise SettlementParseError(line, f"{column} {text!r} is not a date in any format Amazon uses")

    def rows(self) -> Iterator[tuple[str | None, ...]]:
        summary = self.summary
        get, idx = self._get, self.index
        amount_i, id_i = idx["amount"], idx["settlement-id"]
        quantity_i = idx.get("quantity-purchased")
        while True:
            found = self._cells()
            if found is None:
                return
            line, cells = found
            if len(cells) != summary.columns:
                self._check_width(line, cells)
            settlement_id = cells[id_i].strip()
            if settlement_id != summary.settlement_id:
                raise SettlementParseError(
                    line, f"settlement-id {settlement_id!r} differs from the summary's {summary.settlement_id!r}"
                )
            amount_text = cells[amount_i]
            if not amount_text.strip():
                raise SettlementParseError(line, "amount is empty")
            amount = self._amount(amount_text, line, "amount", summary.decimal_comma)
            row_currency = get(cells, "currency")
            if row_currency and row_currency != summary.currency:
                raise SettlementParseError(
                    line, f"currency {row_currency} differs from the summary's {summary.currency}"
                )
            posted = get(cells, "posted-date-time") or get(cells, "posted-date")
            quantity = cells[quantity_i].strip() if quantity_i is not None and quantity_i < len(cells) else ""
            if quantity and not quantity.lstrip("-").isdigit():
                raise SettlementParseError(line, f"quantity-purchased {quantity!r} is not a whole number")
            yield (
                str(line), get(cells, "transaction-type"), get(cells, "order-id"), get(cells, "merchant-order-id"),
                get(cells, "adjustment-id"), get(cells, "shipment-id"), get(cells, "marketplace-name"),
                get(cells, "amount-type"), get(cells, "amount-description"), amount, get(cells, "fulfillment-id"),
                self._date(posted, line, "posted-date"), get(cells, "order-item-code"),
                get(cells, "merchant-order-item-id"), get(cells, "merchant-adjustment-item-id"), get(cells, "sku"),
                quantity or None, get(cells, "promotion-id"),
            )  # fmt: skip
