"""Model fields for secrets: encrypted at rest with keys from the environment (FIELD_ENCRYPTION_KEYS)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.apps import apps
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import models, transaction

from config.env import DEV_FIELD_ENCRYPTION_KEY


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty: secrets cannot be stored.")
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(f"FIELD_ENCRYPTION_KEYS holds an invalid Fernet key: {exc}") from exc


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


class EncryptedTextField(models.TextField):
    """Stores Fernet ciphertext; Python code sees plaintext. Not searchable or orderable, by design.

    The first key in FIELD_ENCRYPTION_KEYS encrypts; every key decrypts, so keys rotate by prepending.
    """

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return fernet().encrypt(str(value).encode()).decode()

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value in (None, ""):
            return value
        try:
            return fernet().decrypt(value.encode()).decode()
        except InvalidToken as exc:
            raise ImproperlyConfigured(
                f"Cannot decrypt {self.model.__name__}.{self.name}: no key in FIELD_ENCRYPTION_KEYS fits."
            ) from exc


def secrets_reencrypt() -> dict[str, int]:
    """Encrypt every stored secret again with the first key of FIELD_ENCRYPTION_KEYS, so the keys after it can be
    retired. All or nothing: a value no key opens stops it with the model and row named. Returns rows per field."""
    done: dict[str, int] = {}
    with transaction.atomic():
        for model in apps.get_models():
            names = [f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
            if not names:
                continue
            for row in list(model._default_manager.only("pk", *names)):  # a few rows: accounts, vendors
                # Reading decrypts with whichever key fits; update() encrypts with the first.
                model._default_manager.filter(pk=row.pk).update(**{name: getattr(row, name) for name in names})
                for name in names:
                    key = f"{model._meta.label}.{name}"
                    done[key] = done.get(key, 0) + bool(getattr(row, name))
    return done


@checks.register(checks.Tags.security, deploy=True)
def check_encryption_keys(**kwargs: Any) -> list[checks.CheckMessage]:
    """`manage.py check --deploy`: secrets must not be encrypted with the development key that ships in settings."""
    keys = list(settings.FIELD_ENCRYPTION_KEYS)
    if keys and keys[0] == DEV_FIELD_ENCRYPTION_KEY:
        return [
            checks.Error(
                "FIELD_ENCRYPTION_KEYS starts with the development key that ships with the code.",
                hint="Set FIELD_ENCRYPTION_KEYS to a new key (Fernet.generate_key()) before the development key, "
                "then run `manage.py reencrypt_secrets`.",
                id="ledgerline.E001",
            )
        ]
    return []
