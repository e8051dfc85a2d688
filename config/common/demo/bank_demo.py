"""Demo bank statements (CAMT.053, as the bank would send them) for the demo's Amazon settlements and Opayo batch:

- GBP current account: Amazon's transfer of the UK settlement (its settlement id in the reference) and the card
  acquirer's payment of the Opayo batch, both matched with their clearing → bank journals; a bank charge (money
  out, nothing to match);
- EUR account: Amazon's transfer of the Amazon.de settlement, 12.50 EUR short: in the exception queue with the
  difference.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from mappings.models import GlAccount
from payments.models import OpayoBatchTotal
from reconciliation.models import BankAccount, BankStatementLine, Settlement
from reconciliation.services.bank_statements import bank_statement_import, bank_statement_store

GBP_IBAN = "GB29NWBK60161331926819"
EUR_IBAN = "DE89370400440532013000"
SHORT_BY = Decimal("12.50")


def _entry(n: int, amount: Decimal, currency: str, day: str, reference: str, payer: str, bank_ref: str) -> str:
    indicator = "CRDT" if amount > 0 else "DBIT"
    return f"""
      <Ntry>
        <NtryRef>{n}</NtryRef>
        <Amt Ccy="{currency}">{abs(amount):.2f}</Amt>
        <CdtDbtInd>{indicator}</CdtDbtInd>
        <Sts>BOOK</Sts>
        <BookgDt><Dt>{day}</Dt></BookgDt>
        <ValDt><Dt>{day}</Dt></ValDt>
        <AcctSvcrRef>{bank_ref}</AcctSvcrRef>
        <NtryDtls><TxDtls>
          <Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs>
          <RltdPties><Dbtr><Nm>{payer}</Nm></Dbtr></RltdPties>
          <RmtInf><Ustrd>{reference}</Ustrd></RmtInf>
        </TxDtls></NtryDtls>
        <AddtlNtryInf>{payer}</AddtlNtryInf>
      </Ntry>"""


def _camt(iban: str, currency: str, statement_id: str, entries: list[str]) -> bytes:
    today = timezone.localdate().isoformat()
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>{statement_id}</MsgId><CreDtTm>{today}T06:00:00</CreDtTm></GrpHdr>
    <Stmt>
      <Id>{statement_id}</Id>
      <CreDtTm>{today}T06:00:00</CreDtTm>
      <Acct><Id><IBAN>{iban}</IBAN></Id><Ccy>{currency}</Ccy></Acct>{"".join(entries)}
    </Stmt>
  </BkToCstmrStmt>
</Document>
""".encode()


def load_bank_demo() -> list[str]:
    """Returns a line per statement for the start-up output."""
    gbp_gl = GlAccount.objects.get(code="1200")
    eur_gl, _ = GlAccount.objects.get_or_create(code="1201", defaults={"name": "Bank EUR account", "kind": "asset"})
    gbp, _ = BankAccount.objects.get_or_create(
        account_id=GBP_IBAN, defaults={"name": "NatWest current (GBP)", "currency": "GBP", "gl_account": gbp_gl}
    )
    eur, _ = BankAccount.objects.get_or_create(
        account_id=EUR_IBAN, defaults={"name": "Commerzbank (EUR)", "currency": "EUR", "gl_account": eur_gl}
    )
    gbp_entries, eur_entries = [], []
    n = 0
    for settlement in Settlement.objects.filter(total_amount__gt=0).exclude(deposit_date=None).order_by("pk"):
        n += 1
        day = (timezone.localdate(settlement.deposit_date) + timedelta(days=1)).isoformat()
        reference = f"AMAZON PAYMENTS {settlement.settlement_id}"
        if settlement.currency == "GBP":
            gbp_entries.append(
                _entry(n, settlement.total_amount, "GBP", day, reference, "AMAZON PAYMENTS UK", f"DEMO-{n}")
            )
        elif settlement.currency == "EUR":
            amount = settlement.total_amount - SHORT_BY  # Amazon paid less than the settlement says: an exception
            eur_entries.append(_entry(n, amount, "EUR", day, reference, "AMAZON EU SARL", f"DEMO-{n}"))
    for total in OpayoBatchTotal.objects.filter(currency="GBP").select_related("batch").order_by("pk"):
        net = total.payment_value - total.refund_value
        if net > 0 and total.batch.batch_date:
            n += 1
            day = (total.batch.batch_date + timedelta(days=1)).isoformat()
            gbp_entries.append(
                _entry(n, net, "GBP", day, "CARD SETTLEMENT 5512345", "ELAVON MERCHANT SVCS", f"DEMO-{n}")
            )
    n += 1
    gbp_entries.append(_entry(n, Decimal("-7.50"), "GBP", timezone.localdate().isoformat(), "ACCOUNT FEE", "NATWEST",
                              f"DEMO-{n}"))  # fmt: skip
    said = []
    for account, currency, entries in ((gbp, "GBP", gbp_entries), (eur, "EUR", eur_entries)):
        if not entries:
            continue
        data = _camt(account.account_id, currency, f"DEMO-{currency}-{timezone.localdate():%Y%m%d}", entries)
        file, _ = bank_statement_store(data=data, name=f"demo-{currency.lower()}-camt053.xml", source="demo")
        file = bank_statement_import(file_id=file.pk, actor="demo").file
        lines = BankStatementLine.objects.filter(bank_account=account, amount__gt=0)
        counts = {s: lines.filter(status=s).count() for s in ("matched", "short", "unmatched")}
        said.append(f"{file.name}: {file.lines_new} line(s); deposits {counts['matched']} matched, "
                    f"{counts['short']} short, {counts['unmatched']} unmatched")  # fmt: skip
    return said
