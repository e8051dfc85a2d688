"""The operator console in a real browser: Debian's Chromium, headless, driven by Playwright.

An order arrives with a SKU nobody mapped and waits in the exception queue. An Operations user logs in, opens the
monitoring dashboard, follows it to the exception, adds the missing mapping, presses Reprocess on the exception's
page and sees it resolved. The screenshot is kept in var/screenshots/ for a human to look at.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.db import connection

from config.common.models import ExceptionItem
from orders.models import Order, SellerAccount
from tests.amazon_payloads import amazon_item, amazon_order
from tests.orders.test_amazon_ingest import ingest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
# As on this machine's probe: no sandbox as root, and no background connections (the network is closed).
CHROMIUM_ARGS = [
    "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(
        not os.access(CHROMIUM, os.X_OK),
        reason=f"no Chromium at {CHROMIUM}: `make test` installs Debian's chromium when it runs as root",
    ),
]


@pytest.fixture
def page(live_server: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the ORM calls of the test itself are still sync.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
            context.set_default_timeout(15_000)
            yield context.new_page()
        finally:
            browser.close()


def test_operator_fixes_an_exception_from_the_dashboard(page: Any, account: SellerAccount) -> None:
    from playwright.sync_api import expect

    ingest(account, [(amazon_order("202-0000009-0000009"), [amazon_item("NEW-SKU")], None)])
    item = ExceptionItem.objects.get(kind=ExceptionItem.Kind.UNKNOWN_SKU)
    user = User.objects.create_user("olivia", password="correct horse battery", is_staff=True)
    user.groups.add(Group.objects.get(name="Operations"))

    page.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", "olivia")
    page.fill("#id_password", "correct horse battery")
    page.click("input[type=submit]")
    page.click("text=Monitoring dashboard")
    expect(page.locator("h1")).to_have_text("Monitoring dashboard")

    page.click(f"a:text-is('{ExceptionItem.Kind.UNKNOWN_SKU}')")  # open exceptions of this kind
    page.click(f"text={item.summary}")
    expect(page.locator(".field-reference")).to_contain_text("202-0000009-0000009")

    # The fix: the mapping the exception asks for, entered in the admin like any operator would.
    mapping_page = page.context.new_page()
    mapping_page.goto("/admin/mappings/skumapping/add/")
    mapping_page.fill("#id_seller_sku", "NEW-SKU")
    mapping_page.fill("#id_erp_item_id", "SL-NEW")
    mapping_page.click("input[name=_save]")
    expect(mapping_page.locator(".messagelist")).to_contain_text("was added successfully")
    mapping_page.close()

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "exception-open.png"))
    page.click("button:text-is('Reprocess')")
    expect(page.locator(".messagelist")).to_contain_text("1 exception(s) reprocessed and resolved")
    expect(page.locator(".field-status")).to_contain_text("Resolved")
    shot = SCREENSHOTS / "exception-reprocessed.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"\nscreenshot: {shot}")

    item.refresh_from_db()
    assert item.status == ExceptionItem.Status.RESOLVED and item.resolved_by == "user:olivia"
    assert Order.objects.get(external_id="202-0000009-0000009").status == "authorised"
    assert shot.stat().st_size > 10_000
    # The ORM calls above ran beside Playwright's greenlets on a connection of their own: close it, or it outlives
    # the run and keeps the test database from being dropped.
    connection.close()
