"""Constants and helpers shared by the simulator tests and their fixtures."""

from __future__ import annotations

from typing import Any

import httpx

UK, DE, US = "A1F83G8C2ARO7P", "A1PA6795UKMFR9", "ATVPDKIKX0DER"
SELLER: dict[str, Any] = {
    "selling_partner_id": "A1SIMTEST00001",
    "refresh_token": "Atzr|simulator-test",
    "client_id": "amzn1.application-oa2-client.test",
    "client_secret": "amzn1.oa2-cs.v1.test",
}


def lwa(base_url: str, **overrides: str) -> httpx.Response:
    form = {
        "grant_type": "refresh_token",
        "refresh_token": SELLER["refresh_token"],
        "client_id": SELLER["client_id"],
        "client_secret": SELLER["client_secret"],
        **overrides,
    }
    return httpx.post(f"{base_url}/auth/o2/token", data=form)
