"""A deployment: DEBUG off, no default secret key, HTTPS only (HSTS, redirect, secure cookies). `config/wsgi.py` and
`config/asgi.py` use this module unless DJANGO_SETTINGS_MODULE says otherwise. With the variables the README lists
under "Production settings", `manage.py check --deploy` reports no issues; without DJANGO_SECRET_KEY it is an error
(ledgerline.E002), and so is an empty DJANGO_ALLOWED_HOSTS (ledgerline.E003)."""

import os

from django.core.exceptions import ImproperlyConfigured

from config.settings.base import *  # noqa: F403
from config.settings.base import env

DEBUG = False  # never from the environment: the debug pages show settings and source
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")  # as is, never a "$name" reference (see base.py)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[])

# HTTPS everywhere. Browsers remember HSTS for its whole duration: lower DJANGO_SECURE_HSTS_SECONDS while trying a
# new host name, and only keep preload if the domain is (to be) on the browsers' preload list.
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
# Probes (a load balancer, the container healthcheck) ask over plain HTTP from inside: answered, not redirected.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
# Behind a proxy that ends TLS, the request reaches us over HTTP: the proxy's header says it was HTTPS (e.g.
# "HTTP_X_FORWARDED_PROTO,https"). Only set it when the proxy always sets or strips that header, or a client could
# claim HTTPS. Unset: not trusted.
_proxy_header = env.list("DJANGO_SECURE_PROXY_SSL_HEADER", default=[])
if _proxy_header and len(_proxy_header) != 2:
    raise ImproperlyConfigured("DJANGO_SECURE_PROXY_SSL_HEADER is 'HEADER,value', e.g. 'HTTP_X_FORWARDED_PROTO,https'.")
SECURE_PROXY_SSL_HEADER = (_proxy_header[0], _proxy_header[1]) if _proxy_header else None
