"""Completeness: is every order in the books, and every order Amazon has in Ledgerline?

(a) Shipped orders older than `SETTLEMENT_UNSETTLED_DAYS` that no imported settlement contains: one exception per
    seller account listing them (closed by itself when the list is empty).
(b) A daily comparison with Amazon's own order report for a day (Reports API,
    GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL, one per account and marketplace): the order ids Amazon has
    and Ledgerline has not are read with getOrder and ingested through the orders app
    (`orders.services.amazon_orders_refresh`); the counts are kept per day (OrderReportCheck) for the dashboard,
    and ids that still could not be ingested are an exception on that day's check.
(c) Settlement lines without their order are one exception per settlement with hints
    (`reconciliation.services.settlements`, `hints`): unchanged.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from config.common.models import ExceptionItem
from config.common.reprocess import register_reprocessor
from config.common.services import exception_open, exceptions_resolve_for
from connectors.amazon.reports import AmazonReportsClient
from orders.models import SellerAccount, SellerMarketplace
from orders.selectors import order_ids_known, orders_shipped
from reconciliation.models import OrderReportCheck, SettlementLine

logger = logging.getLogger(__name__)
ACTOR = "system:completeness"
ALL_ORDERS_BY_UPDATE = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL"
SHOWN = 200  # order ids an exception lists


# --- (a) shipped, never settled -------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnsettledSummary:
    accounts: int
    orders: int

    def __str__(self) -> str:
        return f"{self.orders} shipped order(s) in no settlement across {self.accounts} account(s)"


def unsettled_orders_check(*, now: datetime | None = None) -> UnsettledSummary:
    """One exception per active account listing its orders shipped `SETTLEMENT_UNSETTLED_DAYS` ago or more that no
    imported settlement contains; an account with none has its exception closed."""
    now = now or timezone.now()
    days = settings.SETTLEMENT_UNSETTLED_DAYS
    cutoff = now - timedelta(days=days)
    in_a_settlement = SettlementLine.objects.filter(
        Q(amazon_order_id=OuterRef("external_id")),
        kind__in=[SettlementLine.Kind.ORDER, SettlementLine.Kind.REFUND],
    )
    accounts = total = 0
    for account in SellerAccount.objects.filter(is_active=True).order_by("pk"):
        shipped: Any = orders_shipped(seller_account_id=account.pk, shipped_before=cutoff)  # annotated: shipped_at
        unsettled = list(shipped.exclude(Exists(in_a_settlement)).values_list("external_id", "shipped_at"))
        if not unsettled:
            exceptions_resolve_for(
                source=account, kinds=[ExceptionItem.Kind.ORDER_UNSETTLED], actor=ACTOR,
                note="every shipped order is in a settlement",
            )  # fmt: skip
            continue
        accounts += 1
        total += len(unsettled)
        listed = "\n".join(f"  {order_id} shipped {shipped:%Y-%m-%d}" for order_id, shipped in unsettled[:SHOWN])
        more = f"\n  ... and {len(unsettled) - SHOWN} more" if len(unsettled) > SHOWN else ""
        exception_open(
            kind=ExceptionItem.Kind.ORDER_UNSETTLED,
            source=account,
            summary=f"{account.name}: {len(unsettled)} order(s) shipped {days}+ days ago in no settlement",
            detail=(
                f"Ledgerline has these orders as shipped (or delivered) at least {days} days ago "
                f"(SETTLEMENT_UNSETTLED_DAYS), and no imported settlement has a line for them:\n{listed}{more}\n"
                "Amazon defers some payouts (7 days after delivery; invoiced business orders longer): check the "
                "Finances API (period accruals show their status) or a settlement report that was not imported. "
                "This closes by itself once they appear in a settlement."
            ),
            reference=account.selling_partner_id,
        )
    return UnsettledSummary(accounts=accounts, orders=total)


# --- (b) Amazon's order report against ours -------------------------------------------------------------------


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _report_order_ids(path: Path, charset: str | None) -> list[str]:
    with open(path, encoding=charset or "utf-8", errors="replace", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        if not reader.fieldnames or "amazon-order-id" not in reader.fieldnames:
            raise ValueError(f"the report has no amazon-order-id column (columns: {reader.fieldnames})")
        return list(dict.fromkeys(row["amazon-order-id"].strip() for row in reader if row.get("amazon-order-id")))


def order_report_check(
    *, account: SellerAccount, marketplace_id: str, day: date, client: AmazonReportsClient | None = None
) -> OrderReportCheck:
    """Compare one day of Amazon's order report with our orders and ingest what we miss. Resumable and safe to run
    again: the first run requests the report, a later one (once Amazon has made it) compares; a day done is done."""
    check, _ = OrderReportCheck.objects.get_or_create(seller_account=account, marketplace_id=marketplace_id, day=day)
    if check.state == OrderReportCheck.State.DONE:
        return check
    own = client is None
    client = client or AmazonReportsClient.for_account(account, marketplace_id=marketplace_id)
    try:
        if not check.report_id:
            created = client.create_report(
                report_type=ALL_ORDERS_BY_UPDATE, marketplace_ids=[marketplace_id],
                data_start_time=_midnight(day), data_end_time=_midnight(day + timedelta(days=1)) - timedelta(seconds=1),
            )  # fmt: skip
            check.report_id, check.state, check.error = created.report_id, OrderReportCheck.State.REQUESTED, ""
            check.save()
        report = client.get_report(check.report_id)
        if not report.is_final:
            return check  # Amazon is still making it: the next run looks again
        if report.processing_status != "DONE" or not report.report_document_id:
            check.state = OrderReportCheck.State.FAILED
            check.error = f"report {check.report_id} ended {report.processing_status}: requested again next time"
            check.report_id = ""
            check.save()
            return check
        target = Path(settings.SETTLEMENT_STORAGE_DIR) / "order-reports" / f"{account.pk}-{marketplace_id}-{day}.txt"
        document = client.download_report_document(report.report_document_id, dest_path=target)
    finally:
        if own:
            client.close()
    ids = _report_order_ids(document.path, document.charset)
    missing = sorted(set(ids) - order_ids_known(amazon_order_ids=ids))
    check.document_path, check.amazon_orders, check.missing_ids = str(document.path), len(ids), missing
    check.state, check.error = OrderReportCheck.State.DONE, ""
    _ingest_missing(check)
    return check


def _ingest_missing(check: OrderReportCheck) -> None:
    """Read the check's missing orders with getOrder and ingest them (the orders app's own service); what still is
    not in Ledgerline afterwards is an exception on the check (its Reprocess button tries again)."""
    account, marketplace_id, day = check.seller_account, check.marketplace_id, check.day
    missing = sorted(set(check.missing_ids) - order_ids_known(amazon_order_ids=check.missing_ids))
    notes = ""
    if missing:
        from orders.services import amazon_orders_refresh  # getOrder (2026-01-01), stored raw first, then ingested

        result = amazon_orders_refresh(account=account, marketplace_id=marketplace_id, amazon_order_ids=missing)
        summary = getattr(result, "summary", None)
        notes = summary() if callable(summary) else str(result)
    still_missing = sorted(set(check.missing_ids) - order_ids_known(amazon_order_ids=check.missing_ids))
    check.ingested = len(check.missing_ids) - len(still_missing)
    check.save()
    if not still_missing:
        exceptions_resolve_for(
            source=check, kinds=[ExceptionItem.Kind.ORDER_MISSING], actor=ACTOR, note="every order ingested"
        )
        return
    exception_open(
        kind=ExceptionItem.Kind.ORDER_MISSING,
        source=check,
        summary=f"{account.name} {day}: {len(still_missing)} order(s) Amazon has could not be ingested",
        detail=f"Amazon's order report for {day} ({marketplace_id}) lists orders Ledgerline does not have; reading "
        "them with getOrder left these out:\n  "
        + "\n  ".join(still_missing[:SHOWN])
        + (f"\n{notes}" if notes else "")
        + "\nReprocess this item to read them again.",
        reference=account.selling_partner_id,
    )


@register_reprocessor(OrderReportCheck)
def _reprocess_check(check: models.Model, actor: str) -> None:
    assert isinstance(check, OrderReportCheck)
    _ingest_missing(check)


def order_report_checks_due(*, today: date | None = None) -> list[OrderReportCheck]:
    """Yesterday's check for every active account and marketplace, and any earlier day still waiting for Amazon's
    report (the daily schedule runs this; provider errors are left to the caller)."""
    today = today or timezone.now().date()
    yesterday = today - timedelta(days=1)
    done = []
    for market in (
        SellerMarketplace.objects.filter(is_active=True, account__is_active=True)
        .select_related("account")
        .order_by("pk")
    ):
        days = set(
            OrderReportCheck.objects.filter(
                seller_account=market.account, marketplace_id=market.marketplace_id, day__gte=today - timedelta(days=7)
            )
            .exclude(state=OrderReportCheck.State.DONE)
            .values_list("day", flat=True)
        ) | {yesterday}
        for day in sorted(days):
            done.append(order_report_check(account=market.account, marketplace_id=market.marketplace_id, day=day))
    return done
