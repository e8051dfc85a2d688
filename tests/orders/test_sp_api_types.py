"""The strict parsers against Amazon's own sample payloads and against broken ones."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from config.common.errors import MalformedPayloadError
from connectors.amazon.orders_types import AmazonAddress, parse_address, parse_order, parse_order_items
from orders.services.addresses import address_normalize, normalize_postal_code

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "sp_api"


def fixture(name: str) -> dict[str, Any]:
    return {k: v for k, v in json.loads((FIXTURES / name).read_text()).items() if not k.startswith("_")}


def test_official_get_orders_sample_parses() -> None:
    for name in ["getOrders_200_test_case_200.json", "getOrders_200_test_case_200_next_token.json"]:
        for raw in fixture(name)["payload"]["Orders"]:
            order = parse_order(raw)
            assert order.amazon_order_id and order.purchase_date.tzinfo is not None


def test_official_get_order_items_sample_parses() -> None:
    payload = fixture("getOrderItems_200_test_case_200.json")["payload"]
    [item] = parse_order_items(payload["OrderItems"], amazon_order_id=payload["AmazonOrderId"])
    assert item.seller_sku == "NABetaASINB00551Q3CS" and item.item_price is not None
    assert item.item_price.amount == Decimal("10.00") and item.item_price.currency == "USD"
    assert item.is_gift is False  # Amazon sends "false" as a string


def test_official_address_sample_normalizes() -> None:
    raw = fixture("getOrderAddress_200_test_case_200.json")["payload"]["ShippingAddress"]
    values = address_normalize(parse_address(raw))
    assert values["state_or_region"] == "WA" and values["postal_code"] == "98121-2778" and values["is_complete"]


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        ({"AmazonOrderId": "1"}, "PurchaseDate"),
        (
            {"AmazonOrderId": "1", "PurchaseDate": "2026-01-01T00:00:00Z", "LastUpdateDate": "2026-01-01T00:00:00"},
            "LastUpdateDate",
        ),
        ([], "Order"),
    ],
)
def test_order_parser_names_the_bad_field(raw: Any, path: str) -> None:
    with pytest.raises(MalformedPayloadError) as info:
        parse_order(raw)
    assert path in info.value.message


@pytest.mark.parametrize(
    ("country", "given", "expected"),
    [("GB", "sw1a1aa", "SW1A 1AA"), ("GB", "M1  1AE", "M1 1AE"), ("CA", "k1a0b1", "K1A 0B1"),
     ("NL", "1234ab", "1234 AB"), ("US", "981212778", "98121-2778"), ("DE", " 10115 ", "10115")],
)  # fmt: skip
def test_postal_codes(country: str, given: str, expected: str) -> None:
    assert normalize_postal_code(given, country) == expected


def test_address_lines_shift_up_and_states_become_codes() -> None:
    values = address_normalize(
        AmazonAddress(line2=" 1  Main St ", line3="Apt 2", city="Austin", state_or_region="texas", country_code="us")
    )
    assert (values["line1"], values["line2"], values["line3"]) == ("1 Main St", "Apt 2", "")
    assert (values["state_or_region"], values["country_code"], values["is_complete"]) == ("TX", "US", False)
