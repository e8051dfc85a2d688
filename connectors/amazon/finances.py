"""SP-API Finances 2024-06-19: listTransactions (DEFERRED, RELEASED and DEFERRED_RELEASED transactions with their
breakdowns), for the period-end accruals of orders no settlement has paid yet.
Docs: https://developer-docs.amazon.com/sp-api/reference/listtransactions
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sp_api.api import FinancesV20240619

from connectors.amazon.base import SpApiClient, iso, malformed, rate_limit
from connectors.amazon.finances_types import OPERATION, TransactionsPage, parse_transaction


class AmazonFinancesClient(SpApiClient):
    """Finances 2024-06-19 of one seller account. Thread-safe like SpApiClient.

    Usage plan (Amazon's default): listTransactions 0.5/s, burst 10. A 429 is a ThrottledError whose `retry_after`
    is one token's refill time.
    """

    def list_transactions_page(
        self,
        *,
        posted_after: datetime | None = None,
        posted_before: datetime | None = None,
        marketplace_id: str | None = None,
        transaction_status: str | None = None,
        related_identifier: tuple[str, str] | None = None,
        next_token: str | None = None,
    ) -> TransactionsPage:
        """One page of listTransactions. `posted_after` is required unless `related_identifier` (ORDER_ID or
        FINANCIAL_EVENT_GROUP_ID, value) is given; `posted_before` defaults to two minutes ago on Amazon's side, and
        more than 180 days between the two gives an empty answer. A `next_token` goes with the same arguments as the
        call that produced it (Amazon says so), so pass them again."""
        params: dict[str, Any] = {}
        if posted_after is not None:
            params["postedAfter"] = iso(posted_after)
        if posted_before is not None:
            params["postedBefore"] = iso(posted_before)
        if marketplace_id:
            params["marketplaceId"] = marketplace_id
        if transaction_status:
            params["transactionStatus"] = transaction_status
        if related_identifier is not None:
            params["relatedIdentifierName"], params["relatedIdentifierValue"] = related_identifier
        if next_token:
            params["nextToken"] = next_token
        if "postedAfter" not in params and related_identifier is None:
            raise ValueError(
                "posted_after is required without a related identifier (Amazon: 'Start date cannot be null')"
            )
        response = self._call(OPERATION, lambda api: api.list_transactions(**params), FinancesV20240619)
        payload = response.payload
        if not isinstance(payload, dict) or not isinstance(payload.get("transactions", []), list):
            raise malformed(OPERATION, "without a transactions list")
        token = payload.get("nextToken")
        return TransactionsPage(
            transactions=tuple(parse_transaction(raw) for raw in payload.get("transactions") or []),
            next_token=token if isinstance(token, str) and token else None,
            rate_limit=rate_limit(response.headers),
        )

    def iter_transactions(
        self,
        *,
        posted_after: datetime | None = None,
        posted_before: datetime | None = None,
        marketplace_id: str | None = None,
        transaction_status: str | None = None,
        related_identifier: tuple[str, str] | None = None,
    ) -> Iterator[TransactionsPage]:
        """Every page, following nextToken with the same arguments (pages may be empty, as Amazon warns)."""
        token: str | None = None
        while True:
            page = self.list_transactions_page(
                posted_after=posted_after, posted_before=posted_before, marketplace_id=marketplace_id,
                transaction_status=transaction_status, related_identifier=related_identifier, next_token=token,
            )  # fmt: skip
            yield page
            if not page.next_token:
                return
            token = page.next_token
