"""Amazon SP-API listing quantities and FBA stock: Listings Items 2021-08-01 (getListingsItem, patchListingsItem),
Feeds 2021-06-30 for JSON_LISTINGS_FEED (createFeedDocument, the upload, createFeed, getFeed, getFeedDocument and the
processing report) and FBA Inventory v1 (getInventorySummaries).

Built on `connectors.amazon.base.SpApiClient` like the other SP-API clients: the same hosts (Amazon or the
simulator), LWA token handling, per-operation call counts and typed errors (RetryableConnectorError / ThrottledError
with the wait from `x-amzn-RateLimit-Limit` / PermanentConnectorError). Feed documents do not go through the
library (it uploads `str` bodies as iso-8859-1, expects JSON from S3 when an upload fails, and decodes reports by
guessing): the document is uploaded as UTF-8 bytes and the processing report downloaded with httpx, gunzipped when
`compressionAlgorithm` is GZIP. Returns the frozen dataclasses of `inventory_types` and never touches the database.

Amazon's behaviour worth knowing (see simulators/spapi/README.md for the sources):
- patchListingsItem answers 200 for a valid request, `status` ACCEPTED (queued: Amazon applies it within minutes) or
  INVALID with `issues`; `patch_availability` returns both. A SKU Amazon does not list is ACCEPTED too (it becomes an
  incomplete, offer-only listing): only getListingsItem says 404. A 404 from patchListingsItem (which the simulator
  can be told to answer) is a PermanentConnectorError naming the SKU.
- JSON_LISTINGS_FEED takes one marketplace per feed, up to 25,000 messages (keep documents under 10 MiB); its
  processing report lists issues per messageId. A FATAL feed has no per-SKU issues: treat none of its items as done.
- getInventorySummaries pages 50 summaries at a time by SKU; with `startDateTime` it ignores `sellerSkus` and every
  next page must carry the same `startDateTime`; a nextToken is short-lived (seconds), so pages are fetched at once.
Docs: https://developer-docs.amazon.com/sp-api/docs/listings-items-api-v2021-08-01-reference,
https://developer-docs.amazon.com/sp-api/docs/feeds-api-v2021-06-30-reference,
https://developer-docs.amazon.com/sp-api/docs/fbainventory-api-v1-reference
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sp_api.api import FeedsV20210630, Inventories, ListingsItemsV20210801
from sp_api.base import fill_query_params

from config.common.errors import PermanentConnectorError, RetryableConnectorError
from connectors.amazon.base import (
    PROVIDER,
    PresignedUrlRefused,
    SpApiClient,
    iso,
    malformed,
    rate_limit,
)
from connectors.amazon.inventory_types import (
    Feed,
    FeedResult,
    InventoryPage,
    InventorySummary,
    Listing,
    ListingSubmission,
    availability_patch,
    check_quantity,
    listings_feed_document,
    parse_feed,
    parse_feed_report,
    parse_listing,
    parse_submission,
    parse_summary,
)

JSON_LISTINGS_FEED = "JSON_LISTINGS_FEED"
FEED_CONTENT_TYPE = "application/json; charset=UTF-8"
MAX_SKUS = 50  # getInventorySummaries sellerSkus
FEED_UPLOAD = "feedDocumentUpload"  # the pre-signed upload URL (S3 on Amazon): counted under this name
FEED_DOWNLOAD = "feedDocumentDownload"  # the pre-signed download URL of a feed document
_GZIP_MAGIC = b"\x1f\x8b"


class AmazonInventoryClient(SpApiClient):
    """Listings quantities, listings feeds and FBA stock of one seller account. Thread-safe like SpApiClient.

    Usage plans (Amazon's defaults): getListingsItem 5/s burst 10, patchListingsItem 5/s burst 5, createFeedDocument
    0.5/s burst 15, createFeed 0.0083/s burst 15 (and JSON_LISTINGS_FEED: 5 feeds per 5 minutes), getFeed 2/s burst 15,
    getFeedDocument 0.0222/s burst 10, getInventorySummaries 2/s burst 2. A 429 is a ThrottledError whose
    `retry_after` is one token's refill time.
    """

    # --- Listings Items 2021-08-01 ------------------------------------------------------------------

    def get_listing(self, *, seller_id: str, sku: str, marketplace_id: str) -> Listing | None:
        """getListingsItem with summaries, fulfillmentAvailability and issues; None when Amazon has no such listing
        (404)."""

        def call(api: Any) -> Any:
            return api.get_listings_item(
                seller_id, sku, marketplaceIds=[marketplace_id],
                includedData=["summaries", "fulfillmentAvailability", "issues"],
            )  # fmt: skip

        try:
            response = self._call("getListingsItem", call, ListingsItemsV20210801)
        except PermanentConnectorError as exc:
            if exc.status_code == 404:
                return None
            raise
        return parse_listing(response.payload, marketplace_id)

    def get_availability(self, *, seller_id: str, sku: str, marketplace_id: str) -> int | None:
        """The merchant-fulfilled quantity Amazon shows; None when the listing has none or does not exist. (Amazon
        applies an accepted patch within minutes, so a read right after a patch may show the old value.)"""
        listing = self.get_listing(seller_id=seller_id, sku=sku, marketplace_id=marketplace_id)
        return None if listing is None else listing.quantity

    def patch_availability(
        self,
        *,
        seller_id: str,
        sku: str,
        quantity: int,
        marketplace_id: str,
        product_type: str = "PRODUCT",
        validate_only: bool = False,
    ) -> ListingSubmission:
        """patchListingsItem replacing `fulfillment_availability` with the DEFAULT channel's `quantity`.

        ACCEPTED and INVALID answers are returned (an INVALID one carries Amazon's issues); VALID with
        `validate_only` (mode VALIDATION_PREVIEW: checked, nothing changed). A 404 (the SKU is not listed) is a
        PermanentConnectorError naming the SKU; other 4xx are PermanentConnectorError, 429 ThrottledError, 5xx and
        timeouts RetryableConnectorError. Setting a quantity is idempotent: repeating it after a timeout is safe."""
        body = {"productType": product_type, "patches": availability_patch(check_quantity(quantity))}
        params: dict[str, Any] = {"marketplaceIds": [marketplace_id], "includedData": ["issues"]}
        if validate_only:
            params["mode"] = "VALIDATION_PREVIEW"

        def call(api: Any) -> Any:
            return api.patch_listings_item(seller_id, sku, body=body, **params)

        try:
            response = self._call("patchListingsItem", call, ListingsItemsV20210801)
        except PermanentConnectorError as exc:
            if exc.status_code != 404:
                raise
            raise PermanentConnectorError(
                f"SKU {sku!r} is not listed for seller {seller_id} in marketplace {marketplace_id} ({exc.message})",
                provider=PROVIDER, operation="patchListingsItem", status_code=404, code=exc.code, details=exc.details,
            ) from exc  # fmt: skip
        return parse_submission(response.payload)

    # --- Feeds 2021-06-30: JSON_LISTINGS_FEED --------------------------------------------------------

    def submit_listings_feed(
        self,
        *,
        seller_id: str,
        marketplace_id: str,
        items: Sequence[tuple[str, int]],
        product_type: str = "PRODUCT",
    ) -> str:
        """Send (SKU, quantity) pairs as one JSON_LISTINGS_FEED (messageId = position, starting at 1): createFeed-
        Document, upload, createFeed. Returns the feedId; follow it with `feed_result`.

        ValueError for an empty feed, a repeated SKU, more than 25,000 items or a document over 10 MiB. A timeout on
        createFeed leaves it unknown whether the feed exists: sending the same quantities again is harmless."""
        data = listings_feed_document(seller_id=seller_id, items=items, product_type=product_type)
        for attempt in (1, 2):
            document_id, url = self._create_feed_document()
            try:
                self._upload(url, data)
                break
            except PresignedUrlRefused as refused:  # e.g. the URL expired before the upload: a fresh document, once
                if attempt == 2:
                    raise refused.error from None
        response = self._call(
            "createFeed",
            lambda api: api.create_feed(JSON_LISTINGS_FEED, document_id, marketplaceIds=[marketplace_id]),
            FeedsV20210630,
            plans=(f"createFeed.{JSON_LISTINGS_FEED}",),
        )
        payload = response.payload
        if not isinstance(payload, dict) or not isinstance(payload.get("feedId"), str) or not payload["feedId"]:
            raise malformed("createFeed", "without a feedId")
        return str(payload["feedId"])

    def _create_feed_document(self) -> tuple[str, str]:
        response = self._call(
            "createFeedDocument", lambda api: api.create_feed_document(None, FEED_CONTENT_TYPE), FeedsV20210630
        )
        payload = response.payload
        if not isinstance(payload, dict) or not payload.get("feedDocumentId") or not payload.get("url"):
            raise malformed("createFeedDocument", "without a feedDocumentId and url")
        return str(payload["feedDocumentId"]), str(payload["url"])

    def _upload(self, url: str, data: bytes) -> None:
        self._presigned("PUT", url, FEED_UPLOAD, content=data, headers={"Content-Type": FEED_CONTENT_TYPE})

    def get_feed(self, feed_id: str) -> Feed:
        response = self._call("getFeed", lambda api: api.get_feed(feed_id), FeedsV20210630)
        return parse_feed(response.payload)

    def feed_result(self, feed_id: str, *, skus: Sequence[str] | None = None) -> FeedResult:
        """getFeed; once the feed is final, its processing report (getFeedDocument + download) summed up. Issues
        carry their SKU in the report; `skus` (the items in the order they were sent) maps a messageId to its SKU
        when an issue does not."""
        feed = self.get_feed(feed_id)
        if not feed.is_final:
            return FeedResult(feed_id=feed_id, status=feed.processing_status)
        if feed.result_feed_document_id is None:
            reason = () if feed.processing_status != "FATAL" else ("FATAL without a processing report",)
            return FeedResult(feed_id=feed_id, status=feed.processing_status, feed_issues=reason)
        report = self.download_feed_report(feed.result_feed_document_id)
        return parse_feed_report(feed, report, skus)

    def download_feed_report(self, document_id: str) -> dict[str, Any]:
        """getFeedDocument and the download of its pre-signed URL (gunzipped when GZIP), parsed as JSON. A URL
        refused with 403 (expired) is fetched afresh once; a cut or garbled download is RetryableConnectorError."""
        for attempt in (1, 2):
            url, compression = self._feed_document(document_id)
            try:
                data = self._download(url)
                break
            except PresignedUrlRefused as refused:
                if attempt == 2:
                    raise refused.error from None
        try:
            if compression == "GZIP" or data.startswith(_GZIP_MAGIC):
                data = gzip.decompress(data)
            report = json.loads(data.decode("utf-8"))
        except (OSError, EOFError, zlib.error, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RetryableConnectorError(
                f"the processing report {document_id} is not readable JSON ({exc})", provider=PROVIDER,
                operation=FEED_DOWNLOAD,
            ) from exc  # fmt: skip
        if not isinstance(report, dict):
            raise RetryableConnectorError(
                f"the processing report {document_id} is not a JSON object", provider=PROVIDER, operation=FEED_DOWNLOAD
            )
        return report

    def _feed_document(self, document_id: str) -> tuple[str, str | None]:
        path = fill_query_params("/feeds/2021-06-30/documents/{}", document_id)
        # The library's get_feed_document downloads and decodes by guess: ask for the URL only.
        response = self._call(
            "getFeedDocument", lambda api: api._request(path, params={}, add_marketplace=False), FeedsV20210630
        )
        payload = response.payload
        if not isinstance(payload, dict) or not isinstance(payload.get("url"), str) or not payload["url"]:
            raise malformed("getFeedDocument", "without a url")
        compression = payload.get("compressionAlgorithm")
        return payload["url"], compression if isinstance(compression, str) and compression else None

    def _download(self, url: str) -> bytes:
        return self._presigned("GET", url, FEED_DOWNLOAD).content

    # --- FBA Inventory v1 ----------------------------------------------------------------------------

    def inventory_summaries_page(
        self,
        *,
        marketplace_id: str,
        start: datetime | None = None,
        skus: Sequence[str] | None = None,
        next_token: str | None = None,
    ) -> InventoryPage:
        """One page of getInventorySummaries with details (≤ 50 summaries, by SKU). Amazon ignores `skus` (≤ 50)
        when `start` is given; pass the same `start` with `next_token` (Amazon requires it)."""
        if skus is not None and len(skus) > MAX_SKUS:
            raise ValueError(f"at most {MAX_SKUS} SKUs per call, not {len(skus)}")
        params: dict[str, Any] = {
            "details": True, "granularityType": "Marketplace", "granularityId": marketplace_id,
            "marketplaceIds": [marketplace_id],
        }  # fmt: skip
        if start is not None:
            params["startDateTime"] = iso(start)
        if skus:
            params["sellerSkus"] = list(skus)
        if next_token:
            params["nextToken"] = next_token

        def call(api: Any) -> Any:
            return api.get_inventory_summary_marketplace(**dict(params))

        response = self._call("getInventorySummaries", call, Inventories)
        payload = response.payload
        if not isinstance(payload, dict) or not isinstance(payload.get("inventorySummaries"), list):
            raise malformed("getInventorySummaries", "without an inventorySummaries list")
        return InventoryPage(
            summaries=tuple(parse_summary(raw) for raw in payload["inventorySummaries"]),
            next_token=response.next_token or None,
            rate_limit=rate_limit(response.headers),
        )

    def inventory_summaries(
        self, *, marketplace_id: str, start: datetime | None = None, skus: Sequence[str] | None = None
    ) -> Iterator[InventorySummary]:
        """Every FBA summary of the marketplace (or those changed since `start`, or those of `skus`, asked 50 at a
        time), following nextToken. With both `start` and `skus`, the changed ones among `skus` (Amazon ignores
        sellerSkus with startDateTime, so they are filtered here)."""
        if skus is not None and start is None:
            wanted = list(dict.fromkeys(skus))
            for at in range(0, len(wanted), MAX_SKUS):
                yield from self._pages(marketplace_id=marketplace_id, start=None, skus=wanted[at : at + MAX_SKUS])
            return
        keep = None if skus is None else set(skus)
        for summary in self._pages(marketplace_id=marketplace_id, start=start, skus=None):
            if keep is None or summary.seller_sku in keep:
                yield summary

    def _pages(
        self, *, marketplace_id: str, start: datetime | None, skus: Sequence[str] | None
    ) -> Iterator[InventorySummary]:
        token: str | None = None
        while True:
            page = self.inventory_summaries_page(
                marketplace_id=marketplace_id, start=start, skus=skus, next_token=token
            )
            yield from page.summaries
            token = page.next_token
            if not token:
                return


AmazonListingsClient = AmazonInventoryClient  # the same client, by the name of its other half
