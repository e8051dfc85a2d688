"""Schemathesis generates requests from our OpenAPI schema and calls every operation: no answer may be a 5xx.

Runs in-process against Django's WSGI app, authenticated (ERP endpoints with an ERP client token, the rest with a
user token), over data that gives the endpoints something to find: an Amazon order, an eCommerce order.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from config.common.auth import api_client_issue

schema = schemathesis.openapi.from_dict(
    json.loads(json.dumps(SchemaGenerator().get_schema(request=None, public=True), default=str))
)


@pytest.fixture
def headers(db: None, django_settings: Any) -> dict[str, dict[str, str]]:
    from orders.models import SellerAccount  # noqa: F401  (data below goes through the real services)
    from tests.amazon_payloads import amazon_item, amazon_order, full_address
    from tests.factories import SellerAccountFactory, SkuMappingFactory
    from tests.orders.test_amazon_ingest import ingest

    SkuMappingFactory.create(seller_sku="SKU-0001")
    ingest(SellerAccountFactory.create(), [(amazon_order(), [amazon_item()], full_address())])
    # Each endpoint is called by the client that really calls it (with its default scopes), so the fuzzing reaches
    # the view instead of stopping at a 403.
    _, erp_token = api_client_issue(name="fuzz-erp", kind="erp")
    _, shop_token = api_client_issue(name="fuzz-shop", kind="ecommerce")
    return {"ecommerce": {"Authorization": f"Bearer {shop_token}"}, "erp": {"Authorization": f"Bearer {erp_token}"}}


@pytest.fixture
def django_settings(settings: Any) -> Iterator[Any]:
    """Call Django's WSGI app the way its own test client does: keep the test's database connection open."""
    settings.ALLOWED_HOSTS = ["*"]
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield settings
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


APP = WSGIHandler()


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_server_errors(case: Any, headers: dict[str, dict[str, str]]) -> None:
    which = "erp" if case.path.startswith(("/api/v1/erp/", "/api/v1/reconciliation/")) else "ecommerce"
    case.call_and_validate(app=APP, headers=headers[which], checks=[not_a_server_error])
