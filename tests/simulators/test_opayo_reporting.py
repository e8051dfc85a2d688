"""The Opayo simulator's Reporting & Admin API (MD5-signed XML) and daily settlement batches, over real HTTP."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

import httpx
import pytest

from simulators.opayo.control import OpayoSimulatorControl
from simulators.opayo.signing import reporting_signature
from tests.simulators.opayo_support import (
    APPROVE,
    FIXTURES,
    STRICT_VENDOR,
    VENDOR,
    money,
    opayo_url,
    pay,
    payment_body,
    pi_client,
    reporting,
    signed_request,
)

UK_TIME = re.compile(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}:\d{2}")
UK_TIME_MS = re.compile(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}:\d{2}\.\d{3}")
LONDON = ZoneInfo("Europe/London")
DECLINE = {**APPROVE, "cardNumber": "4929602110085639"}


@pytest.fixture
def sim() -> Iterator[OpayoSimulatorControl]:
    with OpayoSimulatorControl(opayo_url()) as control:
        control.reset()
        control.add_vendor(**VENDOR)
        yield control
        control.reset()


@pytest.fixture
def api(sim: OpayoSimulatorControl) -> Iterator[httpx.Client]:
    with pi_client(sim.base_url) as client:
        yield client


def detail(base_url: str, **by: str) -> dict[str, str]:
    [(name, value)] = by.items()
    root = reporting(base_url, "getTransactionDetail", f"<{name}>{escape(value)}</{name}>")
    return {child.tag: child.text or "" for child in root}


def uk_range(days: int = 0) -> str:
    today = datetime.now(LONDON).date()
    start, end = today - timedelta(days=days), today + timedelta(days=1)
    return f"<startdate>{start:%d/%m/%Y} 00:00:00</startdate><enddate>{end:%d/%m/%Y} 23:59:59</enddate>"


def refund(api: httpx.Client, tx_id: str, code: str, amount: int) -> dict[str, Any]:
    body = {
        "transactionType": "Refund",
        "referenceTransactionId": tx_id,
        "vendorTxCode": code,
        "amount": amount,
        "description": "Refund",
    }
    answer = api.post("/transactions", json=body)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def instruct(api: httpx.Client, tx_id: str, kind: str, **extra: Any) -> None:
    answer = api.post(f"/transactions/{tx_id}/instructions", json={"instructionType": kind, **extra})
    assert answer.status_code == 201, answer.text


# --- signatures ----------------------------------------------------------------------------------------------


def test_signature_function_reproduces_the_published_vectors() -> None:
    vectors = json.loads((FIXTURES / "reporting-api" / "signature_vectors.json").read_text())["vectors"]
    for vector in vectors:
        inner, _, password = vector["signed_string"].rpartition("<password>")
        assert reporting_signature(inner, password.removesuffix("</password>")) == vector["md5"]


def test_fixture_request_is_accepted_and_a_tampered_one_refused(sim: OpayoSimulatorControl) -> None:
    sim.add_vendor(
        vendor_name="myvendor",
        integration_key="k",
        integration_password="p",
        reporting_user="reportuser",
        reporting_password="S3cret!",
    )
    raw = (FIXTURES / "reporting-api" / "request_getBatchList_synthetic.txt").read_text().strip()
    url = f"{sim.base_url}/access/access.htm"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    accepted = httpx.post(url, content=raw.encode(), headers=headers)  # sent unencoded, as the fixture shows it
    assert accepted.status_code == 200
    root = ET.fromstring(accepted.content)
    assert root.findtext("errorcode") == "0000" and UK_TIME.fullmatch(root.findtext("timestamp") or "")
    assert root.find("batches") is not None
    upper = raw.replace("01e04b1f9830ab404f8d558964a22115", "01E04B1F9830AB404F8D558964A22115")
    assert ET.fromstring(httpx.post(url, content=upper.encode(), headers=headers).content).findtext("errorcode") == (
        "0000"
    )
    tampered = raw.replace("01/12/2024 23:59:59", "02/12/2024 23:59:59")
    refused = ET.fromstring(httpx.post(url, content=tampered.encode(), headers=headers).content)
    assert [child.tag for child in refused] == ["errorcode", "error", "timestamp"]
    assert refused.findtext("errorcode") == "0010"
    assert refused.findtext("error") == "Cannot validate the signature value."
    assert sim.calls()["reporting:getBatchList"] == {"200": 3}


def test_escaped_password_and_upper_case_signatures_are_accepted(sim: OpayoSimulatorControl) -> None:
    """Clients that XML-escape the password inside <password> (as payments.clients.opayo does) sign fine too."""
    url = f"{sim.base_url}/access/access.htm"
    for password in (VENDOR["reporting_password"], escape(VENDOR["reporting_password"])):
        for upper in (False, True):
            xml = signed_request(
                "getBatchList",
                uk_range(),
                vendor=VENDOR["vendor_name"],
                user=VENDOR["reporting_user"],
                password=password,
                upper=upper,
            )
            root = ET.fromstring(httpx.post(url, data={"XML": xml}).content)
            assert root.findtext("errorcode") == "0000"


@pytest.mark.parametrize(
    ("xml", "code"),
    [
        ("<vspaccess><command>getBatchList", "0001"),
        ("<other><command>getBatchList</command></other>", "0002"),
        (signed_request("getBatchList", "", vendor="ledgerline", user="nobody", password="x"), "0008"),
        (signed_request("getBatchList", "", vendor="unknown", user="reportuser", password="x"), "0008"),
        (signed_request("getCardType", "", vendor="ledgerline", user="reportuser", password="S3cret!&<pw>"), "0013"),
        (
            "<vspaccess><command>getBatchList</command><vendor>ledgerline</vendor><user>reportuser</user></vspaccess>",
            "0010",
        ),
    ],
)
def test_request_errors(sim: OpayoSimulatorControl, xml: str, code: str) -> None:
    answer = httpx.post(f"{sim.base_url}/access/access.htm", data={"XML": xml})
    assert answer.status_code == 200
    assert ET.fromstring(answer.content).findtext("errorcode") == code


# --- getTransactionDetail ------------------------------------------------------------------------------------


def test_transaction_detail_by_vendor_tx_code_and_by_vps_tx_id(sim: OpayoSimulatorControl, api: httpx.Client) -> None:
    paid = pay(api, "ORD-000123-1", amount=5997, settlementReferenceText="ORD-000123").json()
    by_code = detail(sim.base_url, vendortxcode="ORD-000123-1")
    assert by_code["errorcode"] == "0000"
    assert by_code["vpstxid"] == paid["transactionId"]
    assert (by_code["vendortxcode"], by_code["transactiontype"], by_code["txstateid"]) == (
        "ORD-000123-1",
        "Payment",
        "16",
    )
    assert by_code["status"] == "Successfully authorised transaction."
    assert (by_code["amount"], by_code["currency"]) == ("59.97", "GBP")
    assert Decimal(by_code["amount"]) == Decimal("59.97")
    assert UK_TIME_MS.fullmatch(by_code["started"]) and UK_TIME_MS.fullmatch(by_code["completed"])
    assert by_code["vpsauthcode"] == str(paid["retrievalReference"])
    assert (by_code["bankauthcode"], by_code["last4digits"], by_code["cardtype"]) == ("999777", "0006", "VISA")
    assert (by_code["refunded"], by_code["authprocessor"]) == ("NO", "Elavon")
    assert "batchid" not in by_code
    assert detail(sim.base_url, vpstxid=paid["transactionId"]) | {"timestamp": ""} == by_code | {"timestamp": ""}
    braced = detail(sim.base_url, vpstxid="{" + paid["transactionId"].lower() + "}")
    assert braced["vendortxcode"] == "ORD-000123-1"
    camel = reporting(sim.base_url, "getTransactionDetail", "<vendorTxCode>ORD-000123-1</vendorTxCode>")
    assert camel.findtext("vpstxid") == paid["transactionId"], "the element name's case does not matter"

    refund(api, paid["transactionId"], "ORD-000123-R1", 1000)
    assert detail(sim.base_url, vendortxcode="ORD-000123-1")["refunded"] == "YES"
    refunded = detail(sim.base_url, vendortxcode="ORD-000123-R1")
    assert (refunded["transactiontype"], refunded["amount"], refunded["relatedvendortxcode"]) == (
        "Refund",
        "10.00",
        "ORD-000123-1",
    )
    [batch] = sim.close_day()
    assert detail(sim.base_url, vendortxcode="ORD-000123-1")["batchid"] == str(batch["batch_id"])


def test_transaction_states(sim: OpayoSimulatorControl, api: httpx.Client) -> None:
    sim.add_vendor(**{**STRICT_VENDOR, "reporting_user": "", "reporting_password": ""})
    deferred = pay(api, "ST-DEF", amount=1000, transaction_type="Deferred").json()["transactionId"]
    assert detail(sim.base_url, vendortxcode="ST-DEF")["txstateid"] == "14"
    instruct(api, deferred, "release", amount=600)
    released = detail(sim.base_url, vendortxcode="ST-DEF")
    assert (released["txstateid"], released["amount"]) == ("16", "6.00")
    aborted = pay(api, "ST-ABORT", transaction_type="Deferred").json()["transactionId"]
    instruct(api, aborted, "abort")
    voided = pay(api, "ST-VOID").json()["transactionId"]
    instruct(api, voided, "void")
    pay(api, "ST-DECL", card=DECLINE)
    pay(api, "ST-NOTAUTH", card={**APPROVE, "cardholderName": "NOTAUTH"})
    pay(api, "ST-3DS", card={**APPROVE, "cardholderName": "CHALLENGE"})
    expected = {"ST-ABORT": "19", "ST-VOID": "18", "ST-DECL": "12", "ST-NOTAUTH": "10", "ST-3DS": "5"}
    assert {code: detail(sim.base_url, vendortxcode=code)["txstateid"] for code in expected} == expected
    declined = detail(sim.base_url, vendortxcode="ST-DECL")
    assert (declined["status"], declined["declinecode"], declined["vpsauthcode"]) == (
        "Transaction DECLINED by the bank (NOTAUTHED).",
        "05",
        "",
    )


def test_transaction_detail_not_found(sim: OpayoSimulatorControl, api: httpx.Client) -> None:
    pay(api, "EXISTS-1")
    missing = reporting(sim.base_url, "getTransactionDetail", "<vendortxcode>NOPE-1</vendortxcode>")
    assert (missing.findtext("errorcode"), missing.findtext("error")) == (
        "0043",
        "Unable to find the transaction for the vendortxcode or vpstxid supplied.",
    )
    assert reporting(sim.base_url, "getTransactionDetail").findtext("errorcode") == "0042"
    sim.settings(reporting_not_found_code="2015", reporting_not_found_error="INVALID STATUS")
    configured = reporting(sim.base_url, "getTransactionDetail", "<vpstxid>00000000-0000</vpstxid>")
    assert (configured.findtext("errorcode"), configured.findtext("error")) == ("2015", "INVALID STATUS")
    sim.add_vendor(**STRICT_VENDOR)
    other = reporting(
        sim.base_url, "getTransactionDetail", "<vendortxcode>EXISTS-1</vendortxcode>", vendor=STRICT_VENDOR
    )
    assert other.findtext("errorcode") == "2015", "another vendor's transactions are invisible"


# --- getTransactionList --------------------------------------------------------------------------------------


def test_transaction_list_pages(sim: OpayoSimulatorControl, api: httpx.Client) -> None:
    ids = [pay(api, f"LIST-{n}", amount=100 + n).json()["transactionId"] for n in range(7)]
    seen: list[str] = []
    start = 1
    while True:
        root = reporting(
            sim.base_url, "getTransactionList", uk_range() + f"<startrow>{start}</startrow><endrow>{start + 2}</endrow>"
        )
        page = root.find("transactions")
        assert page is not None and page.findtext("totalrows") == "7"
        rows = page.findall("transaction")
        assert [r.findtext("rownumber") for r in rows] == [str(n) for n in range(start, start + len(rows))]
        seen += [r.findtext("vpstxid") or "" for r in rows]
        if int(page.findtext("endrow") or 0) >= 7:
            break
        start += 3
    assert seen == ids
    first = reporting(sim.base_url, "getTransactionList", uk_range()).find("transactions/transaction")
    assert first is not None
    assert {c.tag for c in first} >= {
        "rownumber", "vpstxid", "vendortxcode", "transactiontype", "result", "currency", "amount", "started",
    }  # fmt: skip
    assert (first.findtext("result"), first.findtext("amount"), first.findtext("transactiontype")) == (
        "SUCCESS",
        "1.00",
        "Payment",
    )
    tomorrow = datetime.now(LONDON).date() + timedelta(days=2)
    later = f"<startdate>{tomorrow:%d/%m/%Y} 00:00:00</startdate><enddate>{tomorrow:%d/%m/%Y} 23:59:59</enddate>"
    assert reporting(sim.base_url, "getTransactionList", later).findtext("transactions/totalrows") == "0"


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ("<startdate>02/01/2026 00:00:00</startdate><enddate>01/01/2026 00:00:00</enddate>", "0038"),
        ("<startdate>01/01/2026 00:00:00</startdate><enddate>15/02/2026 00:00:00</enddate>", "0039"),
        ("<startdate>yesterday</startdate><enddate>01/01/2026 00:00:00</enddate>", "0019"),
        ("<startdate>01/01/2026 00:00:00</startdate><enddate>02/01/2026 00:00:00</enddate><startrow>1</startrow>"
         "<endrow>52</endrow>", "0099"),
    ],
)  # fmt: skip
def test_transaction_list_rejects_bad_ranges(sim: OpayoSimulatorControl, params: str, code: str) -> None:
    assert reporting(sim.base_url, "getTransactionList", params).findtext("errorcode") == code


# --- settlement batches --------------------------------------------------------------------------------------


def batch_groups(batch: ET.Element) -> dict[str, dict[str, Any]]:
    return {
        g.findtext("currency") or "": {
            "payments": int(g.findtext("paymentnumber") or 0),
            "payment_value": money(g.findtext("paymentvalue")),
            "refunds": int(g.findtext("refundnumber") or 0),
            "refund_value": money(g.findtext("refundvalue")),
        }
        for g in batch.findall("transactiongroups/transactiongroup")
    }


def test_batches_after_close_day(sim: OpayoSimulatorControl, api: httpx.Client) -> None:
    gbp = [pay(api, f"B-GBP-{n}", amount=1999).json()["transactionId"] for n in range(3)]
    eur = pay(api, "B-EUR-1", amount=12050, currency="EUR").json()["transactionId"]
    deferred = pay(api, "B-DEF", amount=5000, transaction_type="Deferred").json()["transactionId"]
    instruct(api, deferred, "release", amount=3333)
    pay(api, "B-DEF-OPEN", amount=700, transaction_type="Deferred")
    voided = pay(api, "B-VOID", amount=900).json()["transactionId"]
    instruct(api, voided, "void")
    pay(api, "B-DECL", amount=800, card=DECLINE)
    refund(api, gbp[0], "B-GBP-0-R", 1999)
    refund(api, eur, "B-EUR-1-R", 2050)
    today = datetime.now(LONDON).date()

    [made] = sim.close_day()
    assert made["date"] == today.isoformat() and made["authprocessorname"] == "Elavon"
    root = reporting(sim.base_url, "getBatchList", uk_range())
    [batch] = root.findall("batches/batch")
    assert batch.findtext("batchid") == str(made["batch_id"])
    assert batch.findtext("authprocessorname") == "Elavon"
    assert UK_TIME_MS.fullmatch(batch.findtext("completed") or "")
    assert batch_groups(batch) == {
        "GBP": {
            "payments": 4,
            "payment_value": Decimal("19.99") * 3 + Decimal("33.33"),
            "refunds": 1,
            "refund_value": Decimal("19.99"),
        },
        "EUR": {"payments": 1, "payment_value": Decimal("120.50"), "refunds": 1, "refund_value": Decimal("20.50")},
    }

    rows: list[ET.Element] = []
    start = 1
    while True:
        page = reporting(
            sim.base_url,
            "getBatchDetail",
            f"<batchid>{made['batch_id']}</batchid><authprocessor>Elavon</authprocessor>"
            f"<startrow>{start}</startrow><endrow>{start + 1}</endrow>",
        )
        found = page.findall("transactions/transaction")
        rows += found
        assert page.findtext("transactions/totalrows") == "7"
        if start + 2 > 7:
            break
        start += 2
    by_code = {r.findtext("vendortxcode"): r for r in rows}
    assert set(by_code) == {"B-GBP-0", "B-GBP-1", "B-GBP-2", "B-EUR-1", "B-DEF", "B-GBP-0-R", "B-EUR-1-R"}
    assert (by_code["B-DEF"].findtext("amount"), by_code["B-DEF"].findtext("transactiontype")) == ("33.33", "Deferred")
    assert (by_code["B-EUR-1-R"].findtext("transactiontype"), by_code["B-EUR-1-R"].findtext("currency")) == (
        "Refund",
        "EUR",
    )
    assert {c.tag for c in rows[0]} >= {"vpstxid", "vendortxcode", "transactiontype", "amount", "currency", "started"}
    nets: dict[str, Decimal] = {}
    for row in rows:
        sign = -1 if row.findtext("transactiontype") == "Refund" else 1
        nets[row.findtext("currency") or ""] = nets.get(row.findtext("currency") or "", Decimal(0)) + sign * money(
            row.findtext("amount")
        )
    groups = batch_groups(batch)
    assert nets == {c: g["payment_value"] - g["refund_value"] for c, g in groups.items()}

    other = reporting(
        sim.base_url, "getBatchDetail", f"<batchid>{made['batch_id']}</batchid><authprocessor>Barclays</authprocessor>"
    )
    assert other.findtext("transactions/totalrows") == "0"
    unknown = reporting(sim.base_url, "getBatchDetail", "<batchid>1</batchid>")
    assert (unknown.findtext("errorcode"), unknown.findtext("transactions/totalrows")) == ("0000", "0")
    assert sim.close_day() == [], "nothing left to settle"
    late = pay(api, "B-LATE", amount=100).json()["transactionId"]
    [second] = sim.close_day()
    assert second["transaction_ids"] == [late]


def test_failed_file_gives_an_empty_batch_and_resends(sim: OpayoSimulatorControl, api: httpx.Client) -> None:
    tx_id = pay(api, "FAIL-1", amount=2500).json()["transactionId"]
    [failed] = sim.close_day(fail=True)
    assert failed["failed"] is True and failed["transaction_ids"] == [] and failed["groups"] == []
    listed = reporting(sim.base_url, "getBatchList", uk_range()).findall("batches/batch")
    assert [b.findtext("batchid") for b in listed] == [str(failed["batch_id"])]
    assert batch_groups(listed[0]) == {}
    assert "batchid" not in detail(sim.base_url, vendortxcode="FAIL-1")
    assert sim.transaction(tx_id)["settleable"] is True
    tomorrow = (datetime.now(LONDON).date() + timedelta(days=1)).isoformat()
    [resent] = sim.close_day(tomorrow)
    assert resent["transaction_ids"] == [tx_id] and resent["groups"][0]["payment_value"] == "25.00"


def test_close_day_settles_only_up_to_that_day(sim: OpayoSimulatorControl, api: httpx.Client) -> None:
    sim.settings(clock_offset_seconds=-2 * 86400)
    old = pay(api, "OLD-1").json()["transactionId"]
    sim.settings(clock_offset_seconds=0)
    new = pay(api, "NEW-1").json()["transactionId"]
    two_days_ago = (datetime.now(LONDON).date() - timedelta(days=2)).isoformat()
    [batch] = sim.close_day(two_days_ago, completed=f"{two_days_ago}T23:59:59")
    assert batch["transaction_ids"] == [old]
    assert sim.transaction(new)["batch_id"] is None
    start = date.fromisoformat(two_days_ago)
    window = f"<startdate>{start:%d/%m/%Y} 00:00:00</startdate><enddate>{start:%d/%m/%Y} 23:59:59</enddate>"
    assert len(reporting(sim.base_url, "getBatchList", window).findall("batches/batch")) == 1


# --- recovery after a timeout --------------------------------------------------------------------------------


def test_timeout_after_commit_leaves_a_transaction_to_find(sim: OpayoSimulatorControl, api: httpx.Client) -> None:
    sim.add_fault(operation="createTransaction", kind="timeout_after_commit", seconds=1.5, times=1)
    body = payment_body(api, "TIMEOUT-1", amount=4200)
    with pytest.raises(httpx.ReadTimeout):
        api.post("/transactions", json=body, timeout=0.5)
    found = detail(sim.base_url, vendortxcode="TIMEOUT-1")
    assert (found["errorcode"], found["txstateid"], found["amount"]) == ("0000", "16", "42.00")
    got = api.get(f"/transactions/{found['vpstxid']}")
    assert got.status_code == 200 and got.json()["status"] == "Ok"
    resent = api.post("/transactions", json=payment_body(api, "TIMEOUT-1", amount=4200))
    assert resent.json()["errors"][0]["code"] == "4042", "sending again would have been a duplicate"
    assert sim.transaction("TIMEOUT-1")["transaction_id"] == found["vpstxid"]


def test_timeout_after_commit_on_an_instruction(sim: OpayoSimulatorControl, api: httpx.Client) -> None:
    tx_id = pay(api, "TIMEOUT-2").json()["transactionId"]
    sim.add_fault(operation="instruction", kind="timeout_after_commit", seconds=1.0, times=1)
    with pytest.raises(httpx.ReadTimeout):
        api.post(f"/transactions/{tx_id}/instructions", json={"instructionType": "void"}, timeout=0.3)
    assert api.get(f"/transactions/{tx_id}").json()["statusCode"] == "2005"
    assert detail(sim.base_url, vpstxid=tx_id)["txstateid"] == "18"
