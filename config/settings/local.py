"""The demo/run configuration: DEBUG on, the demo's PostgreSQL database (below), and the providers' simulators where
`make run` serves them (WEB_HOST, SP_API_SIM_PORT, OPAYO_SIM_PORT, as run_stack reads them), so a command from a shell
(`manage.py poll_orders`, ...) talks to the simulators, never to Amazon or Opayo with the demo's credentials. Each
setting can still be given in the environment."""

from config.common.demo.data import OPAYO_DEMO_VENDOR, simulator_urls
from config.localdb import embedded_running_url
from config.settings.base import *  # noqa: F403
from config.settings.base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)

# The demo's database: on the private server `make run` started (config/localdb.py) while it runs, else on the
# machine's server; DATABASE_URL wins. So `manage.py ...` from a shell reaches what `make run` uses.
DEMO_DATABASE = "ledgerline_demo"
DATABASES = {
    "default": env.db(
        "DATABASE_URL",
        default=embedded_running_url(DEMO_DATABASE) or f"postgres://postgres@127.0.0.1:5432/{DEMO_DATABASE}",
    )
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DATABASE_CONN_HEALTH_CHECKS", default=True)

_SIMULATORS = simulator_urls(
    host=env("WEB_HOST", default="127.0.0.1"),
    sp_api_port=env.int("SP_API_SIM_PORT", default=8101),
    opayo_port=env.int("OPAYO_SIM_PORT", default=8102),
)
SP_API_ENDPOINT = env("SP_API_ENDPOINT", default=_SIMULATORS["SP_API_ENDPOINT"])
SP_API_LWA_ENDPOINT = env("SP_API_LWA_ENDPOINT", default=_SIMULATORS["SP_API_LWA_ENDPOINT"])
OPAYO_PI_BASE_URL = env("OPAYO_PI_BASE_URL", default=_SIMULATORS["OPAYO_PI_BASE_URL"])
OPAYO_REPORTING_URL = env("OPAYO_REPORTING_URL", default=_SIMULATORS["OPAYO_REPORTING_URL"])
OPAYO_VENDOR_NAME = env("OPAYO_VENDOR_NAME", default=OPAYO_DEMO_VENDOR["vendor_name"])
OPAYO_INTEGRATION_KEY = env("OPAYO_INTEGRATION_KEY", default=OPAYO_DEMO_VENDOR["integration_key"])
OPAYO_INTEGRATION_PASSWORD = env("OPAYO_INTEGRATION_PASSWORD", default=OPAYO_DEMO_VENDOR["integration_password"])
OPAYO_REPORTING_USER = env("OPAYO_REPORTING_USER", default=OPAYO_DEMO_VENDOR["reporting_user"])
OPAYO_REPORTING_PASSWORD = env("OPAYO_REPORTING_PASSWORD", default=OPAYO_DEMO_VENDOR["reporting_password"])
