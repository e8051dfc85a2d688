"""Address normalization: the same address always comes out the same, in the shape ERPs and carriers want."""

from __future__ import annotations

import re
from typing import Any

from connectors.amazon.orders_types import AmazonAddress

_SPACES = re.compile(r"\s+")

US_STATES = {
    "ALABAMA": "AL", "ALASKA": "AK", "ARIZONA": "AZ", "ARKANSAS": "AR", "CALIFORNIA": "CA", "COLORADO": "CO",
    "CONNECTICUT": "CT", "DELAWARE": "DE", "DISTRICT OF COLUMBIA": "DC", "FLORIDA": "FL", "GEORGIA": "GA",
    "HAWAII": "HI", "IDAHO": "ID", "ILLINOIS": "IL", "INDIANA": "IN", "IOWA": "IA", "KANSAS": "KS",
    "KENTUCKY": "KY", "LOUISIANA": "LA", "MAINE": "ME", "MARYLAND": "MD", "MASSACHUSETTS": "MA",
    "MICHIGAN": "MI", "MINNESOTA": "MN", "MISSISSIPPI": "MS", "MISSOURI": "MO", "MONTANA": "MT",
    "NEBRASKA": "NE", "NEVADA": "NV", "NEW HAMPSHIRE": "NH", "NEW JERSEY": "NJ", "NEW MEXICO": "NM",
    "NEW YORK": "NY", "NORTH CAROLINA": "NC", "NORTH DAKOTA": "ND", "OHIO": "OH", "OKLAHOMA": "OK",
    "OREGON": "OR", "PENNSYLVANIA": "PA", "RHODE ISLAND": "RI", "SOUTH CAROLINA": "SC", "SOUTH DAKOTA": "SD",
    "TENNESSEE": "TN", "TEXAS": "TX", "UTAH": "UT", "VERMONT": "VT", "VIRGINIA": "VA", "WASHINGTON": "WA",
    "WEST VIRGINIA": "WV", "WISCONSIN": "WI", "WYOMING": "WY", "PUERTO RICO": "PR",
}  # fmt: skip
CA_PROVINCES = {
    "ALBERTA": "AB", "BRITISH COLUMBIA": "BC", "MANITOBA": "MB", "NEW BRUNSWICK": "NB",
    "NEWFOUNDLAND AND LABRADOR": "NL", "NOVA SCOTIA": "NS", "ONTARIO": "ON", "PRINCE EDWARD ISLAND": "PE",
    "QUEBEC": "QC", "QUÉBEC": "QC", "SASKATCHEWAN": "SK", "NORTHWEST TERRITORIES": "NT", "NUNAVUT": "NU",
    "YUKON": "YT",
}  # fmt: skip
_STATE_CODES = {"US": US_STATES, "CA": CA_PROVINCES}
_COUNTRY_ALIASES = {"UK": "GB"}


def _clean(value: str) -> str:
    return _SPACES.sub(" ", value or "").strip()


def normalize_postal_code(postal_code: str, country_code: str) -> str:
    code = _clean(postal_code).upper()
    compact = code.replace(" ", "")
    if country_code == "GB" and 5 <= len(compact) <= 7:
        return f"{compact[:-3]} {compact[-3:]}"  # inward code is always the last three characters
    if country_code == "CA" and len(compact) == 6:
        return f"{compact[:3]} {compact[3:]}"
    if country_code == "NL" and re.fullmatch(r"\d{4}[A-Z]{2}", compact):
        return f"{compact[:4]} {compact[4:]}"
    if country_code == "US" and re.fullmatch(r"\d{9}", compact):
        return f"{compact[:5]}-{compact[5:]}"
    return code


def normalize_state(state: str, country_code: str) -> str:
    cleaned = _clean(state)
    codes = _STATE_CODES.get(country_code)
    if codes is None:
        return cleaned
    return codes.get(cleaned.upper().rstrip("."), cleaned.upper() if len(cleaned) <= 3 else cleaned)


def address_normalize(address: AmazonAddress) -> dict[str, Any]:
    """Model field values for `orders.Address` from an Amazon address."""
    country = _clean(address.country_code).upper()
    country = _COUNTRY_ALIASES.get(country, country)
    # Shift lines up so line1 is never empty while a later line has the street.
    lines = [line for line in (_clean(address.line1), _clean(address.line2), _clean(address.line3)) if line]
    lines += [""] * (3 - len(lines))
    values: dict[str, Any] = {
        "name": _clean(address.name),
        "company": _clean(address.company),
        "line1": lines[0],
        "line2": lines[1],
        "line3": lines[2],
        "city": _clean(address.city),
        "district": _clean(address.district),
        "state_or_region": normalize_state(address.state_or_region, country),
        "postal_code": normalize_postal_code(address.postal_code, country),
        "country_code": country,
        "phone": _clean(address.phone),
        "address_type": _clean(address.address_type),
    }
    values["is_complete"] = bool(values["name"] and values["line1"] and values["city"] and country)
    return values
