"""Settings shared by every environment; everything deployment-specific comes from the environment."""

import os
from datetime import timedelta
from decimal import Decimal

from django.core.exceptions import ImproperlyConfigured

from config.env import BASE_DIR, DEV_FIELD_ENCRYPTION_KEY, DEV_SECRET_KEY, env

# Read as is: django-environ takes a value starting with "$" for the name of another variable, and a random key
# starts with "$" one time in fifty (it then came out empty).
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", DEV_SECRET_KEY)
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "import_export",
    "auditlog",
    "django_q",
    "config.common",
    "mappings",
    "orders",
    "payments",
    "fulfillment",
    "reconciliation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # static files from the app server (gunicorn), no extra web server
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "auditlog.middleware.AuditlogMiddleware",  # who made each change, for the audit trail
    "config.common.middleware.RequestSizeLimitMiddleware",  # before anything reads a body
    "config.common.middleware.FormCardDataGuardMiddleware",  # operator forms holding a card number: refused
    "config.common.middleware.InboundSourceLimitMiddleware",  # per-source rate limit and allow-list (webhooks)
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# PostgreSQL everywhere (the demo, the tests, production): one code path. `make run` and `make test` find or start
# one when DATABASE_URL is not set (config/localdb.py); the local settings look for it themselves.
DATABASES = {"default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/ledgerline")}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DATABASE_CONN_HEALTH_CHECKS", default=True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        # The SP-API library logs request headers (access tokens) at DEBUG; never let that through.
        "sp_api": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
    },
}

# --- Secrets at rest -------------------------------------------------------------------------------
# Fernet keys (urlsafe base64, 32 bytes). The first encrypts; all decrypt, so keys can be rotated.
FIELD_ENCRYPTION_KEYS = env.list(
    "FIELD_ENCRYPTION_KEYS",
    default=[DEV_FIELD_ENCRYPTION_KEY],
)

# --- DRF ---------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "config.common.auth.ApiClientAuthentication",
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Deny by default: each view names its operation, config/common/access.py POLICY says who may run it.
    "DEFAULT_PERMISSION_CLASSES": ["config.common.access.PolicyPermission"],
    # JSON, form and multipart bodies (fields and file parts) carrying a card-like number are refused before any
    # view stores them (never card data; config.common.pan).
    "DEFAULT_PARSER_CLASSES": [
        "config.common.parsers.CardSafeJSONParser",
        "config.common.parsers.CardSafeFormParser",
        "config.common.parsers.CardSafeMultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "config.common.api.DefaultPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.common.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Ledgerline API",
    "DESCRIPTION": "Orders, payments, fulfilment and reconciliation for the ERP and eCommerce systems.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and docs views declare the operation "api.schema" (config/urls.py): signed-in roles and clients.
    "SERVE_PERMISSIONS": ["config.common.access.PolicyPermission"],
    # Swagger UI and ReDoc assets are served locally (no CDN).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "orders.models.OrderStatus",
        "PaymentStatusEnum": "payments.models.Payment.Status",
        "TransactionStateEnum": "payments.models.PaymentTransaction.State",
        "RefundStatusEnum": "payments.models.Refund.Status",
        "ShipmentStatusEnum": "fulfillment.models.Shipment.Status",
    },
}

# Admin Import needs the model's change permission, Export its view permission (the library's default is anyone
# who reaches the change list; roles.py grants these per role).
IMPORT_EXPORT_IMPORT_PERMISSION_CODE = "change"
IMPORT_EXPORT_EXPORT_PERMISSION_CODE = "view"

# --- django-q2 ---------------------------------------------------------------------------------------
# Delivery is at least once (retry > timeout); every task is idempotent and retry state lives in our tables.
# Broker: the ORM (PostgreSQL, the default: nothing more to run, claimed tasks come back after `retry` if a cluster
# dies) or Redis (Q_BROKER=redis, Q_REDIS_URL: more tasks per second across many worker hosts, but a task a dying
# cluster had taken is lost, see the README's scale-out section). Clusters of one name share one queue; schedules
# live in the database either way and each due run is taken by one cluster (a row lock, django_q.scheduler).
Q_BROKER = env("Q_BROKER", default="orm")
if Q_BROKER not in ("orm", "redis"):
    raise ImproperlyConfigured(f"Q_BROKER is 'orm' or 'redis', not {Q_BROKER!r}.")
Q_CLUSTER = {
    "name": env("Q_CLUSTER_NAME", default="ledgerline"),
    **(
        {"redis": env("Q_REDIS_URL", default="redis://127.0.0.1:6379/0")} if Q_BROKER == "redis" else {"orm": "default"}
    ),
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": env.int("Q_TIMEOUT", default=300),
    "retry": env.int("Q_RETRY", default=360),
    "max_attempts": 3,
    "catch_up": False,
    "save_limit": 500,
    "poll": 1,
    # Tasks the pusher claims ahead of the workers (default workers²). A stalled cluster holds its claims until
    # `retry` runs out, so keep the prefetch small.
    "queue_limit": env.int("Q_QUEUE_LIMIT", default=env.int("Q_WORKERS", default=2)),
}
# --- Worker health (config.common.workers) ------------------------------------------------------------
# A django-q2 cluster whose idle worker is SIGKILLed (the OOM killer) leaves its task queue's lock taken: the
# respawned workers wait on it forever, the guard sees them alive, nothing runs (django-q2 issue #23). So
# `run_worker` enqueues a heartbeat task this often, and every finished task counts as progress.
WORKER_HEARTBEAT_SECONDS = env.float("WORKER_HEARTBEAT_SECONDS", default=15.0)
# No cluster has finished a task for this long: /readyz says 503 and the watchdog alerts.
WORKER_STALL_SECONDS = env.float("WORKER_STALL_SECONDS", default=180.0)
# ... except within this long after a cluster (or the web process asking) started: no heartbeat is due yet.
WORKER_START_GRACE_SECONDS = env.float("WORKER_START_GRACE_SECONDS", default=120.0)
# run_worker kills and restarts its own cluster after this long without progress. Longer than Q_TIMEOUT: a task
# can legitimately keep every worker busy that long (django-q2 kills it then), so only then is it certainly stuck.
WORKER_RESTART_SECONDS = env.float("WORKER_RESTART_SECONDS", default=Q_CLUSTER["timeout"] + 30)
# Whether /readyz also requires a working worker cluster (off for a web tier that must serve without one).
READYZ_REQUIRES_WORKER = env.bool("READYZ_REQUIRES_WORKER", default=True)
# The watchdog (`manage.py watchdog`, outside the cluster) checks workers and queues this often.
WATCHDOG_INTERVAL_SECONDS = env.float("WATCHDOG_INTERVAL_SECONDS", default=30.0)
# run_stack / run_worker: SIGTERM a child's process group, then SIGKILL it after this many seconds.
PROCESS_STOP_GRACE_SECONDS = env.float("PROCESS_STOP_GRACE_SECONDS", default=10.0)

# --- Amazon SP-API -----------------------------------------------------------------------------------
# Empty means the real Amazon hosts (chosen per region); the demo and tests point both at the simulator.
SP_API_ENDPOINT = env("SP_API_ENDPOINT", default="")
SP_API_LWA_ENDPOINT = env("SP_API_LWA_ENDPOINT", default="")
SP_API_TIMEOUT_SECONDS = env.float("SP_API_TIMEOUT_SECONDS", default=20.0)
# Amazon only guarantees searchOrders data two minutes after a change; we stay three minutes behind (clock skew).
SP_API_ORDERS_SETTLE_DELAY = timedelta(seconds=env.int("SP_API_ORDERS_SETTLE_DELAY_SECONDS", default=180))
# Each window starts this far before the previous window's end, so nothing at a boundary is missed.
SP_API_ORDERS_OVERLAP = timedelta(seconds=env.int("SP_API_ORDERS_OVERLAP_SECONDS", default=600))
SP_API_ORDERS_INITIAL_LOOKBACK = timedelta(days=env.int("SP_API_ORDERS_INITIAL_LOOKBACK_DAYS", default=30))
SP_API_ORDERS_MAX_PAGES_PER_CYCLE = env.int("SP_API_ORDERS_MAX_PAGES_PER_CYCLE", default=50)
# A poller holds its cursor's lease this long (renewed every page); a dead worker's lease simply expires.
SP_API_SYNC_LEASE = timedelta(seconds=env.int("SP_API_SYNC_LEASE_SECONDS", default=300))
SP_API_ORDERS_POLL_MINUTES = env.int("SP_API_ORDERS_POLL_MINUTES", default=2)
# A searchOrders page that fails (5xx, timeout, bad gateway) is asked again this many times within a cycle before the
# cycle gives up and backs off: with one page per call, a retry costs one call, and holds back nothing else.
SP_API_ORDERS_PAGE_RETRIES = env.int("SP_API_ORDERS_PAGE_RETRIES", default=5)
# getOrder re-reads (orders a page did not fully describe, stored v0 orders without items) per polling cycle.
SP_API_ORDERS_REREADS_PER_CYCLE = env.int("SP_API_ORDERS_REREADS_PER_CYCLE", default=30)
# Amazon may trail our own facts (still Unshipped after our shipment confirmation): recorded on the order at once,
# an exception when it lasts this long.
ORDER_CHANNEL_LAG_HOURS = env.int("ORDER_CHANNEL_LAG_HOURS", default=24)

# SP-API notifications (ORDER_CHANGE, FULFILLMENT_ORDER_STATUS, REPORT/FEED_PROCESSING_FINISHED) arrive in an Amazon
# SQS queue. Credentials come from boto3's usual chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile, a role).
# SQS_ENDPOINT_URL is empty in production (Amazon's endpoint for AWS_REGION); `make run` and the tests point it at the
# local SQS server (simulators/sqs.py). No queue URL: notifications are off and polling runs at full rate.
AWS_REGION = env("AWS_REGION", default="us-east-1")
SQS_ENDPOINT_URL = env("SQS_ENDPOINT_URL", default="")
SP_API_NOTIFICATIONS_QUEUE_URL = env("SP_API_NOTIFICATIONS_QUEUE_URL", default="")
# The consumer's long poll (SQS allows at most 20 s) and messages per receive (at most 10).
SP_API_NOTIFICATIONS_WAIT_SECONDS = env.int("SP_API_NOTIFICATIONS_WAIT_SECONDS", default=20)
SP_API_NOTIFICATIONS_BATCH = env.int("SP_API_NOTIFICATIONS_BATCH", default=10)
# While ORDER_CHANGE notifications flow for an account (subscribed, one received within QUIET_MINUTES, a healthy
# consumer, none failed or left to polling lately), its order poll runs only as a safety sweep this often.
SP_API_NOTIFICATIONS_SAFETY_SWEEP_MINUTES = env.int("SP_API_NOTIFICATIONS_SAFETY_SWEEP_MINUTES", default=60)
SP_API_NOTIFICATIONS_QUIET_MINUTES = env.int("SP_API_NOTIFICATIONS_QUIET_MINUTES", default=30)
# A consumer whose last successful receive is older than this is not healthy (it receives every <= 20 s).
SP_API_NOTIFICATIONS_CONSUMER_STALE_SECONDS = env.int("SP_API_NOTIFICATIONS_CONSUMER_STALE_SECONDS", default=90)
# Distinct orders re-read with getOrder per apply round (getOrder: 0.5/s, burst 30). Changes of one order coalesce
# into one getOrder; orders beyond the budget are left to a poll (searchOrders: 100 orders a call).
SP_API_NOTIFICATIONS_GETORDER_BUDGET = env.int("SP_API_NOTIFICATIONS_GETORDER_BUDGET", default=20)
# A notification whose apply failed for a reason that may pass is tried again this many times, then failed.
SP_API_NOTIFICATIONS_MAX_ATTEMPTS = env.int("SP_API_NOTIFICATIONS_MAX_ATTEMPTS", default=5)
# createDestination's name for our queue (one destination per application and queue).
SP_API_NOTIFICATIONS_DESTINATION_NAME = env("SP_API_NOTIFICATIONS_DESTINATION_NAME", default="ledgerline")

# --- Opayo (Elavon) ----------------------------------------------------------------------------------
# Pi REST v1 and the Reporting & Admin API. Secrets come from the environment only.
OPAYO_PI_BASE_URL = env("OPAYO_PI_BASE_URL", default="https://sandbox.opayo.eu.elavon.com/api/v1")
OPAYO_REPORTING_URL = env("OPAYO_REPORTING_URL", default="https://sandbox.opayo.eu.elavon.com/access/access.htm")
OPAYO_VENDOR_NAME = env("OPAYO_VENDOR_NAME", default="")
OPAYO_INTEGRATION_KEY = env("OPAYO_INTEGRATION_KEY", default="")
OPAYO_INTEGRATION_PASSWORD = env("OPAYO_INTEGRATION_PASSWORD", default="")
OPAYO_REPORTING_USER = env("OPAYO_REPORTING_USER", default="")
OPAYO_REPORTING_PASSWORD = env("OPAYO_REPORTING_PASSWORD", default="")
OPAYO_TIMEOUT_SECONDS = env.float("OPAYO_TIMEOUT_SECONDS", default=20.0)
# Reporting API error codes that mean "no such transaction/batch" (a result, not a failure).
OPAYO_REPORTING_NOT_FOUND_CODES = env.list("OPAYO_REPORTING_NOT_FOUND_CODES", default=["0043", "2015"])
# Our vendorTxCodes: <prefix><order id>-<kind><n>, so each maps back to its order (≤ 40 characters).
OPAYO_VENDOR_TX_PREFIX = env("OPAYO_VENDOR_TX_PREFIX", default="LL")
# Server-protocol notifications: where Opayo sends the shopper after we answer ({vendor_tx_code} is filled in).
OPAYO_SERVER_REDIRECT_URL = env(
    "OPAYO_SERVER_REDIRECT_URL", default="https://shop.example.com/checkout/complete?ref={vendor_tx_code}"
)
# How often unsettled transactions (3-D Secure in progress, outcome unknown) are re-read from Opayo.
OPAYO_POLL_MINUTES = env.int("OPAYO_POLL_MINUTES", default=1)
# Notifications are answered at once and applied by a worker; at most one wake-up per process this often.
OPAYO_NOTIFICATION_KICK_SECONDS = env.float("OPAYO_NOTIFICATION_KICK_SECONDS", default=1.0)
# Settlement batches: a captured transaction in no batch this many days after capture is an exception; older
# captures than the lookback (Opayo lists at most 31 days of batches) are not checked.
OPAYO_BATCH_UNSETTLED_DAYS = env.int("OPAYO_BATCH_UNSETTLED_DAYS", default=3)
OPAYO_BATCH_UNSETTLED_LOOKBACK_DAYS = env.int("OPAYO_BATCH_UNSETTLED_LOOKBACK_DAYS", default=31)

# --- Fraud review (payments.services.fraud) ------------------------------------------------------------
# Each indicator's weight (0-100; 0 switches it off) is how strongly that sign alone calls for review. The score is
# 100 × (1 − Π(1 − weight/100)) over the indicators seen ("noisy OR": signs add up with diminishing returns, never
# beyond 100). Override one with FRAUD_WEIGHTS="cv2_not_matched=50;high_amount=0".
FRAUD_ENABLED = env.bool("FRAUD_ENABLED", default=True)
FRAUD_REVIEW_THRESHOLD = env.int("FRAUD_REVIEW_THRESHOLD", default=60)
FRAUD_WEIGHTS = {
    "avs_address_not_matched": 15,
    "avs_postcode_not_matched": 20,
    "cv2_not_matched": 35,
    "3ds_not_authenticated": 45,
    "3ds_not_enrolled": 15,
    "3ds_not_checked": 10,
    "billing_shipping_country_differ": 35,
    "billing_card_country_differ": 30,
    "card_velocity": 55,
    "email_velocity": 45,
    "high_amount": 20,
    **env.dict("FRAUD_WEIGHTS", cast={"value": int}, default={}),
}
# Velocity: more than this many orders paid with the same card (or by the same email) within the window.
FRAUD_VELOCITY_MAX_ORDERS = env.int("FRAUD_VELOCITY_MAX_ORDERS", default=3)
FRAUD_VELOCITY_HOURS = env.int("FRAUD_VELOCITY_HOURS", default=24)
# High amount: at least this many times the median eCommerce order (same currency, lookback), when there are enough.
FRAUD_AMOUNT_FACTOR = env.float("FRAUD_AMOUNT_FACTOR", default=5.0)
FRAUD_AMOUNT_MIN_ORDERS = env.int("FRAUD_AMOUNT_MIN_ORDERS", default=20)
FRAUD_AMOUNT_LOOKBACK_DAYS = env.int("FRAUD_AMOUNT_LOOKBACK_DAYS", default=90)
# Order custom fields (metadata) the site may send: the customer's email, the card's issuing country (from its BIN
# lookup; Opayo Pi does not report it).
FRAUD_EMAIL_METADATA_KEYS = env.list("FRAUD_EMAIL_METADATA_KEYS", default=["customer_email", "email"])
FRAUD_CARD_COUNTRY_METADATA_KEYS = env.list(
    "FRAUD_CARD_COUNTRY_METADATA_KEYS", default=["card_country", "card_issuing_country"]
)

# --- Fulfilment and ERP ------------------------------------------------------------------------------
FULFILLMENT_POLL_MINUTES = env.int("FULFILLMENT_POLL_MINUTES", default=5)
FULFILLMENT_DISPLAY_COMMENT = env("FULFILLMENT_DISPLAY_COMMENT", default="Thank you for your order.")
# What to do with the payment when Amazon cancels a fulfilment order: "void_or_refund" or "none" (operator decides).
FULFILLMENT_CANCELLED_PAYMENT_ACTION = env("FULFILLMENT_CANCELLED_PAYMENT_ACTION", default="void_or_refund")
# Dynamics SL field lengths the sales-order export must respect.
ERP_FIELD_LENGTHS = {"name": 60, "addr": 60, "city": 30, "state": 3, "zip": 10, "country": 3, "phone": 30, "item": 30}

# --- Reconciliation ----------------------------------------------------------------------------------
# Settlement files are kept as received (named by SHA-256) before anything is parsed.
SETTLEMENT_STORAGE_DIR = env.path("SETTLEMENT_STORAGE_DIR", default=BASE_DIR / "var" / "settlements")
# A rejected file is tried again after this long, then twice as long, ... (the source may have been fixed).
SETTLEMENT_RETRY_MINUTES = env.int("SETTLEMENT_RETRY_MINUTES", default=30)
SETTLEMENT_MAX_ATTEMPTS = env.int("SETTLEMENT_MAX_ATTEMPTS", default=8)
# The books' currency; journal lines carry base amounts at the CurrencyRate of the deposit date.
LEDGER_BASE_CURRENCY = env("LEDGER_BASE_CURRENCY", default="GBP")
# GL account codes (must exist in GL accounts) for the net payout and for base-currency rounding.
LEDGER_CLEARING_ACCOUNT = env("LEDGER_CLEARING_ACCOUNT", default="1205")
LEDGER_ROUNDING_ACCOUNT = env("LEDGER_ROUNDING_ACCOUNT", default="7960")
# "summary": one journal line per GL account and marketplace; "line": one per settlement line (audit detail).
LEDGER_JOURNAL_DETAIL = env("LEDGER_JOURNAL_DETAIL", default="summary")
# Accounting periods: "month" (calendar months, the default) or "quarter". A settlement's lines go to the period of
# their posted date (UTC); a settlement spanning periods becomes one balanced journal entry per period.
LEDGER_PERIOD = env("LEDGER_PERIOD", default="month")
# Completeness: Amazon orders shipped this many days ago or more that no imported settlement contains are listed
# in one exception per seller account (Amazon settles about every 14 days and defers payouts until 7 days after
# delivery; invoiced business orders longer).
SETTLEMENT_UNSETTLED_DAYS = env.int("SETTLEMENT_UNSETTLED_DAYS", default=30)
# Bank deposits (reconciliation/services/bank_match.py): the card acquirer's money goes through its own clearing
# account; fees it deducts before paying (net credit billing) are debited to the card fees account.
LEDGER_OPAYO_CLEARING_ACCOUNT = env("LEDGER_OPAYO_CLEARING_ACCOUNT", default="1206")
LEDGER_CARD_FEES_ACCOUNT = env("LEDGER_CARD_FEES_ACCOUNT", default="5040")
# A short (or over) deposit Finance accepts: the difference goes here until it is explained.
LEDGER_BANK_DIFFERENCE_ACCOUNT = env("LEDGER_BANK_DIFFERENCE_ACCOUNT", default="7970")
# A deposit line still unmatched this many days after its booking date becomes an exception.
BANK_UNMATCHED_DAYS = env.int("BANK_UNMATCHED_DAYS", default=5)
# Amazon's transfer reaches the bank from the settlement's deposit-date up to this many days after.
BANK_AMAZON_WINDOW_DAYS = env.int("BANK_AMAZON_WINDOW_DAYS", default=5)
# The acquirer pays a batch from its settlement day up to this many days after (weekends, bank holidays).
BANK_OPAYO_WINDOW_DAYS = env.int("BANK_OPAYO_WINDOW_DAYS", default=5)
# Net credit billing: the acquirer's charge as a percentage of each batch's payments (0 = gross settle: fees are
# invoiced monthly and each batch is paid in full).
BANK_OPAYO_FEE_PERCENT = Decimal(env("BANK_OPAYO_FEE_PERCENT", default="0"))
BANK_STATEMENT_MAX_BYTES = env.int("BANK_STATEMENT_MAX_BYTES", default=20 * 1024 * 1024)
# Journal export layouts (reconciliation/services/export_formats.py): the tax rate or code of lines that carry no
# tax of their own (our journals post tax to its own GL account), and Dynamics SL's company and subaccount.
EXPORT_XERO_TAX_RATE = env("EXPORT_XERO_TAX_RATE", default="No VAT")
EXPORT_SAGE_TAX_CODE = env("EXPORT_SAGE_TAX_CODE", default="T9")
EXPORT_QBO_DATE_FORMAT = env("EXPORT_QBO_DATE_FORMAT", default="%d/%m/%Y")
EXPORT_DYNAMICS_SL_COMPANY = env("EXPORT_DYNAMICS_SL_COMPANY", default="0060")
EXPORT_DYNAMICS_SL_SUBACCOUNT = env("EXPORT_DYNAMICS_SL_SUBACCOUNT", default="000000")
# Anomaly flags (reconciliation.services.anomalies): per account and SKU, a value is compared with the median of
# the last ANOMALY_WINDOW_DAYS and flagged when it is more than ANOMALY_Z_THRESHOLD usual spreads away (robust z;
# the spread is MAD / 0.6745, never less than ANOMALY_MIN_SPREAD × the median). Groups with fewer than
# ANOMALY_MIN_HISTORY points (orders, order items, weeks) are not judged; a week counts for refund rates with at
# least ANOMALY_REFUND_MIN_ITEMS items sold. The hourly scan looks at orders from the last ANOMALY_SCAN_HOURS.
ANOMALY_WINDOW_DAYS = env.int("ANOMALY_WINDOW_DAYS", default=90)
ANOMALY_MIN_HISTORY = env.int("ANOMALY_MIN_HISTORY", default=8)
ANOMALY_Z_THRESHOLD = env.float("ANOMALY_Z_THRESHOLD", default=3.5)
ANOMALY_MIN_SPREAD = env.float("ANOMALY_MIN_SPREAD", default=0.10)
ANOMALY_REFUND_MIN_ITEMS = env.int("ANOMALY_REFUND_MIN_ITEMS", default=5)
ANOMALY_SCAN_HOURS = env.int("ANOMALY_SCAN_HOURS", default=3)
# Reconciliation hints: candidates are orders purchased up to this many days before the settlement starts; at most
# this many unmatched order references of one settlement get hints (largest amounts first).
RECONCILIATION_HINT_LOOKBACK_DAYS = env.int("RECONCILIATION_HINT_LOOKBACK_DAYS", default=60)
RECONCILIATION_HINT_MAX_REFERENCES = env.int("RECONCILIATION_HINT_MAX_REFERENCES", default=500)

# --- Inventory ---------------------------------------------------------------------------------------
# ERP sites whose stock is not sold on Amazon (e.g. the FBA warehouse the ERP mirrors, a returns bin).
INVENTORY_EXCLUDED_SITES = env.list("INVENTORY_EXCLUDED_SITES", default=["FBA"])
# From this many SKUs due at once (per account and marketplace) one JSON_LISTINGS_FEED replaces the patches.
INVENTORY_FEED_THRESHOLD = env.int("INVENTORY_FEED_THRESHOLD", default=25)
INVENTORY_FEED_MAX_SKUS = env.int("INVENTORY_FEED_MAX_SKUS", default=10_000)
INVENTORY_FEED_POLL_SECONDS = env.int("INVENTORY_FEED_POLL_SECONDS", default=30)
INVENTORY_FBA_POLL_MINUTES = env.int("INVENTORY_FBA_POLL_MINUTES", default=30)

# --- Resilience ----------------------------------------------------------------------------------------
# Every SP-API call waits for its operation's quota (per seller account, shared by all workers, at the rate Amazon
# reports in x-amzn-RateLimit-Limit); a wait longer than this sends the work back to its queue instead.
SP_API_RATE_LIMITING = env.bool("SP_API_RATE_LIMITING", default=True)
SP_API_MAX_THROTTLE_WAIT_SECONDS = env.float("SP_API_MAX_THROTTLE_WAIT_SECONDS", default=5.0)
# Opayo publishes no quotas; if a contract sets some, give them per operation as JSON, e.g.
# {"createTransaction": [10, 20], "reporting:getBatchList": [0.5, 2]} (requests per second, burst).
OPAYO_RATE_LIMITS = env.json("OPAYO_RATE_LIMITS", default={})
OPAYO_MAX_THROTTLE_WAIT_SECONDS = env.float("OPAYO_MAX_THROTTLE_WAIT_SECONDS", default=5.0)
# A provider (per account) that fails this many times in a row is left alone for the cool-down, doubled after
# each failed probe up to the maximum. Ten, not five: a provider failing a third of its answers at random must not
# stop the work (0.3^10 ≈ 6e-6 per call; 0.3^5 made a 10,000-order backlog trip it one run in five), while one that
# is down trips it within seconds all the same.
CIRCUIT_FAILURE_THRESHOLD = env.int("CIRCUIT_FAILURE_THRESHOLD", default=10)
CIRCUIT_COOLDOWN_SECONDS = env.float("CIRCUIT_COOLDOWN_SECONDS", default=30.0)
CIRCUIT_MAX_COOLDOWN_SECONDS = env.float("CIRCUIT_MAX_COOLDOWN_SECONDS", default=600.0)
# Prometheus scraping of /metrics: set a token to allow it from other hosts (Authorization: Bearer <token>).
METRICS_TOKEN = env("METRICS_TOKEN", default="")

# --- Audit trail -------------------------------------------------------------------------------------------
# Every change to these (mappings finance and operations edit, accounts, API clients, journals) is recorded with
# who made it; secrets are never written to the log.
AUDITLOG_INCLUDE_TRACKING_MODELS = (
    "mappings.skumapping",
    "mappings.statusmapping",
    "mappings.fieldrule",
    "mappings.fieldmappingtemplate",
    "mappings.fieldmappingrule",
    "mappings.glaccount",
    "mappings.settlementaccountmapping",
    "mappings.currencyrate",
    {"model": "orders.selleraccount", "exclude_fields": ["lwa_client_secret", "refresh_token"]},
    {"model": "common.apiclient", "exclude_fields": ["token_hash"]},
    "reconciliation.journalentry",
    "reconciliation.accountingperiod",
)  # fmt: skip (orders and exceptions keep their own history: OrderEvent, resolved_by)

# --- Inbound size limits (bytes, by path prefix; the longest matching prefix wins) ------------------------
REQUEST_SIZE_LIMITS = {
    "/webhooks/opayo/": 32 * 1024,  # a Server notification is about 1 KB
    "/api/": 1024 * 1024,
    "/api/v1/erp/inventory/": 8 * 1024 * 1024,  # up to 5,000 levels
    "/admin/reconciliation/settlementfile/upload/": 512 * 1024 * 1024,  # settlement files (streamed to disk)
}
DATA_UPLOAD_MAX_MEMORY_SIZE = 8 * 1024 * 1024  # bodies Django reads into memory (the inventory post is the largest)
# Form posts (not the API, which has its own parsers, nor webhooks) whose fields are checked for card numbers.
CARD_GUARD_FORM_PREFIXES = ["/admin/"]
# Unauthenticated endpoints, per source address and path prefix: [requests per second, burst]. Over it: 429 and
# nothing stored (Opayo retries). Opayo sends one notification per transaction event (and retries), from a few
# addresses, so the burst covers a busy hour's peak; a hostile sender gets no more than this into the table.
INBOUND_RATE_LIMITS = env.json("INBOUND_RATE_LIMITS", default={"/webhooks/opayo/": [20, 200]})
# Only these senders (addresses or networks, e.g. Opayo's published notification ranges) per prefix; empty = any.
INBOUND_ALLOWED_SOURCES = {"/webhooks/opayo/": env.list("OPAYO_NOTIFICATION_ALLOWED_SOURCES", default=[])}

# Reverse proxies in front of the web server (a load balancer: 1). Their X-Forwarded-For entries give the sender's
# address for the limits and allow-lists above and the notifications' recorded source; 0 ignores the header (a
# client could write anything there).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# --- Alerts -------------------------------------------------------------------------------------------------
ALERT_EMAILS = env.list("ALERT_EMAILS", default=[])
ALERT_WEBHOOK_URL = env("ALERT_WEBHOOK_URL", default="")  # receives {"key", "severity", "subject", "body", "at"}
ALERT_REPEAT_MINUTES = env.int("ALERT_REPEAT_MINUTES", default=60)
ALERT_QUEUE_DEPTH = env.int("ALERT_QUEUE_DEPTH", default=500)
ALERT_QUEUE_AGE_MINUTES = env.int("ALERT_QUEUE_AGE_MINUTES", default=60)
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="ledgerline@localhost")
