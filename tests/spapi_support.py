"""The SP-API simulator as a real server for tests that run our clients against it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sp_api.auth import access_token_client

from orders.models import SellerAccount
from simulators.spapi.control import SpApiSimulatorControl
from tests.factories import UK


@contextmanager
def spapi_for(
    url: str, settings: Any, account: SellerAccount, *, marketplace_ids: Sequence[str] = (UK,), rate_limits: bool = True
) -> Iterator[SpApiSimulatorControl]:
    """Point our settings at the simulator, start it clean with `account` as its seller, reset it afterwards."""
    settings.SP_API_ENDPOINT = settings.SP_API_LWA_ENDPOINT = url
    access_token_client.cache.clear()
    access_token_client.grantless_cache.clear()
    sim = SpApiSimulatorControl(url)
    sim.reset()
    sim.set_rate_limiting(rate_limits)
    sim.add_seller(
        selling_partner_id=account.selling_partner_id, refresh_token=account.refresh_token,
        client_id=account.lwa_client_id, client_secret=account.lwa_client_secret, marketplace_ids=list(marketplace_ids),
    )  # fmt: skip
    try:
        yield sim
    finally:
        sim.reset()
        sim.close()
        access_token_client.cache.clear()
    access_token_client.grantless_cache.clear()
