from __future__ import annotations

from collections.abc import Iterator

import pytest

from orders.models import SellerAccount
from tests.factories import SellerAccountFactory, SkuMappingFactory


@pytest.fixture
def account(db: None) -> SellerAccount:
    return SellerAccountFactory.create(name="Acme UK", selling_partner_id="A1ACMEUK000001")


@pytest.fixture
def mapped_skus(db: None) -> list[str]:
    skus = ["SKU-0001", "SKU-0002", "SKU-0003"]
    for sku in skus:
        SkuMappingFactory.create(seller_sku=sku)
    return skus


@pytest.fixture(autouse=True)
def _forget_cached_security_keys() -> None:
    """Each test rolls its rows back, so database ids are reused across tests: start with an empty cache."""
    from payments.services import notifications

    notifications._KEYS.clear()


@pytest.fixture(scope="session")
def spapi_url() -> Iterator[str]:
    """One SP-API simulator server for the session (each test resets it through tests.spapi_support)."""
    from simulators.common import running_server
    from simulators.spapi.app import create_app

    with running_server(create_app()) as url:
        yield url
