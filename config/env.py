from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local .env (never committed) may override anything below; real deployments use the environment.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# The field-encryption key used when FIELD_ENCRYPTION_KEYS is not set, so that `make run` works with no set-up; never
# right for real secrets (`manage.py check --deploy` refuses it).
DEV_FIELD_ENCRYPTION_KEY = "ZGV2LW9ubHkta2V5LWRvLW5vdC11c2UtaW4tcHJvZCE="

# The secret key of `make run` and the tests when DJANGO_SECRET_KEY is not set; the production settings have no
# default and `manage.py check --deploy` refuses this one (ledgerline.E002).
DEV_SECRET_KEY = "dev-only-insecure-key-change-me"
