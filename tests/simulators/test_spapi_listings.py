"""The SP-API simulator's Listings Items 2021-08-01, Feeds 2021-06-30 (JSON_LISTINGS_FEED) and FBA Inventory v1,
against Amazon's models, the official examples in simulators/spapi/fixtures/ and python-amazon-sp-api.

All tests talk HTTP to a real server (uvicorn on a free port); see conftest.py.
"""

from __future__ import annotations

import gzip
import io
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from sp_api.api import Feeds, Inventories, ListingsItems
from sp_api.auth import AccessTokenClient
from sp_api.base import Marketplaces
from sp_api.base.exceptions import (
    SellingApiBadRequestException,
    SellingApiNotFoundException,
    SellingApiRequestThrottledException,
)

from simulators.spapi.control import SimulatorControlError, SpApiSimulatorControl
from tests.simulators.support import DE, SELLER, UK, US, lwa

SELLER_ID = SELLER["selling_partner_id"]
ITEMS = f"/listings/2021-08-01/items/{SELLER_ID}"
FEEDS = "/feeds/2021-06-30"
SUMMARIES = "/fba/inventory/v1/summaries"
JSON_FEED = "JSON_LISTINGS_FEED"
FIXTURES = Path(__file__).resolve().parents[2] / "simulators" / "spapi" / "fixtures"
QUOTA = {"code": "QuotaExceeded", "message": "You exceeded your quota for the requested resource."}
OTHER = {
    "selling_partner_id": "A2OTHERSELLER1",
    "refresh_token": "Atzr|other-seller",
    "client_id": "amzn1.application-oa2-client.other",
    "client_secret": "amzn1.oa2-cs.v1.other",
}
# Amazon's models: listingsItems_2021-08-01.json (Item, ItemSummaryByMarketplace, Issue, ListingsItemSubmission-
# Response), feeds_2021-06-30.json (Feed), fbaInventory.json (InventorySummary, InventoryDetails).
ITEM_FIELDS = {"sku", "summaries", "attributes", "issues", "offers", "fulfillmentAvailability", "procurement",
               "relationships", "productTypes"}  # fmt: skip
SUMMARY_REQUIRED = {"marketplaceId", "productType", "status", "createdDate", "lastUpdatedDate"}
ISSUE_REQUIRED = ["code", "message", "severity", "categories"]
FEED_FIELDS = ["feedId", "feedType", "marketplaceIds", "createdTime", "processingStatus", "processingStartTime",
               "processingEndTime", "resultFeedDocumentId"]  # fmt: skip


def sample(folder: str, name: str) -> dict[str, Any]:
    data = json.loads((FIXTURES / folder / f"{name}.json").read_text())
    return {key: value for key, value in data.items() if not key.startswith("_")}


def availability(quantity: Any, *, op: str = "replace", channel: str = "DEFAULT") -> dict[str, Any]:
    value = [{"fulfillment_channel_code": channel, "quantity": quantity}]
    return {"productType": "PRODUCT", "patches": [{"op": op, "path": "/attributes/fulfillment_availability",
                                                   "value": value}]}  # fmt: skip


def patch(api: httpx.Client, sku: str, body: dict[str, Any], **params: Any) -> httpx.Response:
    return api.patch(f"{ITEMS}/{sku}", params={"marketplaceIds": UK, **params}, json=body)


def get_item(api: httpx.Client, sku: str, **params: Any) -> httpx.Response:
    return api.get(f"{ITEMS}/{sku}", params={"marketplaceIds": UK, **params})


def error_of(response: httpx.Response, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    [error] = response.json()["errors"]
    return dict(error)


def quantity_of(api: httpx.Client, sku: str, marketplace: str = UK) -> int | None:
    response = api.get(
        f"{ITEMS}/{sku}", params={"marketplaceIds": marketplace, "includedData": "fulfillmentAvailability"}
    )
    assert response.status_code == 200, response.text
    entries = [e for e in response.json()["fulfillmentAvailability"] if e["fulfillmentChannelCode"] == "DEFAULT"]
    return entries[0].get("quantity") if entries else None


def feed_document(messages: list[dict[str, Any]], **header: Any) -> bytes:
    return json.dumps({"header": {"sellerId": SELLER_ID, "version": "2.0", **header}, "messages": messages}).encode()


def quantity_message(message_id: int, sku: str, quantity: Any, **overrides: Any) -> dict[str, Any]:
    body = availability(quantity)
    return {"messageId": message_id, "sku": sku, "operationType": "PATCH", "productType": "PRODUCT",
            "patches": body["patches"], **overrides}  # fmt: skip


def upload_feed(api: httpx.Client, data: bytes, *, content_type: str = "application/json; charset=UTF-8") -> str:
    created = api.post(f"{FEEDS}/documents", json={"contentType": content_type})
    assert created.status_code == 201, created.text
    document = created.json()
    put = httpx.put(document["url"], content=data, headers={"Content-Type": content_type})
    assert put.status_code == 200, put.text
    return str(document["feedDocumentId"])


def create_feed(api: httpx.Client, data: bytes, *, markets: list[str] | None = None, feed_type: str = JSON_FEED) -> str:
    document_id = upload_feed(api, data)
    response = api.post(f"{FEEDS}/feeds", json={"feedType": feed_type, "marketplaceIds": markets or [UK],
                                               "inputFeedDocumentId": document_id})  # fmt: skip
    assert response.status_code == 202, response.text
    return str(response.json()["feedId"])


def feed_of(api: httpx.Client, feed_id: str) -> dict[str, Any]:
    response = api.get(f"{FEEDS}/feeds/{feed_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def report_of(api: httpx.Client, feed: dict[str, Any]) -> dict[str, Any]:
    document = api.get(f"{FEEDS}/documents/{feed['resultFeedDocumentId']}").json()
    data = httpx.get(document["url"]).content
    if document.get("compressionAlgorithm") == "GZIP":
        data = gzip.decompress(data)
    return dict(json.loads(data))


def summaries(api: httpx.Client, marketplace: str = UK, **params: Any) -> httpx.Response:
    query = {"details": "true", "granularityType": "Marketplace", "granularityId": marketplace,
             "marketplaceIds": marketplace, **params}  # fmt: skip
    return api.get(SUMMARIES, params=query)


def local_lwa(spapi_url: str) -> type[AccessTokenClient]:
    class LocalLWA(AccessTokenClient):
        scheme = "http://"
        host = spapi_url.removeprefix("http://")

    return LocalLWA


def library(api_class: Any, spapi_url: str, **kwargs: Any) -> Any:
    client = api_class(
        Marketplaces.UK,
        credentials={"refresh_token": SELLER["refresh_token"], "lwa_app_id": SELLER["client_id"],
                     "lwa_client_secret": SELLER["client_secret"]},
        auth_token_client_class=local_lwa(spapi_url), **kwargs,
    )  # fmt: skip
    client.endpoint = spapi_url
    return client


@pytest.fixture
def other(spapi_url: str, sim: SpApiSimulatorControl) -> Iterator[httpx.Client]:
    """A second seller (US) with its own token."""
    sim.add_seller(**OTHER, marketplace_ids=[US])
    token = lwa(spapi_url, **{k: OTHER[k] for k in ("refresh_token", "client_id", "client_secret")}).json()
    with httpx.Client(base_url=spapi_url, headers={"x-amz-access-token": token["access_token"]}, timeout=10) as client:
        yield client


# --- usage plans ---------------------------------------------------------------------------------------


def test_usage_plans_are_amazons(sim: SpApiSimulatorControl) -> None:
    limits = sim.rate_limits()["limits"]
    assert {op: limits[op] for op in (
        "getListingsItem", "patchListingsItem", "createFeedDocument", "createFeed", "getFeeds", "getFeed", "cancelFeed",
        "getFeedDocument", "getInventorySummaries", "createFeed.JSON_LISTINGS_FEED",
    )} == {
        "getListingsItem": {"rate": 5.0, "burst": 10},
        "patchListingsItem": {"rate": 5.0, "burst": 5},
        "createFeedDocument": {"rate": 0.5, "burst": 15},
        "createFeed": {"rate": 0.0083, "burst": 15},
        "getFeeds": {"rate": 0.0222, "burst": 10},
        "getFeed": {"rate": 2.0, "burst": 15},
        "cancelFeed": {"rate": 2.0, "burst": 15},
        "getFeedDocument": {"rate": 0.0222, "burst": 10},
        "getInventorySummaries": {"rate": 2.0, "burst": 2},
        "createFeed.JSON_LISTINGS_FEED": {"rate": 0.0167, "burst": 5},
    }  # fmt: skip


def test_patch_is_throttled_after_its_burst_with_the_rate_header(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    sim.set_listings(SELLER_ID, UK, {"MUG": 1})
    codes = [patch(api, "MUG", availability(n)).status_code for n in range(5)]
    throttled = patch(api, "MUG", availability(99))
    assert codes == [200] * 5 and throttled.status_code == 429 and throttled.json() == {"errors": [QUOTA]}
    assert throttled.headers["x-amzn-RateLimit-Limit"] == "5" and throttled.headers["x-amzn-RequestId"]
    assert quantity_of(api, "MUG") == 4  # the throttled patch changed nothing; getListingsItem has its own bucket
    assert len(sim.listing_history(SELLER_ID, "MUG")) == 5
    assert sim.calls()["patchListingsItem"] == {"200": 5, "429": 1}


def test_inventory_summaries_throttled_after_two(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    assert [summaries(api).status_code for _ in range(3)] == [200, 200, 429]
    assert summaries(api).headers["x-amzn-RateLimit-Limit"] == "2"


def test_json_listings_feed_has_its_own_throttle(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    data = feed_document([quantity_message(1, "MUG", 1)])
    ids = [upload_feed(api, data) for _ in range(6)]
    body = {"feedType": JSON_FEED, "marketplaceIds": [UK]}
    codes = [api.post(f"{FEEDS}/feeds", json={**body, "inputFeedDocumentId": i}).status_code for i in ids]
    assert codes == [202] * 5 + [429]  # five JSON_LISTINGS_FEEDs per five minutes, under createFeed's 15
    assert sim.calls()["createFeed"] == {"202": 5, "429": 1}


# --- getListingsItem -----------------------------------------------------------------------------------


def test_get_listings_item_has_amazons_shape(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    sim.set_listings(SELLER_ID, UK, {"MUG": 7, "EMPTY": None, "ZERO": 0})
    default = get_item(api, "MUG")
    assert default.status_code == 200 and default.headers["x-amzn-RateLimit-Limit"] == "5"
    assert set(default.json()) == {"sku", "summaries"}  # includedData defaults to summaries
    [summary] = default.json()["summaries"]
    assert set(summary) >= SUMMARY_REQUIRED and summary["marketplaceId"] == UK and summary["productType"] == "PRODUCT"
    assert summary["status"] == ["BUYABLE", "DISCOVERABLE"] and summary["asin"].startswith("B0")
    assert summary["conditionType"] == "new_new" and summary["itemName"].endswith("(MUG)")
    every = get_item(api, "MUG", includedData=",".join(sorted(ITEM_FIELDS - {"sku"}))).json()
    assert set(every) == ITEM_FIELDS
    assert every["fulfillmentAvailability"] == [{"fulfillmentChannelCode": "DEFAULT", "quantity": 7}]
    assert every["attributes"]["fulfillment_availability"] == [{"fulfillment_channel_code": "DEFAULT", "quantity": 7}]
    assert (
        every["issues"] == []
        and every["offers"] == []
        and every["productTypes"] == [{"marketplaceId": UK, "productType": "PRODUCT"}]
    )
    # Repeated includedData keys work too (python-amazon-sp-api sends comma-separated values).
    both = api.get(f"{ITEMS}/EMPTY", params=[("marketplaceIds", UK), ("includedData", "summaries"),
                                             ("includedData", "fulfillmentAvailability")]).json()  # fmt: skip
    assert both["fulfillmentAvailability"] == [] and both["summaries"][0]["status"] == ["DISCOVERABLE"]
    assert get_item(api, "ZERO", includedData="summaries").json()["summaries"][0]["status"] == ["DISCOVERABLE"]


def test_get_listings_item_unknown_sku_is_404_not_found(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    sim.set_listings(SELLER_ID, DE, {"MUG": 1})  # another marketplace of the seller
    error = error_of(get_item(api, "MUG"), 404)
    assert error == {"code": "NOT_FOUND", "message": f"SKU 'MUG' not found in marketplace {UK}", "details": ""}
    assert get_item(api, "MUG").headers["x-amzn-RateLimit-Limit"] == "5"


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({}, "marketplaceIds"),
        ({"marketplaceIds": f"{UK},{DE}"}, "maximum of 1"),
        ({"marketplaceIds": UK, "includedData": "everything"}, "includedData"),
    ],
)
def test_get_listings_item_checks_its_parameters(
    api: httpx.Client, sim: SpApiSimulatorControl, params: dict[str, str], fragment: str
) -> None:
    sim.set_listings(SELLER_ID, UK, {"MUG": 1})
    error = error_of(api.get(f"{ITEMS}/MUG", params=params))
    assert error["code"] == "InvalidInput" and fragment in error["details"]
    assert (
        error_of(get_item(api, "MUG", marketplaceIds=US))["message"]
        == f"Value {US} for parameter marketplaceIds is invalid."
    )


def test_listings_belong_to_their_seller(api: httpx.Client, other: httpx.Client, sim: SpApiSimulatorControl) -> None:
    sim.set_listings(SELLER_ID, UK, {"MUG": 3})
    sim.set_listings(OTHER["selling_partner_id"], US, {"MUG": 50})
    # Another seller's sellerId in the path: refused, whatever the SKU.
    assert error_of(other.get(f"{ITEMS}/MUG", params={"marketplaceIds": US}), 403)["code"] == "Unauthorized"
    assert error_of(other.patch(f"{ITEMS}/MUG", params={"marketplaceIds": US}, json=availability(0)), 403)
    own = other.get(f"/listings/2021-08-01/items/{OTHER['selling_partner_id']}/MUG",
                    params={"marketplaceIds": US, "includedData": "fulfillmentAvailability"})  # fmt: skip
    assert own.json()["fulfillmentAvailability"][0]["quantity"] == 50
    assert quantity_of(api, "MUG") == 3 and sim.listings(SELLER_ID, UK) == {"MUG": 3}


# --- patchListingsItem ---------------------------------------------------------------------------------


def test_patch_accepted_has_amazons_shape_and_updates_the_listing(
    api: httpx.Client, sim: SpApiSimulatorControl
) -> None:
    sim.set_listings(SELLER_ID, UK, {"MUG": 7})
    before = sim.listing(SELLER_ID, UK, "MUG")
    time.sleep(1.05)  # lastUpdatedDate has whole seconds
    response = patch(api, "MUG", availability(3))
    assert response.status_code == 200 and response.headers["x-amzn-RateLimit-Limit"] == "5"
    answer = response.json()
    amazon = sample("listings-items-2021-08-01", "patchListingsItem_200")
    assert list(answer) == list(amazon) and answer["status"] == "ACCEPTED" and answer["issues"] == []
    assert answer["sku"] == "MUG" and len(answer["submissionId"]) == 32
    for key, value in amazon.items():
        assert type(answer[key]) is type(value), key
    assert quantity_of(api, "MUG") == 3 and sim.listings(SELLER_ID, UK) == {"MUG": 3}
    after = sim.listing(SELLER_ID, UK, "MUG")
    assert after["updated"] > before["updated"] and after["created"] == before["created"]
    assert patch(api, "MUG", availability(8)).json()["status"] == "ACCEPTED"
    history = sim.listing_history(SELLER_ID, "MUG")
    assert [(h["source"], h["previous"], h["quantity"]) for h in history] == [
        ("patchListingsItem", 7, 3), ("patchListingsItem", 3, 8),
    ]  # fmt: skip
    assert history[0]["submission_id"] == answer["submissionId"] and history[0]["patches"] == availability(3)["patches"]
    assert history[0]["marketplace_id"] == UK and history[0]["operation"] == "PATCH"


@pytest.mark.parametrize("quantity", [-1, 2.5, "7", True, None])
def test_bad_quantity_is_invalid_with_an_issue(api: httpx.Client, sim: SpApiSimulatorControl, quantity: Any) -> None:
    sim.set_listings(SELLER_ID, UK, {"MUG": 7})
    response = patch(api, "MUG", availability(quantity))
    assert response.status_code == 200
    answer = response.json()
    assert answer["status"] == "INVALID" and answer["sku"] == "MUG"
    [issue] = answer["issues"]
    assert [key for key in ISSUE_REQUIRED if key in issue] == ISSUE_REQUIRED and issue["severity"] == "ERROR"
    assert issue["attributeNames"] == ["fulfillment_availability"]
    if quantity is None:
        assert issue["code"] == "90220" and issue["message"] == "'quantity' is required but not supplied."
    else:
        assert issue == {"code": "4000001", "message": "The provided value for 'Quantity' is invalid.",
                         "severity": "ERROR", "attributeNames": ["fulfillment_availability"],
                         "categories": ["INVALID_ATTRIBUTE"]}  # fmt: skip
    assert quantity_of(api, "MUG") == 7 and sim.listing_history(SELLER_ID, "MUG") == []


def test_validation_preview_checks_without_changing(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    sim.set_listings(SELLER_ID, UK, {"MUG": 7})
    valid = patch(api, "MUG", availability(1), mode="VALIDATION_PREVIEW", includedData="identifiers,issues").json()
    amazon = sample("listings-items-2021-08-01", "patchListingsItem_200_1")
    assert list(valid) == list(amazon) and valid["status"] == "VALID"
    assert valid["identifiers"] == [{"marketplaceId": UK, "asin": valid["identifiers"][0]["asin"]}]
    invalid = patch(api, "MUG", availability(-3), mode="VALIDATION_PREVIEW", includedData="identifiers,issues").json()
    assert list(invalid) == list(sample("listings-items-2021-08-01", "patchListingsItem_200_2"))
    assert invalid["status"] == "INVALID" and invalid["issues"][0]["code"] == "4000001"
    assert quantity_of(api, "MUG") == 7 and sim.listing_history(SELLER_ID, "MUG") == []
    # identifiers only with VALIDATION_PREVIEW (the model); issues can be left out.
    assert error_of(patch(api, "MUG", availability(1), includedData="identifiers"))["code"] == "InvalidInput"
    assert patch(api, "MUG", availability(2), includedData="identifiers,issues", mode="VALIDATION_PREVIEW").json()
    without_issues = patch(api, "MUG", availability(-1), mode="VALIDATION_PREVIEW", includedData="identifiers").json()
    assert "issues" not in without_issues and without_issues["status"] == "INVALID"


def test_delete_and_merge_operations(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    sim.set_listings(SELLER_ID, UK, {"MUG": 7})
    fba = availability(0, channel="AMAZON_EU", op="merge")
    assert patch(api, "MUG", fba).json()["status"] == "ACCEPTED"  # another channel merged in: DEFAULT stays
    assert quantity_of(api, "MUG") == 7
    channels = get_item(api, "MUG", includedData="fulfillmentAvailability").json()["fulfillmentAvailability"]
    assert {c["fulfillmentChannelCode"] for c in channels} == {"DEFAULT", "AMAZON_EU"}
    delete = {"productType": "PRODUCT", "patches": [{"op": "delete", "path": "/attributes/fulfillment_availability"}]}
    assert patch(api, "MUG", delete).json()["status"] == "ACCEPTED"
    assert quantity_of(api, "MUG") is None and sim.listings(SELLER_ID, UK) == {"MUG": None}
    assert get_item(api, "MUG").json()["summaries"][0]["status"] == ["DISCOVERABLE"]
    other_attribute = {"productType": "PRODUCT", "patches": [
        {"op": "replace", "path": "/attributes/item_name", "value": [{"value": "Big mug", "marketplace_id": UK}]},
    ]}  # fmt: skip
    assert patch(api, "MUG", other_attribute).json()["status"] == "ACCEPTED"
    assert get_item(api, "MUG").json()["summaries"][0]["itemName"] == "Big mug"
    assert [h["quantity"] for h in sim.listing_history(SELLER_ID, "MUG")] == [7, None, None]


def test_attribute_names_and_paths_are_checked(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    sim.set_listings(SELLER_ID, UK, {"MUG": 7})
    camel = {"productType": "PRODUCT", "patches": [{"op": "replace", "path": "/attributes/fulfillmentAvailability",
                                                    "value": [{"quantity": 1}]}]}  # fmt: skip
    answer = patch(api, "MUG", camel).json()  # Amazon's answer in jlevers/selling-partner-api#861
    assert answer["status"] == "INVALID"
    assert answer["issues"] == [
        {
            "code": "90000900",
            "message": "The attributes are invalid.",
            "severity": "ERROR",
            "attributeNames": ["fulfillmentAvailability"],
            "categories": ["INVALID_ATTRIBUTE"],
        }
    ]
    nested = {"productType": "PRODUCT", "patches": [{"op": "replace", "path": "/attributes/item_name/0",
                                                     "value": [{"value": "x"}]}]}  # fmt: skip
    assert patch(api, "MUG", nested).json()["issues"][0]["code"] == "90000900"
    no_code = availability(1)
    del no_code["patches"][0]["value"][0]["fulfillment_channel_code"]
    assert patch(api, "MUG", no_code).json()["issues"][0]["code"] == "90220"


@pytest.mark.parametrize(
    "body",
    [
        {"patches": availability(1)["patches"]},  # productType is required
        {"productType": "PRODUCT", "patches": []},  # minItems 1
        {"productType": "PRODUCT", "patches": [{"op": "copy", "path": "/attributes/x", "value": [{}]}]},
        {"productType": "PRODUCT", "patches": [{"op": "replace", "value": [{}]}]},
        {"productType": "PRODUCT", "patches": [{"op": "replace", "path": "/attributes/x", "value": {"a": 1}}]},
    ],
)
def test_unparseable_patch_is_400(api: httpx.Client, sim: SpApiSimulatorControl, body: dict[str, Any]) -> None:
    sim.set_listings(SELLER_ID, UK, {"MUG": 7})
    error = error_of(patch(api, "MUG", body))
    assert error["code"] == "InvalidInput" and error["message"] == (
        "Request has missing or invalid parameters and cannot be parsed."
    )
    assert error_of(api.patch(f"{ITEMS}/MUG", params={"marketplaceIds": f"{UK},{DE}"}, json=availability(1)))
    assert error_of(api.patch(f"{ITEMS}/MUG", params={"marketplaceIds": UK}, content=b"not json"))
    assert error_of(patch(api, "MUG", availability(1), mode="LIVE"))
    assert sim.listing_history(SELLER_ID, "MUG") == []


def test_unknown_sku_is_accepted_like_amazon_by_default(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    assert sim.listing_settings()["unknown_sku"] == "accept"
    answer = patch(api, "NEW-SKU", availability(4)).json()
    assert answer["status"] == "ACCEPTED" and answer["issues"] == []
    item = get_item(api, "NEW-SKU", includedData="summaries,issues,fulfillmentAvailability").json()
    assert item["summaries"][0]["status"] == [] and "asin" not in item["summaries"][0]  # offer-only, incomplete
    assert item["issues"][0]["code"] == "90220" and item["fulfillmentAvailability"][0]["quantity"] == 4
    assert sim.listing(SELLER_ID, UK, "NEW-SKU")["complete"] is False
    assert sim.listing_history(SELLER_ID, "NEW-SKU")[0]["created"] is True


def test_unknown_sku_can_be_invalid_or_not_found(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    sim.listing_settings(unknown_sku="invalid")
    answer = patch(api, "NOPE", availability(4)).json()
    assert answer["status"] == "INVALID"
    assert answer["issues"][0]["code"] == "SIM_UNKNOWN_SKU" and "NOPE" in answer["issues"][0]["message"]
    sim.listing_settings(unknown_sku="not_found")
    assert error_of(patch(api, "NOPE", availability(4)), 404) == {
        "code": "NOT_FOUND", "message": f"SKU 'NOPE' not found in marketplace {UK}", "details": "",
    }  # fmt: skip
    assert sim.listings(SELLER_ID, UK) == {} and sim.listing_history(SELLER_ID, "NOPE") == []
    with pytest.raises(SimulatorControlError):
        sim.listing_settings(unknown_sku="maybe")


def test_patch_and_get_through_python_amazon_sp_api(spapi_url: str, sim: SpApiSimulatorControl) -> None:
    sim.set_listings(SELLER_ID, UK, {"MUG": 7})
    listings = library(ListingsItems, spapi_url, version="2021-08-01")
    answer = listings.patch_listings_item(SELLER_ID, "MUG", marketplaceIds=[UK], body=availability(2))
    assert answer.payload["status"] == "ACCEPTED" and answer.headers["x-amzn-RateLimit-Limit"] == "5"
    item = listings.get_listings_item(SELLER_ID, "MUG", marketplaceIds=[UK], includedData=["fulfillmentAvailability"])
    assert item.payload["fulfillmentAvailability"] == [{"fulfillmentChannelCode": "DEFAULT", "quantity": 2}]
    # Without marketplaceIds the library sends four marketplace keys of its own; marketplaceIds is the one read.
    assert listings.get_listings_item(SELLER_ID, "MUG").payload["summaries"][0]["marketplaceId"] == UK
    invalid = listings.patch_listings_item(SELLER_ID, "MUG", marketplaceIds=[UK], body=availability(-2))
    assert invalid.payload["status"] == "INVALID"  # a 200: the library raises nothing
    with pytest.raises(SellingApiNotFoundException) as missing:
        listings.get_listings_item(SELLER_ID, "NOPE", marketplaceIds=[UK])
    assert missing.value.amzn_code == "NOT_FOUND"
    with pytest.raises(SellingApiBadRequestException):
        listings.patch_listings_item(SELLER_ID, "MUG", marketplaceIds=[UK], body={"patches": []})
    sim.set_rate_limit("patchListingsItem", rate=0, burst=0)
    with pytest.raises(SellingApiRequestThrottledException) as throttled:
        listings.patch_listings_item(SELLER_ID, "MUG", marketplaceIds=[UK], body=availability(1))
    assert throttled.value.headers["x-amzn-RateLimit-Limit"] == "0"
    listings.close()


def test_faults_apply_to_listings_operations(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    sim.set_listings(SELLER_ID, UK, {"MUG": 7})
    sim.set_rate_limit("patchListingsItem", rate=0, burst=1)
    sim.add_fault(operation="patchListingsItem", kind="error", status=503, times=1)
    failed = patch(api, "MUG", availability(1))
    assert failed.status_code == 503 and failed.json()["errors"][0]["code"] == "ServiceUnavailable"
    assert failed.headers["x-amzn-RateLimit-Limit"] == "0"
    assert quantity_of(api, "MUG") == 7
    assert patch(api, "MUG", availability(1)).status_code == 200  # the fault spent no token
    sim.add_fault(operation="getListingsItem", kind="throttle", times=1)
    assert error_of(get_item(api, "MUG"), 429) == QUOTA
    assert sim.calls()["getListingsItem"]["429"] == 1


# --- Feeds: documents, createFeed, getFeed, processing ---------------------------------------------------


def test_feed_lifecycle_and_processing_report(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    sim.set_listings(SELLER_ID, UK, {"MUG": 7, "TENT": 2, "GONE": 1})
    sim.listing_settings(feed_processing_seconds=0.6)
    document = api.post(f"{FEEDS}/documents", json={"contentType": "application/json; charset=UTF-8"})
    assert document.status_code == 201 and document.headers["x-amzn-RateLimit-Limit"] == "0.5"
    assert list(document.json()) == list(sample("feeds-2021-06-30", "createFeedDocument_201"))
    assert document.json()["feedDocumentId"].startswith("amzn1.tortuga.")
    messages = [
        quantity_message(1, "MUG", 3),
        quantity_message(2, "TENT", -4),  # refused: the message's issue
        {"messageId": 3, "sku": "GONE", "operationType": "DELETE"},
        {"messageId": 4, "sku": "NEW", "operationType": "UPDATE", "productType": "PRODUCT", "attributes": {
            "fulfillment_availability": [{"fulfillment_channel_code": "DEFAULT", "quantity": 9}]}},
        {"messageId": 5, "sku": "TENT", "operationType": "PARTIAL_UPDATE", "productType": "PRODUCT", "attributes": {
            "fulfillment_availability": [{"fulfillment_channel_code": "DEFAULT", "quantity": 5}]}},
    ]  # fmt: skip
    data = feed_document(messages)
    put = httpx.put(document.json()["url"], content=data, headers={"Content-Type": "application/json; charset=UTF-8"})
    assert put.status_code == 200 and put.headers["ETag"]
    created = api.post(f"{FEEDS}/feeds", json={"feedType": JSON_FEED, "marketplaceIds": [UK],
                                               "inputFeedDocumentId": document.json()["feedDocumentId"]})  # fmt: skip
    assert created.status_code == 202 and list(created.json()) == list(sample("feeds-2021-06-30", "createFeed_202"))
    feed_id = created.json()["feedId"]
    assert feed_id.isdigit() and created.headers["x-amzn-RateLimit-Limit"] == "0.0083"

    queued = feed_of(api, feed_id)
    assert list(queued) == ["feedId", "feedType", "marketplaceIds", "createdTime", "processingStatus"]
    assert queued["processingStatus"] == "IN_QUEUE" and queued["marketplaceIds"] == [UK]
    assert sim.listings(SELLER_ID, UK) == {"GONE": 1, "MUG": 7, "TENT": 2}  # nothing applied yet
    time.sleep(0.35)
    assert feed_of(api, feed_id)["processingStatus"] == "IN_PROGRESS"
    time.sleep(0.35)
    done = feed_of(api, feed_id)
    assert list(done) == FEED_FIELDS and done["processingStatus"] == "DONE"
    assert (
        done["processingStartTime"] >= done["createdTime"] and done["processingEndTime"] >= done["processingStartTime"]
    )
    assert sim.listings(SELLER_ID, UK) == {"MUG": 3, "NEW": 9, "TENT": 5}

    document_info = api.get(f"{FEEDS}/documents/{done['resultFeedDocumentId']}")
    assert document_info.status_code == 200 and document_info.headers["x-amzn-RateLimit-Limit"] == "0.0222"
    assert list(document_info.json()) == list(sample("feeds-2021-06-30", "getFeedDocument_200"))
    report = report_of(api, done)
    amazon = json.loads((FIXTURES / "feeds-json-listings" / "listings-feed-processing-report-schema-v2.example.json")
                        .read_text())  # fmt: skip
    assert list(report) == ["header", "issues", "summary"]
    assert report["header"] == {"sellerId": SELLER_ID, "version": "2.0", "feedId": feed_id}
    assert set(report["summary"]) == set(amazon["summary"]) - {"itemSummary"}
    assert report["summary"] == {"errors": 1, "warnings": 0, "messagesProcessed": 5, "messagesAccepted": 4,
                                 "messagesInvalid": 1}  # fmt: skip
    [issue] = report["issues"]
    assert list(issue) == list(amazon["issues"][2])  # messageId, sku, code, severity, message, attributeName
    assert issue == {"messageId": 2, "sku": "TENT", "code": "4000001", "severity": "ERROR",
                     "message": "The provided value for 'Quantity' is invalid.",
                     "attributeName": "fulfillment_availability"}  # fmt: skip
    assert [(h["source"], h["feed_id"], h["message_id"], h["quantity"]) for h in sim.listing_history(SELLER_ID, "TENT")
            ] == [("JSON_LISTINGS_FEED", feed_id, 5, 5)]  # fmt: skip
    assert sim.listing_history(SELLER_ID, "GONE")[0]["deleted"] is True
    [control] = sim.feeds(seller=SELLER_ID)
    assert control["_sim"]["report"] == report and [h["status"] for h in control["_sim"]["history"]] == [
        "IN_QUEUE", "IN_PROGRESS", "DONE"
    ]  # fmt: skip
    assert control["_sim"]["input"]["size"] == len(data)


def test_per_message_issues(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    sim.set_listings(SELLER_ID, UK, {"MUG": 7})
    sim.listing_settings(unknown_sku="invalid")
    messages = [
        quantity_message(1, "MUG", 1),
        quantity_message(1, "MUG", 2),  # the same messageId again
        quantity_message(3, "NOPE", 2),  # not listed (unknown_sku=invalid)
        {"messageId": 4, "sku": "MUG", "operationType": "REPLACE", "productType": "PRODUCT"},
        {"messageId": 5, "sku": "MUG", "operationType": "PATCH", "patches": availability(1)["patches"]},
        {"messageId": 6, "operationType": "DELETE"},
        quantity_message(7, "MUG", "lots"),
        {"messageId": 8, "sku": "MUG", "operationType": "PATCH", "productType": "PRODUCT", "patches": []},
        quantity_message(9, "MUG", 4),
    ]
    report = report_of(api, feed_of(api, create_feed(api, feed_document(messages))))
    by_message = {(i["messageId"], i["code"]) for i in report["issues"]}
    assert by_message == {(1, "4000001"), (3, "SIM_UNKNOWN_SKU"), (4, "4000001"), (5, "90220"), (6, "90220"),
                          (7, "4000001"), (8, "90220")}  # fmt: skip
    assert report["summary"]["messagesAccepted"] == 2 and report["summary"]["messagesInvalid"] == 7
    assert all(i["severity"] == "ERROR" for i in report["issues"])
    assert next(i for i in report["issues"] if i["messageId"] == 6).get("sku") is None
    assert sim.listings(SELLER_ID, UK) == {"MUG": 4}
    assert [h["message_id"] for h in sim.listing_history(SELLER_ID, "MUG")] == [1, 9]


def test_amazons_example_feed_is_processed(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    sim.set_listings(SELLER_ID, UK, {"My-SKU-A": 1, "My-SKU-B": 1, "My-SKU-D": 1, "My-SKU-E": 1})
    example = json.loads((FIXTURES / "feeds-json-listings" / "listings-feed-schema-v2.example.json").read_text())
    example["header"]["sellerId"] = SELLER_ID
    feed = feed_of(api, create_feed(api, json.dumps(example).encode()))
    assert feed["processingStatus"] == "DONE"
    report = report_of(api, feed)
    assert report["issues"] == [] and report["summary"]["messagesAccepted"] == 5
    assert report["header"]["report"] == example["header"]["report"]  # asked for: echoed, with items
    assert report["summary"]["itemSummary"]["items"] == 4 == len(report["items"])
    assert {item["sku"] for item in report["items"]} == {"My-SKU-B", "My-SKU-C", "My-SKU-D", "My-SKU-E"}
    assert sim.listings(SELLER_ID, UK) == {"My-SKU-B": 10, "My-SKU-C": None, "My-SKU-D": 10, "My-SKU-E": 10}
    # UPDATE made My-SKU-C whole (AMAZON_NA, the FBA channel: no merchant-fulfilled quantity).
    assert sim.listing(SELLER_ID, UK, "My-SKU-C")["attributes"]["item_name"][0]["value"] == "My Title"


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"{not json", "not valid UTF-8 JSON"),
        (json.dumps({"messages": []}).encode(), "header and messages"),
        (feed_document([], version="1.0"), "header.version"),
        (json.dumps({"header": {"sellerId": "SOMEONE", "version": "2.0"}, "messages": []}).encode(), "sellerId"),
    ],
)
def test_unreadable_feed_is_fatal_with_a_report(
    api: httpx.Client, sim: SpApiSimulatorControl, data: bytes, fragment: str
) -> None:
    feed = feed_of(api, create_feed(api, data))
    assert feed["processingStatus"] == "FATAL" and feed["resultFeedDocumentId"]
    report = report_of(api, feed)
    [issue] = report["issues"]
    assert issue["code"] == "SIM_FEED_FATAL" and fragment in issue["message"] and "messageId" not in issue
    assert report["summary"]["messagesProcessed"] == 0


def test_feed_limits(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    assert sim.listing_settings()["max_feed_messages"] == 25_000
    sim.listing_settings(max_feed_messages=2)
    too_many = [quantity_message(n, f"SKU-{n}", 1) for n in (1, 2, 3)]
    report = report_of(api, feed_of(api, create_feed(api, feed_document(too_many))))
    assert report["issues"][0]["message"] == "feed messages list beyond allowed size"
    sim.listing_settings(max_feed_bytes=50)
    assert feed_of(api, create_feed(api, feed_document(too_many[:1])))["processingStatus"] == "FATAL"
    assert sim.listings(SELLER_ID, UK) == {}
    # JSON_LISTINGS_FEED takes one marketplace (amzn/selling-partner-api-models#4726).
    document_id = upload_feed(api, feed_document([]))
    two = api.post(f"{FEEDS}/feeds", json={"feedType": JSON_FEED, "marketplaceIds": [UK, DE],
                                           "inputFeedDocumentId": document_id})  # fmt: skip
    assert error_of(two)["message"] == "Too many 'marketplaceIds' values provided. Expected a maximum of 1."


def test_create_feed_checks_its_body(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    document_id = upload_feed(api, feed_document([]))
    missing = error_of(api.post(f"{FEEDS}/feeds", json={"feedType": JSON_FEED}))
    assert missing == {"code": "InvalidInput", "message": "One or more required parameters missing",
                       "details": "marketplaceIds;inputFeedDocumentId;"}  # fmt: skip
    body = {"feedType": JSON_FEED, "marketplaceIds": [UK], "inputFeedDocumentId": document_id}
    assert error_of(api.post(f"{FEEDS}/feeds", json={**body, "feedType": "_POST_DATA_"}))["message"].startswith(
        "Invalid Feed Type"
    )
    assert error_of(api.post(f"{FEEDS}/feeds", json={**body, "marketplaceIds": [US]}))["message"] == (
        f"Value {US} for parameter marketplaceIds is invalid."
    )
    assert error_of(api.post(f"{FEEDS}/feeds", json={**body, "inputFeedDocumentId": "bad"}))["message"] == (
        "Invalid inputFeedDocumentId bad"
    )
    assert error_of(api.post(f"{FEEDS}/documents", json={}))["details"] == "contentType;"
    # Legacy listings feeds end FATAL (Amazon, since July 31, 2025), without a processing report.
    legacy = feed_of(api, create_feed(api, b"<xml/>", feed_type="POST_INVENTORY_AVAILABILITY_DATA"))
    assert legacy["processingStatus"] == "FATAL" and "resultFeedDocumentId" not in legacy
    # Nothing uploaded before createFeed: FATAL.
    bare = api.post(f"{FEEDS}/documents", json={"contentType": "application/json"}).json()["feedDocumentId"]
    feed_id = api.post(f"{FEEDS}/feeds", json={**body, "inputFeedDocumentId": bare}).json()["feedId"]
    assert "not uploaded" in report_of(api, feed_of(api, feed_id))["issues"][0]["message"]


def test_presigned_urls_behave_like_s3(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    created = api.post(f"{FEEDS}/documents", json={"contentType": "application/json; charset=UTF-8"}).json()
    url = created["url"]
    wrong_type = httpx.put(url, content=b"{}", headers={"Content-Type": "text/plain"})
    assert wrong_type.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in wrong_type.text
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    tampered = f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode({**query, 'X-Amz-Expires': '9999'})}"
    assert httpx.put(tampered, content=b"{}", headers={"Content-Type": "application/json"}).status_code == 403
    stale = {**query, "X-Amz-Date": "20200101T000000Z"}
    stale["X-Amz-Signature"] = "0" * 64
    assert httpx.put(f"{parts.scheme}://{parts.netloc}{parts.path}?{urlencode(stale)}", content=b"").status_code == 403
    assert httpx.get(url).status_code == 403  # an upload URL does not download
    assert httpx.put(url, content=b"[]", headers={"Content-Type": "application/json"}).status_code == 200
    # The input document can be read back through getFeedDocument.
    info = api.get(f"{FEEDS}/documents/{created['feedDocumentId']}").json()
    assert httpx.get(info["url"]).content == b"[]"
    assert sim.calls()["feedDocumentUpload"] == {"200": 1, "403": 3}
    assert sim.calls()["feedDocumentDownload"] == {"200": 1, "403": 1}  # the GET of the upload URL


def test_feeds_and_documents_belong_to_their_seller(
    api: httpx.Client, other: httpx.Client, sim: SpApiSimulatorControl
) -> None:
    feed_id = create_feed(api, feed_document([quantity_message(1, "MUG", 1)]))
    feed = feed_of(api, feed_id)
    assert error_of(other.get(f"{FEEDS}/feeds/{feed_id}"), 404)["code"] == "NotFound"
    assert error_of(other.delete(f"{FEEDS}/feeds/{feed_id}"), 404)
    assert error_of(other.get(f"{FEEDS}/documents/{feed['resultFeedDocumentId']}"))["message"].startswith(
        "Invalid feedDocumentId"
    )
    assert other.get(f"{FEEDS}/feeds", params={"feedTypes": JSON_FEED}).json() == {"feeds": []}
    document_id = feed_of(api, feed_id)["resultFeedDocumentId"]
    stolen = {"feedType": JSON_FEED, "marketplaceIds": [US], "inputFeedDocumentId": document_id}
    assert error_of(other.post(f"{FEEDS}/feeds", json=stolen))["message"].startswith("Invalid inputFeedDocumentId")


def test_cancel_only_while_in_queue(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    sim.listing_settings(feed_processing_seconds=3600)
    data = feed_document([quantity_message(1, "MUG", 1)])
    first, second = create_feed(api, data), create_feed(api, data)
    cancelled = api.delete(f"{FEEDS}/feeds/{first}")
    assert cancelled.status_code == 200 and cancelled.content == b""
    assert feed_of(api, first)["processingStatus"] == "CANCELLED"
    assert "IN_QUEUE" in error_of(api.delete(f"{FEEDS}/feeds/{first}"))["message"]
    sim.advance_feed(second, "IN_PROGRESS")
    assert error_of(api.delete(f"{FEEDS}/feeds/{second}"))["message"].startswith(f"Feed {second} cannot be cancelled")
    fatal = sim.advance_feed(second, "FATAL", reason="Disk on fire")
    assert fatal["processingStatus"] == "FATAL" and fatal["_sim"]["report"]["issues"][0]["message"] == "Disk on fire"
    with pytest.raises(SimulatorControlError):
        sim.advance_feed(second, "DONE")
    assert sim.listings(SELLER_ID, UK) == {}  # neither was applied
    assert error_of(api.get(f"{FEEDS}/feeds/123"), 404)


def test_get_feeds_filters_and_pages(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    sim.set_rate_limiting(False)
    sim.listing_settings(feed_processing_seconds=3600)
    data = feed_document([quantity_message(1, "MUG", 1)])
    ids = [create_feed(api, data) for _ in range(5)]
    sim.advance_feed(ids[0], "DONE")
    first = api.get(f"{FEEDS}/feeds", params={"feedTypes": JSON_FEED, "pageSize": 2})
    assert first.status_code == 200 and first.headers["x-amzn-RateLimit-Limit"] == "0.0222"
    page = first.json()
    assert [f["feedId"] for f in page["feeds"]] == [ids[4], ids[3]] and page["nextToken"]  # newest first
    rest = api.get(f"{FEEDS}/feeds", params={"nextToken": page["nextToken"]}).json()
    assert [f["feedId"] for f in rest["feeds"]] == [ids[2], ids[1]]
    last = api.get(f"{FEEDS}/feeds", params={"nextToken": rest["nextToken"]}).json()
    assert [f["feedId"] for f in last["feeds"]] == [ids[0]] and "nextToken" not in last
    done = api.get(f"{FEEDS}/feeds", params={"feedTypes": JSON_FEED, "processingStatuses": "DONE"}).json()
    assert [f["feedId"] for f in done["feeds"]] == [ids[0]]
    assert error_of(api.get(f"{FEEDS}/feeds"))["details"] == "feedTypes;"
    mixed = error_of(api.get(f"{FEEDS}/feeds", params={"nextToken": page["nextToken"], "pageSize": 2}))
    assert mixed["message"] == "NextToken cannot be specified with other input parameters"


def test_feeds_through_python_amazon_sp_api(spapi_url: str, sim: SpApiSimulatorControl) -> None:
    sim.set_listings(SELLER_ID, UK, {"MUG": 7})
    sim.listing_settings(feed_result_compression="GZIP")
    feeds = library(Feeds, spapi_url)
    data = feed_document([quantity_message(1, "MUG", 12), quantity_message(2, "MUG-€", 1)])
    document, created = feeds.submit_feed(JSON_FEED, io.BytesIO(data), content_type="application/json; charset=UTF-8",
                                          marketplaceIds=[UK])  # fmt: skip
    assert document.payload["feedDocumentId"] and created.payload["feedId"]
    feed = feeds.get_feed(created.payload["feedId"]).payload
    assert feed["processingStatus"] == "DONE"
    text = feeds.get_feed_result_document(feed["resultFeedDocumentId"])  # the library gunzips it (GZIP)
    report = json.loads(text)
    assert report["summary"]["messagesAccepted"] == 2 and sim.listings(SELLER_ID, UK) == {"MUG": 12, "MUG-€": 1}
    listed = feeds.get_feeds(feedTypes=[JSON_FEED]).payload
    assert [f["feedId"] for f in listed["feeds"]] == [created.payload["feedId"]]
    feeds.close()


def test_faults_apply_to_feed_operations(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    sim.add_fault(operation="createFeedDocument", kind="error", status=500, times=1)
    assert error_of(api.post(f"{FEEDS}/documents", json={"contentType": "application/json"}), 500)
    sim.add_fault(operation="feedDocumentUpload", kind="throttle", times=1)
    created = api.post(f"{FEEDS}/documents", json={"contentType": "application/json"}).json()
    slow = httpx.put(created["url"], content=b"{}", headers={"Content-Type": "application/json"})
    assert slow.status_code == 503 and "<Code>SlowDown</Code>" in slow.text
    feed_id = create_feed(api, feed_document([quantity_message(1, "MUG", 1)]))
    sim.add_fault(operation="getFeed", kind="error", status=503, times=1)
    assert api.get(f"{FEEDS}/feeds/{feed_id}").status_code == 503
    sim.add_fault(operation="feedDocumentDownload", kind="truncate", times=1)
    info = api.get(f"{FEEDS}/documents/{feed_of(api, feed_id)['resultFeedDocumentId']}").json()
    whole = httpx.get(info["url"]).content
    assert len(whole) < len(httpx.get(info["url"]).content)  # the first was cut in half
    with pytest.raises(SimulatorControlError):
        sim.add_fault(operation="getFeed", kind="truncate")
    with pytest.raises(SimulatorControlError):
        sim.add_fault(operation="createFeed.JSON_LISTINGS_FEED")


# --- FBA Inventory v1 ----------------------------------------------------------------------------------


def test_inventory_summaries_have_amazons_shape(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    sim.set_rate_limiting(False)
    sim.set_fba_inventory(SELLER_ID, "FBA-MUG", 66, inbound_working=21, pending_transshipment=2, fc_processing=1,
                          unfulfillable={"customer_damaged": 3, "expired": 1}, researching={"long_term": 2},
                          product_name="A mug")  # fmt: skip
    response = summaries(api)
    assert response.status_code == 200 and response.headers["x-amzn-RateLimit-Limit"] == "2"
    body = response.json()
    assert list(body) == ["payload"]  # one page: no pagination
    assert body["payload"]["granularity"] == {"granularityType": "Marketplace", "granularityId": UK}
    [summary] = body["payload"]["inventorySummaries"]
    assert list(summary) == [
        "asin",
        "fnSku",
        "sellerSku",
        "condition",
        "inventoryDetails",
        "lastUpdatedTime",
        "productName",
        "totalQuantity",
    ]  # the model's sandbox example order
    details = summary["inventoryDetails"]
    assert list(details) == ["fulfillableQuantity", "inboundWorkingQuantity", "inboundShippedQuantity",
                             "inboundReceivingQuantity", "reservedQuantity", "researchingQuantity",
                             "unfulfillableQuantity"]  # fmt: skip
    assert details["reservedQuantity"] == {
        "totalReservedQuantity": 3,
        "pendingCustomerOrderQuantity": 0,
        "pendingTransshipmentQuantity": 2,
        "fcProcessingQuantity": 1,
    }
    assert details["unfulfillableQuantity"] == {
        "totalUnfulfillableQuantity": 4, "customerDamagedQuantity": 3, "warehouseDamagedQuantity": 0,
        "distributorDamagedQuantity": 0, "carrierDamagedQuantity": 0, "defectiveQuantity": 0, "expiredQuantity": 1,
    }  # fmt: skip
    assert details["researchingQuantity"]["totalResearchingQuantity"] == 2
    assert [e["name"] for e in details["researchingQuantity"]["researchingQuantityBreakdown"]] == [
        "researchingQuantityInShortTerm", "researchingQuantityInMidTerm", "researchingQuantityInLongTerm",
    ]  # fmt: skip
    assert summary["totalQuantity"] == 66 + 21 + 3 + 4 + 2 and summary["productName"] == "A mug"
    assert (
        summary["sellerSku"] == "FBA-MUG" and summary["condition"] == "NewItem" and summary["fnSku"].startswith("X00")
    )
    assert "inventoryDetails" not in summaries(api, details="false").json()["payload"]["inventorySummaries"][0]
    assert summaries(api, DE).json()["payload"]["granularity"]["granularityId"] == DE  # the seller's stock, any market


def test_inventory_summaries_page_by_sku_and_filter(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    sim.set_rate_limiting(False)
    for n in range(120):
        sim.set_fba_inventory(SELLER_ID, f"SKU-{n:03d}", n, last_updated=datetime(2026, 1, 1, tzinfo=UTC))
    seen: list[str] = []
    token: str | None = None
    while True:
        body = summaries(api, **({"nextToken": token} if token else {})).json()
        seen += [s["sellerSku"] for s in body["payload"]["inventorySummaries"]]
        token = body.get("pagination", {}).get("nextToken")
        if not token:
            break
    assert seen == [f"SKU-{n:03d}" for n in range(120)] and len(seen) == 120  # 50, 50, 20 by SKU
    chosen = summaries(api, sellerSkus="SKU-007,SKU-003,NOPE").json()["payload"]["inventorySummaries"]
    assert [s["sellerSku"] for s in chosen] == ["SKU-003", "SKU-007"]
    assert [s["sellerSku"] for s in summaries(api, sellerSku="SKU-009").json()["payload"]["inventorySummaries"]] == [
        "SKU-009"
    ]
    assert error_of(summaries(api, sellerSkus=",".join(f"S{n}" for n in range(51))))["code"] == "InvalidInput"

    since = datetime.now(UTC) - timedelta(seconds=5)
    sim.set_fba_inventory(SELLER_ID, "SKU-050", 1)  # changed now
    sim.set_fba_inventory(SELLER_ID, "SKU-051", inbound_shipped=4)  # inbound changes are not detected
    start = since.strftime("%Y-%m-%dT%H:%M:%SZ")
    changed = summaries(api, startDateTime=start, sellerSkus="SKU-001").json()["payload"]["inventorySummaries"]
    assert [s["sellerSku"] for s in changed] == ["SKU-050"]  # sellerSkus is ignored with startDateTime


def test_next_token_rules(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    sim.set_rate_limiting(False)
    sim.listing_settings(inventory_page_size=1)
    for sku in ("A", "B", "C"):
        sim.set_fba_inventory(SELLER_ID, sku, 1)
    start = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    token = summaries(api, startDateTime=start).json()["pagination"]["nextToken"]
    # "passing only nextToken ... after initiating the request with startDateTime will result in an error"
    assert "startDateTime is required" in error_of(summaries(api, nextToken=token))["message"]
    assert (
        summaries(api, nextToken=token, startDateTime=start).json()["payload"]["inventorySummaries"][0]["sellerSku"]
        == "B"
    )
    assert error_of(summaries(api, nextToken="garbage"))["message"] == "Next token is invalid or expired"
    sim.listing_settings(inventory_token_ttl_seconds=0.2)
    plain = summaries(api).json()["pagination"]["nextToken"]
    time.sleep(0.3)
    assert error_of(summaries(api, nextToken=plain))["message"] == "Next token is invalid or expired"
    bad_date = error_of(summaries(api, startDateTime="yesterday"))
    assert bad_date["message"] == "Query parameter [startDateTime] value is not a valid ISO date-time object"
    too_old = (datetime.now(UTC) - timedelta(days=600)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert "18 months" in error_of(summaries(api, startDateTime=too_old))["message"]
    assert error_of(api.get(SUMMARIES, params={"marketplaceIds": UK}))["details"] == "granularityType;granularityId;"
    assert error_of(summaries(api, US))["message"] == f"Value {US} for parameter marketplaceIds is invalid."


def test_mcf_orders_reserve_in_the_summaries(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    old = datetime(2026, 1, 1, tzinfo=UTC)
    sim.set_fba_inventory(SELLER_ID, "FBA-MUG", 5, pending_customer_order=1, last_updated=old)
    order = {
        "sellerFulfillmentOrderId": "WEB-1", "displayableOrderId": "WEB-1",
        "displayableOrderDate": "2026-11-20T10:15:00Z", "displayableOrderComment": "Thanks",
        "shippingSpeedCategory": "Standard",
        "destinationAddress": {"name": "A", "addressLine1": "1 Road", "postalCode": "SW1A 1AA", "countryCode": "GB"},
        "items": [{"sellerSku": "FBA-MUG", "sellerFulfillmentOrderItemId": "1", "quantity": 2}],
    }  # fmt: skip
    assert api.post("/fba/outbound/2020-07-01/fulfillmentOrders", json=order).status_code == 200
    [summary] = summaries(api).json()["payload"]["inventorySummaries"]
    details = summary["inventoryDetails"]
    assert details["fulfillableQuantity"] == 3
    assert details["reservedQuantity"]["pendingCustomerOrderQuantity"] == 3  # 2 for the MCF order + 1 seeded
    assert summary["totalQuantity"] == 6 and summary["lastUpdatedTime"] > "2026-01-01T00:00:00Z"
    sim.advance_fulfillment_order("WEB-1", "Processing")
    sim.advance_fulfillment_order("WEB-1", "Complete")  # shipped: the reservation is consumed
    [after] = summaries(api).json()["payload"]["inventorySummaries"]
    assert after["inventoryDetails"]["reservedQuantity"]["pendingCustomerOrderQuantity"] == 1
    assert after["totalQuantity"] == 4
    [record] = sim.fba_inventory(seller=SELLER_ID, sku="FBA-MUG")
    assert (record["fulfillable"], record["reserved"], record["pending_customer_order"], record["total"]) == (
        3,
        0,
        1,
        4,
    )


def test_inventory_through_python_amazon_sp_api(spapi_url: str, sim: SpApiSimulatorControl) -> None:
    sim.set_rate_limiting(False)
    for n in range(3):
        sim.set_fba_inventory(SELLER_ID, f"SKU-{n}", n + 1)
    inventories = library(Inventories, spapi_url)
    response = inventories.get_inventory_summary_marketplace(details=True, sellerSkus=["SKU-0", "SKU-2"])
    assert [s["sellerSku"] for s in response.payload["inventorySummaries"]] == ["SKU-0", "SKU-2"]
    assert response.next_token is None and response.headers["x-amzn-RateLimit-Limit"] == "2"
    sim.listing_settings(inventory_page_size=2)
    page = inventories.get_inventory_summary_marketplace(details=True)
    assert len(page.payload["inventorySummaries"]) == 2 and page.next_token  # from pagination.nextToken
    rest = inventories.get_inventory_summary_marketplace(details=True, nextToken=page.next_token)
    assert [s["sellerSku"] for s in rest.payload["inventorySummaries"]] == ["SKU-2"]
    sim.add_fault(operation="getInventorySummaries", kind="throttle", times=1)
    with pytest.raises(SellingApiRequestThrottledException):
        inventories.get_inventory_summary_marketplace(details=True)
    inventories.close()


def test_other_sellers_stock_is_not_listed(api: httpx.Client, other: httpx.Client, sim: SpApiSimulatorControl) -> None:
    sim.set_fba_inventory(SELLER_ID, "MINE", 1)
    sim.set_fba_inventory(OTHER["selling_partner_id"], "THEIRS", 2)
    assert [s["sellerSku"] for s in summaries(api).json()["payload"]["inventorySummaries"]] == ["MINE"]
    assert [s["sellerSku"] for s in summaries(other, US).json()["payload"]["inventorySummaries"]] == ["THEIRS"]


# --- control API ---------------------------------------------------------------------------------------


def test_control_api_checks_and_reset(api: httpx.Client, sim: SpApiSimulatorControl) -> None:
    defaults = sim.listing_settings()
    assert defaults == {
        "unknown_sku": "accept", "feed_processing_seconds": 0.0, "feed_result_compression": None,
        "max_feed_messages": 25_000, "max_feed_bytes": 0, "inventory_page_size": 50,
        "inventory_token_ttl_seconds": 30.0,
    }  # fmt: skip
    for bad in ({"nope": 1}, {"max_feed_messages": 0}, {"feed_result_compression": "ZIP"},
                {"inventory_token_ttl_seconds": 0}, {"inventory_page_size": 1, "unknown_sku": "x"}):  # fmt: skip
        assert sim.http.post("/_sim/listings/settings", json=bad).status_code == 400
    assert sim.listing_settings() == defaults  # a refused change changes nothing
    with pytest.raises(SimulatorControlError):
        sim.set_listings("NOBODY", UK, {"MUG": 1})
    with pytest.raises(SimulatorControlError):
        sim.set_listings(SELLER_ID, UK, {"MUG": -1})
    with pytest.raises(SimulatorControlError):
        sim.set_fba_inventory(SELLER_ID, "NEW", inbound_working=2)  # fulfillable is needed for a new SKU
    with pytest.raises(SimulatorControlError):
        sim.set_fba_inventory(SELLER_ID, "NEW", 1, unfulfillable={"lost": 1})
    with pytest.raises(SimulatorControlError) as missing:
        sim.listing(SELLER_ID, UK, "NOPE")
    assert missing.value.status == 404

    sim.set_listings(SELLER_ID, UK, {"MUG": 2})
    patch(api, "MUG", availability(1))
    create_feed(api, feed_document([quantity_message(1, "MUG", 3)]))
    sim.set_fba_inventory(SELLER_ID, "FBA-MUG", 4)
    sim.listing_settings(unknown_sku="not_found", inventory_page_size=3)
    health = sim.health()
    assert (health["listings"], health["feeds"], health["fba_inventory"]) == (1, 1, 1)
    sim.reset()
    sim.add_seller(**SELLER, marketplace_ids=[UK, DE])
    assert sim.listings(SELLER_ID, UK) == {} and sim.listing_history(SELLER_ID, "MUG") == []
    assert sim.feeds() == [] and sim.fba_inventory() == [] and sim.listing_settings() == defaults
