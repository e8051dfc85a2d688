"""Bank statement files for the tests, shaped on the documented samples:

- CAMT.053: the ISO 20022 BankToCustomerStatementV02 message (camt.053.001.02; GrpHdr, Stmt with Acct/Id/IBAN,
  Bal OPBD/CLBD, Ntry with Amt Ccy, CdtDbtInd, Sts BOOK, BookgDt, ValDt, AcctSvcrRef, BkTxCd, NtryDtls/TxDtls with
  Refs/EndToEndId, RltdPties/Dbtr/Nm, RmtInf/Ustrd, AddtlNtryInf), as in the ISO 20022 message definition report
  and the banks' implementation guides built on it.
- OFX: the OFX 1.0.2 specification's bank statement response (section 11.5: the SGML header block, SIGNONMSGSRSV1,
  BANKMSGSRSV1/STMTTRNRS/STMTRS with CURDEF, BANKACCTFROM, BANKTRANLIST of STMTTRN with TRNTYPE, DTPOSTED, TRNAMT,
  FITID, NAME, MEMO; LEDGERBAL).
- CSV: a UK bank's export (Date, Description, Reference, Paid in, Paid out, Transaction ID), read through a
  bank account's column mapping.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

IBAN = "GB33BUKB20201555555555"
EUR_IBAN = "DE89370400440532013000"


@dataclass(frozen=True)
class Tx:
    amount: str  # signed: money in positive
    booked: date
    reference: str = ""
    name: str = "AMAZON PAYMENTS UK"
    bank_ref: str = ""
    info: str = ""
    value: date | None = None
    status: str = "BOOK"


def camt053(txs: Sequence[Tx], *, iban: str = IBAN, currency: str = "GBP", statement_id: str = "STMT-1") -> bytes:
    entries = []
    for n, tx in enumerate(txs, 1):
        indicator = "DBIT" if tx.amount.startswith("-") else "CRDT"
        amount = tx.amount.lstrip("-")
        ref = f"<AcctSvcrRef>{tx.bank_ref}</AcctSvcrRef>" if tx.bank_ref else ""
        value = tx.value or tx.booked
        entries.append(f"""
      <Ntry>
        <NtryRef>{n}</NtryRef>
        <Amt Ccy="{currency}">{amount}</Amt>
        <CdtDbtInd>{indicator}</CdtDbtInd>
        <Sts>{tx.status}</Sts>
        <BookgDt><Dt>{tx.booked.isoformat()}</Dt></BookgDt>
        <ValDt><Dt>{value.isoformat()}</Dt></ValDt>
        {ref}
        <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd>
        <NtryDtls>
          <TxDtls>
            <Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs>
            <RltdPties><Dbtr><Nm>{tx.name}</Nm></Dbtr></RltdPties>
            <RmtInf><Ustrd>{tx.reference}</Ustrd></RmtInf>
          </TxDtls>
        </NtryDtls>
        <AddtlNtryInf>{tx.info or tx.name}</AddtlNtryInf>
      </Ntry>""")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <BkToCstmrStmt>
    <GrpHdr>
      <MsgId>MSG-{statement_id}</MsgId>
      <CreDtTm>2026-11-30T06:00:00</CreDtTm>
    </GrpHdr>
    <Stmt>
      <Id>{statement_id}</Id>
      <ElctrncSeqNb>1</ElctrncSeqNb>
      <CreDtTm>2026-11-30T06:00:00</CreDtTm>
      <Acct>
        <Id><IBAN>{iban}</IBAN></Id>
        <Ccy>{currency}</Ccy>
      </Acct>
      <Bal>
        <Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp>
        <Amt Ccy="{currency}">1000.00</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd>
        <Dt><Dt>2026-11-01</Dt></Dt>
      </Bal>{"".join(entries)}
    </Stmt>
  </BkToCstmrStmt>
</Document>
""".encode()


def ofx(txs: Sequence[Tx], *, account: str = "55555555", currency: str = "GBP") -> bytes:
    rows = []
    for n, tx in enumerate(txs, 1):
        kind = "DEBIT" if tx.amount.startswith("-") else "CREDIT"
        fitid = tx.bank_ref or f"2026{n:08d}"
        rows.append(
            f"<STMTTRN><TRNTYPE>{kind}<DTPOSTED>{tx.booked.strftime('%Y%m%d')}120000"
            f"<TRNAMT>{tx.amount}<FITID>{fitid}<NAME>{tx.name[:32]}<MEMO>{tx.reference}</STMTTRN>"
        )
    body = "\r\n".join(rows)
    return f"""OFXHEADER:100\r
DATA:OFXSGML\r
VERSION:102\r
SECURITY:NONE\r
ENCODING:USASCII\r
CHARSET:1252\r
COMPRESSION:NONE\r
OLDFILEUID:NONE\r
NEWFILEUID:NONE\r
\r
<OFX>\r
<SIGNONMSGSRSV1><SONRS><STATUS><CODE>0<SEVERITY>INFO</STATUS><DTSERVER>20261130060000<LANGUAGE>ENG</SONRS>\r
</SIGNONMSGSRSV1>\r
<BANKMSGSRSV1><STMTTRNRS><TRNUID>1001<STATUS><CODE>0<SEVERITY>INFO</STATUS>\r
<STMTRS><CURDEF>{currency}<BANKACCTFROM><BANKID>202015<ACCTID>{account}<ACCTTYPE>CHECKING</BANKACCTFROM>\r
<BANKTRANLIST><DTSTART>20261101<DTEND>20261130\r
{body}\r
</BANKTRANLIST>\r
<LEDGERBAL><BALAMT>1000.00<DTASOF>20261130</LEDGERBAL>\r
</STMTRS></STMTTRNRS></BANKMSGSRSV1>\r
</OFX>\r
""".encode("ascii")


CSV_MAPPING = {
    "date": "Date",
    "credit": "Paid in",
    "debit": "Paid out",
    "description": "Description",
    "reference": "Reference",
    "id": "Transaction ID",
    "date_format": "%d/%m/%Y",
}


def bank_csv(txs: Sequence[Tx], *, with_ids: bool = True) -> bytes:
    lines = ["Date,Description,Reference,Paid in,Paid out,Transaction ID"]
    for n, tx in enumerate(txs, 1):
        paid_in = tx.amount if not tx.amount.startswith("-") else ""
        paid_out = tx.amount.lstrip("-") if tx.amount.startswith("-") else ""
        tx_id = (tx.bank_ref or f"T{n:05d}") if with_ids else ""
        lines.append(f"{tx.booked.strftime('%d/%m/%Y')},{tx.name},{tx.reference},{paid_in},{paid_out},{tx_id}")
    return ("\r\n".join(lines) + "\r\n").encode()


def ofx2(txs: Sequence[Tx], *, account: str = "55555555", currency: str = "GBP") -> bytes:
    """The same statement as OFX 2.2 XML (the spec's XML form: a processing-instruction header, every element
    closed)."""
    rows = "".join(
        f"<STMTTRN><TRNTYPE>{'DEBIT' if tx.amount.startswith('-') else 'CREDIT'}</TRNTYPE>"
        f"<DTPOSTED>{tx.booked.strftime('%Y%m%d')}120000</DTPOSTED><TRNAMT>{tx.amount}</TRNAMT>"
        f"<FITID>{tx.bank_ref or f'X{n}'}</FITID><NAME>{tx.name[:32]}</NAME><MEMO>{tx.reference}</MEMO></STMTTRN>"
        for n, tx in enumerate(txs, 1)
    )
    return f"""<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<?OFX OFXHEADER="200" VERSION="220" SECURITY="NONE" OLDFILEUID="NONE" NEWFILEUID="NONE"?>
<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>0</CODE><SEVERITY>INFO</SEVERITY></STATUS>
<DTSERVER>20261130060000</DTSERVER><LANGUAGE>ENG</LANGUAGE></SONRS></SIGNONMSGSRSV1>
<BANKMSGSRSV1><STMTTRNRS><TRNUID>1001</TRNUID><STATUS><CODE>0</CODE><SEVERITY>INFO</SEVERITY></STATUS>
<STMTRS><CURDEF>{currency}</CURDEF><BANKACCTFROM><BANKID>202015</BANKID><ACCTID>{account}</ACCTID>
<ACCTTYPE>CHECKING</ACCTTYPE></BANKACCTFROM><BANKTRANLIST><DTSTART>20261101</DTSTART><DTEND>20261130</DTEND>
{rows}
</BANKTRANLIST><LEDGERBAL><BALAMT>1000.00</BALAMT><DTASOF>20261130</DTASOF></LEDGERBAL></STMTRS></STMTTRNRS>
</BANKMSGSRSV1></OFX>
""".encode()
