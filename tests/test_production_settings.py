"""Production settings, each in a fresh process as a deployment starts: `manage.py check --deploy` with the variables
the README documents is clean; without a secret key it is an error; the WSGI entry point defaults to DEBUG off."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.management.utils import get_random_secret_key

from config.env import DEV_SECRET_KEY

ROOT = Path(__file__).resolve().parent.parent


def documented() -> dict[str, str]:
    """The variables the README's "Production settings" section lists (a TLS-ending proxy in front)."""
    return {
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": get_random_secret_key(),
        "DJANGO_ALLOWED_HOSTS": "ledgerline.example.com",
        "DJANGO_CSRF_TRUSTED_ORIGINS": "https://ledgerline.example.com",
        "DJANGO_SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https",
        "DATABASE_URL": "postgres://ledgerline@db.internal:5432/ledgerline",
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    }


def production_env(**overrides: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SP_API_", "OPAYO_"))}
    env.pop("DATABASE_URL", None)
    env.pop("FIELD_ENCRYPTION_KEYS", None)
    env.update(documented())
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "manage.py", "check", "--deploy"], env)


def test_check_deploy_is_clean_with_the_documented_variables() -> None:
    done = check_deploy(production_env())
    assert done.returncode == 0, done.stderr[-3000:]
    assert "System check identified no issues (0 silenced)." in done.stdout, done.stdout + done.stderr


def test_a_secret_key_starting_with_a_dollar_is_taken_as_it_is() -> None:
    """django-environ reads "$name" as a reference to another variable; one random key in fifty starts with "$"."""
    done = check_deploy(production_env(DJANGO_SECRET_KEY="$" + get_random_secret_key()[1:]))
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.parametrize("key", [None, "", DEV_SECRET_KEY])
def test_no_secret_key_or_the_development_one_is_a_deploy_error(key: str | None) -> None:
    done = check_deploy(production_env(DJANGO_SECRET_KEY=key))
    assert done.returncode != 0
    assert "(ledgerline.E002)" in done.stderr, done.stderr[-3000:]


def test_no_allowed_hosts_is_a_deploy_error() -> None:
    done = check_deploy(production_env(DJANGO_ALLOWED_HOSTS=None))
    assert done.returncode != 0 and "(ledgerline.E003)" in done.stderr, done.stderr[-3000:]


def test_wsgi_and_asgi_default_to_production_settings() -> None:
    env = production_env(DJANGO_SETTINGS_MODULE=None, DJANGO_DEBUG="true")  # DEBUG is not read in production
    for module in ("config.wsgi", "config.asgi"):
        code = f"import {module}; from django.conf import settings; print(settings.SETTINGS_MODULE, settings.DEBUG)"
        done = run([sys.executable, "-c", code], env)
        assert done.returncode == 0, done.stderr[-3000:]
        assert done.stdout.split() == ["config.settings.production", "False"]


def test_https_settings_follow_the_environment() -> None:
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD, "
        "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_PROXY_SSL_HEADER)"
    )
    done = run([sys.executable, "-c", code], production_env(DJANGO_SECURE_PROXY_SSL_HEADER=None))
    assert done.stdout.split() == ["True", "31536000", "True", "True", "True", "True", "None"], done.stderr
    done = run([sys.executable, "-c", code], production_env(DJANGO_SECURE_HSTS_SECONDS="3600"))
    assert done.stdout.split()[1] == "3600" and "('HTTP_X_FORWARDED_PROTO', 'https')" in done.stdout
    done = run([sys.executable, "-c", code], production_env(DJANGO_SECURE_PROXY_SSL_HEADER="HTTP_X_FORWARDED_PROTO"))
    assert done.returncode != 0 and "DJANGO_SECURE_PROXY_SSL_HEADER is 'HEADER,value'" in done.stderr


def test_the_readme_documents_every_production_variable() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Production settings", 1)[1].split("\n## ", 1)[0]
    source = (ROOT / "config" / "settings" / "production.py").read_text()
    variables = set(re.findall(r'env(?:\.\w+)?\("([A-Z_]+)"', source)) | set(documented())
    undocumented = sorted(v for v in variables if f"`{v}`" not in section)
    assert not undocumented, f"README 'Production settings' does not mention {undocumented}"
