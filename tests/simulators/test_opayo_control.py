"""The Opayo simulator's control API: checkout, faults, calls, settings, reset, and the module entry point."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from simulators.opayo.control import OpayoSimulatorControl, SimulatorControlError
from tests.simulators.opayo_support import STRICT_VENDOR, VENDOR, opayo_url, pay, pi_client, reporting, signed_request


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


def checkout(sim: OpayoSimulatorControl, code: str, **kwargs: Any) -> dict[str, Any]:
    return sim.checkout(vendor_name="ledgerline", amount=kwargs.pop("amount", 5997), vendor_tx_code=code, **kwargs)


# --- checkout ------------------------------------------------------------------------------------------------


def test_checkout_plays_shop_and_browser(sim: OpayoSimulatorControl, api: httpx.Client) -> None:
    ok = checkout(sim, "CO-1", transaction_type="Deferred", settlement_reference_text="CO-1")
    assert (ok["status"], ok["transactionType"], ok["settlementReferenceText"]) == ("Ok", "Deferred", "CO-1")
    assert api.get(f"/transactions/{ok['transactionId']}").json() == ok
    declined = checkout(sim, "CO-2", card="decline")
    assert (declined["status"], declined["statusCode"]) == ("NotAuthed", "2000")
    notauth = checkout(sim, "CO-3", card="notauth")
    assert (notauth["status"], notauth["3DSecure"]["status"]) == ("Rejected", "NotAuthenticated")
    challenge = checkout(sim, "CO-4", card="challenge")
    assert challenge["status"] == "3DAuth"
    cres = sim.acs_answer(challenge["transactionId"])
    done = api.post(f"/transactions/{challenge['transactionId']}/3d-secure-challenge", json={"cRes": cres}).json()
    assert done["status"] == "Ok"
    amex = checkout(sim, "CO-5", card="approve_amex", currency="EUR", amount=100)
    assert (amex["paymentMethod"]["card"]["cardType"], amex["avsCvcCheck"]["securityCode"]) == (
        "AmericanExpress",
        "Matched",
    )
    assert sim.calls() == {
        "getTransaction": {"200": 1},
        "threeDSChallenge": {"201": 1},
    }, "checkout plays the other side: not counted as our calls"


def test_checkout_errors_are_raised(sim: OpayoSimulatorControl) -> None:
    checkout(sim, "CO-DUP")
    with pytest.raises(SimulatorControlError) as duplicate:
        checkout(sim, "CO-DUP")
    assert duplicate.value.status == 422 and "4042" in duplicate.value.text
    with pytest.raises(SimulatorControlError) as invalid:
        checkout(sim, "CO-STR", amount="59.97")
    assert invalid.value.status == 422 and "1016" in invalid.value.text
    with pytest.raises(SimulatorControlError) as unknown:
        sim.checkout(vendor_name="nobody", amount=1, vendor_tx_code="X")
    assert unknown.value.status == 400
    with pytest.raises(SimulatorControlError):
        checkout(sim, "CO-CARD", card="4929000000006")


def test_checkout_with_a_strict_vendor(sim: OpayoSimulatorControl) -> None:
    sim.add_vendor(**STRICT_VENDOR)
    ok = sim.checkout(vendor_name="ledgerlineEC", amount=100, vendor_tx_code="EC-CO-1")
    assert ok["status"] == "Ok", "checkout's default billing address passes AVS"
    rejected = sim.checkout(
        vendor_name="ledgerlineEC",
        amount=100,
        vendor_tx_code="EC-CO-2",
        billing_address={"address1": "1 High St", "city": "Leeds", "postalCode": "LS1 1AA", "country": "GB"},
    )
    assert rejected["status"] == "Rejected"


# --- faults --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, {"code": "9999", "description": "An internal error occurred at Sage Pay"}),
        (408, {"code": "9998", "description": "Request timeout"}),
        (502, {"code": "9999", "description": "Bad Gateway: an issue occurred at Sage Pay"}),
        (503, {"code": "9999", "description": "Service Unavailable: an issue occurred at Sage Pay"}),
    ],
)
def test_fault_error(sim: OpayoSimulatorControl, api: httpx.Client, status: int, body: dict[str, str]) -> None:
    sim.add_fault(operation="createTransaction", status=status, times=1)
    failed = pay(api, "F-1")
    assert (failed.status_code, failed.json()) == (status, body)
    assert sim.transactions() == [], "an error fault applies nothing"
    assert pay(api, "F-1").status_code == 201
    assert sim.calls()["createTransaction"] == {str(status): 1, "201": 1}


def test_fault_latency_and_timeout(sim: OpayoSimulatorControl, api: httpx.Client) -> None:
    tx_id = pay(api, "F-LAT").json()["transactionId"]
    sim.add_fault(operation="getTransaction", kind="latency", ms=300, times=1)
    started = time.perf_counter()
    assert api.get(f"/transactions/{tx_id}").status_code == 200
    assert time.perf_counter() - started >= 0.3
    sim.add_fault(operation="getTransaction", kind="timeout", seconds=0.4, times=1)
    started = time.perf_counter()
    timed_out = api.get(f"/transactions/{tx_id}")
    assert time.perf_counter() - started >= 0.4
    assert (timed_out.status_code, timed_out.json()["code"]) == (504, "9998")
    sim.add_fault(operation="instruction", kind="timeout", seconds=0.2, times=1)
    assert api.post(f"/transactions/{tx_id}/instructions", json={"instructionType": "void"}).status_code == 504
    assert api.get(f"/transactions/{tx_id}").json()["statusCode"] == "0000", "a plain timeout applies nothing"


def test_fault_times_after_and_wildcard(sim: OpayoSimulatorControl, api: httpx.Client) -> None:
    rule = sim.add_fault(operation="*", status=503, after=1, times=2)
    assert api.post("/merchant-session-keys", json={"vendorName": "ledgerline"}).status_code == 201
    assert api.post("/merchant-session-keys", json={"vendorName": "ledgerline"}).status_code == 503
    assert api.get("/transactions/x").status_code == 503
    assert api.get("/transactions/x").status_code == 404
    [listed] = sim.faults()
    assert (listed["id"], listed["applied"], listed["seen"]) == (rule["id"], 2, 3)
    sim.remove_fault(rule["id"])
    assert sim.faults() == []


def test_reporting_faults_answer_in_xml(sim: OpayoSimulatorControl, api: httpx.Client) -> None:
    pay(api, "F-REP")
    sim.add_fault(operation="reporting:getTransactionDetail", status=500, times=1)
    url = f"{sim.base_url}/access/access.htm"
    xml = signed_request(
        "getTransactionDetail",
        "<vendortxcode>F-REP</vendortxcode>",
        vendor="ledgerline",
        user=VENDOR["reporting_user"],
        password=VENDOR["reporting_password"],
    )
    failed = httpx.post(url, data={"XML": xml})
    assert failed.status_code == 500
    assert ET.fromstring(failed.content).findtext("errorcode") == "0009"
    recovered = reporting(sim.base_url, "getTransactionDetail", "<vendortxcode>F-REP</vendortxcode>")
    assert recovered.findtext("errorcode") == "0000"
    assert sim.calls()["reporting:getTransactionDetail"] == {"500": 1, "200": 1}


@pytest.mark.parametrize(
    "rule",
    [
        {"kind": "throttle"},
        {"kind": "repeat_page"},
        {"kind": "explode"},
        {"operation": "getOrders"},
        {"status": 99},
        {"probability": 2},
        {"colour": "red"},
    ],
)
def test_fault_rules_are_validated(sim: OpayoSimulatorControl, rule: dict[str, Any]) -> None:
    response = httpx.post(f"{sim.base_url}/_sim/faults", json=rule)
    assert response.status_code == 400
    assert sim.faults() == []


# --- control API ---------------------------------------------------------------------------------------------


def test_health_vendors_calls_and_reset(sim: OpayoSimulatorControl, api: httpx.Client) -> None:
    pay(api, "H-1")
    health = sim.health()
    assert (health["ok"], health["simulator"], health["vendors"], health["transactions"]) == (True, "opayo", 1, 1)
    [vendor] = sim.vendors()
    assert vendor == {
        "vendor_name": "ledgerline",
        "integration_key": VENDOR["integration_key"],
        "reporting_user": "reportuser",
        "strict_avs": False,
    }, "no passwords"
    assert sim.calls() == {
        "createMsk": {"201": 1},
        "createCardIdentifier": {"201": 1},
        "createTransaction": {"201": 1},
    }
    sim.reset_calls()
    assert sim.calls() == {}
    sim.reset()
    assert sim.health()["transactions"] == 0 and sim.vendors() == []
    assert api.get("/transactions/x").status_code == 401, "credentials go with the reset"


def test_settings(sim: OpayoSimulatorControl) -> None:
    defaults = sim.get_settings()
    assert (defaults["msk_ttl_seconds"], defaults["duplicate_vendortxcode_status"]) == (400.0, 422)
    assert (defaults["release_status_code"], defaults["void_status_code"], defaults["abort_status_code"]) == (
        "2004",
        "2005",
        "2006",
    )
    assert (defaults["cancel_status_code"], defaults["reporting_not_found_code"]) == ("2012", "0043")
    changed = sim.settings(msk_ttl_seconds=60, acquirer="Barclays")
    assert (changed["msk_ttl_seconds"], changed["acquirer"]) == (60.0, "Barclays")
    for bad in (
        {"unknown": 1},
        {"msk_ttl_seconds": 60, "duplicate_vendortxcode_status": 1000},
        {"msk_ttl_seconds": "x"},
    ):
        assert httpx.post(f"{sim.base_url}/_sim/settings", json=bad).status_code == 400
    assert sim.get_settings()["msk_ttl_seconds"] == 60.0, "a rejected change changes nothing"


def test_inspection(sim: OpayoSimulatorControl, api: httpx.Client) -> None:
    tx_id = pay(api, "I-1", transaction_type="Deferred").json()["transactionId"]
    by_code = sim.transaction("I-1")
    assert by_code == sim.transaction(tx_id) == sim.transaction(tx_id.lower())
    assert (by_code["txstateid"], by_code["settleable"], by_code["card"]["last_four_digits"]) == (14, False, "0006")
    assert by_code["pi"]["transactionId"] == tx_id
    with pytest.raises(SimulatorControlError) as missing:
        sim.transaction("NOPE")
    assert missing.value.status == 404
    assert [t["vendor_tx_code"] for t in sim.transactions(vendor="ledgerline")] == ["I-1"]
    assert sim.transactions(vendor="other") == []
    assert sim.batches() == []


def test_unknown_routes(sim: OpayoSimulatorControl, api: httpx.Client) -> None:
    assert api.get("/nothing").status_code == 404
    assert api.delete("/transactions").status_code == 405
    assert httpx.get(f"{sim.base_url}/_sim/nothing").json()["error"].startswith("HTTP 404")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_module_entry_point_prints_its_address_and_serves() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "simulators.opayo", "--host", "127.0.0.1", "--port", str(port), "--sandbox-vendors"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == f"Opayo simulator listening on http://127.0.0.1:{port}"
        deadline = time.monotonic() + 15
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/_sim/health").json()
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the simulator did not start"
                time.sleep(0.1)
        assert health["vendors"] == 2
    finally:
        process.terminate()
        process.wait(timeout=10)
