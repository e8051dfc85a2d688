"""Streaming reader of Amazon's GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2 (tab-separated).

Constant memory whatever the size: rows are read, checked and handed on one at a time. Columns are found by
header name (23 documented, a 24th `promotion-id` in real files). The first data row is the summary. Dates come
in the formats Amazon uses across marketplaces; amounts with a decimal point or comma, decided once per file
from the summary total. Anything malformed stops the read with the line number and the reason.
"""

from __future__ import annotations

import codecs
import operator
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
# The file columns rows() reads, in the order it unpacks them.
_SOURCE_COLUMNS = [
    "transaction-type", "order-id", "merchant-order-id", "adjustment-id", "shipment-id", "marketplace-name",
    "amount-type", "amount-description", "amount", "fulfillment-id", "posted-date-time", "posted-date",
    "order-item-code", "merchant-order-item-id", "merchant-adjustment-item-id", "sku", "quantity-purchased",
    "promotion-id", "settlement-id", "currency",
]  # fmt: skip
_DATE_FORMATS = [
    "%Y-%m-%d %H:%M:%S %Z", "%d.%m.%Y %H:%M:%S %Z", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S%z",
    "%d/%m/%Y %H:%M:%S %Z", "%m/%d/%Y %H:%M:%S %Z", "%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y", "%m/%d/%y", "%d/%m/%y",
]  # fmt: skip
_DIRECTIVES = {"Y": r"(\d{4})", "m": r"(\d\d)", "d": r"(\d\d)", "H": r"(\d\d)", "M": r"(\d\d)", "S": r"(\d\d)",
               "Z": "(?:UTC|GMT)", "z": r"(?:\+00:?00|Z)"}  # fmt: skip


def _fast_pattern(fmt: str) -> tuple[re.Pattern[str], tuple[int, ...]] | None:
    """A regular expression for a date-time strptime format (UTC only), and where Y m d H M S are among its
    groups; None for date-only formats (their values repeat and are cached instead)."""
    parts = re.split(r"%(\w)", fmt)
    fields = parts[1::2]
    if not {"Y", "m", "d", "H", "M", "S"} <= set(fields):
        return None
    regex = "".join(re.escape(p) if i % 2 == 0 else _DIRECTIVES[p] for i, p in enumerate(parts))
    groups = [f for f in fields if f not in "Zz"]
    return re.compile(regex), tuple(groups.index(f) for f in "YmdHMS")


_FAST_FORMATS = {fmt: fast for fmt in _DATE_FORMATS if (fast := _fast_pattern(fmt)) is not None}
_POINT = re.compile(r"^-?(\d{1,3}(,\d{3})+|\d+)(\.\d{1,2})?$")
_COMMA = re.compile(r"^-?(\d{1,3}(\.\d{3})+|\d+)(,\d{1,2})?$")
_DECIMALS = re.compile(r"([.,])\d{1,2}$")  # the decimal separator, where a value shows it
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def _valid_day(year: str, month: str, day: str) -> bool:
    try:
        datetime(int(year), int(month), int(day))  # noqa: DTZ001 - a calendar check only
    except ValueError:
        return False
    return True


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
    decimal_comma: bool | None  # None: the total (a whole number) did not tell; the first row that does decides
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
        # Tab-separated with no quoting (QUOTE_NONE): a line is split on tabs, which is what csv would do, faster.
        self._lines = iter(text)
        self._line_num = 0
        self._dates: dict[str, str] = {}
        self._formats = _DATE_FORMATS
        self._last_date = ("", "")
        self.last_line = 1
        self._fast: list[tuple[re.Pattern[str], tuple[int, ...]]] = []
        found = self._cells()
        if found is None:
            raise SettlementParseError(1, "the file is empty")
        self.header = [h.strip().lower() for h in found[1]]
        while self.header and not self.header[-1]:
            self.header.pop()  # trailing tab on the header row
        missing = [c for c in REQUIRED if c not in self.header]
        if missing:
            raise SettlementParseError(1, f"not a V2 settlement report: missing column(s) {', '.join(missing)}")
        self.index = {name: self.header.index(name) for name in REQUIRED + OPTIONAL if name in self.header}
        self.summary = self._read_summary()

    def _undecodable(self, exc: UnicodeDecodeError, line: int) -> SettlementParseError:
        return SettlementParseError(line, f"not {exc.encoding} text (byte {exc.object[exc.start : exc.start + 1]!r})")

    def _cells(self) -> tuple[int, list[str]] | None:
        while True:
            try:
                raw = next(self._lines)
            except StopIteration:
                return None
            except UnicodeDecodeError as exc:
                raise self._undecodable(exc, self._line_num + 1) from None
            self._line_num += 1
            self.last_line = self._line_num
            line = raw.rstrip("\r\n")
            if line.strip():
                return self._line_num, line.split("\t")

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
        # 09/06/25 is 6 September on Amazon.com and 9 June elsewhere: one reading for the whole file, so a
        # value that only fits the other one (13/06/25 in a US file) is an error, not a silent swap.
        other = "%d/" if currency == "USD" else "%m/"
        self._formats = [f for f in _DATE_FORMATS if not f.startswith(other)]
        separator = _DECIMALS.search(total)
        decimal_comma = None if separator is None else separator.group(1) == ","
        amount = self._amount(total, line, "total-amount", bool(decimal_comma))
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
        """ISO 8601 in UTC. Each distinct date-only value is parsed once; date-times (all distinct) go through
        a precompiled pattern of the format this file was found to use, strptime only for the first ones."""
        if not text:
            return None
        if text == self._last_date[0]:
            return self._last_date[1]  # an order's rows share their posted time
        cached = self._dates.get(text)
        if cached is not None:
            return cached
        for pattern, order in self._fast:
            m = pattern.fullmatch(text)
            if m is not None:
                g = m.groups()
                y, mo, d, h, mi, sec = (g[i] for i in order)
                # Two-digit strings compare like numbers; only days past the 28th need the calendar.
                in_range = "01" <= mo <= "12" and "01" <= d <= "31" and h <= "23" and mi <= "59" and sec <= "59"
                if in_range and (d <= "28" or _valid_day(y, mo, d)):
                    iso = f"{y}-{mo}-{d}T{h}:{mi}:{sec}+00:00"
                    self._last_date = (text, iso)
                    return iso
                break  # let strptime below give the reason
        for fmt in self._formats:
            try:
                parsed = datetime.strptime(text, fmt)  # noqa: DTZ007 - some formats carry no zone; UTC below
            except ValueError:
                continue
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)  # Amazon writes these in UTC
            iso = parsed.astimezone(UTC).isoformat()
            fast = _FAST_FORMATS.get(fmt)
            if fast is not None and fast not in self._fast:
                self._fast.append(fast)
            elif fast is None and len(self._dates) < 10_000:
                self._dates[text] = iso  # date-only values repeat: remember them
            return iso
        raise SettlementParseError(line, f"{column} {text!r} is not a date in any format Amazon uses")

    def rows(self, *, null: str = "") -> Iterator[tuple[str, ...]]:
        """The amount rows, each a tuple in ROW_FIELDS order: text, amounts as plain decimals ('-12.50'), dates
        ISO 8601 UTC; `null` where an optional value (posted date, quantity) is absent.

        This loop runs once per row of files with millions of rows: cells are picked by one itemgetter, and
        stripped only when the line has whitespace next to a tab."""
        summary = self.summary
        width = summary.columns
        # Where each value is read from; a column the file lacks reads the empty cell appended at `width`.
        pick = operator.itemgetter(*[self.index.get(name, width) for name in _SOURCE_COLUMNS])
        settlement_id = summary.settlement_id
        currency = summary.currency
        decimal_comma = summary.decimal_comma
        amount_ok = (_COMMA if decimal_comma else _POINT).match
        decide = _DECIMALS.search if decimal_comma is None else None
        date = self._date
        n = self._line_num
        try:
            for raw in self._lines:
                n += 1
                line = raw.rstrip("\r\n")
                cells = line.split("\t")
                if len(cells) != width:
                    if not line.strip():
                        continue
                    self._check_width(n, cells)
                    cells = cells[:width]
                if "\t " in line or " \t" in line or line[:1] == " " or line[-1:] == " ":
                    cells = [c.strip() for c in cells]
                cells.append("")
                (tt, oid, moid, adj, ship, mkt, at, ad, amount, ful, pdt, pd, oic, moii, maii, sku, quantity, promo,
                 sid, cur) = pick(cells)  # fmt: skip
                if sid != settlement_id:
                    if not line.strip():
                        continue
                    raise SettlementParseError(n, f"settlement-id {sid!r} differs from the summary's {settlement_id!r}")
                if not amount:
                    raise SettlementParseError(n, "amount is empty")
                if decide is not None and (separator := decide(amount)) is not None:
                    decimal_comma, decide = separator.group(1) == ",", None
                    amount_ok = (_COMMA if decimal_comma else _POINT).match
                if not amount_ok(amount):
                    raise SettlementParseError(
                        n, f"amount {amount!r} is not an amount" + (" (decimal comma file)" if decimal_comma else "")
                    )
                amount = amount.replace(".", "").replace(",", ".") if decimal_comma else amount.replace(",", "")
                if cur and cur != currency:
                    raise SettlementParseError(n, f"currency {cur} differs from the summary's {currency}")
                if quantity and not quantity.lstrip("-").isdigit():
                    raise SettlementParseError(n, f"quantity-purchased {quantity!r} is not a whole number")
                posted = date(pdt or pd, n, "posted-date") or null
                yield (
                    str(n), tt, oid, moid, adj, ship, mkt, at, ad, amount, ful, posted, oic, moii, maii, sku,
                    quantity or null, promo,
                )  # fmt: skip
        except UnicodeDecodeError as exc:
            raise self._undecodable(exc, n + 1) from None
        finally:
            self._line_num = self.last_line = n
