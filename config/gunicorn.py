"""gunicorn's settings, the same for `make run`, the container and production:

    gunicorn -c config/gunicorn.py config.wsgi

Threaded workers (gthread): a request waiting on PostgreSQL or a provider holds a thread, not a process, and
connections beyond the busy threads wait in the listen backlog instead of being reset. Static files are served by
WhiteNoise inside the app (after `manage.py collectstatic`). Environment: WEB_BIND (host:port, default
127.0.0.1:8000), WEB_CONCURRENCY (processes, default 2: about one per core), WEB_THREADS (per process, default 8),
WEB_TIMEOUT (seconds a worker may stay silent before it is replaced, default 120).
"""

import os

bind = os.environ.get("WEB_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = int(os.environ.get("WEB_THREADS", "8"))
backlog = 2048  # queued connections beyond the busy threads (the kernel's somaxconn caps it)
timeout = int(os.environ.get("WEB_TIMEOUT", "120"))
graceful_timeout = 10
keepalive = 5
# A process is replaced after this many requests (spread out): memory stays bounded, no stop of the service.
max_requests = 5000
max_requests_jitter = 500
accesslog = os.environ.get("WEB_ACCESS_LOG", "-")
errorlog = "-"
