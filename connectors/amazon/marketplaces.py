"""Amazon marketplaces we know by id (https://developer-docs.amazon.com/sp-api/docs/marketplace-ids)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Marketplace:
    id: str
    code: str
    sales_channel: str
    country_code: str
    currency: str
    region: str  # na / eu / fe


MARKETPLACES: dict[str, Marketplace] = {
    m.id: m
    for m in [
        Marketplace("ATVPDKIKX0DER", "US", "Amazon.com", "US", "USD", "na"),
        Marketplace("A2EUQ1WTGCTBG2", "CA", "Amazon.ca", "CA", "CAD", "na"),
        Marketplace("A1AM78C64UM0Y8", "MX", "Amazon.com.mx", "MX", "MXN", "na"),
        Marketplace("A2Q3Y263D00KWC", "BR", "Amazon.com.br", "BR", "BRL", "na"),
        Marketplace("A1F83G8C2ARO7P", "UK", "Amazon.co.uk", "GB", "GBP", "eu"),
        Marketplace("A1PA6795UKMFR9", "DE", "Amazon.de", "DE", "EUR", "eu"),
        Marketplace("A13V1IB3VIYZZH", "FR", "Amazon.fr", "FR", "EUR", "eu"),
        Marketplace("APJ6JRA9NG5V4", "IT", "Amazon.it", "IT", "EUR", "eu"),
        Marketplace("A1RKKUPIHCS9HS", "ES", "Amazon.es", "ES", "EUR", "eu"),
        Marketplace("A1805IZSGTT6HS", "NL", "Amazon.nl", "NL", "EUR", "eu"),
        Marketplace("A2NODRKZP88ZB9", "SE", "Amazon.se", "SE", "SEK", "eu"),
        Marketplace("A1C3SOZRARQ6R3", "PL", "Amazon.pl", "PL", "PLN", "eu"),
        Marketplace("AMEN7PMS3EDWL", "BE", "Amazon.com.be", "BE", "EUR", "eu"),
        Marketplace("A33AVAJ2PDY3EV", "TR", "Amazon.com.tr", "TR", "TRY", "eu"),
        Marketplace("A1VC38T7YXB528", "JP", "Amazon.co.jp", "JP", "JPY", "fe"),
        Marketplace("A39IBJ37TRP1C6", "AU", "Amazon.com.au", "AU", "AUD", "fe"),
        Marketplace("A19VAU5U5O7RUS", "SG", "Amazon.sg", "SG", "SGD", "fe"),
    ]
}


def marketplace_name(marketplace_id: str) -> str:
    m = MARKETPLACES.get(marketplace_id)
    return m.sales_channel if m else marketplace_id
