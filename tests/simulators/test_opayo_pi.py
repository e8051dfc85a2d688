"""The Opayo simulator's Pi REST v1 honours Opayo's documented contract (the payments code trusts it).

All tests talk HTTP to a real server (uvicorn on a free port, shared by the session; see opayo_support.py).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from simulators.opayo.control import OpayoSimulatorControl
from tests.simulators.opayo_support import (
    APPROVE,
    FIXTURES,
    STRICT_VENDOR,
    VENDOR,
    opayo_url,
    pay,
    payment_body,
    pi_client,
    tokenise,
)

GUID = re.compile(r"[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}")
NOT_ALLOWED = {"code": "1017", "description": "Operation not allowed for this transaction"}
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


def fixture(name: str) -> dict[str, Any]:
    data = json.loads((FIXTURES / "pi-json" / name).read_text())
    return {k: v for k, v in data.items() if not k.startswith("_")}


def shape(value: Any) -> Any:
    """The structure of a JSON value: keys and leaf types (int vs str matters: statusCode is a string)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    return type(value).__name__


def assert_shape_covers(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    """Every key of the recorded body exists in ours with the same leaf type."""
    for key, their_shape in shape(theirs).items():
        assert key in ours, key
        if isinstance(their_shape, dict):
            assert_shape_covers(ours[key], theirs[key])
        else:
            assert shape(ours[key]) == their_shape, key


def release(api: httpx.Client, tx_id: str, amount: Any) -> httpx.Response:
    return api.post(f"/transactions/{tx_id}/instructions", json={"instructionType": "release", "amount": amount})


def instruct(api: httpx.Client, tx_id: str, kind: str) -> httpx.Response:
    return api.post(f"/transactions/{tx_id}/instructions", json={"instructionType": kind})


def refund(api: httpx.Client, tx_id: str, code: str, amount: Any) -> httpx.Response:
    body = {
        "transactionType": "Refund",
        "referenceTransactionId": tx_id,
        "vendorTxCode": code,
        "amount": amount,
        "description": "Refund",
    }
    return api.post("/transactions", json=body)


def status_of(api: httpx.Client, tx_id: str) -> tuple[str, str, str]:
    body = api.get(f"/transactions/{tx_id}").json()
    return body["status"], body["statusCode"], body["statusDetail"]


# --- authentication ------------------------------------------------------------------------------------------


def test_missing_and_wrong_credentials_answer_401(sim: OpayoSimulatorControl, api: httpx.Client) -> None:
    base = f"{sim.base_url}/api/v1"
    missing = httpx.post(f"{base}/merchant-session-keys", json={"vendorName": "ledgerline"})
    assert missing.status_code == 401
    assert missing.json() == {"code": "1001", "description": "Authentication values are missing"}
    for auth in [(VENDOR["integration_key"], "wrong"), ("unknown", VENDOR["integration_password"])]:
        wrong = httpx.get(f"{base}/transactions/{'0' * 8}", auth=auth)
        assert wrong.status_code == 401
        assert wrong.json() == {"code": "1002", "description": "Authentication failed"}
    bearer = httpx.get(f"{base}/transactions/x", headers={"Authorization": "Bearer abc"})
    assert bearer.json()["code"] == "1002"
    assert sim.calls()["createMsk"] == {"401": 1}


def test_card_identifiers_need_a_live_merchant_session_key(sim: OpayoSimulatorControl, api: httpx.Client) -> None:
    url = f"{sim.base_url}/api/v1/card-identifiers"
    missing = httpx.post(url, json={"cardDetails": APPROVE})
    assert (missing.status_code, missing.json()["code"]) == (401, "1001")
    basic = httpx.post(url, json={"cardDetails": APPROVE}, auth=(VENDOR["integration_key"], "x"))
    assert (basic.status_code, basic.json()["code"]) == (401, "1002")
    unknown = httpx.post(url, json={"cardDetails": APPROVE}, headers={"Authorization": "Bearer NOPE"})
    assert (unknown.status_code, unknown.json()["code"]) == (401, "1002")

    msk = api.post("/merchant-session-keys", json={"vendorName": "ledgerline"}).json()["merchantSessionKey"]
    first = httpx.post(url, json={"cardDetails": APPROVE}, headers={"Authorization": f"Bearer {msk}"})
    assert first.status_code == 201
    again = httpx.post(url, json={"cardDetails": APPROVE}, headers={"Authorization": f"Bearer {msk}"})
    assert (again.status_code, again.json()["code"]) == (401, "1002"), "one card identifier per key"


def test_merchant_session_keys(sim: OpayoSimulatorControl, api: httpx.Client) -> None:
    created = api.post("/merchant-session-keys", json={"vendorName": "ledgerline"})
    assert created.status_code == 201
    body = created.json()
    assert set(body) == set(fixture("merchant_session_key_201_docs.json"))
    assert GUID.fullmatch(body["merchantSessionKey"])
    expiry = datetime.fromisoformat(body["expiry"])
    assert expiry.utcoffset() is not None and 395 < expiry.timestamp() - time.time() < 405
    assert api.get(f"/merchant-session-keys/{body['merchantSessionKey']}").json() == body

    unknown = api.get("/merchant-session-keys/M1E996F5-A9BC-41FE-B088-E5B73DB94277")
    assert unknown.status_code == 404
    assert unknown.json() == {"code": "1006", "description": "Merchant Session Keys not found"}
    missing = api.post("/merchant-session-keys", json={})
    assert missing.status_code == 422
    assert missing.json()["errors"][0] | {"clientMessage": ""} == {
        "code": "1003",
        "property": "vendorName",
        "description": "Missing mandatory field",
        "clientMessage": "",
    }
    assert api.post("/merchant-session-keys", json={"vendorName": "someoneelse"}).json()["errors"][0]["code"] == "1009"


def test_merchant_session_keys_expire_and_die_after_three_failures(
    sim: OpayoSimulatorControl, api: httpx.Client
) -> None:
    sim.settings(msk_ttl_seconds=0.3)
    msk = api.post("/merchant-session-keys", json={"vendorName": "ledgerline"}).json()["merchantSessionKey"]
    time.sleep(0.4)
    assert api.get(f"/merchant-session-keys/{msk}").status_code == 404
    url = f"{sim.base_url}/api/v1/card-identifiers"
    expired = httpx.post(url, json={"cardDetails": APPROVE}, headers={"Authorization": f"Bearer {msk}"})
    assert expired.status_code == 401

    sim.settings(msk_ttl_seconds=400)
    msk = api.post("/merchant-session-keys", json={"vendorName": "ledgerline"}).json()["merchantSessionKey"]
    bad = {**APPROVE, "cardNumber": "4929000000007"}
    for _ in range(3):
        answer = httpx.post(url, json={"cardDetails": bad}, headers={"Authorization": f"Bearer {msk}"})
        assert answer.status_code == 422
    dead = httpx.post(url, json={"cardDetails": APPROVE}, headers={"Authorization": f"Bearer {msk}"})
    assert dead.status_code == 401
    assert api.get(f"/merchant-session-keys/{msk}").status_code == 404


# --- card identifiers ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "code", "prop"),
    [
        ({"cardNumber": None}, "1003", "cardDetails.cardNumber"),
        ({"cardNumber": "4929000000007"}, "1007", "cardDetails.cardNumber"),
        ({"cardNumber": "4929-0000-0000-6"}, "1005", "cardDetails.cardNumber"),
        ({"cardholderName": "X" * 46}, "1004", "cardDetails.cardholderName"),
        ({"cardholderName": "Bob <script>"}, "1005", "cardDetails.cardholderName"),
        ({"expiryDate": "13/30"}, "1005", "cardDetails.expiryDate"),
        ({"expiryDate": "1320"}, "1005", "cardDetails.expiryDate"),
        ({"expiryDate": "0120"}, "1009", "cardDetails.expiryDate"),
        ({"securityCode": "12a"}, "1005", "cardDetails.securityCode"),
    ],
)
def test_card_identifier_validation(
    sim: OpayoSimulatorControl, api: httpx.Client, change: dict[str, Any], code: str, prop: str
) -> None:
    card = {k: v for k, v in {**APPROVE, **change}.items() if v is not None}
    msk = api.post("/merchant-session-keys", json={"vendorName": "ledgerline"}).json()["merchantSessionKey"]
    answer = httpx.post(
        f"{sim.base_url}/api/v1/card-identifiers",
        json={"cardDetails": card},
        headers={"Authorization": f"Bearer {msk}"},
    )
    assert answer.status_code == 422
    [error] = answer.json()["errors"]
    assert (error["code"], error["property"]) == (code, prop)
    assert error["description"] and error["clientMessage"]


def test_card_identifier_reports_several_errors_and_keeps_no_card_number(
    sim: OpayoSimulatorControl, api: httpx.Client
) -> None:
    msk = api.post("/merchant-session-keys", json={"vendorName": "ledgerline"}).json()["merchantSessionKey"]
    url = f"{sim.base_url}/api/v1/card-identifiers"
    headers = {"Authorization": f"Bearer {msk}"}
    answer = httpx.post(url, json={"cardDetails": {"cardholderName": "X" * 50, "expiryDate": "ab12"}}, headers=headers)
    assert [(e["code"], e["property"]) for e in answer.json()["errors"]] == [
        ("1004", "cardDetails.cardholderName"),
        ("1003", "cardDetails.cardNumber"),
        ("1005", "cardDetails.expiryDate"),
    ]
    created = httpx.post(url, json={"cardDetails": APPROVE}, headers=headers)
    assert created.status_code == 201
    assert set(created.json()) == set(fixture("card_identifier_201_docs.json"))
    assert created.json()["cardType"] == "Visa"
    paid = pay(api, "NO-PAN-1")
    everything = json.dumps([sim.cards(), sim.transactions(), paid.json(), created.json()])
    assert APPROVE["cardNumber"] not in everything and "000000006" not in everything
    assert '"123"' not in everything, "the CVV is not kept"
    [card, _] = sim.cards()
    assert card["last_four_digits"] == "0006" and card["security_code"] == "Matched"


# --- payments ------------------------------------------------------------------------------------------------


def test_payment_approved(sim: OpayoSimulatorControl, api: httpx.Client) -> None:
    answer = pay(api, "ORD-1-1", settlementReferenceText="ORD-1")
    assert answer.status_code == 201
    body = answer.json()
    assert_shape_covers(body, fixture("transaction_authorise_0000_sandbox.json") | {"transactionType": "Payment"})
    assert_shape_covers(body, fixture("transaction_payment_notauthed_2000_docs.json"))
    assert GUID.fullmatch(body["transactionId"])
    assert body["transactionType"] == "Payment"
    assert (body["status"], body["statusCode"], body["statusDetail"]) == (
        "Ok",
        "0000",
        "The Authorisation was Successful.",
    )
    assert isinstance(body["retrievalReference"], int)
    assert (body["bankResponseCode"], body["bankAuthorisationCode"]) == ("00", "999777")
    assert body["paymentMethod"]["card"] | {"cardIdentifier": "-"} == {
        "cardType": "Visa",
        "lastFourDigits": "0006",
        "expiryDate": "1239",
        "cardIdentifier": "-",
        "reusable": False,
    }
    assert body["amount"] == {"totalAmount": 1999, "saleAmount": 1999, "surchargeAmount": 0}
    assert body["currency"] == "GBP"
    assert body["avsCvcCheck"] == {
        "status": "AllMatched",
        "address": "Matched",
        "postalCode": "Matched",
        "securityCode": "Matched",
    }
    assert body["3DSecure"] == {"status": "Authenticated"}
    assert body["settlementReferenceText"] == "ORD-1"
    got = api.get(f"/transactions/{body['transactionId']}")
    assert got.status_code == 200 and got.json() == body


@pytest.mark.parametrize("number", ["4929602110085639", "5403814948608092"])
def test_decline_cards_are_not_authed(sim: OpayoSimulatorControl, api: httpx.Client, number: str) -> None:
    answer = pay(api, "DECL-1", card={**APPROVE, "cardNumber": number})
    assert answer.status_code == 201
    body = answer.json()
    assert_shape_covers(body, fixture("transaction_payment_notauthed_2000_sandbox.json"))
    assert (body["status"], body["statusCode"], body["bankResponseCode"]) == ("NotAuthed", "2000", "05")
    assert body["statusDetail"] == "The Authorisation was Declined by the bank."
    assert (
        body["additionalDeclineDetail"]
        == fixture("transaction_payment_notauthed_2000_sandbox.json")["additionalDeclineDetail"]
    )
    assert "retrievalReference" not in body and "bankAuthorisationCode" not in body
    assert body["paymentMethod"]["card"]["lastFourDigits"] == number[-4:]


def test_notauth_cardholder_fails_3d_secure_frictionlessly(sim: OpayoSimulatorControl, api: httpx.Client) -> None:
    body = pay(api, "NA-1", card={**APPROVE, "cardholderName": "NOTAUTH"}).json()
    assert (body["status"], body["statusCode"], body["3DSecure"]) == (
        "Rejected",
        "2001",
        {"status": "NotAuthenticated"},
    )
    assert body["transactionType"] == "Payment"
    disabled = pay(api, "NA-2", card={**APPROVE, "cardholderName": "NOTAUTH"}, apply3DSecure="Disable").json()
    assert (disabled["status"], disabled["3DSecure"]["status"]) == ("Ok", "NotChecked")


def test_strict_avs_vendor_rejects_mismatches(sim: OpayoSimulatorControl) -> None:
    sim.add_vendor(**STRICT_VENDOR)
    with pi_client(sim.base_url, STRICT_VENDOR) as api:
        vendor = STRICT_VENDOR["vendor_name"]
        body = payment_body(api, "EC-1", vendor=vendor)
        body["billingAddress"] = {
            "address1": "1 High Street",
            "city": "London",
            "postalCode": "EC1V 4AB",
            "country": "GB",
        }
        rejected = api.post("/transactions", json=body).json()
        assert (rejected["status"], rejected["statusCode"]) == ("Rejected", "2001")
        assert rejected["statusDetail"] == "The Authorisation was Rejected by the vendor rule-base."
        assert rejected["avsCvcCheck"]["status"] == "SecurityCodeMatchOnly"
        assert "retrievalReference" not in rejected
        postcode_only = payment_body(api, "EC-2", vendor=vendor)
        postcode_only["billingAddress"]["postalCode"] = "413"
        assert api.post("/transactions", json=postcode_only).json()["status"] == "Rejected"
        assert api.post("/transactions", json=payment_body(api, "EC-3", vendor=vendor)).json()["status"] == "Ok"
        wrong_cvv = payment_body(api, "EC-4", vendor=vendor, card={**APPROVE, "securityCode": "999"})
        assert api.post("/transactions", json=wrong_cvv).json()["status"] == "Rejected"
        body = payment_body(api, "EC-5", vendor=vendor, applyAvsCvcCheck="Disable")
        body["billingAddress"]["address1"] = "1 High Street"
        assert api.post("/transactions", json=body).json()["status"] == "Ok"
    with pi_client(sim.base_url) as relaxed:  # the default vendor does not check
        loose = payment_body(relaxed, "LOOSE-1")
        loose["billingAddress"]["address1"] = "1 High Street"
        assert relaxed.post("/transactions", json=loose).json()["status"] == "Ok"


# --- 3-D Secure challenge ------------------------------------------------------------------------------------


def start_challenge(api: httpx.Client, code: str, **kwargs: Any) -> dict[str, Any]:
    answer = pay(api, code, card={**APPROVE, "cardholderName": "CHALLENGE"}, **kwargs)
    assert answer.status_code == 202
    return dict(answer.json())


def test_challenge_completed(sim: OpayoSimulatorControl, api: httpx.Client) -> None:
    body = start_challenge(api, "3DS-OK")
    expected = {k: v for k, v in fixture("transaction_3dsv2_challenge_202_testshape.json").items() if k != "dsTranId"}
    assert set(body) == set(expected) | {"dsTransId", "acsTransId"}
    assert (body["status"], body["statusCode"]) == ("3DAuth", "2021")
    assert body["statusDetail"] == expected["statusDetail"]
    assert "transactionType" not in body
    assert body["acsUrl"] == f"{sim.base_url}/acs/{body['transactionId']}"
    assert api.get(f"/transactions/{body['transactionId']}").json()["status"] == "3DAuth"

    page = httpx.post(body["acsUrl"], data={"creq": body["cReq"], "threeDSSessionData": "T1JELTE"})
    assert page.status_code == 200 and "challenge" in page.text and "T1JELTE" in page.text
    assert httpx.post(body["acsUrl"], data={"creq": "forged"}).status_code == 400
    cres = sim.acs_answer(body["transactionId"], "Challenge")

    done = api.post(f"/transactions/{body['transactionId']}/3d-secure-challenge", json={"cRes": cres})
    assert done.status_code == 201
    final = done.json()
    assert (final["status"], final["statusCode"], final["transactionType"]) == ("Ok", "0000", "Payment")
    assert final["3DSecure"] == {"status": "Authenticated"} and isinstance(final["retrievalReference"], int)
    assert api.get(f"/transactions/{body['transactionId']}").json() == final
    again = api.post(f"/transactions/{body['transactionId']}/3d-secure-challenge", json={"cRes": cres})
    assert (again.status_code, again.json()) == (403, NOT_ALLOWED)
    assert sim.calls()["threeDSChallenge"] == {"201": 1, "403": 1}


@pytest.mark.parametrize("wrong", ["answer", "forged"])
def test_challenge_failed_has_no_transaction_type(sim: OpayoSimulatorControl, api: httpx.Client, wrong: str) -> None:
    body = start_challenge(api, "3DS-NO", transactionType="Deferred")
    cres = sim.acs_answer(body["transactionId"], "wrong word") if wrong == "answer" else "eyJmb3JnZWQiOnRydWV9"
    done = api.post(f"/transactions/{body['transactionId']}/3d-secure-challenge", json={"cRes": cres})
    assert done.status_code == 201
    final = done.json()
    assert set(fixture("transaction_3ds_failed_challenge_no_type_testshape.json")) <= set(final)
    assert "transactionType" not in final
    assert (final["status"], final["statusCode"]) == ("Rejected", "2001")
    assert final["statusDetail"] == "The Transaction was rejected because of the 3D-Authentication failed."
    assert "transactionType" not in api.get(f"/transactions/{body['transactionId']}").json()
    assert release(api, body["transactionId"], 10).json() == NOT_ALLOWED


def test_browser_form_post_gets_the_auto_posting_page(sim: OpayoSimulatorControl, api: httpx.Client) -> None:
    sca = {"notificationURL": "https://shop.example.com/3ds/notify", "browserIP": "127.0.0.1"}
    body = start_challenge(api, "3DS-FORM", strongCustomerAuthentication=sca)
    page = httpx.post(f"{body['acsUrl']}/answer", data={"answer": "challenge", "threeDSSessionData": "abc"})
    assert page.status_code == 200
    assert 'action="https://shop.example.com/3ds/notify"' in page.text and 'name="cres"' in page.text
    cres = re.search(r'name="cres" value="([^"]+)"', page.text)
    assert cres is not None
    done = api.post(f"/transactions/{body['transactionId']}/3d-secure-challenge", json={"cRes": cres.group(1)})
    assert done.json()["status"] == "Ok"


# --- deferred, release, abort, void, refund, repeat ----------------------------------------------------------


def test_deferred_release(sim: OpayoSimulatorControl, api: httpx.Client) -> None:
    deferred = pay(api, "DEF-1", amount=5000, transaction_type="Deferred").json()
    tx_id = deferred["transactionId"]
    assert (deferred["status"], deferred["transactionType"]) == ("Ok", "Deferred")
    over = release(api, tx_id, 5001)
    assert over.status_code == 403
    assert over.json() == {
        "code": "1021",
        "description": "This release amount will exceed the amount of the original transaction",
    }
    released = release(api, tx_id, 4000)
    assert released.status_code == 201
    assert set(released.json()) == set(fixture("instruction_release_201_mock.json"))
    assert released.json()["instructionType"] == "release"
    assert datetime.fromisoformat(released.json()["date"]).utcoffset() is not None
    assert status_of(api, tx_id) == ("Ok", "2004", "The Release was Successful.")
    twice = release(api, tx_id, 100)
    assert (twice.status_code, twice.json()) == (403, NOT_ALLOWED)
    assert instruct(api, tx_id, "abort").json() == NOT_ALLOWED
    listed = api.get(f"/transactions/{tx_id}/instructions").json()
    assert [i["instructionType"] for i in listed["instructions"]] == ["release"]
    inspected = sim.transaction("DEF-1")
    assert (inspected["released_amount"], inspected["captured_amount"], inspected["txstateid"]) == (4000, 4000, 16)
    assert inspected["instructions"][0]["amount"] == 4000


def test_deferred_abort(sim: OpayoSimulatorControl, api: httpx.Client) -> None:
    tx_id = pay(api, "DEF-2", transaction_type="Deferred").json()["transactionId"]
    aborted = instruct(api, tx_id, "abort")
    assert aborted.status_code == 201 and aborted.json()["instructionType"] == "abort"
    assert status_of(api, tx_id) == ("Ok", "2006", "The Abort was Successful.")
    assert release(api, tx_id, 100).json() == NOT_ALLOWED
    assert instruct(api, tx_id, "abort").json() == NOT_ALLOWED
    assert refund(api, tx_id, "DEF-2-R1", 100).json() == NOT_ALLOWED
    assert instruct(api, tx_id, "void").json() == NOT_ALLOWED


def test_void(sim: OpayoSimulatorControl, api: httpx.Client) -> None:
    tx_id = pay(api, "VOID-1").json()["transactionId"]
    voided = instruct(api, tx_id, "void")
    assert voided.status_code == 201 and voided.json()["instructionType"] == "void"
    assert status_of(api, tx_id) == ("Ok", "2005", "The Void was Successful.")
    assert instruct(api, tx_id, "void").json() == NOT_ALLOWED
    not_refundable = refund(api, tx_id, "VOID-1-R1", 100)
    assert (not_refundable.status_code, not_refundable.json()) == (403, NOT_ALLOWED)
    unreleased = pay(api, "VOID-2", transaction_type="Deferred").json()["transactionId"]
    assert instruct(api, unreleased, "void").json() == NOT_ALLOWED
    release(api, unreleased, 1000)
    assert instruct(api, unreleased, "void").status_code == 201
    declined = pay(api, "VOID-3", card=DECLINE).json()["transactionId"]
    assert instruct(api, declined, "void").json() == NOT_ALLOWED


def test_no_void_after_the_day_is_closed_or_once_refunded(sim: OpayoSimulatorControl, api: httpx.Client) -> None:
    settled = pay(api, "SETTLED-1").json()["transactionId"]
    sim.close_day()
    assert instruct(api, settled, "void").json() == NOT_ALLOWED
    assert refund(api, settled, "SETTLED-1-R1", 500).status_code == 201
    refunded = pay(api, "REFUNDED-1").json()["transactionId"]
    assert refund(api, refunded, "REFUNDED-1-R1", 100).status_code == 201
    assert instruct(api, refunded, "void").json() == NOT_ALLOWED


def test_refunds(sim: OpayoSimulatorControl, api: httpx.Client) -> None:
    tx_id = pay(api, "PAY-R", amount=1000).json()["transactionId"]
    first = refund(api, tx_id, "PAY-R-R1", 400)
    assert first.status_code == 201
    body = first.json()
    assert (body["transactionType"], body["status"], body["currency"]) == ("Refund", "Ok", "GBP")
    assert body["transactionId"] != tx_id and body["amount"]["totalAmount"] == 400
    assert refund(api, tx_id, "PAY-R-R2", 600).status_code == 201
    over = refund(api, tx_id, "PAY-R-R3", 1)
    assert over.status_code == 403
    assert over.json() == {
        "code": "1018",
        "description": "This refund amount will exceed the amount of the original transaction",
    }
    # voiding a refund gives its amount back
    assert instruct(api, body["transactionId"], "void").status_code == 201
    assert refund(api, tx_id, "PAY-R-R4", 400).status_code == 201
    assert sim.transaction(tx_id)["refunded_total"] == 1000

    deferred = pay(api, "DEF-R", amount=1000, transaction_type="Deferred").json()["transactionId"]
    unreleased = refund(api, deferred, "DEF-R-R1", 100)
    assert (unreleased.status_code, unreleased.json()) == (403, NOT_ALLOWED)
    release(api, deferred, 700)
    assert refund(api, deferred, "DEF-R-R2", 701).json()["code"] == "1018", "capped at the released amount"
    assert refund(api, deferred, "DEF-R-R3", 700).status_code == 201
    declined = pay(api, "DECL-R", card=DECLINE).json()["transactionId"]
    assert refund(api, declined, "DECL-R-R1", 100).json() == NOT_ALLOWED
    unknown = refund(api, "00000000-0000-0000-0000-000000000000", "X-R1", 100)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "1012")


def test_repeat(sim: OpayoSimulatorControl, api: httpx.Client) -> None:
    tx_id = pay(api, "PAY-REP").json()["transactionId"]
    body = {
        "transactionType": "Repeat",
        "referenceTransactionId": tx_id,
        "vendorTxCode": "PAY-REP-2",
        "amount": 2500,
        "currency": "GBP",
        "description": "Charge again",
    }
    repeated = api.post("/transactions", json=body)
    assert repeated.status_code == 201
    result = repeated.json()
    assert (result["transactionType"], result["status"], result["amount"]["totalAmount"]) == ("Repeat", "Ok", 2500)
    assert result["paymentMethod"]["card"]["lastFourDigits"] == "0006"
    assert refund(api, result["transactionId"], "PAY-REP-2-R", 2500).status_code == 201
    deferred = pay(api, "DEF-REP", transaction_type="Deferred").json()["transactionId"]
    not_released = api.post("/transactions", json={**body, "referenceTransactionId": deferred, "vendorTxCode": "R2"})
    assert not_released.json() == NOT_ALLOWED
    declined = pay(api, "DECL-REP", card=DECLINE).json()["transactionId"]
    of_declined = api.post("/transactions", json={**body, "referenceTransactionId": declined, "vendorTxCode": "R3"})
    assert of_declined.json() == NOT_ALLOWED


def test_authenticate_authorise_cancel(sim: OpayoSimulatorControl, api: httpx.Client) -> None:
    auth = pay(api, "AUTH-1", amount=1000, transaction_type="Authenticate").json()
    assert_shape_covers(auth, fixture("transaction_authenticate_2010_sandbox.json"))
    assert (auth["status"], auth["statusCode"]) == ("Authenticated", "2010")
    body = {
        "transactionType": "Authorise",
        "referenceTransactionId": auth["transactionId"],
        "vendorTxCode": "AUTH-1-A1",
        "amount": 1000,
        "description": "Capture",
    }
    captured = api.post("/transactions", json=body).json()
    assert (captured["transactionType"], captured["status"], captured["currency"]) == ("Authorise", "Ok", "GBP")
    over = api.post("/transactions", json={**body, "vendorTxCode": "AUTH-1-A2", "amount": 151})
    assert over.json() == NOT_ALLOWED, "at most 115% in total"
    assert api.post("/transactions", json={**body, "vendorTxCode": "AUTH-1-A3", "amount": 150}).status_code == 201
    cancelled = instruct(api, auth["transactionId"], "cancel")
    assert cancelled.status_code == 201 and set(cancelled.json()) == set(fixture("instruction_cancel_201_sandbox.json"))
    assert status_of(api, auth["transactionId"])[1] == "2012"
    assert instruct(api, captured["transactionId"], "cancel").json() == NOT_ALLOWED
    registered = pay(api, "AUTH-2", transaction_type="Authenticate", apply3DSecure="Disable").json()
    assert (registered["status"], registered["statusCode"]) == ("Registered", "2011")


def test_deferred_expires_after_thirty_days(sim: OpayoSimulatorControl, api: httpx.Client) -> None:
    tx_id = pay(api, "DEF-OLD", transaction_type="Deferred").json()["transactionId"]
    sim.settings(clock_offset_seconds=31 * 86400)
    assert release(api, tx_id, 100).json() == NOT_ALLOWED
    assert sim.transaction(tx_id)["txstateid"] == 27


def test_status_codes_after_instructions_are_configurable(sim: OpayoSimulatorControl, api: httpx.Client) -> None:
    sim.settings(void_status_code="2099", void_status_detail="Voided.")
    tx_id = pay(api, "CONF-1").json()["transactionId"]
    instruct(api, tx_id, "void")
    assert status_of(api, tx_id) == ("Ok", "2099", "Voided.")


# --- errors --------------------------------------------------------------------------------------------------


def test_duplicate_vendor_tx_code(sim: OpayoSimulatorControl, api: httpx.Client) -> None:
    first = pay(api, "DUP-1").json()
    again = pay(api, "DUP-1")
    assert again.status_code == 422
    assert again.json()["errors"][0] | {"clientMessage": ""} == {
        "code": "4042",
        "property": "vendorTxCode",
        "description": "The VendorTxCode has been used before for another transaction",
        "clientMessage": "",
    }
    assert refund(api, first["transactionId"], "DUP-1", 100).json()["errors"][0]["code"] == "4042"
    declined = pay(api, "DUP-2", card=DECLINE)
    assert declined.json()["status"] == "NotAuthed"
    assert pay(api, "DUP-2").status_code == 422, "a declined attempt uses its code up too"
    sim.settings(duplicate_vendortxcode_status=409, duplicate_vendortxcode_body={"code": "4042", "description": "dup"})
    configured = pay(api, "DUP-1")
    assert (configured.status_code, configured.json()) == (409, {"code": "4042", "description": "dup"})
    assert len([t for t in sim.transactions() if t["vendor_tx_code"] == "DUP-1"]) == 1


@pytest.mark.parametrize(
    ("change", "code", "prop"),
    [
        ({"amount": "1999"}, "1016", "amount"),
        ({"amount": 19.99}, "1016", "amount"),
        ({"amount": 0}, "1009", "amount"),
        ({"amount": None}, "1003", "amount"),
        ({"vendorTxCode": "X" * 41}, "1004", "vendorTxCode"),
        ({"vendorTxCode": "ORD 1/2"}, "1005", "vendorTxCode"),
        ({"description": None}, "1003", "description"),
        ({"description": "D" * 101}, "1004", "description"),
        ({"currency": "XXX"}, "1010", "currency"),
        ({"currency": None}, "1003", "currency"),
        ({"settlementReferenceText": "S" * 31}, "1004", "settlementReferenceText"),
        ({"customerFirstName": "F" * 21}, "1004", "customerFirstName"),
        ({"customerLastName": None}, "1003", "customerLastName"),
        ({"transactionType": "Sale"}, "1009", "transactionType"),
        ({"billingAddress": None}, "1003", "billingAddress"),
        ({"paymentMethod": {"card": {"merchantSessionKey": "x", "cardIdentifier": "y"}}}, "1011", None),
    ],
)
def test_transaction_validation(
    sim: OpayoSimulatorControl, api: httpx.Client, change: dict[str, Any], code: str, prop: str | None
) -> None:
    body = {k: v for k, v in {**payment_body(api, "VAL-1"), **change}.items() if v is not None}
    answer = api.post("/transactions", json=body)
    assert answer.status_code == 422
    errors = answer.json()["errors"]
    assert errors[0]["code"] == code
    if prop is not None:
        assert [e["property"] for e in errors] == [prop]
    assert all(e["description"] and e["clientMessage"] for e in errors)
    assert pay(api, "VAL-1").status_code == 201, "a rejected request does not use the vendorTxCode up"


def test_malformed_requests(sim: OpayoSimulatorControl, api: httpx.Client) -> None:
    empty = api.post("/transactions", content=b"", headers={"Content-Type": "application/json"})
    assert (empty.status_code, empty.json()["errors"][0]["code"]) == (422, "1015")
    garbage = api.post("/transactions", content=b"{not json", headers={"Content-Type": "application/json"})
    assert (garbage.status_code, garbage.json()) == (400, {"code": "1000", "description": "Incorrect request format"})
    several = api.post("/transactions", json={"transactionType": "Payment", "amount": "1"})
    assert {e["property"] for e in several.json()["errors"]} >= {"vendorTxCode", "amount", "currency", "description"}


def test_card_identifiers_are_single_use(sim: OpayoSimulatorControl, api: httpx.Client) -> None:
    body = payment_body(api, "ONCE-1")
    assert api.post("/transactions", json=body).status_code == 201
    reused = api.post("/transactions", json={**body, "vendorTxCode": "ONCE-2"})
    assert reused.status_code == 422
    assert [e["code"] for e in reused.json()["errors"]] == ["1011"]


def test_unknown_transaction_and_instruction_errors(sim: OpayoSimulatorControl, api: httpx.Client) -> None:
    missing = api.get("/transactions/00000000-0000-0000-0000-000000000000")
    assert (missing.status_code, missing.json()) == (404, {"code": "1012", "description": "Transaction not found"})
    assert instruct(api, "nope", "void").status_code == 404
    tx_id = pay(api, "INS-1", transaction_type="Deferred").json()["transactionId"]
    none_yet = api.get(f"/transactions/{tx_id}/instructions")
    assert (none_yet.status_code, none_yet.json()["code"]) == (404, "1019")
    bad = api.post(f"/transactions/{tx_id}/instructions", json={"instructionType": "refund"})
    assert (bad.status_code, bad.json()["errors"][0]["code"]) == (422, "1009")
    no_amount = api.post(f"/transactions/{tx_id}/instructions", json={"instructionType": "release"})
    assert no_amount.status_code == 422
    assert (no_amount.json()["errors"][0]["code"], no_amount.json()["errors"][0]["property"]) == ("1003", "amount")
    text_amount = release(api, tx_id, "10")
    assert text_amount.json()["errors"][0]["code"] == "1016"
    sim.add_vendor(**STRICT_VENDOR)
    with pi_client(sim.base_url, STRICT_VENDOR) as other:
        assert other.get(f"/transactions/{tx_id}").status_code == 404, "another vendor's transaction"


def test_tokenise_helper_matches_the_docs(sim: OpayoSimulatorControl, api: httpx.Client) -> None:
    ids = tokenise(api)
    assert GUID.fullmatch(ids["cardIdentifier"]) and GUID.fullmatch(ids["merchantSessionKey"])
