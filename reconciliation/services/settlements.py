"""After import: matching counts, GL accounts, exceptions and the journal of a settlement. Safe to run again
(reprocess): matching is read fresh (orders synced since now match), lines without an account are resolved again,
and the journal is built once."""

from __future__ import annotations

from datetime import timedelta

from django.db import models, transaction
from django.db.models import Count, Q
from django.utils import timezone

from config.common.alerts import alert_raise
from config.common.models import ExceptionItem
from config.common.reprocess import register_reprocessor
from config.common.services import exception_open, exceptions_resolve_for
from reconciliation.models import Settlement, SettlementFile
from reconciliation.selectors import settlement_lines_unmatched
from reconciliation.services.classify import GlResolver
from reconciliation.services.journal import JournalNotReady, settlement_journal_build

ACTOR = "system:settlements"
SHOWN = 20  # how many examples an exception lists


def settlement_accounts_resolve(*, settlement: Settlement) -> int:
    """Give lines without a GL account one, where the mapping rows now have one. Returns lines updated."""
    resolver = GlResolver.load()
    combos = (
        settlement.lines.filter(gl_account__isnull=True)
        .values_list("transaction_type", "amount_type", "amount_description")
        .distinct()
    )
    updated = 0
    for tt, at, ad in list(combos):
        gl = resolver.resolve(tt, at, ad)
        if gl is not None:
            updated += settlement.lines.filter(
                gl_account__isnull=True, transaction_type=tt, amount_type=at, amount_description=ad
            ).update(gl_account_id=gl)
    return updated


def settlement_reconcile(*, settlement: Settlement, actor: str) -> Settlement:
    """Counts, status, exceptions and (when everything has an account and the total agrees) the journal."""
    with transaction.atomic():
        settlement = Settlement.objects.select_for_update().get(pk=settlement.pk)
        counts = settlement.lines.aggregate(unmapped=Count("pk", filter=Q(gl_account__isnull=True)), lines=Count("pk"))
        counts["unmatched"] = settlement_lines_unmatched(settlement=settlement).count()
        if counts["unmapped"]:
            settlement_accounts_resolve(settlement=settlement)
            counts["unmapped"] = settlement.lines.filter(gl_account__isnull=True).count()
        settlement.unmatched_count = counts["unmatched"]
        settlement.matched_count = counts["lines"] - counts["unmatched"]
        settlement.unmapped_count = counts["unmapped"]
        problems = [
            _total_check(settlement),
            _unmatched_check(settlement),
            _unmapped_check(settlement),
        ]
        journal_problem = ""
        if not settlement.unmapped_count and settlement.lines_total == settlement.total_amount:
            try:
                settlement_journal_build(settlement=settlement)
            except JournalNotReady as exc:
                journal_problem = str(exc)
                exception_open(
                    kind=ExceptionItem.Kind.SETTLEMENT_UNMAPPED,
                    source=settlement,
                    summary=f"Settlement {settlement.settlement_id}: no journal yet: {exc}",
                    detail=f"{exc}\nAdd the missing data in the admin, then reprocess this item.",
                    reference=settlement.settlement_id,
                )
        problems.append(journal_problem)
        settlement.problem = "\n".join(p for p in problems if p)
        if settlement.lines_total != settlement.total_amount:
            settlement.status = Settlement.Status.FLAGGED
        elif settlement.problem:
            settlement.status = Settlement.Status.EXCEPTIONS
        else:
            settlement.status = Settlement.Status.RECONCILED
        settlement.save()
        if not journal_problem and not settlement.unmapped_count and not problems[0]:
            exceptions_resolve_for(
                source=settlement, kinds=[ExceptionItem.Kind.SETTLEMENT_UNMAPPED], actor=actor, note="journal built"
            )
    return settlement


def _total_check(settlement: Settlement) -> str:
    if settlement.lines_total == settlement.total_amount:
        exceptions_resolve_for(
            source=settlement, kinds=[ExceptionItem.Kind.SETTLEMENT_TOTAL], actor=ACTOR, note="totals agree"
        )
        return ""
    why = (
        f"The {settlement.line_count} amount rows add up to {settlement.lines_total} {settlement.currency}, "
        f"not the summary total {settlement.total_amount} ({settlement.lines_total - settlement.total_amount:+})."
    )
    alert_raise(
        key=f"settlement-total:{settlement.settlement_id}",
        subject=f"Settlement {settlement.settlement_id} does not add up", body=why,
    )  # fmt: skip
    exception_open(
        kind=ExceptionItem.Kind.SETTLEMENT_TOTAL,
        source=settlement,
        summary=f"Settlement {settlement.settlement_id} flagged: lines do not add up",
        detail=f"{why}\nNo journal is made for it. Ask Amazon for a corrected report, import it, then discard this.",
        reference=settlement.settlement_id,
    )
    return why


def _unmatched_check(settlement: Settlement) -> str:
    if not settlement.unmatched_count:
        exceptions_resolve_for(
            source=settlement, kinds=[ExceptionItem.Kind.SETTLEMENT_UNMATCHED], actor=ACTOR, note="all lines matched"
        )
        return ""
    examples = list(
        settlement_lines_unmatched(settlement=settlement)
        .values_list("amazon_order_id", "merchant_order_id")
        .order_by("amazon_order_id", "merchant_order_id")
        .distinct()[:SHOWN]
    )
    names = ", ".join(a or m for a, m in examples)
    why = f"{settlement.unmatched_count} line(s) name an order Ledgerline does not have (e.g. {names})."
    exception_open(
        kind=ExceptionItem.Kind.SETTLEMENT_UNMATCHED,
        source=settlement,
        summary=f"Settlement {settlement.settlement_id}: {settlement.unmatched_count} line(s) without their order",
        detail=f"{why}\nSync the missing orders (or connect their account), then reprocess this item to match again. "
        "The settlement's page lists the likely orders for each (action “Refresh the hints”).",
        reference=settlement.settlement_id,
    )
    return why


def _unmapped_check(settlement: Settlement) -> str:
    if not settlement.unmapped_count:
        return ""
    combos = list(
        settlement.lines.filter(gl_account__isnull=True)
        .values_list("transaction_type", "amount_type", "amount_description")
        .order_by()
        .annotate(n=Count("pk"))
        .order_by("-n")[:SHOWN]
    )
    listed = "\n".join(f"  {tt} / {at} / {ad}: {n} line(s)" for tt, at, ad, n in combos)
    why = f"{settlement.unmapped_count} line(s) have no GL account: no mapping row matches their type."
    exception_open(
        kind=ExceptionItem.Kind.SETTLEMENT_UNMAPPED,
        source=settlement,
        summary=f"Settlement {settlement.settlement_id}: {len(combos)} amount type(s) without a GL account",
        detail=f"{why}\n{listed}\nAdd mapping rows (Mappings → settlement → GL mappings), then reprocess this item.",
        reference=settlement.settlement_id,
    )
    return why


@register_reprocessor(Settlement)
def _reprocess_settlement(settlement: models.Model, actor: str) -> None:
    assert isinstance(settlement, Settlement)
    settlement_reconcile(settlement=settlement, actor=actor)


@register_reprocessor(SettlementFile)
def _reprocess_file(file: models.Model, actor: str) -> None:
    from reconciliation.services.importer import settlement_file_import

    settlement_file_import(file_id=file.pk)


def settlements_recheck(*, days: int = 60) -> int:
    """Re-read the matching of recent settlements with exceptions (orders synced since then now match)."""
    since = timezone.now() - timedelta(days=days)
    due = Settlement.objects.filter(status=Settlement.Status.EXCEPTIONS, created_at__gte=since)
    for settlement in due:
        settlement_reconcile(settlement=settlement, actor=ACTOR)
    return len(due)
