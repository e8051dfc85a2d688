"""Property: whatever shape a card number takes and wherever it sits in a request to any inbound endpoint (every API
POST endpoint as JSON, form and multipart; the Opayo notification webhook), no database row holds it afterwards.

Cards are generated (Luhn-valid, each brand's prefixes and lengths) and written plain, grouped with random runs of
separators, as a JSON float or exponent, with a leading '+', in fullwidth digits, inside text, glued to a word, as a
key, or nested deep. After the requests every text and JSON column of every table is read back and checked twice:
by the scanner, and, independently of it, for the generated cards' digits in the digits of each value."""

from __future__ import annotations

import json
import random
import re
import time
from typing import Any
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from config.common.auth import SCOPES, api_client_issue
from config.common.models import ApiClient
from config.common.pan import card_numbers
from tests.payments.conftest import AMOUNT, ecommerce_order_payload
from tests.payments.test_no_card_data import all_text_in_database
from tests.payments.test_notifications import SECURITY_KEY, URL, notification

BRANDS = {  # first digits, lengths
    "Visa": (["4"], [13, 16, 19]),
    "Mastercard": (["51", "52", "53", "54", "55", "2221", "2500", "2720"], [16]),
    "American Express": (["34", "37"], [15]),
    "Discover": (["6011", "65", "644", "649"], [16, 17, 18, 19]),
    "JCB": (["3528", "3589"], [16, 17, 18, 19]),
    "Maestro": (["5018", "5020", "5038", "6304", "6759", "6761", "6763"], [13, 15, 16, 19]),
}
SEPARATORS = [" ", "  ", ".", "-", "/", "_", "\u00a0", "\u2013", "\u200b", " - ", "\u3000", ". "]
SHAPES = ["plain", "grouped", "float", "exponent", "plus", "fullwidth", "in text", "glued", "key", "nested"]
ENCODINGS = ["json", "form", "multipart", "multipart file"]


def luhn_complete(partial: str) -> str:
    total = 0
    for i, d in enumerate(reversed(partial)):
        n = int(d) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return partial + str((10 - total % 10) % 10)


@st.composite
def cards(draw: Any) -> str:
    prefixes, lengths = BRANDS[draw(st.sampled_from(sorted(BRANDS)))]
    prefix, length = draw(st.sampled_from(prefixes)), draw(st.sampled_from(lengths))
    middle = draw(st.text("0123456789", min_size=length - len(prefix) - 1, max_size=length - len(prefix) - 1))
    return luhn_complete(prefix + middle)


def grouped(card: str, rng: random.Random) -> str:
    sizes = [4, 6, 5] if len(card) == 15 and rng.random() < 0.5 else [4] * (len(card) // 4) + [len(card) % 4]
    groups, at = [], 0
    for size in sizes:
        if size:
            groups.append(card[at : at + size])
            at += size
    same = rng.random() < 0.5
    sep = rng.choice(SEPARATORS)
    return "".join(g + ((sep if same else rng.choice(SEPARATORS)) if i < len(groups) - 1 else "")
                   for i, g in enumerate(groups))  # fmt: skip


def written(card: str, shape: str, rng: random.Random) -> Any:
    """The card in one shape: a str, or a JSON number literal marked as ('literal', text)."""
    if shape == "grouped":
        return grouped(card, rng)
    if shape == "float":
        return ("literal", f"{card}.0")
    if shape == "exponent":
        return ("literal", f"{card[0]}.{card[1:]}e{len(card) - 1}")
    if shape == "plus":
        return "+" + card
    if shape == "fullwidth":
        return card.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    if shape == "in text":
        return f"please charge {grouped(card, rng) if rng.random() < 0.5 else card} tomorrow"
    if shape == "glued":
        return rng.choice(["pan", "card", "CC", "x"]) + card + rng.choice(["", "exp1229", "z"])
    return card


def api_endpoints() -> list[str]:
    """Every API path that takes a POST (path parameters filled with 1)."""
    found: list[str] = []

    def walk(patterns: list[Any], prefix: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern):
                view = getattr(p.callback, "cls", None) or getattr(p.callback, "view_class", None)
                if view is not None and hasattr(view, "post"):
                    found.append("/" + re.sub(r"<(?:\w+:)?\w+>", "1", prefix + str(p.pattern)))

    walk(get_resolver().url_patterns, "")
    return sorted(p for p in found if p.startswith("/api/"))


def base_body(path: str) -> dict[str, Any]:
    """A body the endpoint would otherwise take (so views that store before validating get that far)."""
    if path.endswith("/orders/ecommerce/"):
        return ecommerce_order_payload(external_id="WEB-PROP")
    if path == "/api/v1/payments/":
        return {"order_external_id": "WEB-1001", "vendor_tx_code": "WEB-1001-P", "transaction_type": "Payment",
                "amount": "59.97", "currency": "GBP", "transaction_id": "ABC"}  # fmt: skip
    if path.endswith("/erp/inventory/"):
        return {"levels": [{"item_id": "TNT-0002", "site": "MAIN", "on_hand": 3, "allocated": 0, "version": 1,
                            "as_of": "2026-11-30T09:00:00Z"}]}  # fmt: skip
    if path.endswith("/erp/shipments/"):
        return {"order_id": 1, "shipment_ref": "SHP-1", "carrier": "DPD", "tracking_number": "TRK1",
                "ship_date": "2026-11-30T09:00:00Z", "lines": [{"line_ref": 1, "quantity": 1}]}  # fmt: skip
    if path.endswith("/refunds/"):
        return {"amount": "1.00", "reason": "returned"}
    return {"reason": "ok", "limit": 5, "batch_id": 1}


def place(body: dict[str, Any], value: Any, card: str, shape: str, rng: random.Random) -> dict[str, Any]:
    body = json.loads(json.dumps(body))
    if shape == "key":
        body[card] = "x"
    elif shape == "nested":
        body["extra"] = {"a": [{"b": {"c": [value]}}]}
    else:
        keys = [k for k, v in body.items() if isinstance(v, str | int)] + ["note"]
        body[rng.choice(keys)] = value
    return body


def to_json(body: dict[str, Any]) -> str:
    literals: dict[str, str] = {}

    def encode(v: Any) -> Any:
        if isinstance(v, tuple):
            token = f"@@{len(literals)}@@"
            literals[f'"{token}"'] = v[1]
            return token
        if isinstance(v, dict):
            return {k: encode(x) for k, x in v.items()}
        if isinstance(v, list):
            return [encode(x) for x in v]
        return v

    text = json.dumps(encode(body), ensure_ascii=False)
    for token, literal in literals.items():
        text = text.replace(token, literal)
    return text


def flat(body: dict[str, Any]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for key, value in body.items():
        if isinstance(value, tuple):
            value = value[1]
        pairs.append((key, value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)))
    return pairs


class Run:
    def __init__(self) -> None:
        self.cards: set[str] = set()
        self.examples = 0
        self.requests = 0
        self.endpoints: set[str] = set()
        self.statuses: dict[int, int] = {}


@pytest.fixture
def clients(db: None, settings: Any) -> dict[str, Any]:
    settings.OPAYO_VENDOR_NAME = "MyVendor"
    settings.INBOUND_RATE_LIMITS = {"/webhooks/opayo/": [1000, 100_000]}
    admin = User.objects.create_superuser("prop-admin", password="x")
    session = Client()  # a superuser session; the test client does not enforce CSRF
    session.force_login(admin)
    _, token = api_client_issue(name="Prop ERP", kind=ApiClient.Kind.ERP, scopes=list(SCOPES))
    erp = APIClient()
    erp.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    # Data the endpoints work on: an eCommerce order, and a Server-protocol payment for the notifications.
    from payments.services import payment_register
    from tests.factories import SkuMappingFactory

    SkuMappingFactory.create(seller_sku="WEB-TENT", erp_item_id="TNT-0002")
    SkuMappingFactory.create(seller_sku="WEB-MUG", erp_item_id="MUG-0001")
    assert session.post("/api/v1/orders/ecommerce/", ecommerce_order_payload(), "application/json").status_code == 201
    from orders.models import Order

    payment_register(order=Order.objects.get(external_id="WEB-1001"), vendor_tx_code="WEB-1001-1",
                     transaction_type="Payment", amount=AMOUNT, currency="GBP", protocol="server",
                     security_key=SECURITY_KEY, actor="test")  # fmt: skip
    return {"session": session, "erp": erp, "webhook": Client()}


def send(clients: dict[str, Any], path: str, encoding: str, body: dict[str, Any], card: str) -> Any:
    client = clients["erp"] if path.startswith("/api/v1/erp/") else clients["session"]
    if encoding == "json":
        return client.generic("POST", path, to_json(body), content_type="application/json")
    if encoding == "form":
        return client.generic("POST", path, urlencode(flat(body)), content_type="application/x-www-form-urlencoded")
    import io

    data: dict[str, Any] = dict(flat(body))
    if encoding == "multipart file":
        upload = io.BytesIO(f"line one\n{data.pop(next(iter(data)), card)}\n".encode())
        upload.name = "note.txt"
        data["attachment"] = upload
    return client.post(path, data)  # the test client encodes a dict as multipart


def send_notification(clients: dict[str, Any], value: Any, card: str, shape: str, rng: random.Random) -> Any:
    text = value[1] if isinstance(value, tuple) else value
    if rng.random() < 0.5:  # a genuine, signed notification with the card in one of its fields or an extra one
        fields = notification()
        target = rng.choice(["StatusDetail", "CAVV", "AVSCV2", "CardNumber", "Token", "FraudResponse"])
        fields = notification(**{target: text}) if target != "CardNumber" else {**fields, "CardNumber": text}
    else:  # anyone's junk
        fields = {"VendorTxCode": "NOPE", "Status": "OK", "CardNumber": text}
    if shape == "key":
        fields[card] = "1"
    response = clients["webhook"].post(URL, data=urlencode(fields), content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200 and response.content.decode().startswith("Status=")
    return response


def check_answer(response: Any, card: str) -> None:
    text = response.content.decode(errors="replace")
    assert card not in re.sub(r"\D", "", text.translate(str.maketrans("０１２３４５６７８９", "0123456789")))


@pytest.mark.django_db
def test_no_generated_card_number_reaches_the_database(clients: dict[str, Any]) -> None:
    started = time.perf_counter()
    endpoints = api_endpoints()
    assert len(endpoints) >= 10, endpoints
    run = Run()

    def one(card: str, shape: str, endpoint: str, encoding: str, rng: random.Random) -> None:
        run.cards.add(card)
        value = written(card, shape, rng)
        if endpoint == URL:
            response = send_notification(clients, value, card, shape, rng)
        else:
            if encoding != "json" and isinstance(value, tuple):
                value = value[1]  # a number in a form is text
            response = send(clients, endpoint, encoding, place(base_body(endpoint), value, card, shape, rng), card)
            assert response.status_code != 500, (endpoint, encoding, shape, response.content[:300])
        check_answer(response, card)
        run.requests += 1
        run.endpoints.add(endpoint)
        run.statuses[response.status_code] = run.statuses.get(response.status_code, 0) + 1

    # Every endpoint and encoding once, then random combinations.
    rng = random.Random(13)
    for endpoint in [*endpoints, URL]:
        for encoding in ENCODINGS if endpoint != URL else ["form"]:
            one(luhn_complete("411111111111111"), rng.choice(SHAPES), endpoint, encoding, rng)

    @settings(max_examples=500, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(
        card=cards(),
        shape=st.sampled_from(SHAPES),
        endpoint=st.sampled_from([*endpoints, URL]),
        encoding=st.sampled_from(ENCODINGS),
        seed=st.integers(0, 2**32 - 1),
    )
    def examples(card: str, shape: str, endpoint: str, encoding: str, seed: int) -> None:
        run.examples += 1
        one(card, shape, endpoint, encoding, random.Random(seed))

    examples()

    rows = all_text_in_database()
    by_scanner = [(table, column) for table, column, value in rows if card_numbers(value)]
    digits_of = str.maketrans("０１２３４５６７８９", "0123456789")
    pattern = re.compile("|".join(sorted(run.cards, key=len, reverse=True)))
    by_digits = [(t, c) for t, c, v in rows if pattern.search(re.sub(r"\D", "", v.translate(digits_of)))]
    print(
        f"\ncard-data property: {run.examples} generated examples + {len(endpoints) * 4 + 1} fixed, "
        f"{run.requests} requests to {len(run.endpoints)} endpoints (JSON, form, multipart fields and files; the "
        f"Opayo webhook), {len(run.cards)} distinct cards; answers {dict(sorted(run.statuses.items()))}; "
        f"{len(rows)} text/JSON values in the database read back: rows holding a card = "
        f"{len(by_scanner)} by the scanner, {len(by_digits)} by the generated digits "
        f"({time.perf_counter() - started:.1f} s)"
    )
    assert by_scanner == [] and by_digits == []
