"""`manage.py check --deploy`: what a deployment must set (the README's "Production settings")."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from config.env import DEV_SECRET_KEY


@checks.register(checks.Tags.security, deploy=True)
def check_secret_key(**kwargs: Any) -> list[checks.CheckMessage]:
    try:
        key = settings.SECRET_KEY  # Django refuses to read an empty one
    except ImproperlyConfigured:
        key = ""
    if key and key != DEV_SECRET_KEY:
        return []
    return [
        checks.Error(
            "DJANGO_SECRET_KEY is not set."
            if not key
            else "SECRET_KEY is the development key that ships with the code.",
            hint="Set DJANGO_SECRET_KEY to a long random value, e.g. "
            '`python -c "from django.core.management.utils import get_random_secret_key as k; print(k())"`.',
            id="ledgerline.E002",
        )
    ]


@checks.register(checks.Tags.security, deploy=True)
def check_allowed_hosts(**kwargs: Any) -> list[checks.CheckMessage]:
    if settings.DEBUG or settings.ALLOWED_HOSTS:
        return []
    return [
        checks.Error(
            "DJANGO_ALLOWED_HOSTS is empty: every request would be refused.",
            hint="Set DJANGO_ALLOWED_HOSTS to the host names the site is served under (comma-separated).",
            id="ledgerline.E003",
        )
    ]
