"""Tests run against real PostgreSQL (see README)."""

from config.settings.base import *  # noqa: F403
from config.settings.base import LOGGING, Q_CLUSTER, env

DATABASES = {
    "default": env.db("TEST_DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/ledgerline"),
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
Q_CLUSTER = {**Q_CLUSTER, "sync": True}
LOGGING = {**LOGGING, "root": {"handlers": ["console"], "level": "WARNING"}}
SP_API_TIMEOUT_SECONDS = 3.0
OPAYO_TIMEOUT_SECONDS = 2.0
OPAYO_NOTIFICATION_KICK_SECONDS = 0.0  # tests run tasks inline: apply every delivery at once
# Fault-injection tests send runs of 5xx on purpose; the circuit tests lower this to see the breaker work.
CIRCUIT_FAILURE_THRESHOLD = 1_000
# The simulator's quotas are off in most tests (many calls in a moment); the rate-limit tests switch both on.
SP_API_RATE_LIMITING = False
# Static files from the apps' folders (no collectstatic before the tests), as in development.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
