"""Our Opayo parsers and signatures against Opayo's own samples and verified vectors."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest

from payments.clients.opayo import parse_transaction, reporting_signature, server_notification_signature
from payments.clients.opayo_types import from_minor_units, to_minor_units

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "opayo"


def body(name: str) -> dict[str, Any]:
    return {k: v for k, v in json.loads((FIXTURES / name).read_text()).items() if not k.startswith("_")}


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        (Decimal("19.99"), "GBP", 1999),
        (Decimal("1"), "JPY", 1),
        (Decimal("0.10"), "EUR", 10),
        (Decimal("1.234"), "BHD", 1234),
    ],
)
def test_minor_units_round_trip(amount: Decimal, currency: str, minor: int) -> None:
    assert to_minor_units(amount, currency) == minor
    assert from_minor_units(minor, currency) == amount


def test_money_is_never_rounded() -> None:
    with pytest.raises(ValueError, match="more decimal places"):
        to_minor_units(Decimal("19.999"), "GBP")
    with pytest.raises(ValueError):
        from_minor_units("19.99", "GBP")
    with pytest.raises(ValueError):
        from_minor_units(True, "GBP")


def test_sandbox_decline_is_a_result() -> None:
    tx = parse_transaction(body("transaction_payment_notauthed_2000_sandbox.json"), 201)
    assert (tx.status, tx.status_code, tx.bank_response_code) == ("NotAuthed", "2000", "05")
    assert tx.amount == Decimal("19.99") and tx.last_four_digits == "5639" and tx.decline_detail == "DECLINED"
    assert not tx.succeeded


def test_sandbox_authorise_reads_numeric_retrieval_reference() -> None:
    tx = parse_transaction(body("transaction_authorise_0000_sandbox.json"), 201)
    assert tx.succeeded and tx.retrieval_reference == "30416886" and tx.three_d_secure_status == "Authenticated"


def test_challenge_drops_the_3ds_blob() -> None:
    tx = parse_transaction(body("transaction_3dsv2_challenge_202_testshape.json"), 202, currency_hint="GBP")
    assert tx.needs_customer and tx.acs_url and tx.amount is None
    assert "cReq" not in tx.raw


def test_get_after_void_shows_2005() -> None:
    tx = parse_transaction(body("get_transaction_voided_2005_mock.json"), 200)
    assert (tx.status, tx.status_code) == ("Ok", "2005")


@pytest.mark.parametrize("vector", ["vector1_omnipay", "vector2_synthetic"])
def test_server_notification_signature_vectors(vector: str) -> None:
    fields = dict(parse_qsl((FIXTURES / f"{vector}_post.form").read_text().strip(), keep_blank_values=True))
    meta = json.loads((FIXTURES / f"{vector}_meta.json").read_text())
    vendor = meta["vendor_name_used_in_hash"].split(" ")[0]
    expected = fields["VPSSignature"].upper()
    assert server_notification_signature(fields, vendor_name=vendor, security_key=meta["security_key"]) == expected


def test_reporting_signature_vectors() -> None:
    for vector in json.loads((FIXTURES / "signature_vectors.json").read_text())["vectors"]:
        signed = vector["signed_string"]
        inner, _, rest = signed.partition("<password>")
        password = rest.removesuffix("</password>")
        assert reporting_signature(inner, password) == vector["md5"]
