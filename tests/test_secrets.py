"""Secrets at rest: key rotation re-encrypts every stored secret with the new key; the development key is refused
by the deployment check."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection

from orders.models import SellerAccount

pytestmark = pytest.mark.django_db


def stored(account: SellerAccount) -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT refresh_token, lwa_client_secret FROM orders_selleraccount WHERE id = %s", [account.pk])
        row = cursor.fetchone()
    return row[0], row[1]


def test_rotation_reencrypts_every_secret_with_the_new_key(account: SellerAccount, settings: Any) -> None:
    old_key, new_key = settings.FIELD_ENCRYPTION_KEYS[0], Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    out = StringIO()
    call_command("reencrypt_secrets", stdout=out)
    assert "orders.SellerAccount.refresh_token: 1 value(s) re-encrypted" in out.getvalue()
    token, secret = stored(account)
    assert Fernet(new_key.encode()).decrypt(token.encode()).decode() == account.refresh_token
    assert Fernet(new_key.encode()).decrypt(secret.encode()).decode() == account.lwa_client_secret

    settings.FIELD_ENCRYPTION_KEYS = [new_key]  # the old key is retired: everything still opens
    assert SellerAccount.objects.get(pk=account.pk).refresh_token == account.refresh_token


def test_rotation_without_the_old_key_changes_nothing(account: SellerAccount, settings: Any) -> None:
    before = stored(account)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(ImproperlyConfigured, match="Cannot decrypt SellerAccount"):
        call_command("reencrypt_secrets", stdout=StringIO())
    assert stored(account) == before


def test_deploy_check_refuses_the_development_key(settings: Any) -> None:
    from config.env import DEV_FIELD_ENCRYPTION_KEY as DEV_KEY

    settings.FIELD_ENCRYPTION_KEYS = [DEV_KEY]
    errors = checks.run_checks(tags=[checks.Tags.security], include_deployment_checks=True)
    assert "ledgerline.E001" in {e.id for e in errors}
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), DEV_KEY]
    errors = checks.run_checks(tags=[checks.Tags.security], include_deployment_checks=True)
    assert "ledgerline.E001" not in {e.id for e in errors}
