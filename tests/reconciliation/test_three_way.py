"""The three-way view: an eCommerce order paid at the Opayo simulator, settled in its batch and paid into the bank;
an Amazon order settled and paid out; each break listed with its reason; in the API and the admin. Bank statements
through the API and the admin upload."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from mappings.models import GlAccount
from orders.models import Order
from payments.models import OpayoBatch, OpayoBatchTotal
from reconciliation.models import BankAccount, BankStatementFile, BankStatementLine
from reconciliation.selectors import three_way_order, three_way_period
from reconciliation.services.bank_statements import bank_statement_import, bank_statement_store
from tests.factories import SellerAccountFactory
from tests.fulfillment.conftest import erp_api
from tests.payments.conftest import api, web_skus  # noqa: F401 (fixtures)
from tests.payments.test_opayo_batches import fetch, opayo_url, pay, sim  # noqa: F401 (fixtures)
from tests.reconciliation.bank_files import IBAN, Tx, camt053
from tests.reconciliation.test_bank_statements import payout

pytestmark = pytest.mark.django_db


@pytest.fixture
def bank(db: None) -> BankAccount:
    return BankAccount.objects.create(
        name="Barclays", account_id=IBAN, currency="GBP", gl_account=GlAccount.objects.get(code="1200")
    )


def deposit(amount: str, reference: str, day: Any, bank_ref: str) -> BankStatementLine:
    data = camt053([Tx(amount, day, reference, name="ELAVON", bank_ref=bank_ref)], statement_id=bank_ref)
    file, _ = bank_statement_store(data=data, name=f"{bank_ref}.xml", source="test")
    bank_statement_import(file_id=file.pk)
    return BankStatementLine.objects.get(bank_reference=bank_ref)


def test_ecommerce_order_to_capture_to_batch_to_bank(
    api: APIClient,  # noqa: F811 (the fixture)
    sim: Any,  # noqa: F811 (the fixture)
    django_capture_on_commit_callbacks: Any,
    bank: BankAccount,
) -> None:
    settled = pay(api, sim, django_capture_on_commit_callbacks, "WEB-3001")
    order_id = settled.payment.order_id
    row = three_way_order(order_id=order_id)
    assert [s.name for s in row.stages] == ["order", "capture", "batch"]
    assert row.stages[1].ok and "captured 59.97 GBP" in row.stages[1].detail
    assert row.breaks == ["batch: WEB-3001-1 (payment) is in no Opayo batch yet"]
    sim.close_day()
    fetch()
    row = three_way_order(order_id=order_id)
    batch = OpayoBatch.objects.get()
    assert row.stages[2].ok and row.stages[2].reference == batch.batch_id
    assert row.breaks == [f"bank: Opayo batch {batch.batch_id} GBP is in no bank deposit yet"]
    total = OpayoBatchTotal.objects.get(batch=batch)
    line = deposit(str(total.payment_value - total.refund_value), "CARD SETTLEMENT", batch.batch_date, "E-1")
    assert line.status == BankStatementLine.Status.MATCHED, line.match_reason
    row = three_way_order(order_id=order_id)
    assert row.matched and row.breaks == []
    assert row.stages[-1].name == "bank" and row.stages[-1].reference == "E-1"
    # The same in the API and the admin page.
    client = erp_api()
    body = client.get(f"/api/v1/reconciliation/three-way/orders/{order_id}/").json()
    assert body["matched"] is True and [s["name"] for s in body["stages"]][-1] == "bank"


def test_amazon_order_to_settlement_to_payout_to_bank_with_breaks(bank: BankAccount, admin_client: Any) -> None:
    seller = SellerAccountFactory.create()
    order = Order.objects.create(
        seller_account=seller,
        channel=Order.Channel.AMAZON, external_id="202-6100001-1", status="shipped", currency="GBP",
        total_amount=Decimal("100.00"), purchased_at=timezone.now() - timedelta(days=20),
    )  # fmt: skip
    unsettled = Order.objects.create(
        seller_account=seller,
        channel=Order.Channel.AMAZON, external_id="202-0000000-9", status="shipped", currency="GBP",
        total_amount=Decimal("20.00"), purchased_at=timezone.now() - timedelta(days=19),
    )  # fmt: skip
    settlement = payout()  # the order's 100.00 less 15.00 commission: pays 85.00
    row = three_way_order(order_id=order.pk)
    assert [s.name for s in row.stages] == ["order", "settlement", "payout", "bank"]
    assert "settled 100.00 GBP, fees and withholdings -15.00 GBP" in row.stages[1].detail
    assert row.breaks == ["bank: Amazon settlement 6100001 is in no bank deposit yet"]
    deposit("85.00", f"AMAZON {settlement.settlement_id}", timezone.localdate(), "A-1")
    row = three_way_order(order_id=order.pk)
    assert row.matched
    today = timezone.localdate()
    period = three_way_period(date_from=today - timedelta(days=30), date_to=today, only_breaks=True)
    assert (period.orders, period.matched, period.with_breaks) == (2, 1, 1)
    assert [r.order_number for r in period.rows] == [unsettled.external_id]
    assert period.rows[0].breaks == ["settlement: in no imported Amazon settlement yet"]
    # API and admin
    client = erp_api()
    body = client.get(
        f"/api/v1/reconciliation/three-way/?date_from={today - timedelta(days=30)}&date_to={today}&only_breaks=true"
    ).json()
    assert body["orders"] == 2 and body["with_breaks"] == 1
    assert body["rows"][0]["breaks"] == ["settlement: in no imported Amazon settlement yet"]
    page = admin_client.get("/admin/reconciliation/bankstatementline/three-way/").content.decode()
    assert "202-0000000-9" in page and "in no imported Amazon settlement yet" in page
    page = admin_client.get(f"/admin/reconciliation/bankstatementline/three-way/?order={order.pk}").content.decode()
    assert "matched to the bank" in page
    lines = client.get("/api/v1/reconciliation/bank-lines/?status=matched").json()["results"]
    assert lines[0]["matched_to"] == ["amazon settlement 6100001"] and lines[0]["journal_entry_id"]


def test_bank_statement_upload_api_and_admin(bank: BankAccount, admin_client: Any, admin_user: Any) -> None:
    client = APIClient()
    client.force_authenticate(admin_user)
    good = SimpleUploadedFile("s.xml", camt053([Tx("12.00", timezone.localdate(), "X", bank_ref="U-1")]))
    response = client.post("/api/v1/reconciliation/bank-statements/", {"file": good}, format="multipart")
    assert response.status_code == 201, response.content
    assert response.json()["lines_new"] == 1 and response.json()["bank_account"] == IBAN
    bad = SimpleUploadedFile("bad.xml", camt053([Tx("12.00", timezone.localdate(), "X", bank_ref="U-2")])[:500])
    response = client.post("/api/v1/reconciliation/bank-statements/", {"file": bad}, format="multipart")
    assert response.status_code == 400
    assert response.json()["message"].startswith("Rejected, nothing kept: line ")
    assert BankStatementLine.objects.count() == 1
    # The admin upload
    upload = SimpleUploadedFile("a.xml", camt053([Tx("13.00", timezone.localdate(), "Y", bank_ref="U-3")]))
    response = admin_client.post("/admin/reconciliation/bankstatementfile/upload/", {"file": upload}, follow=True)
    assert "1 new line(s), 0 seen before" in response.content.decode()
    file = BankStatementFile.objects.get(name="a.xml")
    raw = admin_client.get(f"/admin/reconciliation/bankstatementfile/{file.pk}/download/")
    assert raw.content == bytes(file.raw)
    for url in ("/admin/reconciliation/bankstatementfile/", "/admin/reconciliation/bankstatementline/",
                "/admin/reconciliation/bankaccount/", "/admin/reconciliation/bankmatch/",
                f"/admin/reconciliation/bankstatementline/{BankStatementLine.objects.first().pk}/change/"):  # type: ignore[union-attr]  # fmt: skip
        assert admin_client.get(url).status_code == 200, url


def test_bank_account_form_checks_the_csv_mapping(admin_client: Any) -> None:
    gl = GlAccount.objects.get(code="1200")
    data = {"name": "CSV bank", "account_id": "GB12 3456", "currency": "GBP", "gl_account": gl.pk, "is_active": "on",
            "csv_mapping": '{"amount": "Amount", "colour": "x"}'}  # fmt: skip
    page = admin_client.post("/admin/reconciliation/bankaccount/add/", data).content.decode()
    assert "unknown key &#x27;colour&#x27;" in page and "&quot;date&quot; (the booking date column) is required" in page
    data["csv_mapping"] = '{"date": "Date", "amount": "Amount", "date_format": "%d/%m/%Y"}'
    assert admin_client.post("/admin/reconciliation/bankaccount/add/", data).status_code == 302
    assert BankAccount.objects.get(name="CSV bank").account_id == "GB123456"
    form = admin_client.get("/admin/reconciliation/bankaccount/add/").content.decode()
    assert f'<option value="{gl.pk}" selected>' in form  # the default bank GL account from the migration
