"""The demo world: two seller accounts (EU and US), an outdoor-gear catalogue, and the orders we seed."""

from __future__ import annotations

from dataclasses import dataclass

UK, DE, US = "A1F83G8C2ARO7P", "A1PA6795UKMFR9", "ATVPDKIKX0DER"
DEMO_CLIENT_ID = "amzn1.application-oa2-client.ledgerline-demo"
DEMO_CLIENT_SECRET = "demo-lwa-client-secret"
# The Opayo simulator's vendor in the demo (run_stack and the local settings use it).
OPAYO_DEMO_VENDOR = {
    "vendor_name": "ledgerlinedemo",
    "integration_key": "demo-integration-key",
    "integration_password": "demo-integration-password",
    "reporting_user": "demo-reports",
    "reporting_password": "demo-reporting-password",
}


def simulator_urls(*, host: str = "127.0.0.1", sp_api_port: int = 8101, opayo_port: int = 8102) -> dict[str, str]:
    """Where `make run` serves the simulators, as settings: what run_stack passes and the local settings default to."""
    sp_api, opayo = f"http://{host}:{sp_api_port}", f"http://{host}:{opayo_port}"
    return {
        "SP_API_ENDPOINT": sp_api,
        "SP_API_LWA_ENDPOINT": sp_api,
        "OPAYO_PI_BASE_URL": f"{opayo}/api/v1",
        "OPAYO_REPORTING_URL": f"{opayo}/access/access.htm",
    }


@dataclass(frozen=True)
class DemoAccount:
    name: str
    selling_partner_id: str
    region: str
    refresh_token: str
    marketplaces: tuple[str, ...]


ACCOUNTS = [
    DemoAccount("Acme Outdoor EU", "A2ACMEOUTDOOREU", "eu", "Atzr|demo-acme-outdoor-eu", (UK, DE)),
    DemoAccount("Acme Outdoor US", "A3ACMEOUTDOORUS", "na", "Atzr|demo-acme-outdoor-us", (US,)),
]

# seller SKU → (ERP item id, description). COMPASS-PRO is deliberately unmapped: its orders go on hold
# and show up in the exception queue until someone adds the mapping and presses "reprocess".
CATALOGUE = {
    "TENT-2P-GRN": ("TNT-0002-GR", "Two-person tent, green"),
    "TENT-4P-BLU": ("TNT-0004-BL", "Four-person tent, blue"),
    "SLBAG-3S": ("SLB-3S-REG", "Three-season sleeping bag"),
    "STOVE-TI": ("STV-TI-001", "Titanium camping stove"),
    "LAMP-HEAD-300": ("LMP-H300", "Head torch, 300 lm"),
    "BOTTLE-1L": ("BTL-1000", "Water bottle, 1 l"),
    "JACKET-M-RED": ("JKT-M-RD", "Rain jacket, M, red"),
    "JACKET-L-BLU": ("JKT-L-BL", "Rain jacket, L, blue"),
    "BOOTS-42": ("BTS-42", "Hiking boots, EU 42"),
    "MAT-FOAM": ("MAT-FM-01", "Foam sleeping mat"),
}
UNMAPPED_SKU = "COMPASS-PRO"
ORDERS_PER_MARKETPLACE = {UK: 40, DE: 25, US: 35}


def is_demo_amazon_credentials(*, client_id: str, client_secret: str, refresh_token: str) -> bool:
    """Any of the demo's LWA client or seller refresh tokens: they exist only in the SP-API simulator."""
    return (
        client_id == DEMO_CLIENT_ID
        or client_secret == DEMO_CLIENT_SECRET
        or refresh_token in {account.refresh_token for account in ACCOUNTS}
    )


def is_demo_opayo_credentials(*values: str) -> bool:
    """Any of the demo vendor's name, keys or passwords: they exist only in the Opayo simulator."""
    return any(value and value in OPAYO_DEMO_VENDOR.values() for value in values)
