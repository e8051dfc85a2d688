"""Suggestions for settlement amount types no mapping row matches: which GL account they most likely post to.

Candidates are the active GL accounts (not the clearing or rounding account). Evidence comes from finance's own
mapping rows: descriptions like this one (`FBA Long-Term Storage Fee` ~ `FBA long-term storage`), amount types
like this one, the same description already mapped under another type, the account's name, and the sign of
the amounts (charges go to expense accounts, income to revenue accounts).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db.models import Count, Q, Sum

from config.common.errors import ApplicationError
from config.common.models import ExceptionItem
from mappings.models import GlAccount, MappingSuggestion, SettlementAccountMapping
from mappings.services.suggest_base import Candidate, FeatureSpec, ScoringModel, Source
from mappings.similarity import name_similarity
from reconciliation.models import Settlement, SettlementLine
from reconciliation.services.classify import WILDCARD, GlResolver

MAX_SOURCES = 300


@dataclass(frozen=True)
class _Row:
    transaction_type: str
    amount_type: str
    amount_description: str
    description: str
    account: str

    def __str__(self) -> str:
        return MappingSuggestion.settlement_source_key(self.transaction_type, self.amount_type, self.amount_description)


def _share(count: int, total: int, what: str, one: str) -> str:
    if total == 1:
        return f"The amount is {one}"
    return f"All {total} amounts are {what}" if count == total else f"{count} of the {total} amounts are {what}"


class GlAccountSuggester:
    kind: str = MappingSuggestion.Kind.SETTLEMENT_ACCOUNT
    bias: float = -4.0
    specs: tuple[FeatureSpec, ...] = (
        FeatureSpec("description_similar", 4.5, "Description like one finance mapped to the account"),
        FeatureSpec("amount_type_similar", 3.0, "Amount type like one mapped to the account"),
        FeatureSpec("account_name_similar", 2.5, "Description like the account's name"),
        FeatureSpec("same_amount_type", 1.5, "Share of the amount type's rows on the account"),
        FeatureSpec("same_description_elsewhere", 4.0, "Same description mapped under another type"),
        FeatureSpec("same_transaction_type", 1.0, "Share of the transaction type's rows on the account"),
        FeatureSpec("sign_fit", 1.0, "Sign of the amounts fits the kind of account"),
    )

    def __init__(self) -> None:
        self.model: ScoringModel | None = None
        self.accounts: dict[str, GlAccount] = {}
        self.rows: list[_Row] = []

    def prepare(self, *, model: ScoringModel, decided: Sequence[MappingSuggestion]) -> None:
        self.model = model
        excluded = {settings.LEDGER_CLEARING_ACCOUNT, settings.LEDGER_ROUNDING_ACCOUNT}
        self.accounts = {a.code: a for a in GlAccount.objects.filter(is_active=True).exclude(code__in=excluded)}
        self.rows = [
            _Row(m.transaction_type, m.amount_type, m.amount_description, m.description, m.gl_account.code)
            for m in SettlementAccountMapping.objects.filter(gl_account__code__in=list(self.accounts))
            .select_related("gl_account")
            .order_by("pk")
        ]

    def sources(self) -> list[Source]:
        settlements = dict(Settlement.objects.filter(unmapped_count__gt=0).values_list("pk", "settlement_id"))
        if not settlements:
            return []
        fields = ("transaction_type", "amount_type", "amount_description")
        lines = SettlementLine.objects.filter(settlement_id__in=list(settlements), gl_account__isnull=True)
        combos = (
            lines.values(*fields)
            .order_by(*fields)
            .annotate(
                n=Count("pk"),
                negative=Count("pk", filter=Q(amount__lt=0)),
                positive=Count("pk", filter=Q(amount__gt=0)),
                total=Sum("amount"),
            )
        )
        where: dict[tuple[str, str, str], set[int]] = defaultdict(set)
        for tt, at, ad, settlement_pk in lines.values_list(*fields, "settlement_id").distinct():
            where[tt, at, ad].add(settlement_pk)
        settlement_type = ContentType.objects.get_for_model(Settlement)
        open_items: dict[int, int] = {
            int(source_id): pk
            for source_id, pk in ExceptionItem.objects.filter(
                kind=ExceptionItem.Kind.SETTLEMENT_UNMAPPED,
                status=ExceptionItem.Status.OPEN,
                source_type=settlement_type,
                source_id__in=[str(pk) for pk in settlements],
            ).values_list("source_id", "pk")
        }
        resolver = GlResolver.load()
        sources: list[Source] = []
        for combo in combos[:MAX_SOURCES]:
            tt, at, ad = combo["transaction_type"], combo["amount_type"], combo["amount_description"]
            if resolver.resolve(tt, at, ad) is not None:
                continue  # a row matches now; the settlement only needs reprocessing
            pks = sorted(where[tt, at, ad])
            context = {
                "transaction_type": tt,
                "amount_type": at,
                "amount_description": ad,
                "lines": combo["n"],
                "negative": combo["negative"],
                "positive": combo["positive"],
                "total": str(combo["total"] or Decimal(0)),
                "settlements": [settlements[pk] for pk in pks][:10],
                "exception_ids": sorted(open_items[pk] for pk in pks if pk in open_items),
            }
            sources.append(Source(key=MappingSuggestion.settlement_source_key(tt, at, ad), context=context))
        return sources

    def candidates(self, source: Source) -> list[Candidate]:
        return [self._candidate(source, account) for code, account in sorted(self.accounts.items())]

    def _candidate(self, source: Source, account: GlAccount) -> Candidate:
        tt, at, ad = (source.context[k] for k in ("transaction_type", "amount_type", "amount_description"))
        code = account.code
        label = f"{code} {account.name}"
        features: dict[str, float] = {}
        explain: dict[str, str] = {}
        mine = [r for r in self.rows if r.account == code]

        best: tuple[float, str, _Row | None] = (0.0, "", None)
        for row in mine:
            if row.amount_description != WILDCARD:
                score = name_similarity(ad, row.amount_description)
                if score > best[0]:
                    best = (score, row.amount_description, row)
            if row.description:
                score = 0.9 * name_similarity(ad, row.description)
                if score > best[0]:
                    best = (score, row.description, row)
        if best[0] > 0 and best[2] is not None:
            features["description_similar"] = round(best[0], 4)
            explain["description_similar"] = (
                f'"{ad}" resembles "{best[1]}" (row {best[2]}), which posts to {label} ({best[0]:.0%})'
            )

        best_type = (0.0, "")
        for row in mine:
            if row.amount_type not in (WILDCARD, at):
                score = name_similarity(at, row.amount_type)
                if score > best_type[0]:
                    best_type = (score, row.amount_type)
        if best_type[0] >= 0.5:
            features["amount_type_similar"] = round(best_type[0], 4)
            explain["amount_type_similar"] = (
                f'Amount type "{at}" resembles "{best_type[1]}", which posts to {label} ({best_type[0]:.0%})'
            )

        name = name_similarity(ad, account.name)
        if name > 0:
            features["account_name_similar"] = round(name, 4)
            explain["account_name_similar"] = f'"{ad}" resembles the account name "{account.name}" ({name:.0%})'

        same_type = [r for r in self.rows if r.amount_type == at]
        if same_type:
            share = sum(1 for r in same_type if r.account == code) / len(same_type)
            if share:
                features["same_amount_type"] = round(share, 4)
                explain["same_amount_type"] = (
                    f"{sum(1 for r in same_type if r.account == code)} of the {len(same_type)} mapping rows for "
                    f"amount type {at} post to {code}"
                )

        same_description = [
            r for r in mine if r.amount_description.lower() == ad.lower() and r.amount_description != WILDCARD
        ]
        if same_description:
            features["same_description_elsewhere"] = 1.0
            explain["same_description_elsewhere"] = f'"{ad}" already posts to {label} under {same_description[0]}'

        same_tt = [r for r in self.rows if r.transaction_type == tt]
        if same_tt:
            share = sum(1 for r in same_tt if r.account == code) / len(same_tt)
            if share:
                features["same_transaction_type"] = round(share, 4)
                explain["same_transaction_type"] = f"Other {tt} rows post to {code} ({share:.0%} of them)"

        negative, positive = source.context["negative"], source.context["positive"]
        total = negative + positive
        if total:
            if account.kind == GlAccount.Kind.EXPENSE:
                fit = negative / total
                why = f"{_share(negative, total, 'charges', 'a charge')} (negative), as on an expense account"
            elif account.kind == GlAccount.Kind.REVENUE:
                fit = positive / total
                why = f"{_share(positive, total, 'income', 'income')} (positive), as on a revenue account"
            else:
                fit, why = 0.5, f"{account.get_kind_display()} account: amounts of either sign post here"
            if fit:
                features["sign_fit"] = round(fit, 4)
                explain["sign_fit"] = why
        return Candidate(target_key=code, target_label=label, features=features, explain=explain)

    def still_unmapped(self, *, source_key: str, context: dict[str, Any]) -> bool:
        tt, at, ad = (context[k] for k in ("transaction_type", "amount_type", "amount_description"))
        return GlResolver.load().resolve(tt, at, ad) is None

    def apply(self, *, source_key: str, context: dict[str, Any], target_key: str, target_label: str) -> str:
        tt, at, ad = (context[k] for k in ("transaction_type", "amount_type", "amount_description"))
        if not self.still_unmapped(source_key=source_key, context=context):
            raise ApplicationError(f"{source_key} has a GL account already; reprocess its settlements instead.")
        account = GlAccount.objects.filter(code=target_key, is_active=True).first()
        if account is None:
            raise ApplicationError(f"GL account {target_key} does not exist or is not active.")
        if SettlementAccountMapping.objects.filter(transaction_type=tt, amount_type=at, amount_description=ad).exists():
            raise ApplicationError(
                f"A mapping row for {source_key} exists (on an inactive account): edit it under "
                "Mappings › settlement → GL mappings instead."
            )
        row = SettlementAccountMapping(
            transaction_type=tt,
            amount_type=at,
            amount_description=ad,
            gl_account=account,
            description="Accepted mapping suggestion",
        )
        row.full_clean()
        row.save()
        return f"Settlement → GL mapping {source_key} → {account} created."

    def exceptions_to_reprocess(self, *, source_key: str, context: dict[str, Any]) -> list[int]:
        tt, at, ad = (context[k] for k in ("transaction_type", "amount_type", "amount_description"))
        settlement_ids = (
            SettlementLine.objects.filter(
                settlement__unmapped_count__gt=0,
                gl_account__isnull=True,
                transaction_type=tt,
                amount_type=at,
                amount_description=ad,
            )
            .values_list("settlement_id", flat=True)
            .distinct()
        )
        return list(
            ExceptionItem.objects.filter(
                kind=ExceptionItem.Kind.SETTLEMENT_UNMAPPED,
                status=ExceptionItem.Status.OPEN,
                source_type=ContentType.objects.get_for_model(Settlement),
                source_id__in=[str(pk) for pk in settlement_ids],
            )
            .order_by("pk")
            .values_list("pk", flat=True)
        )
