"""ShopOps settings, read from environment variables with embedded defaults.

With no environment at all ShopOps runs on a SQLite file with Celery tasks
executed eagerly in-process. Production sets DATABASE_URL, CELERY_BROKER_URL,
DJANGO_SECRET_KEY, DJANGO_ALLOWED_HOSTS and SHOPOPS_PUBLIC_URL; with DEBUG off a
missing secret key, allowed hosts or public address refuses to start.
"""

import os
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


DEBUG = env_bool("DJANGO_DEBUG", False)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS")
if DEBUG:
    SECRET_KEY = SECRET_KEY or "django-insecure-shopops-development-only"
    ALLOWED_HOSTS = ALLOWED_HOSTS or ["127.0.0.1", "localhost", "testserver"]
else:
    if not SECRET_KEY:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off.")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must be set when DJANGO_DEBUG is off.")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "oauth2_provider",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "shopops",
    "catalog",
    "orders",
    "shipping",
    "marketing",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "shopops.middleware.RequestBodyLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "shopops.public_urls.LastRequestAddressMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "shopops.urls"
WSGI_APPLICATION = "shopops.wsgi.application"

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

DATABASES = {
    "default": dj_database_url.config(
        env="DATABASE_URL",
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
        # A connection kept between requests is checked first: after a database restart the next request
        # reconnects instead of failing on the dead one.
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Without it a database host that drops packets holds each request, and /healthz, for psycopg's 130 s
    # (2 s is psycopg's and libpq's minimum). A connect_timeout in DATABASE_URL's query string wins.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", env_int("DATABASE_CONNECT_TIMEOUT", 2))
# The cache holds API throttling counters: share it between processes in production. While Redis is unreachable
# each process counts in its own memory (shopops/cache.py); the short timeouts bound what a dead or hung Redis
# costs: one timeout per process every RETRY_SECONDS (10 s).
CACHES = {
    "default": (
        {
            "BACKEND": "shopops.cache.FallbackRedisCache",
            "LOCATION": os.environ["CACHE_URL"],
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
        if os.environ.get("CACHE_URL")
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/admin/login/"

LANGUAGE_CODE = "en-us"
# One way of writing dates and times in the dashboard ("4 Dec 2026, 14:30"): shopops/formats/en/formats.py.
FORMAT_MODULE_PATH = ["shopops.formats"]
TIME_ZONE = os.environ.get("DJANGO_TIME_ZONE", "Asia/Kolkata")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", BASE_DIR / "staticfiles"))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("DJANGO_MEDIA_ROOT", BASE_DIR / "media"))
# Files with personal data (import files): never served at MEDIA_URL.
PRIVATE_MEDIA_ROOT = Path(os.environ.get("DJANGO_PRIVATE_MEDIA_ROOT", BASE_DIR / "private"))

# Request size limits. JSON bodies on the API are capped at API_MAX_BODY_BYTES;
# multipart uploads (file imports, images) at API_MAX_UPLOAD_BYTES. Anything
# larger is answered 413 before the body is read.
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 1024 * 1024)
API_MAX_UPLOAD_BYTES = env_int("API_MAX_UPLOAD_BYTES", 50 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES

# Security: HTTPS-only cookies and HSTS in production.
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Customer notifications: email through Django's backend (console unless EMAIL_HOST is set), SMS through
# SHOPOPS_SMS_BACKEND; their links point at the public tracking page.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = os.environ.get("EMAIL_USE_TLS", "1") == "1"
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.console.EmailBackend",
)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "ShopOps <no-reply@localhost>")
SHOPOPS_SMS_BACKEND = os.environ.get("SHOPOPS_SMS_BACKEND", "shipping.notifications.LogSMSBackend")
# The address people reach ShopOps at (https://ops.example.com): links sent out (tracking pages, invitations, documents
# in webhooks) point there. Required with DEBUG off; in development, unset, links follow the address the site is
# browsed at (shopops/public_urls.py).
SHOPOPS_PUBLIC_URL = os.environ.get("SHOPOPS_PUBLIC_URL", "").strip().rstrip("/")
_public = urlsplit(SHOPOPS_PUBLIC_URL)
if SHOPOPS_PUBLIC_URL and (_public.scheme not in ("http", "https") or not _public.hostname or _public.query
                           or _public.fragment):  # fmt: skip
    raise ImproperlyConfigured(
        f"SHOPOPS_PUBLIC_URL must be the site's address, e.g. https://ops.example.com, not {SHOPOPS_PUBLIC_URL!r}."
    )
if not SHOPOPS_PUBLIC_URL and not DEBUG:
    raise ImproperlyConfigured(
        "SHOPOPS_PUBLIC_URL must be set when DJANGO_DEBUG is off: the address in the links ShopOps sends out, "
        "e.g. https://ops.example.com."
    )
# Lookups of the public tracking page by AWB and order number or phone digits, per visitor address.
TRACKING_LOOKUP_RATE = os.environ.get("TRACKING_LOOKUP_RATE", "30/hour")
# Team invitations: the emailed link works for this many days.
SHOPOPS_INVITATION_DAYS = env_int("SHOPOPS_INVITATION_DAYS", 7)
if SHOPOPS_INVITATION_DAYS < 1:
    raise ImproperlyConfigured("SHOPOPS_INVITATION_DAYS must be a positive number of days.")
SHOPOPS_INVITATION_TTL = timedelta(days=SHOPOPS_INVITATION_DAYS)

# E-way bills: a consignment (an order in rupees) whose value (the order's total) is above this many rupees needs
# an e-way bill number before it moves; booking it without one is allowed, with an "E-way bill required" warning.
try:
    EWAY_BILL_THRESHOLD = Decimal(os.environ.get("EWAY_BILL_THRESHOLD") or "50000")
except InvalidOperation:
    raise ImproperlyConfigured("EWAY_BILL_THRESHOLD must be an amount in rupees, e.g. 50000.") from None
if not EWAY_BILL_THRESHOLD.is_finite() or EWAY_BILL_THRESHOLD < 0:
    raise ImproperlyConfigured("EWAY_BILL_THRESHOLD must be an amount in rupees, e.g. 50000.")

# Credentials of other services (courier accounts) are encrypted with these Fernet keys, newest first; see
# shopops/crypto.py. Required with DEBUG off.
SHOPOPS_CREDENTIALS_KEYS = env_list("SHOPOPS_CREDENTIALS_KEYS")


def _base_urls(value: str) -> dict[str, str]:
    """``service.environment=url`` pairs, comma-separated (``delhivery.sandbox=http://127.0.0.1:9001``)."""
    urls = {}
    for pair in filter(None, (item.strip() for item in value.split(","))):
        name, _, url = pair.partition("=")
        if not url.startswith(("http://", "https://")) or name.count(".") != 1:
            raise ImproperlyConfigured(f"COURIER_BASE_URLS: {pair!r} is not service.environment=http(s)://host.")
        urls[name.strip()] = url.strip().rstrip("/")
    return urls


# Courier services' hosts, per service and environment (sandbox, live); a setting replaces one, e.g. to point
# sandbox accounts at a staging host or a local test server.
COURIER_BASE_URLS = {
    "shiprocket.live": "https://apiv2.shiprocket.in/v1/external",
    "shiprocket.sandbox": "https://apiv2.shiprocket.in/v1/external",  # Shiprocket has no sandbox host
    "delhivery.live": "https://track.delhivery.com",
    "delhivery.sandbox": "https://staging-express.delhivery.com",
    "easypost.live": "https://api.easypost.com/v2",
    "easypost.sandbox": "https://api.easypost.com/v2",  # EasyPost's test mode is a test API key on the same host
} | _base_urls(os.environ.get("COURIER_BASE_URLS", ""))
# Seconds to connect and to wait for an answer; attempts of an idempotent call (timeouts, 429, 5xx); the longest
# wait between them; failures in a row that open an account's circuit, and for how long.
COURIER_CONNECT_TIMEOUT = float(os.environ.get("COURIER_CONNECT_TIMEOUT") or 5)
COURIER_READ_TIMEOUT = float(os.environ.get("COURIER_READ_TIMEOUT") or 30)
COURIER_MAX_ATTEMPTS = env_int("COURIER_MAX_ATTEMPTS", 3)
COURIER_MAX_BACKOFF = float(os.environ.get("COURIER_MAX_BACKOFF") or 8)
COURIER_CIRCUIT_FAILURES = env_int("COURIER_CIRCUIT_FAILURES", 5)
COURIER_CIRCUIT_SECONDS = env_int("COURIER_CIRCUIT_SECONDS", 60)
# Live quotes from courier services are kept this long (seconds).
COURIER_LIVE_QUOTE_TTL = env_int("COURIER_LIVE_QUOTE_TTL", 600)
# Write-backs to stores: attempts of a push before it fails; how often mapped SKUs' stock is compared with what the
# stores were last told (seconds).
CHANNEL_PUSH_MAX_ATTEMPTS = env_int("CHANNEL_PUSH_MAX_ATTEMPTS", 8)
CHANNEL_STOCK_EVERY = env_int("CHANNEL_STOCK_EVERY", 120)

# Sales channels' APIs (a connection test, pulls): the same policy as courier services, with its own numbers.
CHANNEL_CONNECT_TIMEOUT = float(os.environ.get("CHANNEL_CONNECT_TIMEOUT") or 5)
CHANNEL_READ_TIMEOUT = float(os.environ.get("CHANNEL_READ_TIMEOUT") or 30)
CHANNEL_MAX_ATTEMPTS = env_int("CHANNEL_MAX_ATTEMPTS", 3)
CHANNEL_MAX_BACKOFF = float(os.environ.get("CHANNEL_MAX_BACKOFF") or 8)
CHANNEL_CIRCUIT_FAILURES = env_int("CHANNEL_CIRCUIT_FAILURES", 5)
CHANNEL_CIRCUIT_SECONDS = env_int("CHANNEL_CIRCUIT_SECONDS", 60)
# Stores' orders are pulled every CHANNEL_PULL_EVERY seconds; a channel's first pull reaches back
# CHANNEL_PULL_BACKFILL seconds (7 days).
CHANNEL_PULL_EVERY = env_int("CHANNEL_PULL_EVERY", 300)
CHANNEL_PULL_BACKFILL = env_int("CHANNEL_PULL_BACKFILL", 7 * 24 * 3600)

# Outbound webhooks: endpoints on private, loopback or link-local addresses (and plain http) are refused unless
# this is on (development, tests); a delivery attempt waits this long for the partner's answer.
WEBHOOKS_ALLOW_PRIVATE_URLS = env_bool("WEBHOOKS_ALLOW_PRIVATE_URLS", False)
WEBHOOKS_TIMEOUT_SECONDS = env_int("WEBHOOKS_TIMEOUT_SECONDS", 10)

# Printed documents: the font families, by name (fontconfig finds the files), in the order a character is looked
# for: Latin, then the scripts Indian addresses are written in (Debian's fonts-dejavu-core and fonts-noto-core).
DOCUMENT_FONTS = env_list(
    "DOCUMENT_FONTS",
    "DejaVu Sans,Noto Sans Devanagari,Noto Sans Bengali,Noto Sans Gurmukhi,Noto Sans Gujarati,Noto Sans Oriya,"
    "Noto Sans Tamil,Noto Sans Telugu,Noto Sans Kannada,Noto Sans Malayalam,Noto Sans Arabic",
)
DOCUMENT_MONO_FONT = os.environ.get("DOCUMENT_MONO_FONT", "DejaVu Sans Mono")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
    # httpx logs each request's full URL at INFO, query string and all (a courier token may be in it): ShopOps logs
    # courier exchanges itself, redacted (shipping.adapters.http).
    "loggers": {"django.request": {"level": "ERROR"}, "httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}},
}

# --- REST API -----------------------------------------------------------------

API_SCOPES = {
    "catalog:read": "Read products and categories",
    "catalog:write": "Create and change products and categories",
    "inventory:read": "Read locations, stock levels and the stock ledger",
    "inventory:write": "Adjust stock and manage locations",
    "orders:read": "Read orders, customers, returns and imports",
    "orders:write": "Create and change orders, returns and imports",
    "shipping:read": "Read couriers, shipments, tracking and documents",
    "shipping:write": "Create shipments, pickups, manifests and documents",
    "payments:read": "Read payments, refunds and COD remittances",
    "payments:write": "Refund payments and import COD remittances",
    "marketing:read": "Read segments and campaigns",
    "marketing:write": "Create and change segments and campaigns",
    "webhooks:read": "Read webhook endpoints and their delivery log",
    "webhooks:write": "Register webhook endpoints, rotate their secrets, resend deliveries",
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "shopops.api.authentication.PartnerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["shopops.api.permissions.HasMerchantScope"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "shopops.api.parsers.JSONParser",
        "shopops.api.parsers.FormParser",
        "shopops.api.parsers.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "shopops.api.ordering.WhitelistOrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "shopops.api.pagination.KeysetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_CLASSES": ["shopops.api.throttling.ClientRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"client": os.environ.get("API_THROTTLE_RATE", "1200/min")},
    "EXCEPTION_HANDLER": "shopops.api.exceptions.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "shopops.api.schema.ShopOpsAutoSchema",
    "DATETIME_FORMAT": "iso-8601",
    "COERCE_DECIMAL_TO_STRING": True,
    "NON_FIELD_ERRORS_KEY": "non_field_errors",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

# Idempotency-Key: stored responses are replayed for 24 hours; a key whose
# request never finished (a crashed process) is released after the lock timeout.
IDEMPOTENCY_KEY_TTL = timedelta(hours=24)
IDEMPOTENCY_LOCK_TIMEOUT = timedelta(seconds=env_int("IDEMPOTENCY_LOCK_TIMEOUT_SECONDS", 300))

# --- OAuth2 (django-oauth-toolkit) ----------------------------------------------

OAUTH2_PROVIDER_APPLICATION_MODEL = "shopops.PartnerApplication"
OAUTH2_PROVIDER = {
    "SCOPES": API_SCOPES,
    "DEFAULT_SCOPES": ["__all__"],
    "SCOPES_BACKEND_CLASS": "shopops.oauth.PartnerApplicationScopes",
    "OAUTH2_VALIDATOR_CLASS": "shopops.oauth.PartnerOAuth2Validator",
    "ACCESS_TOKEN_EXPIRE_SECONDS": env_int("OAUTH2_ACCESS_TOKEN_EXPIRE_SECONDS", 3600),
    "REFRESH_TOKEN_EXPIRE_SECONDS": env_int("OAUTH2_REFRESH_TOKEN_EXPIRE_SECONDS", 30 * 24 * 3600),
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "PKCE_REQUIRED": True,
    # RFC 9700: refuse the implicit and password grants, accept only S256
    # PKCE challenges, and keep only a SHA-256 checksum of tokens at rest.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
    "OAUTH2_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OAUTH2_GRANT_TYPES_SUPPORTED": ["authorization_code", "client_credentials", "refresh_token"],
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"] if not DEBUG else ["http", "https"],
}

SPECTACULAR_SETTINGS = {
    "TITLE": "ShopOps API",
    "DESCRIPTION": (
        "The ShopOps partner API. Authenticate with an OAuth2 access token "
        "(client credentials, or authorization code with PKCE S256) from `/o/token/`. "
        "Every error has the body `{code, message, details}`. POST and PATCH accept an "
        "`Idempotency-Key` header: the same key and request within 24 hours replays the "
        "stored response."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and ReDoc from drf-spectacular-sidecar's static files, never a CDN; the pages' icon is ShopOps's
    # (templates/api_docs/), and Swagger UI's online validator (its badge an image from swagger.io) is off.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": None,
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "OAUTH2_FLOWS": ["clientCredentials", "authorizationCode"],
    "OAUTH2_AUTHORIZATION_URL": "/o/authorize/",
    "OAUTH2_TOKEN_URL": "/o/token/",
    "OAUTH2_REFRESH_URL": "/o/token/",
    "OAUTH2_SCOPES": API_SCOPES,
    "ENUM_NAME_OVERRIDES": {
        "ProductStatusEnum": "catalog.models.ProductStatus",
        "BulkItemStatusEnum": ["created", "updated", "failed"],
        "MovementKindEnum": "catalog.models.MovementKind",
        "ChannelKindEnum": "orders.models.ChannelKind",
        "OrderStatusEnum": "orders.models.OrderStatus",
        "ReturnStatusEnum": "orders.models.ReturnStatus",
        "PaymentStatusEnum": "orders.models.PaymentStatus",
        "GatewayPaymentStatusEnum": "orders.models.GatewayPaymentStatus",
        "ImportKindEnum": "orders.models.ImportKind",
        "ImportStatusEnum": "orders.models.ImportStatus",
        "ErrorPolicyEnum": "orders.models.ErrorPolicy",
        "ZoneEnum": "shipping.zones.Zone",
        "ShipmentStatusEnum": "shipping.models.ShipmentStatus",
        "LabelFormatEnum": "shipping.choices.LabelFormat.values",
        "CourierModeEnum": "shipping.models.CourierMode",
        "AWBPoolKindEnum": "shipping.models.AWBPoolKind",
        "NDRActionEnum": "shipping.models.NDRAction",
        "WebhookEventTypeEnum": "shopops.webhooks.models.WebhookEventType",
        "WebhookDeliveryStatusEnum": "shopops.webhooks.models.DeliveryStatus",
    },
    # Path parameters documented with the characters their URL converter matches (anything else is a 404).
    "PATH_CONVERTER_OVERRIDES": {
        "slug": {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"},
        "str": {"type": "string", "pattern": "^[^/]+$"},
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "shopops.api.schema.postprocess_links",
        "shopops.api.schema.postprocess_error_codes",
        "shopops.api.schema.postprocess_tags",
    ],
}

# --- Celery ---------------------------------------------------------------------

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
# Job rows hold every outcome, so task results are not stored. A result backend would also tie each publish to
# it: with Redis down, a publish waits ~19 s for it and then leaves the process unable to publish until restarted.
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND") or None
CELERY_RESULT_EXPIRES = timedelta(hours=1)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 300)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 360)
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES_NAMES = ["default", "imports", "documents", "notifications", "webhooks"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A broker that refuses connections costs a request about 2 s (kombu tries twice), one that accepts and never
# answers its read timeout (shopops/dispatch.py): connect briefly, publish without retries; the sweep sends again
# what was not published. The read timeout stays above the 1 s a worker's poll of a Redis broker waits.
CELERY_BROKER_CONNECTION_TIMEOUT = env_int("CELERY_BROKER_CONNECT_TIMEOUT", 1)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": env_int("CELERY_BROKER_CONNECT_TIMEOUT", 1),
    "socket_timeout": env_int("CELERY_BROKER_SOCKET_TIMEOUT", 5),
    # Redis: a task unacknowledged for longer than this is redelivered, so it
    # must exceed the longest task time limit.
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600),
}
CELERY_TIMEZONE = "UTC"
# An import job whose worker has not reported progress for this long is marked failed.
IMPORT_STUCK_AFTER = timedelta(seconds=env_int("IMPORT_STUCK_AFTER_SECONDS", 900))
# A running import whose worker has not reported progress for this long may be claimed by another delivery of its
# job (its worker was lost); a younger one is left to its worker.
IMPORT_CLAIM_STALE_AFTER = timedelta(seconds=env_int("IMPORT_CLAIM_STALE_AFTER_SECONDS", 120))

# A queued job that no worker claimed this long after it was sent is sent again (its message lost or never
# published): the jobs-requeue sweep, run by Celery beat every JOBS_REQUEUE_EVERY (the fault drills shorten both).
JOB_REQUEUE_AFTER = timedelta(seconds=env_int("JOB_REQUEUE_AFTER_SECONDS", 60))
JOBS_REQUEUE_EVERY = timedelta(seconds=env_int("JOBS_REQUEUE_EVERY_SECONDS", 30))

CELERY_BEAT_SCHEDULE = {
    "jobs-requeue": {
        "task": "shopops.tasks.jobs_requeue",
        "schedule": JOBS_REQUEUE_EVERY,
    },
    "idempotency-keys-prune": {
        "task": "shopops.tasks.idempotency_keys_prune",
        "schedule": timedelta(hours=1),
    },
    "imports-fail-stuck": {
        "task": "orders.tasks.import_fail_stuck",
        "schedule": timedelta(minutes=5),
    },
    "tracking-poll": {
        "task": "shipping.tasks.tracking_poll_all",
        "schedule": timedelta(minutes=1),
    },
    "courier-performance-refresh": {
        "task": "shipping.tasks.courier_performance_refresh_all",
        "schedule": timedelta(hours=6),
    },
    "webhooks-sweep": {
        "task": "shopops.webhooks.tasks.webhooks_sweep",
        "schedule": timedelta(seconds=30),
    },
    "channels-pull": {
        "task": "orders.tasks.channels_pull",
        "schedule": timedelta(seconds=CHANNEL_PULL_EVERY),
    },
    "channel-pushes-due": {
        "task": "orders.tasks.channel_pushes_due",
        "schedule": timedelta(seconds=60),
    },
    "channels-stock-reconcile": {
        "task": "orders.tasks.channels_stock_reconcile",
        "schedule": timedelta(seconds=CHANNEL_STOCK_EVERY),
    },
    "oauth2-tokens-clear-expired": {
        "task": "shopops.tasks.oauth2_tokens_clear_expired",
        "schedule": timedelta(hours=6),
    },
}
