"""Opayo settlement batches: list them (getBatchList), store each as received, read its transactions
(getBatchDetail), and match every transaction to our PaymentTransactions.

One batch is one database transaction: its header, per-currency totals and every line are stored together or
not at all (a retryable error while reading the detail stores nothing and propagates, so the schedule tries
again). Matching is a second step over what is stored, so it can be re-run (admin action, exception queue)
without calling Opayo. A line that does not match opens a payment_batch exception; a later match resolves it.
Exceptions are opened when a line's outcome changes, so running the same fetch again changes nothing.

Docs: https://developer.elavon.com/products/en-uk/opayo-reporting-api/v1 (getBatchList, getBatchDetail).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.db.models.functions import Upper
from django.utils import timezone

from config.common.errors import ApplicationError, PermanentConnectorError
from config.common.models import ExceptionItem
from config.common.reprocess import register_reprocessor
from config.common.selectors import exceptions_open_for
from config.common.services import exception_open, exceptions_resolve_for
from payments.clients.opayo import OpayoReportingClient
from payments.clients.opayo_types import Batch, BatchTransaction
from payments.models import OpayoBatch, OpayoBatchTotal, OpayoBatchTransaction, PaymentTransaction
from payments.selectors import payment_transactions_unsettled

logger = logging.getLogger(__name__)
ACTOR = "system:opayo-batches"
UK = ZoneInfo("Europe/London")
MAX_RANGE_DAYS = 31  # Opayo's getBatchList refuses longer ranges (0039)
KIND = ExceptionItem.Kind.PAYMENT_BATCH
B = OpayoBatch.Status
M = OpayoBatchTransaction.MatchStatus
K = PaymentTransaction.Kind
S = PaymentTransaction.State
# Opayo's transactiontype (case-insensitive) that each of our kinds settles as. A Deferred settles as itself at
# the released amount ("a release is not a transaction of its own"); "release" is accepted in case a report
# names the release instead.
_SETTLES_AS: dict[str, set[str]] = {
    K.PAYMENT: {"payment"},
    K.REPEAT: {"repeat"},
    K.DEFERRED: {"deferred", "release"},
    K.REFUND: {"refund"},
}
_CAPTURED_STATE: dict[str, str] = {K.PAYMENT: S.OK, K.REPEAT: S.OK, K.REFUND: S.OK, K.DEFERRED: S.RELEASED}


@dataclass
class BatchFetchSummary:
    listed: int = 0  # batches getBatchList returned for the window
    new: int = 0  # of which seen for the first time
    fetched: int = 0  # batches whose transactions were read from Opayo in this run
    skipped: int = 0  # complete batches not read again (re-matched from what is stored, at most)
    matched: int = 0  # batches fully matched after this run
    with_exceptions: int = 0
    empty: int = 0  # failed files (Opayo resends their transactions in a later batch)
    failed: int = 0  # batches whose detail Opayo refused (exception opened)
    unsettled_reported: int = 0  # captured transactions of ours in no batch after the grace period

    def __str__(self) -> str:
        return (
            f"{self.listed} batch(es) listed ({self.new} new), {self.fetched} read, {self.skipped} already complete; "
            f"{self.matched} matched, {self.with_exceptions} with exceptions, {self.empty} empty, {self.failed} "
            f"unreadable; {self.unsettled_reported} unsettled transaction(s) reported"
        )


def uk_today() -> date:
    return timezone.now().astimezone(UK).date()


# --- fetching -------------------------------------------------------------------------------------------------


def opayo_batches_fetch(*, start: date, end: date, actor: str = ACTOR) -> BatchFetchSummary:
    """Store and match every batch Opayo completed from `start` 00:00 to `end` 23:59:59 (UK time). Idempotent.

    A batch covering day D completes shortly after midnight, on D + 1. New batches, and batches whose stored
    detail is incomplete (empty, unreadable, fewer lines than listed, changed by Opayo) are read again; complete
    ones are not (those with exceptions are re-matched from the database, e.g. for a payment registered late).
    Errors listing the batches, and retryable errors reading one, propagate (batches done before stay stored);
    a detail Opayo refuses (permanent error) or cannot be read marks the batch unreadable with an exception.
    After a complete run, captured transactions in no batch for OPAYO_BATCH_UNSETTLED_DAYS are reported.
    """
    if start > end:
        raise ApplicationError(f"start {start} is after end {end}")
    if (end - start).days >= MAX_RANGE_DAYS:
        raise ApplicationError(f"Opayo lists at most {MAX_RANGE_DAYS} days of batches at once")
    summary = BatchFetchSummary()
    window = (datetime.combine(start, time.min, UK), datetime.combine(end, time(23, 59, 59), UK))
    with OpayoReportingClient.from_settings() as reporting:
        listed = reporting.get_batch_list(start=window[0], end=window[1])
        for entry in listed:
            if not entry.batch_id:
                logger.warning("getBatchList returned a batch without batchid: %s", entry.raw)
                continue
            summary.listed += 1
            stored = OpayoBatch.objects.filter(batch_id=entry.batch_id).first()
            summary.new += stored is None
            if stored is not None and not _needs_detail(stored, entry):
                summary.skipped += 1
                if stored.status == B.MATCHED:
                    batch = stored
                else:
                    batch = opayo_batch_match(batch_id=stored.batch_id, actor=actor)
            else:
                summary.fetched += 1
                batch = _fetch_and_store(reporting, batch_id=entry.batch_id, listed=entry, actor=actor)
                batch = opayo_batch_match(batch_id=batch.batch_id, actor=actor)
            summary.matched += batch.status == B.MATCHED
            summary.with_exceptions += batch.status == B.EXCEPTIONS
            summary.empty += batch.status == B.EMPTY
            summary.failed += batch.status == B.ERROR
    summary.unsettled_reported = opayo_unsettled_report(actor=actor)
    logger.info("Opayo batches %s..%s: %s", start, end, summary)
    return summary


def _needs_detail(batch: OpayoBatch, listed: Batch) -> bool:
    return (
        batch.raw_xml != listed.raw
        or batch.fetched_at is None
        or batch.status in (B.ERROR, B.EMPTY)
        or batch.line_count < batch.expected_count
    )


def opayo_batch_refetch(*, batch_id: str, actor: str = ACTOR) -> OpayoBatch:
    """Read one stored batch's transactions again (keeping its getBatchList header), then match them."""
    OpayoBatch.objects.get(batch_id=batch_id)
    with OpayoReportingClient.from_settings() as reporting:
        _fetch_and_store(reporting, batch_id=batch_id, listed=None, actor=actor)
    return opayo_batch_match(batch_id=batch_id, actor=actor)


def _fetch_and_store(reporting: OpayoReportingClient, *, batch_id: str, listed: Batch | None, actor: str) -> OpayoBatch:
    """Read the detail (all pages) first, then store header, totals and lines in one transaction."""
    rows: list[BatchTransaction] = []
    listed_problem = _listed_problem(listed) if listed is not None else ""
    problem = listed_problem
    if not problem:
        try:
            rows = reporting.get_batch_detail(batch_id=batch_id)
            problem = _rows_problem(rows)
        except PermanentConnectorError as exc:  # RetryableConnectorError propagates: nothing is stored
            problem = f"Opayo refused getBatchDetail: {exc}"
        except ValueError as exc:
            problem = f"unreadable getBatchDetail answer: {exc}"
    with transaction.atomic():
        if listed is not None:
            batch = _store_header(listed, with_totals=not listed_problem)
        else:
            batch = OpayoBatch.objects.select_for_update().get(batch_id=batch_id)
        if problem:
            _mark_unreadable(batch, problem, actor)
        else:
            _store_lines(batch, rows)
    return batch


def _listed_problem(listed: Batch) -> str:
    currencies = [group.currency for group in listed.groups]
    if any(len(c) != 3 or not c.isalpha() or not c.isupper() for c in currencies) or len(set(currencies)) != len(
        currencies
    ):
        return f"getBatchList totals have unusable currencies {currencies}"
    return ""


def _rows_problem(rows: list[BatchTransaction]) -> str:
    seen: set[str] = set()
    for n, row in enumerate(rows, 1):
        if not row.vps_tx_id:
            return f"getBatchDetail row {row.row_number or n} has no vpstxid"
        if row.vps_tx_id.upper() in seen:
            return f"getBatchDetail lists vpstxid {row.vps_tx_id} twice"
        seen.add(row.vps_tx_id.upper())
    return ""


def _store_header(listed: Batch, *, with_totals: bool) -> OpayoBatch:
    completed = listed.completed
    values: dict[str, Any] = {
        "vendor": settings.OPAYO_VENDOR_NAME,
        "processor": listed.processor[:100],
        "completed_at": completed,
        # Opayo closes each day's file at midnight (UK): the batch settles the day before it completed.
        "batch_date": completed.astimezone(UK).date() - timedelta(days=1) if completed else None,
        "raw_xml": listed.raw,
        "expected_count": sum(g.payment_number + g.refund_number for g in listed.groups),
    }
    batch, created = OpayoBatch.objects.select_for_update().get_or_create(batch_id=listed.batch_id, defaults=values)
    if not created and batch.raw_xml != listed.raw:
        _save_changed(batch, values)  # Opayo changed the batch (e.g. a failed file refilled): take its word
        batch.totals.all().delete()
        created = True
    if created and with_totals:
        OpayoBatchTotal.objects.bulk_create(
            OpayoBatchTotal(
                batch=batch,
                currency=g.currency,
                payment_count=g.payment_number,
                payment_value=g.payment_value,
                refund_count=g.refund_number,
                refund_value=g.refund_value,
            )
            for g in listed.groups
        )
    return batch


def _mark_unreadable(batch: OpayoBatch, problem: str, actor: str) -> None:
    changed = _save_changed(batch, {"status": B.ERROR, "detail": problem})
    if changed or not exceptions_open_for(source=batch).filter(kind=KIND).exists():
        exception_open(
            kind=KIND,
            source=batch,
            summary=f"Opayo batch {batch.batch_id} could not be read: {problem}",
            detail=f"{problem}\nNothing of this batch's transactions is stored. Reprocess reads it again.",
            reference=batch.batch_id,
        )


def _store_lines(batch: OpayoBatch, rows: list[BatchTransaction]) -> None:
    existing = {line.vps_tx_id.upper(): line for line in batch.lines.select_for_update()}
    new: list[OpayoBatchTransaction] = []
    changed = False
    for row in rows:
        values: dict[str, Any] = {
            "row_number": row.row_number,
            "vendor_tx_code": row.vendor_tx_code[:100],
            "transaction_type": row.transaction_type[:30],
            "amount": row.amount,
            "currency": row.currency.upper()[:3],
            "started_at": row.started,
            "settled_on": batch.batch_date,
            "raw": row.raw,
        }
        line = existing.get(row.vps_tx_id.upper())
        if line is None:
            new.append(OpayoBatchTransaction(batch=batch, vps_tx_id=row.vps_tx_id[:64], **values))
        elif any(getattr(line, name) != value for name, value in values.items()):
            # Opayo reports it differently now: store what it says and match it afresh.
            values.update(match_status=M.PENDING, payment_transaction_id=None, matched_on="", match_reason="")
            _save_changed(line, values)
            changed = True
    OpayoBatchTransaction.objects.bulk_create(new)
    changed = changed or bool(new)
    count = len(existing) + len(new)
    updates: dict[str, Any] = {"line_count": count, "detail": ""}
    if batch.status == B.ERROR or (batch.status == B.EMPTY and count):
        updates["status"] = B.FETCHED
    if changed or batch.fetched_at is None:
        updates["fetched_at"] = timezone.now()
    _save_changed(batch, updates)


def _save_changed(obj: models.Model, values: dict[str, Any]) -> bool:
    """Set and save only the fields whose value differs; True when anything was written."""
    fields = [name for name, value in values.items() if getattr(obj, name) != value]
    for name in fields:
        setattr(obj, name, values[name])
    if fields:
        if any(f.name == "updated_at" for f in obj._meta.fields):
            fields.append("updated_at")
        obj.save(update_fields=fields)
    return bool(fields)


# --- matching -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Outcome:
    status: str
    tx: PaymentTransaction | None
    matched_on: str
    reason: str


def opayo_batch_match(*, batch_id: str, actor: str = ACTOR) -> OpayoBatch:
    """Match every stored line of the batch (Opayo's batch id) to our PaymentTransactions; idempotent.

    A line is found by VPSTxId (= Pi transactionId, our PaymentTransaction.transaction_id), else by
    VendorTxCode; then Opayo's type must be what our kind settles as, our transaction must be captured (Ok, or
    released for a Deferred), and amount and currency must equal what we captured (a Deferred's released amount)
    or refunded (a refund line may be reported positive or negative). A transaction of ours settles once.
    """
    with transaction.atomic():
        batch = OpayoBatch.objects.select_for_update().get(batch_id=batch_id)
        if batch.status == B.ERROR:
            return batch  # nothing stored to match: read it again (reprocess) first
        lines = list(batch.lines.select_for_update().order_by("row_number", "pk"))
        by_vps, by_code = _candidates(lines)
        settled_elsewhere = set(
            OpayoBatchTransaction.objects.filter(
                match_status=M.MATCHED, payment_transaction__in=[t.pk for t in (*by_vps.values(), *by_code.values())]
            )
            .exclude(batch=batch)
            .values_list("payment_transaction_id", flat=True)
        )
        outcomes: list[tuple[OpayoBatchTransaction, _Outcome]] = []
        for line in lines:
            outcome = _match_line(line, by_vps, by_code)
            tx = outcome.tx
            if outcome.status == M.MATCHED and tx is not None:
                if tx.pk in settled_elsewhere:
                    outcome = _Outcome(
                        M.DUPLICATE,
                        tx,
                        outcome.matched_on,
                        f"{tx.vendor_tx_code} is already settled in another batch line; {outcome.reason}",
                    )
                else:
                    settled_elsewhere.add(tx.pk)
            outcomes.append((line, outcome))
        # Lines leaving "matched" first, so the one-match-per-transaction index never sees two at once.
        outcomes.sort(key=lambda pair: pair[1].status == M.MATCHED)
        for line, outcome in outcomes:
            _apply(batch, line, outcome, actor)
        _batch_summarise(batch, [line for line, _ in outcomes], actor)
    return batch


def _candidates(
    lines: list[OpayoBatchTransaction],
) -> tuple[dict[str, PaymentTransaction], dict[str, PaymentTransaction]]:
    vps_ids = {line.vps_tx_id.upper() for line in lines}
    codes = {line.vendor_tx_code for line in lines if line.vendor_tx_code}
    by_vps: dict[str, PaymentTransaction] = {
        (t.transaction_id or "").upper(): t
        for t in PaymentTransaction.objects.annotate(vps=Upper("transaction_id")).filter(vps__in=vps_ids)
    }
    by_code: dict[str, PaymentTransaction] = {
        t.vendor_tx_code: t for t in PaymentTransaction.objects.filter(vendor_tx_code__in=codes)
    }
    return by_vps, by_code


def _money(amount: Decimal | None, currency: str) -> str:
    return "no amount" if amount is None else f"{amount} {currency}".strip()


def _match_line(
    line: OpayoBatchTransaction, by_vps: dict[str, PaymentTransaction], by_code: dict[str, PaymentTransaction]
) -> _Outcome:
    on = OpayoBatchTransaction.MatchedOn
    tx, matched_on = by_vps.get(line.vps_tx_id.upper()), on.VPS_TX_ID
    if tx is None:
        tx, matched_on = by_code.get(line.vendor_tx_code) if line.vendor_tx_code else None, on.VENDOR_TX_CODE
    if tx is None:
        return _Outcome(
            M.UNMATCHED,
            None,
            on.NONE,
            f"Opayo settled a {line.transaction_type or '(no type)'} of {_money(line.amount, line.currency)}, but no "
            f"transaction of ours has VPSTxId {line.vps_tx_id} or VendorTxCode {line.vendor_tx_code or '(none)'}",
        )
    if matched_on == on.VPS_TX_ID and line.vendor_tx_code and line.vendor_tx_code != tx.vendor_tx_code:
        return _Outcome(
            M.REFERENCE_MISMATCH,
            tx,
            matched_on,
            f"VPSTxId {line.vps_tx_id} is our {tx.vendor_tx_code}, but Opayo reports VendorTxCode "
            f"{line.vendor_tx_code}",
        )
    if matched_on == on.VENDOR_TX_CODE and tx.transaction_id:
        return _Outcome(
            M.REFERENCE_MISMATCH,
            tx,
            matched_on,
            f"VendorTxCode {tx.vendor_tx_code} is ours with VPSTxId {tx.transaction_id}, but Opayo settled VPSTxId "
            f"{line.vps_tx_id}",
        )
    by = "VPSTxId" if matched_on == on.VPS_TX_ID else "VendorTxCode (we hold no VPSTxId for it)"
    if line.transaction_type.lower() not in _SETTLES_AS[tx.kind]:
        return _Outcome(
            M.TYPE_MISMATCH,
            tx,
            matched_on,
            f"Opayo settled a {line.transaction_type or '(no type)'} of {_money(line.amount, line.currency)}; "
            f"our {tx.vendor_tx_code} is a {tx.get_kind_display()}",
        )
    if tx.state != _CAPTURED_STATE[tx.kind]:
        return _Outcome(
            M.STATE_MISMATCH,
            tx,
            matched_on,
            f"Opayo settled {_money(line.amount, line.currency)}, but we hold {tx.vendor_tx_code} as "
            f"{tx.get_state_display().lower()} (nothing captured)",
        )
    refund = tx.kind == K.REFUND
    expected = tx.amount if refund else tx.captured_amount
    reported = abs(line.amount) if refund and line.amount is not None else line.amount
    verb = "refunded" if refund else "captured"
    if reported != expected or line.currency.upper() != tx.currency:
        return _Outcome(
            M.AMOUNT_MISMATCH,
            tx,
            matched_on,
            f"Opayo settled {_money(line.amount, line.currency)}, we {verb} {expected} {tx.currency} "
            f"({tx.vendor_tx_code})",
        )
    reason = f"Matched on {by}: {_money(line.amount, line.currency)} as {verb} ({tx.vendor_tx_code})"
    return _Outcome(M.MATCHED, tx, matched_on, reason)


def _apply(batch: OpayoBatch, line: OpayoBatchTransaction, outcome: _Outcome, actor: str) -> None:
    changed = _save_changed(
        line,
        {
            "match_status": outcome.status,
            "payment_transaction_id": outcome.tx.pk if outcome.tx is not None else None,
            "matched_on": outcome.matched_on,
            "match_reason": outcome.reason,
        },
    )
    if outcome.tx is not None:
        # It reached a batch: whatever is still wrong is this line's exception, not "unsettled".
        exceptions_resolve_for(source=outcome.tx, kinds=[KIND], actor=actor, note=f"in Opayo batch {batch.batch_id}")
    if outcome.status == M.MATCHED:
        exceptions_resolve_for(source=line, kinds=[KIND], actor=actor, note=outcome.reason)
    elif changed:
        label = OpayoBatchTransaction.MatchStatus(outcome.status).label
        exception_open(
            kind=KIND,
            source=line,
            summary=(
                f"Opayo batch {batch.batch_id}, VPSTxId {line.vps_tx_id}, VendorTxCode "
                f"{line.vendor_tx_code or '(none)'}: {outcome.reason}"
            ),
            detail=(
                f"{label}\n"
                f"Batch {batch.batch_id} ({batch.processor}, settled {batch.batch_date}, completed "
                f"{batch.completed_at}), row {line.row_number}\n"
                f"VPSTxId {line.vps_tx_id}\nVendorTxCode {line.vendor_tx_code or '(none)'}\n"
                f"Type {line.transaction_type}, amount {_money(line.amount, line.currency)}\n"
                f"Reason: {outcome.reason}\n"
                "Fix the cause (e.g. register the payment, correct the ledger), then reprocess to match it again."
            ),
            reference=line.vendor_tx_code or line.vps_tx_id,
        )


def _batch_summarise(batch: OpayoBatch, lines: list[OpayoBatchTransaction], actor: str) -> None:
    matched = sum(line.match_status == M.MATCHED for line in lines)
    discrepancy = _totals_discrepancy(batch, lines)
    if not lines and not discrepancy:
        status = B.EMPTY
    elif matched == len(lines) and not discrepancy:
        status = B.MATCHED
    else:
        status = B.EXCEPTIONS
    changed = _save_changed(
        batch,
        {
            "status": status,
            "line_count": len(lines),
            "matched_count": matched,
            "unmatched_count": len(lines) - matched,
            "detail": discrepancy,
        },
    )
    if not discrepancy:
        exceptions_resolve_for(source=batch, kinds=[KIND], actor=actor, note="batch read and its totals agree")
    elif changed:
        exception_open(
            kind=KIND,
            source=batch,
            summary=f"Opayo batch {batch.batch_id}: its transactions do not add up to its totals",
            detail=f"{discrepancy}\nReprocess reads the batch again.",
            reference=batch.batch_id,
        )


def _totals_discrepancy(batch: OpayoBatch, lines: list[OpayoBatchTransaction]) -> str:
    """getBatchDetail's lines against getBatchList's totals, per currency (payments and refunds apart)."""
    sums: dict[str, list[Any]] = defaultdict(lambda: [0, Decimal(0), 0, Decimal(0)])
    for line in lines:
        group = sums[line.currency]
        amount = abs(line.amount or Decimal(0))
        if line.transaction_type.lower() == "refund":
            group[2] += 1
            group[3] += amount
        else:
            group[0] += 1
            group[1] += line.amount or Decimal(0)
    listed = {
        t.currency: [t.payment_count, t.payment_value, t.refund_count, abs(t.refund_value)] for t in batch.totals.all()
    }
    problems = []
    for currency in sorted(set(sums) | set(listed)):
        got, want = sums.get(currency, [0, Decimal(0), 0, Decimal(0)]), listed.get(currency, [0, Decimal(0), 0, 0])
        if got != want:
            problems.append(
                f"{currency}: lines have {got[0]} payment(s) {got[1]} and {got[2]} refund(s) {got[3]}; "
                f"getBatchList says {want[0]} payment(s) {want[1]} and {want[2]} refund(s) {want[3]}"
            )
    return "\n".join(problems)


# --- transactions that never reached a batch -------------------------------------------------------------------


def opayo_unsettled_report(*, actor: str = ACTOR, days: int | None = None) -> int:
    """Open one exception per captured transaction that is in no batch `days` after capture (setting
    OPAYO_BATCH_UNSETTLED_DAYS). Once per transaction: an operator's resolve or discard is not undone by the next
    run; the item resolves by itself when the transaction appears in a batch. Returns how many were opened."""
    days = settings.OPAYO_BATCH_UNSETTLED_DAYS if days is None else days
    opened = 0
    for tx in payment_transactions_unsettled(days=days, lookback_days=settings.OPAYO_BATCH_UNSETTLED_LOOKBACK_DAYS):
        if _has_item(tx):
            continue
        amount = tx.amount if tx.kind == K.REFUND else tx.captured_amount
        captured_at: datetime = tx.captured_at  # type: ignore[attr-defined]
        exception_open(
            kind=KIND,
            source=tx,
            summary=(
                f"{tx.vendor_tx_code}: {tx.get_kind_display().lower()} of {amount} {tx.currency} captured "
                f"{captured_at.astimezone(UK):%d/%m/%Y}, in no Opayo batch after {days} days"
            ),
            detail=(
                f"VendorTxCode {tx.vendor_tx_code}\nVPSTxId {tx.transaction_id or '(none)'}\n"
                f"Order {tx.payment.order}\nState {tx.get_state_display()}, {amount} {tx.currency}\n"
                "No Opayo settlement batch we hold lists it. Check it in MyOpayo (voided there? batch not fetched?); "
                "`manage.py fetch_opayo_batches --start ... --end ...` reads older batches. It resolves by itself "
                "when a batch with it is fetched."
            ),
            reference=tx.vendor_tx_code,
        )
        opened += 1
    return opened


def _has_item(tx: PaymentTransaction) -> bool:
    return ExceptionItem.objects.filter(
        kind=KIND, source_type=ContentType.objects.get_for_model(PaymentTransaction), source_id=str(tx.pk)
    ).exists()


# --- reprocessing ---------------------------------------------------------------------------------------------


def opayo_batch_reprocess(*, batch: OpayoBatch, actor: str) -> OpayoBatch:
    """Operator's "run again": read the batch again when its stored detail is incomplete, then match it."""
    if batch.status in (B.ERROR, B.EMPTY) or batch.line_count < batch.expected_count or batch.detail:
        return opayo_batch_refetch(batch_id=batch.batch_id, actor=actor)
    return opayo_batch_match(batch_id=batch.batch_id, actor=actor)


@register_reprocessor(OpayoBatch)
def _reprocess_batch(obj: object, actor: str) -> None:
    assert isinstance(obj, OpayoBatch)
    opayo_batch_reprocess(batch=obj, actor=actor)


@register_reprocessor(OpayoBatchTransaction)
def _reprocess_line(obj: object, actor: str) -> None:
    assert isinstance(obj, OpayoBatchTransaction)
    opayo_batch_match(batch_id=obj.batch.batch_id, actor=actor)
