from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local .env (never committed) may override anything below; real deployments use the environment.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)
