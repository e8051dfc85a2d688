"""Suggestions for unknown SellerSKUs (orders on hold): which ERP item the SKU most likely is.

Candidates are the ERP items known from active SKU mappings. For each item the best of its mapped SKUs (the
"neighbour") is compared with the unknown SKU: spelling, a difference at one end only (a suffix -V2, a prefix
FBA-), numbers that differ (a size 43 is not a size 42), and transforms operators accepted before (suffix DE
for UK). Independent evidence: the same SKU mapped for another seller account, the same ASIN, the product
title against the item's description and titles, the SKU against the item id, and items ordered together.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.contenttypes.models import ContentType

from config.common.errors import ApplicationError
from config.common.models import ExceptionItem
from mappings.models import MappingSuggestion, SkuMapping
from mappings.selectors import sku_mappings_resolve
from mappings.services.suggest_base import Candidate, FeatureSpec, ScoringModel, Source
from mappings.similarity import (
    CodeDifference,
    apply_signature,
    code_compact,
    code_difference,
    code_segments,
    code_similarity,
    code_words,
    dice,
    numbers_in,
    trigrams,
    word_match,
    words,
    words_similarity,
)
from orders.models import AmazonOrderSnapshot, OrderLine

MAX_SOURCES = 300
NEAREST = 30  # mapped SKUs looked at per source, by trigram similarity
ASIN_FORMAT = re.compile(r"^[A-Z0-9]{10}$")


@dataclass(frozen=True)
class _Mapped:
    sku: str
    compact: str
    item: str
    account_id: int | None
    account_name: str
    asin: str
    description: str


@dataclass(frozen=True)
class _Neighbour:
    """A mapped SKU of a candidate item compared with the unknown SKU."""

    mapped: _Mapped
    difference: CodeDifference | None
    similarity: float
    affix: float
    learned: float
    learned_count: int
    numbers: float
    numbers_text: str
    conflict: tuple[str, str] | None  # (ours, theirs): segments in the same place that do not match
    partial: float  # its share of the logit, to pick the neighbour that explains the SKU best


def _title_similarity(title: str, text: str) -> float:
    """A long product title against a short item description: overlap, and how much of the description it covers."""
    a, b = words(title), words(text)
    if not a or not b:
        return 0.0
    covered = sum(1 for w in set(b) if w in set(a)) / len(set(b))
    return (words_similarity(a, b) + covered) / 2


def _share_a_word(mine: tuple[str, ...], theirs: tuple[str, ...]) -> bool:
    """Whether two codes have a segment (not a bare number) in common: only then can a part contradict."""
    return any(not segment.isdigit() for segment in set(mine) & set(theirs))


def _numbers_differ(source: str, other: str, difference: CodeDifference | None) -> tuple[float, str]:
    if difference is not None and difference.op in ("same", "added", "removed"):
        return 0.0, ""
    if difference is None and not _share_a_word(code_segments(source), code_segments(other)):
        return 0.0, ""  # unrelated codes: their numbers say nothing
    if difference is not None:
        mine, theirs = numbers_in(difference.source_part), numbers_in(difference.other_part)
    else:
        mine, theirs = numbers_in(code_segments(source)), numbers_in(code_segments(other))
    if mine == theirs or (not mine and not theirs):
        return 0.0, ""
    shown = f"{'/'.join(map(str, mine)) or 'none'} vs {'/'.join(map(str, theirs)) or 'none'}"
    return (1.0 if mine and theirs else 0.5), shown


def _variant_conflict(source: str, other: str, difference: CodeDifference | None) -> tuple[str, str] | None:
    """The first pair of segments in the same place that neither match nor abbreviate each other (GRY vs GRN;
    RD vs RED is an abbreviation). Numbers are left to _numbers_differ."""
    if difference is not None and difference.op != "replaced":
        return None
    mine, theirs = code_segments(source), code_segments(other)
    if len(mine) != len(theirs) or not _share_a_word(mine, theirs):
        return None
    for a, b in zip(mine, theirs, strict=True):
        if a == b or any(ch.isdigit() for ch in a + b):
            continue
        if word_match(a.lower(), b.lower()) < 0.5:
            return a, b
    return None


class SkuSuggester:
    kind: str = MappingSuggestion.Kind.SKU
    bias: float = -4.5
    specs: tuple[FeatureSpec, ...] = (
        FeatureSpec("sku_similar", 3.0, "SKU spelled like a mapped SKU of the item"),
        FeatureSpec("affix", 2.5, "SKU differs from a mapped SKU only at one end"),
        FeatureSpec("learned_pattern", 3.0, "A difference operators accepted before"),
        FeatureSpec("numbers_differ", -2.5, "Numbers (sizes, models) differ"),
        FeatureSpec("variant_conflict", -2.5, "A part of the SKU contradicts the mapped SKU (colour, variant)"),
        FeatureSpec("other_account", 6.0, "Same SKU mapped for another seller account"),
        FeatureSpec("same_asin", 5.5, "Same ASIN as a mapped SKU"),
        FeatureSpec("title_similar", 4.0, "Product title matches the item"),
        FeatureSpec("item_code_similar", 1.5, "SKU resembles the ERP item id"),
        # Ordered together is weak evidence either way (accessories are ordered with their product); it starts
        # neutral and only counts if decisions show it does.
        FeatureSpec("co_ordered", 0.0, "Ordered together with the item"),
    )

    def __init__(self) -> None:
        self.model: ScoringModel | None = None
        self.patterns: dict[str, tuple[int, int]] = {}
        self.rows: list[_Mapped] = []
        self.by_compact: dict[str, list[_Mapped]] = defaultdict(list)
        self.by_item: dict[str, list[_Mapped]] = defaultdict(list)
        self.word_items: dict[str, set[str]] = defaultdict(set)
        self.item_titles: dict[str, set[str]] = defaultdict(set)
        self.asin_items: dict[str, set[tuple[str, str]]] = defaultdict(set)  # asin → (item, via sku)
        self.orders: dict[str, set[int]] = {}  # source sku → its held orders
        self.co_items: dict[str, Counter[str]] = {}  # source sku → item → orders carrying both

    # --- learning data and indexes -------------------------------------------------------------------

    def prepare(self, *, model: ScoringModel, decided: Sequence[MappingSuggestion]) -> None:
        self.model = model
        counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for suggestion in decided:
            if suggestion.status not in (MappingSuggestion.Status.ACCEPTED, MappingSuggestion.Status.REJECTED):
                continue  # alternatives passed over teach the weights, not the transforms
            for signature in set(suggestion.evidence.get("transforms", [])):
                counts[signature][0 if suggestion.status == MappingSuggestion.Status.ACCEPTED else 1] += 1
        self.patterns = {signature: (acc, rej) for signature, (acc, rej) in counts.items()}
        rows = SkuMapping.objects.filter(is_active=True).select_related("seller_account").order_by("pk")
        for m in rows:
            mapped = _Mapped(
                sku=m.seller_sku,
                compact=code_compact(m.seller_sku),
                item=m.erp_item_id,
                account_id=m.seller_account_id,
                account_name=m.seller_account.name if m.seller_account else "",
                asin=m.asin,
                description=m.description,
            )
            self.rows.append(mapped)
            self.by_compact[mapped.compact].append(mapped)
            self.by_item[mapped.item].append(mapped)
            if m.asin:
                self.asin_items[m.asin].add((mapped.item, mapped.sku))
            for word in words(m.description):
                if len(word) >= 3 and not word.isdigit():
                    self.word_items[word].add(mapped.item)

    def _item_label(self, item: str) -> str:
        description = next((m.description for m in self.by_item[item] if m.description), "")
        return f"{item} — {description}" if description else item

    # --- sources ---------------------------------------------------------------------------------------

    def sources(self) -> list[Source]:
        snapshot_type = ContentType.objects.get_for_model(AmazonOrderSnapshot)
        open_items = dict(
            ExceptionItem.objects.filter(
                kind=ExceptionItem.Kind.UNKNOWN_SKU, status=ExceptionItem.Status.OPEN, source_type=snapshot_type
            ).values_list("source_id", "pk")
        )
        snapshot_ids = [int(s) for s in open_items if s.isdigit()]
        orders: dict[int, tuple[str, int, str, str]] = {}
        for pk, order_id, account_id, account_name, external_id in AmazonOrderSnapshot.objects.filter(
            pk__in=snapshot_ids, order__isnull=False
        ).values_list("pk", "order_id", "account_id", "account__name", "order__external_id"):
            orders[order_id] = (str(pk), account_id, account_name, external_id)
        found: dict[str, dict[str, Any]] = {}
        lines = OrderLine.objects.filter(order_id__in=list(orders), item_id="").order_by("order_id", "pk")
        for order_id, sku, asin, title in lines.values_list("order_id", "seller_sku", "asin", "title"):
            snapshot_id, account_id, account_name, external_id = orders[order_id]
            entry = found.setdefault(
                sku, {"accounts": {}, "asins": set(), "titles": [], "orders": set(), "refs": [], "exceptions": set()}
            )
            entry["accounts"][account_id] = account_name
            if asin:
                entry["asins"].add(asin)
            if title and title not in entry["titles"]:
                entry["titles"].append(title)
            if order_id not in entry["orders"]:
                entry["orders"].add(order_id)
                entry["refs"].append(external_id)
            entry["exceptions"].add(open_items[snapshot_id])
        sources: list[Source] = []
        for sku in sorted(found)[:MAX_SOURCES]:
            entry = found[sku]
            unresolved = {
                account_id: name
                for account_id, name in entry["accounts"].items()
                if not sku_mappings_resolve(account_id=account_id, seller_skus=[sku])
            }
            if not unresolved:
                continue  # mapped since the orders were held: reprocessing them is all that is left
            self.orders[sku] = entry["orders"]
            context = {
                "accounts": [{"id": a, "name": n} for a, n in sorted(unresolved.items())],
                "asins": sorted(entry["asins"]),
                "titles": entry["titles"][:3],
                "orders": len(entry["orders"]),
                "order_refs": entry["refs"][:5],
                "exception_ids": sorted(entry["exceptions"]),
            }
            sources.append(Source(key=sku, context=context))
        self._load_order_evidence(sources)
        return sources

    def _load_order_evidence(self, sources: list[Source]) -> None:
        """Batch reads for all sources: items sold under the same ASINs, and items on the same orders."""
        asins = {asin for s in sources for asin in s.context["asins"]}
        if asins:
            same_asin = OrderLine.objects.filter(asin__in=asins).exclude(item_id="")
            for asin, sku, item in same_asin.values_list("asin", "seller_sku", "item_id").distinct()[:5000]:
                self.asin_items[asin].add((item, sku))
        order_to_sources: dict[int, list[str]] = defaultdict(list)
        for sku, order_ids in self.orders.items():
            self.co_items[sku] = Counter()
            for order_id in order_ids:
                order_to_sources[order_id].append(sku)
        pairs = (
            OrderLine.objects.filter(order_id__in=list(order_to_sources))
            .exclude(item_id="")
            .values_list("order_id", "item_id")
            .distinct()
        )
        for order_id, item in pairs:
            for sku in order_to_sources[order_id]:
                self.co_items[sku][item] += 1

    # --- candidates ------------------------------------------------------------------------------------

    def _learned(self, difference: CodeDifference) -> tuple[float, int]:
        best, count = 0.0, 0
        for signature, factor in ((difference.signature, 1.0), (difference.general_signature, 0.8)):
            accepted, rejected = self.patterns.get(signature, (0, 0))
            if accepted:
                value = factor * accepted / (accepted + rejected + 1)
                if value > best:
                    best, count = value, accepted
        return best, count

    def _candidate_items(self, source: Source) -> set[str]:
        sku = source.key
        compact = code_compact(sku)
        grams = trigrams(compact)
        scored = sorted(((dice(grams, trigrams(m.compact)), m.item) for m in self.rows), reverse=True)
        items = {item for score, item in scored[:NEAREST] if score > 0.2}
        items |= {m.item for m in self.by_compact.get(compact, [])}
        for signature, (accepted, _) in self.patterns.items():
            target = apply_signature(sku, signature) if accepted else None
            if target:
                items |= {m.item for m in self.by_compact.get(target, [])}
        for asin in source.context["asins"]:
            items |= {item for item, _ in self.asin_items.get(asin, ())}
        title_words: Counter[str] = Counter()
        for title in source.context["titles"]:
            for word in set(words(title)):
                for item in self.word_items.get(word, ()):
                    title_words[item] += 1
        items |= {item for item, _ in title_words.most_common(20)}
        items |= set(self.co_items.get(sku, Counter()))
        return {item for item in items if item in self.by_item}

    def _load_titles(self, items: set[str]) -> None:
        missing = [item for item in items if item not in self.item_titles]
        if not missing:
            return
        skus = {m.sku for item in missing for m in self.by_item[item]}
        lines = OrderLine.objects.filter(seller_sku__in=skus, item_id__in=missing).exclude(title="")
        for item, title in lines.values_list("item_id", "title").distinct()[:2000]:
            if len(self.item_titles[item]) < 5:
                self.item_titles[item].add(title)
        for item in missing:
            self.item_titles.setdefault(item, set())

    def candidates(self, source: Source) -> list[Candidate]:
        assert self.model is not None
        items = self._candidate_items(source)
        self._load_titles(items)
        return [self._candidate(source, item) for item in sorted(items)]

    def _neighbour(self, sku: str, mapped: _Mapped) -> _Neighbour:
        assert self.model is not None
        difference = code_difference(sku, mapped.sku)
        affix, learned, learned_count = 0.0, 0.0, 0
        if difference is not None:
            if difference.op in ("same", "added", "removed"):
                affix = 1.0 if len(difference.source_part) + len(difference.other_part) <= 1 else 0.7
            learned, learned_count = self._learned(difference)
        numbers, numbers_text = _numbers_differ(sku, mapped.sku, difference)
        # A difference operators accepted before (DE for UK) is an equivalence, not a contradiction.
        conflict = None if learned else _variant_conflict(sku, mapped.sku, difference)
        similarity = code_similarity(sku, mapped.sku)
        weight = self.model.weight
        partial = (
            weight("sku_similar") * similarity
            + weight("affix") * affix
            + weight("learned_pattern") * learned
            + weight("numbers_differ") * numbers
            + weight("variant_conflict") * (1.0 if conflict else 0.0)
        )
        return _Neighbour(
            mapped, difference, similarity, affix, learned, learned_count, numbers, numbers_text, conflict, partial
        )

    def _candidate(self, source: Source, item: str) -> Candidate:
        assert self.model is not None
        sku = source.key
        label = self._item_label(item)
        features: dict[str, float] = {}
        explain: dict[str, str] = {}
        evidence: dict[str, Any] = {}

        # The neighbour: the mapped SKU of this item that explains the unknown one best.
        best = max((self._neighbour(sku, mapped) for mapped in self.by_item[item]), key=lambda n: n.partial)
        via, difference = best.mapped, best.difference
        via_text = f"{via.sku} (mapped to {item})"
        evidence["via"] = via.sku
        features["sku_similar"] = round(best.similarity, 4)
        exact = via.sku == sku
        if not exact and not best.affix:  # a difference at one end says it better
            explain["sku_similar"] = f"SKU is spelled like {via_text}: {best.similarity:.0%} alike"
        if difference is not None:
            if difference.op != "same":
                evidence["transforms"] = list(dict.fromkeys([difference.signature, difference.general_signature]))
            if best.affix:
                features["affix"] = best.affix
                if not exact:
                    explain["affix"] = f"SKU differs from {via_text} {difference.describe()}"
            if best.learned:
                features["learned_pattern"] = round(best.learned, 4)
                explain["learned_pattern"] = (
                    f"Operators accepted {best.learned_count} earlier suggestion(s) with the same difference "
                    f"({difference.describe().removeprefix('only ')}), here against {via_text}"
                )
        if best.conflict:
            features["variant_conflict"] = 1.0
            explain["variant_conflict"] = (
                f"Careful: {best.conflict[0]} here but {best.conflict[1]} in {via.sku}: maybe another variant "
                "(colour, model, marketplace)"
            )
        if best.numbers:
            features["numbers_differ"] = best.numbers
            explain["numbers_differ"] = (
                f"Careful: the numbers differ from {via.sku} ({best.numbers_text}), often another size or model"
            )

        accounts = {a["id"] for a in source.context["accounts"]}
        elsewhere = [m for m in self.by_item[item] if m.sku == sku and m.account_id not in accounts]
        if elsewhere:
            features["other_account"] = 1.0
            names = ", ".join(sorted({m.account_name or "all accounts" for m in elsewhere}))
            explain["other_account"] = f"The same SKU is mapped to {item} for seller account {names}"

        for asin in source.context["asins"]:
            via_asin = sorted(sku_ for item_, sku_ in self.asin_items.get(asin, ()) if item_ == item)
            if via_asin:
                features["same_asin"] = 1.0
                evidence["asin"] = asin
                explain["same_asin"] = f"Same ASIN {asin} as {via_asin[0]}, which is mapped to {item}"
                break

        texts = [m.description for m in self.by_item[item] if m.description] + sorted(self.item_titles.get(item, ()))
        best_title = (0.0, "", "")
        for title in source.context["titles"]:
            for text in texts:
                score = _title_similarity(title, text)
                if score > best_title[0]:
                    best_title = (score, title, text)
        if best_title[0] > 0:
            features["title_similar"] = round(best_title[0], 4)
            explain["title_similar"] = (
                f'The product title "{best_title[1][:80]}" matches "{best_title[2][:80]}" of {item} '
                f"({best_title[0]:.0%})"
            )

        item_code = words_similarity(code_words(sku), code_words(item))
        if item_code > 0:
            features["item_code_similar"] = round(item_code, 4)
            explain["item_code_similar"] = f"SKU resembles the item id {item} ({item_code:.0%})"

        together = self.co_items.get(sku, Counter()).get(item, 0)
        if together:
            orders = max(1, len(self.orders.get(sku, ())))
            features["co_ordered"] = round(together / orders, 4)
            explain["co_ordered"] = f"Ordered together with {item} on {together} of {orders} held order(s)"
        return Candidate(target_key=item, target_label=label, features=features, explain=explain, evidence=evidence)

    # --- accepting -------------------------------------------------------------------------------------

    def _unresolved_accounts(self, source_key: str, context: dict[str, Any]) -> list[int]:
        return [
            a["id"]
            for a in context.get("accounts", [])
            if not sku_mappings_resolve(account_id=a["id"], seller_skus=[source_key])
        ]

    def still_unmapped(self, *, source_key: str, context: dict[str, Any]) -> bool:
        return bool(self._unresolved_accounts(source_key, context))

    def apply(self, *, source_key: str, context: dict[str, Any], target_key: str, target_label: str) -> str:
        accounts = self._unresolved_accounts(source_key, context)
        if not accounts:
            raise ApplicationError(f"SKU {source_key} is mapped already; reprocess its exceptions instead.")
        asins = [a for a in context.get("asins", []) if ASIN_FORMAT.match(a)]
        description = target_label.split(" — ", 1)[1] if " — " in target_label else ""
        values = {"seller_sku": source_key, "erp_item_id": target_key, "asin": asins[0] if len(asins) == 1 else ""}
        existing = SkuMapping.objects.filter(seller_sku=source_key)
        inactive = existing.filter(seller_account_id__in=accounts).select_related("seller_account").first()
        if inactive is not None:
            raise ApplicationError(
                f"SKU {source_key} has an inactive mapping for {inactive.seller_account}: edit it under "
                "Mappings › SKU mappings instead."
            )
        if not existing.exists():
            rows = [SkuMapping(seller_account=None, description=description[:200], **values)]
            scope = "every seller account"
        else:
            # The SKU is mapped (or switched off) elsewhere: map it only where it is unknown.
            rows = [SkuMapping(seller_account_id=a, description=description[:200], **values) for a in accounts]
            names = ", ".join(a["name"] for a in context.get("accounts", []) if a["id"] in accounts)
            scope = f"seller account {names}"
        for row in rows:
            row.full_clean()
            row.save()
        return f"SKU mapping {source_key} → {target_key} created for {scope}."

    def exceptions_to_reprocess(self, *, source_key: str, context: dict[str, Any]) -> list[int]:
        snapshot_type = ContentType.objects.get_for_model(AmazonOrderSnapshot)
        snapshot_ids = (
            AmazonOrderSnapshot.objects.filter(order__lines__seller_sku=source_key, order__lines__item_id="")
            .values_list("pk", flat=True)
            .distinct()
        )
        return list(
            ExceptionItem.objects.filter(
                kind=ExceptionItem.Kind.UNKNOWN_SKU,
                status=ExceptionItem.Status.OPEN,
                source_type=snapshot_type,
                source_id__in=[str(pk) for pk in snapshot_ids],
            )
            .order_by("pk")
            .values_list("pk", flat=True)
        )
