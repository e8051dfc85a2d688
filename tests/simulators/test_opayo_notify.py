"""The legacy Server-protocol notification sender: VPSSignature vectors, delivery, replies, repeats, concurrency."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from urllib.parse import parse_qsl

import pytest
from starlette.responses import PlainTextResponse, Response

from simulators.opayo.control import OpayoSimulatorControl
from simulators.opayo.notify import build_notification, parse_reply
from simulators.opayo.signing import SIGNED_FIELDS_3, SIGNED_FIELDS_4, server_notification_signature
from tests.simulators.opayo_support import FIXTURES, NotificationEndpoint, opayo_url

NOTIFY = FIXTURES / "server-notification"


@pytest.fixture
def sim() -> Iterator[OpayoSimulatorControl]:
    with OpayoSimulatorControl(opayo_url()) as control:
        control.reset()
        yield control
        control.reset()


def vector(number: int) -> tuple[dict[str, str], dict[str, str]]:
    name = "vector1_omnipay" if number == 1 else "vector2_synthetic"
    form = dict(parse_qsl((NOTIFY / f"{name}_post.form").read_text().strip(), keep_blank_values=True))
    meta = json.loads((NOTIFY / f"{name}_meta.json").read_text())
    return form, meta


def test_signature_reproduces_both_vectors() -> None:
    form, meta = vector(1)
    assert "VPSProtocol" not in form, "vector 1 predates 4.00: the 21-field list"
    assert server_notification_signature(form, vendor="", security_key=meta["security_key"]) == (
        meta["expected_VPSSignature_lowercase"].upper()
    )
    form, meta = vector(2)
    assert form["VPSProtocol"] == "4.00" and form["AVSCV2"] == "ALL MATCH", "values are hashed URL-decoded"
    signature = server_notification_signature(form, vendor="MyVendor", security_key=meta["security_key"])
    assert signature == meta["expected_VPSSignature"]
    assert len(SIGNED_FIELDS_3) == 21 and SIGNED_FIELDS_4[-3:] == ("ACSTransID", "DSTransID", "SchemeTraceID")
    with_3ds2 = {**form, "ACSTransID": "acs-1"}
    assert server_notification_signature({**with_3ds2, "VPSProtocol": "3.00"}, vendor="MyVendor", security_key="x") != (
        server_notification_signature(with_3ds2, vendor="MyVendor", security_key="x")
    ), "only 4.00 signs the 3-D Secure 2 ids"


def test_sender_posts_a_signed_notification_and_parses_the_reply(sim: OpayoSimulatorControl) -> None:
    form, meta = vector(2)
    fields: dict[str, str | None] = {k: v for k, v in form.items() if k != "VPSSignature"}
    fields.update(ACSTransID=None, DSTransID=None, SchemeTraceID=None)  # not in the vector: drop the defaults
    endpoint = NotificationEndpoint()
    with endpoint as url:
        result = sim.server_notify(url=url, vendor="MyVendor", security_key=meta["security_key"], fields=fields)
    [delivery] = result["deliveries"]
    assert result["fields"]["VPSSignature"] == "A56DCD6B9C8A4F66C5352E8E303310DC"
    assert [list(r.items()) for r in endpoint.received] == [list(form.items())], "the vector, field for field, in order"
    assert delivery["http_status"] == 200 and delivery["format_ok"] is True
    assert (delivery["status"], delivery["redirect_url"], delivery["status_detail"]) == (
        "OK",
        "https://shop.example.com/checkout/complete",
        "Received",
    )


def test_sender_reproduces_the_pre_4_00_vector(sim: OpayoSimulatorControl) -> None:
    form, meta = vector(1)
    fields: dict[str, str | None] = {k: v for k, v in form.items() if k != "VPSSignature"}
    fields["VPSProtocol"] = None  # vector 1 was posted without one
    endpoint = NotificationEndpoint()
    with endpoint as url:
        sim.server_notify(url=url, vendor="", security_key=meta["security_key"], fields=fields)
    [received] = endpoint.received
    assert received["VPSSignature"] == meta["expected_VPSSignature_lowercase"].upper()
    assert "VPSProtocol" not in received
    assert {k: received[k] for k in form if k != "VPSSignature"} == {
        k: v for k, v in form.items() if k != "VPSSignature"
    }


def test_default_notification_is_a_complete_signed_4_00_payment(sim: OpayoSimulatorControl) -> None:
    endpoint = NotificationEndpoint()
    with endpoint as url:
        result = sim.server_notify(url=url, vendor="Ledgerline", security_key="OUWLNYQTVT")
    [received] = endpoint.received
    assert list(received)[:4] == ["VPSProtocol", "TxType", "VendorTxCode", "VPSTxId"]
    assert list(received)[-1] == "VPSSignature"
    assert received["VPSProtocol"] == "4.00" and received["VPSTxId"].startswith("{")
    for name in ("Status", "StatusDetail", "TxAuthNo", "AVSCV2", "CardType", "Last4Digits", "ACSTransID", "DSTransID"):
        assert received[name], name
    unsigned = {k: v for k, v in received.items() if k != "VPSSignature"}
    assert received["VPSSignature"] == server_notification_signature(
        unsigned, vendor="ledgerline", security_key="OUWLNYQTVT"
    )
    assert result["fields"] == received


def verifying_reply(security_key: str, vendor: str) -> NotificationEndpoint:
    def reply(fields: dict[str, str]) -> Response:
        unsigned = {k: v for k, v in fields.items() if k != "VPSSignature"}
        ok = fields.get("VPSSignature") == server_notification_signature(
            unsigned, vendor=vendor, security_key=security_key
        )
        status = "OK" if ok else "INVALID"
        return PlainTextResponse(
            f"Status={status}\nRedirectURL=https://shop.example.com/{status.lower()}\nStatusDetail=checked\n"
        )

    return NotificationEndpoint(reply)


def test_tampered_signature_is_refused_by_a_verifying_endpoint(sim: OpayoSimulatorControl) -> None:
    with verifying_reply("OUWLNYQTVT", "ledgerline") as url:
        good = sim.server_notify(url=url, vendor="ledgerline", security_key="OUWLNYQTVT")["deliveries"][0]
        bad = sim.server_notify(url=url, vendor="ledgerline", security_key="OUWLNYQTVT", tamper=True)
    assert good["status"] == "OK"
    assert bad["deliveries"][0]["status"] == "INVALID" and bad["deliveries"][0]["format_ok"] is True
    assert bad["deliveries"][0]["redirect_url"] == "https://shop.example.com/invalid", "LF-only replies parse"
    unsigned = {k: v for k, v in bad["fields"].items() if k != "VPSSignature"}
    expected = server_notification_signature(unsigned, vendor="ledgerline", security_key="OUWLNYQTVT")
    assert bad["fields"]["VPSSignature"] != expected and len(bad["fields"]["VPSSignature"]) == 32


def test_repeated_and_concurrent_deliveries(sim: OpayoSimulatorControl) -> None:
    endpoint = NotificationEndpoint(delay=0.2)
    with endpoint as url:
        started = time.perf_counter()
        result = sim.server_notify(url=url, vendor="v", security_key="k", times=6, concurrency=3)
        elapsed = time.perf_counter() - started
    assert [d["index"] for d in result["deliveries"]] == list(range(6))
    assert all(d["status"] == "OK" for d in result["deliveries"])
    assert len(endpoint.received) == 6 and len({f["VPSTxId"] for f in endpoint.received}) == 1, "the same notification"
    assert endpoint.max_in_flight == 3
    assert 0.35 < elapsed < 1.2, elapsed  # three at a time: 0.4 s; one at a time would take 1.2 s


def test_bad_replies_and_unreachable_endpoints(sim: OpayoSimulatorControl) -> None:
    broken = NotificationEndpoint(lambda fields: PlainTextResponse("Status=OK\r\n", status_code=500))
    with broken as url:
        [delivery] = sim.server_notify(url=url, vendor="v", security_key="k")["deliveries"]
    assert (delivery["http_status"], delivery["status"], delivery["format_ok"]) == (500, "OK", False)
    with NotificationEndpoint() as url:
        gone = url
    [failed] = sim.server_notify(url=gone, vendor="v", security_key="k", timeout=2)["deliveries"]
    assert failed["http_status"] is None and "Error" in failed["error"]


def test_reply_parser() -> None:
    ok = (NOTIFY / "response_ok.txt").read_text()
    parsed = parse_reply(ok.replace("\n", "\r\n"))
    assert (parsed["status"], parsed["status_detail"], parsed["format_ok"]) == ("OK", "Notification received", True)
    assert parsed["redirect_url"] == "https://shop.example.com/checkout/complete?order=ORD-000123"
    assert parse_reply((NOTIFY / "response_invalid.txt").read_text())["status"] == "INVALID"
    assert parse_reply("Status=OK\nRedirectUrl=https://x.example/")["format_ok"] is False, "RedirectURL, exactly"
    assert parse_reply("Status=MAYBE\nRedirectURL=https://x.example/")["format_ok"] is False


def test_build_notification_field_handling() -> None:
    fields = build_notification({"Status": "NOTAUTHED", "CAVV": None, "Extra": 1}, vendor="v", security_key="k")
    assert fields["Status"] == "NOTAUTHED" and "CAVV" not in fields and fields["Extra"] == "1"
    explicit = build_notification({"VPSSignature": "ABC"}, vendor="v", security_key="k")
    assert explicit["VPSSignature"] == "ABC"
