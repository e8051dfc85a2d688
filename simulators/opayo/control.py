"""A typed client for the Opayo simulator's control API (`/_sim/`), for tests, the demo loader and benchmarks.

with OpayoSimulatorControl("http://127.0.0.1:8102") as sim:
    sim.reset()
    sim.add_vendor(vendor_name="ledgerline", integration_key="key", integration_password="secret",
                   reporting_user="reports", reporting_password="pw")
    paid = sim.checkout(vendor_name="ledgerline", transaction_type="Deferred", amount=5997, currency="GBP",
                        vendor_tx_code="ORD-1-1", card="approve")
    sim.add_fault(operation="createTransaction", kind="timeout_after_commit", seconds=3, times=1)
    sim.close_day()

Every method raises SimulatorControlError on an HTTP 4xx/5xx answer.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx


class SimulatorControlError(RuntimeError):
    def __init__(self, method: str, path: str, status: int, text: str) -> None:
        super().__init__(f"simulator {method} {path}: HTTP {status} {text[:500]}")
        self.status = status
        self.text = text


class OpayoSimulatorControl:
    def __init__(self, base_url: str, *, timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = httpx.Client(base_url=self.base_url, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> OpayoSimulatorControl:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.http.request(method, path, json=body)
        if response.status_code >= 400:
            raise SimulatorControlError(method, path, response.status_code, response.text)
        return response.json()

    # --- state ------------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Everything back to empty (vendors included) and Opayo's defaults."""
        self._call("POST", "/_sim/reset")

    def health(self) -> dict[str, Any]:
        return dict(self._call("GET", "/_sim/health"))

    def add_vendor(
        self,
        *,
        vendor_name: str,
        integration_key: str,
        integration_password: str,
        reporting_user: str = "",
        reporting_password: str = "",
        strict_avs: bool = False,
    ) -> dict[str, Any]:
        """Register (or replace) a vendor: Pi credentials, Reporting API user, and the sandboxEC-like strict
        AVS/CV2 profile (anything but address1 "88", postcode "412", CVV "123" is Rejected 2001)."""
        body = {
            "vendor_name": vendor_name,
            "integration_key": integration_key,
            "integration_password": integration_password,
            "reporting_user": reporting_user,
            "reporting_password": reporting_password,
            "strict_avs": strict_avs,
        }
        return dict(self._call("POST", "/_sim/vendors", body))

    def vendors(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/_sim/vendors")["vendors"])

    # --- inspection -------------------------------------------------------------------------------------

    def transactions(self, *, vendor: str | None = None) -> list[dict[str, Any]]:
        """Every transaction with its simulator-side state (see `transaction`)."""
        path = "/_sim/transactions" + (f"?vendor={quote(vendor)}" if vendor else "")
        return list(self._call("GET", path)["transactions"])

    def transaction(self, id_or_vendor_tx_code: str) -> dict[str, Any]:
        """One transaction: `transaction_id`, `vendor_tx_code`, `transaction_type`, `status`, `status_code`,
        `amount`, `released_amount`, `captured_amount`, `refunded_total`, `voided`, `aborted`, `txstateid`,
        `instructions` (history with dates), `batch_id`, `settleable`, `card` (no number) and `pi` (the GET body)."""
        return dict(self._call("GET", f"/_sim/transactions/{quote(id_or_vendor_tx_code, safe='')}"))

    def cards(self) -> list[dict[str, Any]]:
        """The card identifiers created so far, with everything the simulator keeps about each card."""
        return list(self._call("GET", "/_sim/cards")["cards"])

    # --- settlement -------------------------------------------------------------------------------------

    def close_day(
        self,
        date: str | None = None,
        *,
        fail: bool = False,
        completed: str | None = None,
        vendor_name: str | None = None,
    ) -> list[dict[str, Any]]:
        """Settle every settleable transaction up to the end of `date` (YYYY-MM-DD, UK; default today) into one
        batch per vendor. `fail=True`: empty batches, transactions stay pending. `completed`: the batch's
        completion time (ISO 8601; default the next day 00:30:10.123 UK). Returns the batches made."""
        body: dict[str, Any] = {"fail": fail}
        if date is not None:
            body["date"] = date
        if completed is not None:
            body["completed"] = completed
        if vendor_name is not None:
            body["vendor_name"] = vendor_name
        return list(self._call("POST", "/_sim/close-day", body)["batches"])

    def batches(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/_sim/batches")["batches"])

    # --- settings, calls, faults ------------------------------------------------------------------------

    def settings(
        self,
        *,
        msk_ttl_seconds: float | None = None,
        card_identifier_ttl_seconds: float | None = None,
        msk_max_failures: int | None = None,
        duplicate_vendortxcode_status: int | None = None,
        duplicate_vendortxcode_body: dict[str, Any] | None = None,
        release_status_code: str | None = None,
        release_status_detail: str | None = None,
        void_status_code: str | None = None,
        void_status_detail: str | None = None,
        abort_status_code: str | None = None,
        abort_status_detail: str | None = None,
        cancel_status_code: str | None = None,
        cancel_status_detail: str | None = None,
        challenge_result_status: int | None = None,
        acs_answer: str | None = None,
        deferred_expiry_days: int | None = None,
        authorise_limit_percent: int | None = None,
        reporting_not_found_code: str | None = None,
        reporting_not_found_error: str | None = None,
        reporting_max_rows: int | None = None,
        reporting_max_range_days: int | None = None,
        acquirer: str | None = None,
        clock_offset_seconds: float | None = None,
    ) -> dict[str, Any]:
        """Change the given settings (None = leave as is); returns all of them."""
        values = {key: value for key, value in locals().items() if key != "self" and value is not None}
        return dict(self._call("POST", "/_sim/settings", values))

    def get_settings(self) -> dict[str, Any]:
        return dict(self._call("GET", "/_sim/settings"))

    def calls(self) -> dict[str, dict[str, int]]:
        """Calls per operation by HTTP status, e.g. `{"createTransaction": {"201": 3, "422": 1}}`. Operations:
        createMsk, getMsk, createCardIdentifier, createTransaction, getTransaction, instruction, getInstructions,
        threeDSChallenge, reporting:<command>."""
        return {
            op: {str(k): int(v) for k, v in counts.items()} for op, counts in self._call("GET", "/_sim/calls").items()
        }

    def reset_calls(self) -> None:
        self._call("POST", "/_sim/calls/reset")

    def add_fault(
        self,
        *,
        operation: str = "*",
        kind: str = "error",
        status: int = 500,
        ms: int = 0,
        seconds: float = 30.0,
        times: int | None = None,
        probability: float = 1.0,
        after: int = 0,
    ) -> dict[str, Any]:
        """operation: createMsk|getMsk|createCardIdentifier|createTransaction|getTransaction|instruction|
        getInstructions|threeDSChallenge|reporting:<command>|*; kind: error (status: 500 9999, 408 9998, 502, 503…)|
        latency (ms)|timeout (sleep `seconds`, then 504)|timeout_after_commit (apply the request, then sleep
        `seconds` and answer 504). times=None applies forever. Returns the rule (with id)."""
        rule = {
            "operation": operation,
            "kind": kind,
            "status": status,
            "ms": ms,
            "seconds": seconds,
            "times": times,
            "probability": probability,
            "after": after,
        }
        return dict(self._call("POST", "/_sim/faults", rule))

    def faults(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/_sim/faults")["faults"])

    def remove_fault(self, rule_id: int) -> None:
        self._call("DELETE", f"/_sim/faults/{rule_id}")

    def clear_faults(self) -> None:
        self._call("DELETE", "/_sim/faults")

    # --- shop + browser ---------------------------------------------------------------------------------

    def checkout(
        self,
        *,
        vendor_name: str,
        amount: int,
        vendor_tx_code: str,
        transaction_type: str = "Payment",
        currency: str = "GBP",
        card: str = "approve",
        description: str = "Simulated checkout",
        settlement_reference_text: str | None = None,
        billing_address: dict[str, str] | None = None,
        customer_first_name: str = "Sam",
        customer_last_name: str = "Jones",
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Create an MSK, a card identifier for a sandbox card and the transaction; returns the Pi response body
        (201 Ok/NotAuthed/Rejected, or 202 3DAuth for card="challenge"). card: approve | decline | challenge |
        notauth | approve_mastercard | decline_mastercard | approve_amex. `extra` is merged into the Pi request.
        Raises SimulatorControlError on a 4xx (e.g. 422 validation, 4042 duplicate vendorTxCode)."""
        body: dict[str, Any] = {
            "vendor_name": vendor_name,
            "transaction_type": transaction_type,
            "amount": amount,
            "currency": currency,
            "vendor_tx_code": vendor_tx_code,
            "card": card,
            "description": description,
            "customer_first_name": customer_first_name,
            "customer_last_name": customer_last_name,
        }
        if settlement_reference_text is not None:
            body["settlement_reference_text"] = settlement_reference_text
        if billing_address is not None:
            body["billing_address"] = billing_address
        if extra:
            body["extra"] = extra
        return dict(self._call("POST", "/_sim/checkout", body))

    def acs_answer(self, transaction_id: str, answer: str = "challenge") -> str:
        """Act as the shopper on the simulated ACS page: returns the `cres` the browser would post to the
        notificationURL (authenticated for the right answer, failed otherwise)."""
        return str(self._call("POST", f"/acs/{quote(transaction_id, safe='')}/answer", {"answer": answer})["cres"])

    # --- legacy Server protocol -------------------------------------------------------------------------

    def server_notify(
        self,
        *,
        url: str,
        vendor: str,
        security_key: str,
        fields: dict[str, Any] | None = None,
        times: int = 1,
        concurrency: int = 1,
        tamper: bool = False,
        timeout: float = 10.0,
    ) -> dict[str, Any]:
        """POST a signed Server-protocol 4.00 notification to `url` `times` times (`concurrency` at once).
        `fields` override the defaults (None drops one; an explicit VPSSignature is sent as given); `tamper`
        corrupts the signature. Returns `{"fields": {...sent...}, "deliveries": [{"index", "http_status",
        "status", "redirect_url", "status_detail", "lines", "body", "format_ok", "elapsed_ms" | "error"}]}`."""
        body = {
            "url": url,
            "vendor": vendor,
            "security_key": security_key,
            "fields": fields or {},
            "times": times,
            "concurrency": concurrency,
            "tamper": tamper,
            "timeout": timeout,
        }
        return dict(self._call("POST", "/_sim/server/notify", body))
