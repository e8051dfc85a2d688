"""The demo/run configuration: DEBUG on, SQLite unless DATABASE_URL says otherwise."""

from config.settings.base import *  # noqa: F403
from config.settings.base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
