"""Mapping suggestions on seeded data: ranking quality (precision@1, recall), nothing applied without an accept,
accept releases held orders / journals settlements through reprocess, reject is final, and decisions teach."""

from __future__ import annotations

import io
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from config.common.models import ExceptionItem
from config.common.schedules import STATIC_SCHEDULES
from mappings.models import (
    FieldMappingRule,
    FieldMappingTemplate,
    MappingSuggestion,
    SettlementAccountMapping,
    SkuMapping,
)
from mappings.services import (
    mapping_suggestion_accept,
    mapping_suggestion_model,
    mapping_suggestion_ranking,
    mapping_suggestion_reject,
    mapping_suggestions_refresh,
)
from mappings.similarity import code_difference, words, words_similarity
from mappings.tasks import mapping_suggestions_refresh_task
from orders.models import Order, OrderStatus, SellerAccount
from reconciliation.models import JournalEntry, Settlement
from reconciliation.services import settlement_file_import, settlement_file_store
from tests.amazon_payloads import amazon_item, amazon_order, full_address
from tests.factories import SellerAccountFactory
from tests.orders.test_amazon_ingest import ingest
from tests.reconciliation.files import UK_ORDER, amount_row, settlement_file

pytestmark = pytest.mark.django_db

SKU = MappingSuggestion.Kind.SKU
GL = MappingSuggestion.Kind.SETTLEMENT_ACCOUNT
FIELD = MappingSuggestion.Kind.CUSTOM_FIELD


@pytest.fixture(autouse=True)
def _settlement_storage(settings: Any, tmp_path: Path) -> None:
    settings.SETTLEMENT_STORAGE_DIR = tmp_path / "settlements"


# --- seeded data -----------------------------------------------------------------------------------------

# seller SKU → (ERP item id, description, ASIN). Global mappings, as the demo catalogue has them.
CATALOGUE = {
    "TENT-2P-GRN": ("TNT-0002-GR", "Two-person tent, green", "B0TENT2GRN"),
    "TENT-4P-BLU": ("TNT-0004-BL", "Four-person tent, blue", ""),
    "SLBAG-3S": ("SLB-3S-REG", "Three-season sleeping bag", ""),
    "STOVE-TI": ("STV-TI-001", "Titanium camping stove", ""),
    "BOTTLE-1L": ("BTL-1000", "Water bottle, 1 l", ""),
    "JACKET-M-RED": ("JKT-M-RD", "Rain jacket, M, red", ""),
    "JACKET-L-BLU": ("JKT-L-BL", "Rain jacket, L, blue", ""),
    "BOOTS-42": ("BTS-42", "Hiking boots, EU 42", "B0BOOTS042"),
    "HIKEBOOT-43": ("BTS-43", "Hiking boots, EU 43", ""),
    "MAT-FOAM": ("MAT-FM-01", "Foam sleeping mat", ""),
    "PEGS-10": ("PEG-10", "Tent pegs, pack of 10", ""),
    "CUP-TI-450": ("CUP-TI-450", "Titanium mug, 450 ml", ""),
}
EU_ONLY = {"LAMP-HEAD-300": ("LMP-H300", "Head torch, 300 lm")}  # mapped for the EU account only

# Unknown SKU on a held order: (SKU, product title, ASIN, account) → the right item (None: nothing fits).
SKU_CASES: list[tuple[str, str, str, str, str | None]] = [
    ("TENT-2P-GRN-V2", "Acme two-person tent, green (2024 edition)", "B0TENTV2GN", "eu", "TNT-0002-GR"),
    ("FBA-SLBAG-3S", "Three-season sleeping bag, mummy shape", "B0SLBAGFBA", "eu", "SLB-3S-REG"),
    ("bottle-1l", "Water bottle 1 litre, BPA free", "B0BOTTLE1L", "eu", "BTL-1000"),
    ("JACKET-M-RD", "Rain jacket men, size M, red", "B0JACKETMR", "eu", "JKT-M-RD"),
    ("OUTLET-7731", "Hiking boots, size 42 (outlet)", "B0BOOTS042", "eu", "BTS-42"),
    ("GIFT-SLEEPMAT", "Foam sleeping mat, closed cell", "B0MATGIFT1", "eu", "MAT-FM-01"),
    ("LAMP-HEAD-300", "Head torch 300 lumen", "B0LAMPH300", "us", "LMP-H300"),
    ("BOOTS-43", "Hiking boots, EU 43", "B0BOOTS043", "eu", "BTS-43"),
    ("JACKET-L-BLU-2024", "Rain jacket, L, blue", "B0JACKETLB", "eu", "JKT-L-BL"),
    ("STOVE-TI-FBA", "Titanium camping stove (FBA)", "B0STOVEFBA", "eu", "STV-TI-001"),
    ("TENT-4P-BLU-B", "Four-person tent, blue", "B0TENT4PBB", "eu", "TNT-0004-BL"),
    ("CUP-TI-450-UK", "Titanium mug 450 ml", "B0CUPTI450", "eu", "CUP-TI-450"),
    ("TENT-2P-GRY", "Two-person tent, grey", "B0TENT2GRY", "eu", None),  # a colour the ERP does not have
    ("JACKET-M-BLU", "Rain jacket, M, blue", "B0JACKETMB", "eu", None),  # M red and L blue exist, M blue not
    ("COMPASS-PRO", "Baseplate compass with mirror", "B0COMPASS1", "eu", None),
    ("GIFT-CARD-25", "Gift card, 25 pounds", "B0GIFTCARD", "eu", None),
]

# Settlement amount types no default row maps: (transaction type, amount type, description, amount) → account.
GL_CASES: list[tuple[str, str, str, str, str | None]] = [
    ("other-transaction", "other-transaction", "FBA Long-Term Storage Fee", "-12.00", "5010"),
    ("other-transaction", "other-transaction", "FBA Disposal Fee", "-2.00", "5010"),
    ("other-transaction", "other-transaction", "Shipping label purchase for return", "-3.50", "5020"),
    ("other-transaction", "other-transaction", "Sponsored Products Charge", "-20.00", "5030"),
    ("other-transaction", "other-transaction", "Subscription Fee Refund", "39.00", "5020"),
    ("Order", "ItemTaxWithheld", "MarketplaceFacilitatorTax-Shipping", "-1.00", "2200"),
    ("Order", "ItemPrice", "PrincipalAdjustment", "2.00", "4000"),
]

# Order metadata keys no active field rule reads → the ERP field they belong in.
FIELD_CASES: dict[str, str | None] = {
    "po_number": "CustOrdNbr",
    "sales_rep": "SlsperID",
    "ship_method": "ShipViaID",
    "campaign_id": "User3",  # an old (inactive) template filled User3 from it
    "utm_source": None,
}
TEMPLATE = "SL sales order"


def held_order(account: SellerAccount, n: int, sku: str, title: str, asin: str) -> str:
    """An Amazon order whose only line is `sku`: held for an unknown SKU when the SKU is not mapped."""
    order_id = f"202-{n:07d}-0000001"
    item = amazon_item(sku, item_id=str(n), asin=asin)
    item["Title"] = title
    ingest(account, [(amazon_order(order_id), [item], full_address())])
    return order_id


@pytest.fixture
def accounts(db: None) -> dict[str, SellerAccount]:
    return {
        "eu": SellerAccountFactory.create(name="Acme Outdoor EU", selling_partner_id="A2ACMEOUTDOOREU"),
        "us": SellerAccountFactory.create(name="Acme Outdoor US", selling_partner_id="A3ACMEOUTDOORUS"),
    }


@pytest.fixture
def catalogue(accounts: dict[str, SellerAccount]) -> None:
    for sku, (item, description, asin) in CATALOGUE.items():
        SkuMapping.objects.create(seller_sku=sku, erp_item_id=item, description=description, asin=asin)
    for sku, (item, description) in EU_ONLY.items():
        SkuMapping.objects.create(
            seller_sku=sku, erp_item_id=item, description=description, seller_account=accounts["eu"]
        )


@pytest.fixture
def held_skus(accounts: dict[str, SellerAccount], catalogue: None) -> dict[str, str]:
    """One held order per unknown SKU case; SKU → Amazon order id."""
    return {
        sku: held_order(accounts[account], n, sku, title, asin)
        for n, (sku, title, asin, account, _) in enumerate(SKU_CASES, start=1)
    }


def import_settlement(rows: list[list[str]], settlement_id: str = "5000001") -> Settlement:
    text = settlement_file(rows, settlement_id=settlement_id)
    file, _ = settlement_file_store(data=io.BytesIO(text.encode()), name=f"{settlement_id}.txt", source="test")
    settlement_file_import(file_id=file.pk)
    return Settlement.objects.get(settlement_id=settlement_id)


@pytest.fixture
def unmapped_settlement(db: None) -> Settlement:
    rows = [amount_row("Order", UK_ORDER, "ItemPrice", "Principal", "49.99")]
    rows += [amount_row(tt, "", at, ad, amount) for tt, at, ad, amount, _ in GL_CASES]
    return import_settlement(rows)


@pytest.fixture
def custom_fields(accounts: dict[str, SellerAccount]) -> FieldMappingTemplate:
    template = FieldMappingTemplate.objects.create(name=TEMPLATE, target="erp_sales_order")
    FieldMappingRule.objects.create(template=template, source_path="amazon.IsPrime", target_field="User1")
    FieldMappingRule.objects.create(template=template, source_path="order.metadata.gift_message", target_field="User2")
    old = FieldMappingTemplate.objects.create(name="SL sales order 2025", target="erp_sales_order", is_active=False)
    FieldMappingRule.objects.create(template=old, source_path="order.metadata.campaign_id", target_field="User3")
    for n in range(3):
        Order.objects.create(
            channel=Order.Channel.ECOMMERCE, external_id=f"WEB-{n}", status=OrderStatus.CAPTURED,
            purchased_at=timezone.now(), currency="GBP", total_amount=Decimal("10.00"),
            metadata={"po_number": f"PO-{n}", "sales_rep": "JS", "ship_method": "DPD", "campaign_id": "SPRING",
                      "gift_message": "Enjoy", "utm_source": "newsletter"},
        )  # fmt: skip
    return template


# --- measuring ranking quality ---------------------------------------------------------------------------


@dataclass
class Quality:
    kind: str
    sources: int
    suggested: int
    precision_at_1: float
    recall_at_1: float
    recall_at_3: float
    confident_wrong: int


def quality(kind: str, expected: dict[str, str | None], *, show: bool = True) -> Quality:
    """Precision@1: right top targets / sources that got a suggestion (a suggestion for a source with no
    right target is wrong). Recall@k: positives whose right target is among the first k / all positives."""
    proposed: dict[str, list[MappingSuggestion]] = defaultdict(list)
    for s in MappingSuggestion.objects.filter(kind=kind, status="proposed").order_by("source_key", "rank"):
        proposed[s.source_key].append(s)
    suggested = [key for key in expected if proposed[key]]
    right_first = [key for key in suggested if proposed[key][0].target_key == expected[key]]
    positives = [key for key, target in expected.items() if target]
    in_top3 = [key for key in positives if expected[key] in {s.target_key for s in proposed[key]}]
    confident_wrong = sum(
        1 for key in suggested if proposed[key][0].confidence >= 0.5 and proposed[key][0].target_key != expected[key]
    )
    result = Quality(
        kind=kind,
        sources=len(expected),
        suggested=len(suggested),
        precision_at_1=len(right_first) / len(suggested) if suggested else 0.0,
        recall_at_1=len(right_first) / len(positives),
        recall_at_3=len(in_top3) / len(positives),
        confident_wrong=confident_wrong,
    )
    if show:
        print(f"\n== {kind}: {len(expected)} seeded sources")
        for key, target in expected.items():
            shown = proposed[key]
            top = ", ".join(f"{s.target_key} {s.confidence:.0%}" for s in shown) or "(no suggestion)"
            mark = "ok " if shown and shown[0].target_key == target else ("-- " if not target else "XX ")
            print(f"  {mark}{key!r:45} expected {target or 'nothing'!s:12} got {top}")
            if shown:
                for reason in shown[0].reasons:
                    print(f"        · {reason}")
        print(
            f"  precision@1 {result.precision_at_1:.2f}  recall@1 {result.recall_at_1:.2f}  "
            f"recall@3 {result.recall_at_3:.2f}  confident (≥50%) wrong tops: {confident_wrong}"
        )
    return result


def test_seeded_suggestions_rank_the_right_target_first(
    held_skus: dict[str, str], unmapped_settlement: Settlement, custom_fields: FieldMappingTemplate
) -> None:
    written = mapping_suggestions_refresh()
    assert written > 0
    sku = quality(SKU, {sku: target for sku, _, _, _, target in SKU_CASES})
    gl = quality(GL, {MappingSuggestion.settlement_source_key(tt, at, ad): t for tt, at, ad, _, t in GL_CASES})
    fields = quality(FIELD, {f"{TEMPLATE}: order.metadata.{key}": t for key, t in FIELD_CASES.items()})
    total_right = sum(q.precision_at_1 * q.suggested for q in (sku, gl, fields))
    total_suggested = sum(q.suggested for q in (sku, gl, fields))
    positives = sum(q.recall_at_3 for q in (sku, gl, fields))
    print(f"\nOverall precision@1 {total_right / total_suggested:.2f} over {total_suggested} suggested sources")
    for q in (sku, gl, fields):
        assert q.precision_at_1 >= 0.8, q
        assert q.recall_at_3 >= 0.9, q
        assert q.confident_wrong == 0, q
    assert positives


# --- never applied without an accept ---------------------------------------------------------------------


def test_refresh_applies_nothing_and_is_safe_to_run_twice(
    held_skus: dict[str, str], unmapped_settlement: Settlement, custom_fields: FieldMappingTemplate
) -> None:
    before = (SkuMapping.objects.count(), SettlementAccountMapping.objects.count(), FieldMappingRule.objects.count())
    first = mapping_suggestions_refresh()
    rows = sorted(MappingSuggestion.objects.values_list("kind", "source_key", "target_key", "rank", "confidence"))
    assert mapping_suggestions_refresh() == first
    assert (
        sorted(MappingSuggestion.objects.values_list("kind", "source_key", "target_key", "rank", "confidence")) == rows
    )
    after = (SkuMapping.objects.count(), SettlementAccountMapping.objects.count(), FieldMappingRule.objects.count())
    assert after == before
    assert set(MappingSuggestion.objects.values_list("status", flat=True)) == {"proposed"}
    held = Order.objects.filter(external_id__in=held_skus.values())
    assert all(o.status == OrderStatus.ON_HOLD and o.hold_code == "unknown_sku" for o in held)
    assert not JournalEntry.objects.exists()
    assert ExceptionItem.objects.filter(kind="unknown_sku", status="open").count() == len(SKU_CASES)
    assert {s.rank for s in MappingSuggestion.objects.all()} <= {1, 2, 3}


# --- accept: the mapping row, then the normal reprocess path ---------------------------------------------


def test_accept_creates_the_sku_mapping_and_releases_the_held_order(held_skus: dict[str, str]) -> None:
    mapping_suggestions_refresh(kind=SKU)
    suggestion = MappingSuggestion.objects.get(kind=SKU, source_key="TENT-2P-GRN-V2", rank=1)
    assert suggestion.target_key == "TNT-0002-GR" and not SkuMapping.objects.filter(seller_sku="TENT-2P-GRN-V2")
    item = ExceptionItem.objects.get(kind="unknown_sku", status="open", reference=held_skus["TENT-2P-GRN-V2"])

    result = mapping_suggestion_accept(suggestion=suggestion, actor="user:ops")

    mapping = SkuMapping.objects.get(seller_sku="TENT-2P-GRN-V2")
    assert (mapping.erp_item_id, mapping.seller_account, mapping.asin) == ("TNT-0002-GR", None, "B0TENTV2GN")
    assert mapping.description == "Two-person tent, green"
    order = Order.objects.get(external_id=held_skus["TENT-2P-GRN-V2"])
    assert order.status == OrderStatus.AUTHORISED and order.hold_code == ""
    assert order.lines.get().item_id == "TNT-0002-GR"
    assert order.events.filter(kind="released", actor="user:ops").exists()
    item.refresh_from_db()
    assert item.status == "resolved"
    assert (result.resolved, result.still_open, result.errors) == (1, 0, [])
    assert result.suggestion.status == "accepted" and result.suggestion.decided_by == "user:ops"
    assert "1 exception(s) resolved" in result.suggestion.outcome
    # The other orders are untouched, and the source has nothing left to propose.
    assert Order.objects.filter(hold_code="unknown_sku").count() == len(SKU_CASES) - 1
    mapping_suggestions_refresh(kind=SKU)
    assert not MappingSuggestion.objects.filter(source_key="TENT-2P-GRN-V2", status="proposed").exists()
    with pytest.raises(Exception, match="accepted: nothing to decide"):
        mapping_suggestion_accept(suggestion=suggestion, actor="user:ops")


def test_accept_for_an_sku_mapped_in_another_account_maps_it_for_this_account_only(held_skus: dict[str, str]) -> None:
    mapping_suggestions_refresh(kind=SKU)
    suggestion = MappingSuggestion.objects.get(kind=SKU, source_key="LAMP-HEAD-300", rank=1)
    assert suggestion.target_key == "LMP-H300" and suggestion.confidence > 0.9
    assert any("for seller account Acme Outdoor EU" in reason for reason in suggestion.reasons)
    mapping_suggestion_accept(suggestion=suggestion, actor="user:ops")
    rows = dict(
        SkuMapping.objects.filter(seller_sku="LAMP-HEAD-300").values_list("seller_account__name", "erp_item_id")
    )
    assert rows == {"Acme Outdoor EU": "LMP-H300", "Acme Outdoor US": "LMP-H300"}
    assert Order.objects.get(external_id=held_skus["LAMP-HEAD-300"]).hold_code == ""


def test_accept_refuses_a_source_mapped_meanwhile_and_changes_nothing(held_skus: dict[str, str]) -> None:
    mapping_suggestions_refresh(kind=SKU)
    suggestion = MappingSuggestion.objects.get(kind=SKU, source_key="FBA-SLBAG-3S", rank=1)
    SkuMapping.objects.create(seller_sku="FBA-SLBAG-3S", erp_item_id="SLB-3S-FBA")  # an operator mapped it by hand
    with pytest.raises(Exception, match="mapped already"):
        mapping_suggestion_accept(suggestion=suggestion, actor="user:ops")
    suggestion.refresh_from_db()
    assert (
        suggestion.status == "proposed"
        and SkuMapping.objects.get(seller_sku="FBA-SLBAG-3S").erp_item_id == "SLB-3S-FBA"
    )
    mapping_suggestions_refresh(kind=SKU)
    suggestion.refresh_from_db()
    assert suggestion.status == "superseded"  # the source is mapped: nothing left to decide


def test_accept_settlement_suggestion_adds_the_row_and_the_settlement_gets_its_journal(db: None) -> None:
    settlement = import_settlement(
        [
            amount_row("Order", UK_ORDER, "ItemPrice", "Principal", "49.99"),
            amount_row("other-transaction", "", "other-transaction", "FBA Long-Term Storage Fee", "-12.00"),
        ]
    )
    assert settlement.unmapped_count == 1 and not JournalEntry.objects.exists()
    item = ExceptionItem.objects.get(kind="settlement_unmapped", status="open")
    mapping_suggestions_refresh(kind=GL)
    key = "other-transaction / other-transaction / FBA Long-Term Storage Fee"
    suggestion = MappingSuggestion.objects.get(kind=GL, source_key=key, rank=1)
    assert suggestion.target_key == "5010" and suggestion.context["exception_ids"] == [item.pk]
    assert not SettlementAccountMapping.objects.filter(amount_description="FBA Long-Term Storage Fee").exists()

    result = mapping_suggestion_accept(suggestion=suggestion, actor="user:finance")

    row = SettlementAccountMapping.objects.get(amount_description="FBA Long-Term Storage Fee")
    assert (row.transaction_type, row.amount_type, row.gl_account.code) == (
        "other-transaction",
        "other-transaction",
        "5010",
    )
    settlement.refresh_from_db()
    item.refresh_from_db()
    assert settlement.unmapped_count == 0 and item.status == "resolved" and result.resolved == 1
    entry = settlement.journals.get()
    assert sum(line.debit for line in entry.lines.all()) == sum(line.credit for line in entry.lines.all())
    assert entry.lines.filter(gl_account__code="5010").exists()


def test_accept_custom_field_gives_the_waiting_rule_its_source_and_releases_the_erp_hold(
    account: SellerAccount, mapped_skus: list[str]
) -> None:
    from fulfillment.models import ErpDocument
    from fulfillment.services import erp_order_prepare

    template = FieldMappingTemplate.objects.create(name=TEMPLATE, target="erp_sales_order")
    FieldMappingRule.objects.create(template=template, target_field="CustOrdNbr", required=True)  # waits for a source
    ingest(account, [(amazon_order("202-7777777-7777777"), [amazon_item("SKU-0001")], full_address())])
    order = Order.objects.get(external_id="202-7777777-7777777")
    Order.objects.filter(pk=order.pk).update(metadata={"po_number": "PO-4711"})
    order.refresh_from_db()
    assert erp_order_prepare(order=order) is None
    order.refresh_from_db()
    assert order.hold_code == "erp_data" and "CustOrdNbr is required" in order.hold_reason

    mapping_suggestions_refresh(kind=FIELD)
    suggestion = MappingSuggestion.objects.get(kind=FIELD, source_key=f"{TEMPLATE}: order.metadata.po_number", rank=1)
    assert suggestion.target_key == "CustOrdNbr"
    assert any("without a source (required" in reason for reason in suggestion.reasons)

    result = mapping_suggestion_accept(suggestion=suggestion, actor="user:ops")

    rule = FieldMappingRule.objects.get(template=template, target_field="CustOrdNbr")
    assert rule.source_path == "order.metadata.po_number" and rule.required
    order.refresh_from_db()
    assert order.hold_code == "" and result.resolved == 1
    assert ErpDocument.objects.get(order=order).payload["CustomFields"]["CustOrdNbr"] == "PO-4711"


# --- reject: final, and it teaches -----------------------------------------------------------------------


def test_rejected_pair_is_never_proposed_again_and_counts_against_its_evidence(held_skus: dict[str, str]) -> None:
    mapping_suggestions_refresh(kind=SKU)
    wrong = MappingSuggestion.objects.get(kind=SKU, source_key="TENT-2P-GRY", rank=1)
    assert wrong.target_key == "TNT-0002-GR"  # grey is not green: the ERP has no grey tent yet
    before = mapping_suggestion_model(kind=SKU)

    mapping_suggestion_reject(suggestion=wrong, actor="user:ops", reason="No grey tent in the ERP yet")

    wrong.refresh_from_db()
    assert (wrong.status, wrong.decided_by, wrong.decision_note) == (
        "rejected",
        "user:ops",
        "No grey tent in the ERP yet",
    )
    for _ in range(2):
        mapping_suggestions_refresh(kind=SKU)
        pairs = MappingSuggestion.objects.filter(kind=SKU, source_key="TENT-2P-GRY")
        assert list(pairs.filter(target_key="TNT-0002-GR").values_list("status", flat=True)) == ["rejected"]
        assert not pairs.filter(status="proposed", target_key="TNT-0002-GR").exists()
    assert Order.objects.get(external_id=held_skus["TENT-2P-GRY"]).hold_code == "unknown_sku"
    with pytest.raises(Exception, match="nothing to decide"):
        mapping_suggestion_reject(suggestion=wrong, actor="user:ops")

    after = mapping_suggestion_model(kind=SKU)
    moved = {name: after.weight(name) - before.weight(name) for name in before.names if wrong.features.get(name)}
    print(f"\nweights moved by one rejection of {wrong}: {moved}")
    assert moved and all(delta < 0 for delta in moved.values() if delta != 0)  # its evidence now counts less
    assert after.weight("variant_conflict") < before.weight("variant_conflict")  # the conflict warned rightly


# --- learning: accepted choices move a later, similar case -----------------------------------------------


def test_accepted_choices_raise_a_later_similar_case_to_the_top(accounts: dict[str, SellerAccount]) -> None:
    """UK listings are mirrored to Amazon.de with the suffix -DE instead of -UK, and German titles. A new DE tent
    SKU has nothing but its spelling: DE against UK looks like a variant conflict, as GRY against GRN does, so
    nothing is worth proposing. After operators accepted two UK→DE cases (those had the same ASIN as their UK
    listing), the learned transform puts the right item first with a real confidence."""
    for sku, item, description, asin in [
        ("STOVE-TI-UK", "100101", "Titanium camping stove", "B0STOVETI1"),
        ("LAMP-HEAD-300-UK", "100102", "Head torch, 300 lm", "B0LAMPH300"),
        ("TENT-2P-GRN-UK", "100234", "Two-person tent, green", ""),
        ("TENT-2P-GRY-DE", "100235", "Two-person tent, grey", ""),
    ]:
        SkuMapping.objects.create(seller_sku=sku, erp_item_id=item, description=description, asin=asin)
    eu = accounts["eu"]
    held_order(eu, 1, "STOVE-TI-DE", "Titan-Campingkocher", "B0STOVETI1")
    held_order(eu, 2, "LAMP-HEAD-300-DE", "Stirnlampe 300 Lumen", "B0LAMPH300")
    held_order(eu, 3, "TENT-2P-GRN-DE", "Zwei-Personen-Zelt, grün", "B0TENTDE01")

    def tent() -> tuple[int, float, list[str]]:
        ranking = mapping_suggestion_ranking(kind=SKU, source_key="TENT-2P-GRN-DE")
        rank = next(i for i, s in enumerate(ranking, start=1) if s.candidate.target_key == "100234")
        return rank, ranking[rank - 1].confidence, [s.candidate.target_key for s in ranking]

    mapping_suggestions_refresh(kind=SKU)
    rank_before, confidence_before, order_before = tent()
    assert order_before[0] == "100235" and rank_before == 2  # the grey DE tent: one letter away
    assert not MappingSuggestion.objects.filter(source_key="TENT-2P-GRN-DE", status="proposed").exists()

    for sku in ("STOVE-TI-DE", "LAMP-HEAD-300-DE"):
        first = MappingSuggestion.objects.get(kind=SKU, source_key=sku, rank=1)
        assert first.evidence["transforms"][0] == "suffix:DE>UK" and first.features["variant_conflict"] == 1
        mapping_suggestion_accept(suggestion=first, actor="user:ops")
    mapping_suggestions_refresh(kind=SKU)

    rank_after, confidence_after, _ = tent()
    print(
        f"\nTENT-2P-GRN-DE → 100234: rank {rank_before} ({confidence_before:.1%}, not proposed) → rank {rank_after} "
        f"({confidence_after:.0%}, proposed) after 2 accepted UK→DE cases"
    )
    assert rank_after == 1 and confidence_after > confidence_before + 0.2
    top = MappingSuggestion.objects.get(kind=SKU, source_key="TENT-2P-GRN-DE", status="proposed", rank=1)
    assert top.target_key == "100234" and "variant_conflict" not in top.features
    assert any("Operators accepted 2 earlier suggestion(s)" in reason for reason in top.reasons), top.reasons
    mapping_suggestion_accept(suggestion=top, actor="user:ops")
    assert Order.objects.get(external_id="202-0000003-0000001").lines.get().item_id == "100234"


# --- the schedule, the task and the operator console -----------------------------------------------------


def test_refresh_task_is_scheduled_every_15_minutes(held_skus: dict[str, str]) -> None:
    assert ("mappings.suggestions", "mappings.tasks.mapping_suggestions_refresh_task", 15) in STATIC_SCHEDULES
    assert mapping_suggestions_refresh_task(kind=SKU).endswith("mapping suggestion(s) proposed")
    assert MappingSuggestion.objects.filter(kind=SKU).exists()


def test_admin_lists_accepts_and_rejects_with_a_reason(admin_client: Any, held_skus: dict[str, str]) -> None:
    changelist = reverse("admin:mappings_mappingsuggestion_changelist")
    response = admin_client.post(reverse("admin:mappings_mappingsuggestion_refresh"))
    assert response.status_code == 302
    page = admin_client.get(changelist + "?status=proposed&kind=sku").content.decode()
    assert "TENT-2P-GRN-V2" in page and "only by the suffix -V2" in page and "99%" in page
    assert "How much each kind of evidence counts now" in page

    item = ExceptionItem.objects.get(kind="unknown_sku", reference=held_skus["BOOTS-43"])
    exceptions = admin_client.get(reverse("admin:common_exceptionitem_changelist")).content.decode()
    assert f"?exception={item.pk}" in exceptions and "Mapping suggestions" in exceptions
    change = admin_client.get(reverse("admin:common_exceptionitem_change", args=[item.pk])).content.decode()
    assert f"?exception={item.pk}" in change
    filtered = admin_client.get(changelist + f"?exception={item.pk}").content.decode()
    assert "BOOTS-43" in filtered and "TENT-2P-GRN-V2" not in filtered

    accept = MappingSuggestion.objects.get(source_key="BOOTS-43", rank=1)
    admin_client.post(changelist, {"action": "accept_selected", "_selected_action": [accept.pk], "reason": ""})
    assert SkuMapping.objects.get(seller_sku="BOOTS-43").erp_item_id == "BTS-43"
    assert Order.objects.get(external_id=held_skus["BOOTS-43"]).hold_code == ""

    reject = MappingSuggestion.objects.get(source_key="JACKET-M-BLU", rank=1)
    admin_client.post(
        changelist, {"action": "reject_selected", "_selected_action": [reject.pk], "reason": "M blue is new"}
    )
    reject.refresh_from_db()
    assert (reject.status, reject.decision_note, reject.decided_by) == ("rejected", "M blue is new", "user:admin")
    detail = admin_client.get(reverse("admin:mappings_mappingsuggestion_change", args=[reject.pk])).content.decode()
    assert "M blue is new" in detail and "variant_conflict" in detail
    skus = admin_client.get(reverse("admin:mappings_skumapping_changelist")).content.decode()
    assert "unknown SKU(s) with suggestions" in skus and "Import" in skus


# --- the text similarity underneath ----------------------------------------------------------------------


def test_code_differences_and_abbreviations() -> None:
    assert code_difference("TENT-2P-GRN-V2", "TENT-2P-GRN").describe() == "only by the suffix -V2"  # type: ignore[union-attr]
    assert code_difference("FBA-SLBAG-3S", "SLBAG-3S").signature == "prefix:FBA>∅"  # type: ignore[union-attr]
    assert code_difference("bottle_1l", "BOTTLE-1L").op == "same"  # type: ignore[union-attr]
    assert code_difference("STOVE-TI-DE", "STOVE-TI-UK").signature == "suffix:DE>UK"  # type: ignore[union-attr]
    assert code_difference("TENT-V3", "TENT").general_signature == "suffix:V#>∅"  # type: ignore[union-attr]
    assert code_difference("COMPASS-PRO", "BOOTS-42") is None
    assert words("FBAPerUnitFulfillmentFee") == ("fba", "unit", "fulfillment", "fee")
    assert words_similarity(("tnt", "0002", "gr"), ("tent", "2p", "grn")) > 0.6  # the ERP's abbreviations
    assert words_similarity(("grey",), ("green",)) == 0.0
