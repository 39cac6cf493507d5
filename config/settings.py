"""Settings for the birth-care capacity platform.

One module for every environment. Everything that differs between a laptop and
production is read from the environment through the small typed helpers below,
which fail loudly on a value they cannot parse. With nothing set, the project
runs embedded: SQLite, the in-memory channel layer and Celery tasks run
in-process. With ``DATABASE_URL`` and ``REDIS_URL`` set it runs the production
topology (PostgreSQL, Redis channel layer and broker, separate worker and beat).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import csp.constants as csp
import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {raw!r}")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


DEBUG = env_bool("DEBUG", default=False)
# The production topology (DATABASE_URL set) fails closed: it does not start on the embedded
# secret key or host list. The embedded demo needs neither (docs/operations.md).
PRODUCTION = bool(env_str("DATABASE_URL"))
EMBEDDED_SECRET_KEY = "insecure-embedded-default-change-me-in-production"  # noqa: S105
SECRET_KEY = env_str("SECRET_KEY")
if PRODUCTION and SECRET_KEY in {"", EMBEDDED_SECRET_KEY}:
    raise ImproperlyConfigured(
        "SECRET_KEY must be set when DATABASE_URL is set (production): a long random value, kept secret, "
        "e.g. from `python -c 'import secrets; print(secrets.token_urlsafe(50))'`"
    )
SECRET_KEY = SECRET_KEY or EMBEDDED_SECRET_KEY

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [])
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "ALLOWED_HOSTS must be set when DATABASE_URL is set (production): the host names this site answers "
        "to, comma-separated, e.g. ALLOWED_HOSTS=capaciteit.example.org"
    )
ALLOWED_HOSTS = ALLOWED_HOSTS or ["localhost", "127.0.0.1", "[::1]", "testserver"]
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# This deployment's public address: the namespace of the identifiers in the standard exports
# (FHIR identifier systems, the measure's canonical URL) and of the API's problem types.
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "http://localhost:8000").rstrip("/")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "django_htmx",
    "csp",
    # The API (api/v1.py); listed so its docs page loads Swagger UI from static files.
    "ninja",
    # Second factor at login (hospitals/mfa.py, docs/security.md): TOTP apps and recovery codes.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    # Login lockout per account and per client address (hospitals/lockout.py, docs/security.md).
    "axes",
    # The project's apps, bottom layer first; each imports only those above it in this list
    # (docs/architecture.md; enforced by import-linter in `make lint`).
    "core",
    "hospitals",
    "capacity",
    "kraamzorg",
    "search",
    "refusals",
    "placements",
    "api",
]

MIDDLEWARE = [
    # When each request started: the push latency metric counts from here (core/metrics.py).
    "core.metrics.RequestStartMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # A request id and the path on every log line of the request (core/logs.py, LOGGING).
    "core.logs.RequestIdMiddleware",
    # Lets services record from where in the access log (hospitals/audit.py).
    "hospitals.audit.AccessLogContextMiddleware",
    # Content-Security-Policy and Permissions-Policy on every response, static files included (docs/security.md).
    "csp.middleware.CSPMiddleware",
    "core.middleware.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Outside everything that reads the session: an unreachable database is a 503 page, not a 500.
    "core.middleware.DatabaseUnavailableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "core.middleware.DutchByDefaultMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "api.middleware.ApiBodyMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "hospitals.mfa.SecondFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # After auth and messages: an idle session is logged out with a message (SESSION_IDLE_MINUTES).
    "core.middleware.IdleTimeoutMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes requires: turns a lockout into the login page with its message (429).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

# The one time zone (core/time.py): days, hours and quarters are Dutch local time.
TIME_ZONE = "Europe/Amsterdam"

# --- Database -----------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 0))}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Fail fast, recover fast (docs/operations.md): a connect gives up after DB_CONNECT_TIMEOUT
        # (libpq's minimum is 2 s), a statement after DB_STATEMENT_TIMEOUT seconds (0: none), and a
        # pooled connection is checked before a request gets it, so one broken by an outage is replaced.
        db_options = DATABASES["default"].setdefault("OPTIONS", {})
        db_options["connect_timeout"] = env_int("DB_CONNECT_TIMEOUT", 2)
        statement_timeout = env_int("DB_STATEMENT_TIMEOUT", 15)
        if statement_timeout > 0:
            db_options["options"] = f"-c statement_timeout={statement_timeout}s"
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = env_bool("DB_CONN_HEALTH_CHECKS", default=True)
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_int("DB_POOL_MAX", 20) > 0:
        # A connection per request (and per socket handshake) cost ~15 ms on a fresh
        # connection (docs/performance.md); psycopg's pool keeps them open. Not
        # together with persistent connections (DB_CONN_MAX_AGE must stay 0).
        # A request waits at most DB_POOL_TIMEOUT for a connection (then 503, core/middleware.py).
        # psycopg_pool retries a failed connect with a doubling delay until reconnect_timeout
        # (default 300 s: delays up to 128 s, so a process recovered long after the database);
        # bounded here, a retry comes within ~2 s and a waiting request starts a fresh one after.
        DATABASES["default"]["OPTIONS"]["pool"] = {
            "min_size": env_int("DB_POOL_MIN", 2),
            "max_size": env_int("DB_POOL_MAX", 20),
            "timeout": env_int("DB_POOL_TIMEOUT", 2),
            "reconnect_timeout": env_int("DB_POOL_RECONNECT_TIMEOUT", 5),
            "max_waiting": env_int("DB_POOL_MAX_WAITING", 0),
        }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            # Several threads write (web requests, in-process tasks): take the write lock
            # when the transaction starts and wait for it, instead of failing mid-way.
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer, live push, Celery ------------------------------------
REDIS_URL = env_str("REDIS_URL")
# redis-py 8's asyncio pool raises instead of waiting once it holds 100 connections;
# a process serving thousands of boards needs far more headroom (docs/realtime.md).
REDIS_MAX_CONNECTIONS = env_int("REDIS_MAX_CONNECTIONS", 10000)
if REDIS_URL:
    CHANNEL_LAYERS: dict[str, dict[str, Any]] = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # redis-py 8 times a read out after 5 s by default, as long as channels-redis waits on
                # a consumer's inbox (BRPOP, 5 s): a socket with nothing pushed for 5 s was closed.
                # A read timeout well above that wait still notices a Redis that stopped answering.
                "hosts": [{"address": REDIS_URL, "max_connections": REDIS_MAX_CONNECTIONS, "socket_timeout": 30}],
                "capacity": 1000,
                "prefix": env_str("CHANNEL_PREFIX", "asgi"),
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Shared cache: the API's per-token rate limits count here, across processes.
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_PREFIX", "cache"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Prefix for the live-board pub/sub channels, so test runs can share one Redis.
LIVE_PUSH_PREFIX = env_str("LIVE_PUSH_PREFIX", "board")

# Bearer token Prometheus sends to /metrics (config/metrics.py, docs/operations.md). Unset: the
# endpoint refuses every request. A short token is refused at start-up.
METRICS_TOKEN = env_str("METRICS_TOKEN")
if METRICS_TOKEN and len(METRICS_TOKEN) < 32:
    raise ImproperlyConfigured("METRICS_TOKEN must be at least 32 characters (e.g. `openssl rand -hex 32`)")

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
# Durable delivery (docs/operations.md): every task is idempotent, so a message is acked only
# after its task ran, and a worker killed mid-task hands it back. Each process reserves one.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# The longest task (a sweep of 1,000 refusals) takes seconds; none may run past the hard limit.
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 100)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 120)
# A message whose worker died is delivered again this long after it was taken: above the hard
# limit, so a task still running is never handed to a second worker (Redis' default is 1 h).
CELERY_VISIBILITY_TIMEOUT = env_int("CELERY_VISIBILITY_TIMEOUT", 180)
if not CELERY_TASK_SOFT_TIME_LIMIT < CELERY_TASK_TIME_LIMIT < CELERY_VISIBILITY_TIMEOUT:
    raise ImproperlyConfigured(
        "need CELERY_TASK_SOFT_TIME_LIMIT < CELERY_TASK_TIME_LIMIT < CELERY_VISIBILITY_TIMEOUT, got "
        f"{CELERY_TASK_SOFT_TIME_LIMIT}, {CELERY_TASK_TIME_LIMIT}, {CELERY_VISIBILITY_TIMEOUT}"
    )
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # A broker that hangs must not hold up a request that enqueues after commit.
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    # Look for such messages every 10 s (kombu's default is every 100 s).
    "unacked_restore_interval": 10,
    "unacked_restore_throttle": 1,
}
# The worker logs through LOGGING below (JSON in production), not Celery's own format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TIMEZONE = TIME_ZONE
# Embedded mode has no beat process: the web process runs the schedule in a thread.
EMBEDDED_BEAT = env_bool("EMBEDDED_BEAT", default=True)
CELERY_BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "capacity-staleness": {
        "task": "capacity.tasks.check_staleness",
        "schedule": env_int("STALENESS_CHECK_SECONDS", 60),
    },
    # Refusals whose aggregation task was lost (broker/worker down) are counted here (docs/refusals.md).
    "refusals-sweep": {
        "task": "refusals.tasks.sweep_unaggregated",
        "schedule": env_int("REFUSAL_SWEEP_SECONDS", 60),
    },
    # Spikes of refusals, several locations in stop at once: alert the coordinators (docs/refusals.md).
    "refusals-alerts": {
        "task": "refusals.tasks.check_alerts",
        "schedule": env_int("REFUSAL_ALERT_CHECK_SECONDS", 60),
    },
    # Kraamzorg shortages whose aggregation task was lost are counted here (docs/kraamzorg.md).
    "kraamzorg-shortage-sweep": {
        "task": "kraamzorg.tasks.sweep_shortages",
        "schedule": env_int("KRAAMZORG_SHORTAGE_SWEEP_SECONDS", 60),
    },
    # Placement requests past their deadline without an answer expire (docs/requests.md).
    "placements-expire": {
        "task": "placements.tasks.expire_due",
        "schedule": env_int("PLACEMENT_SWEEP_SECONDS", 15),
    },
    # Access-log entries past their retention are deleted in batches (docs/security.md).
    "access-log-retention": {
        "task": "hospitals.tasks.purge_access_log",
        "schedule": env_int("ACCESS_LOG_PURGE_SECONDS", 3600),
    },
    # Kraamzorg planners with a stale intake week are e-mailed, once per interval (docs/kraamzorg.md).
    "kraamzorg-reminders": {
        "task": "kraamzorg.tasks.remind_stale_intake",
        "schedule": env_int("KRAAMZORG_REMINDER_CHECK_SECONDS", 900),
    },
}
# At most one reminder e-mail per kraamzorg organisation within this time (docs/kraamzorg.md, "Reminders").
KRAAMZORG_REMINDER_INTERVAL = timedelta(hours=env_int("KRAAMZORG_REMINDER_INTERVAL_HOURS", 24))

# --- Access log (NEN 7513 style, hospitals/audit.py, docs/security.md) -------------------
# Days an entry is kept; 0 keeps every entry. NEN 7513 leaves the period to the organisation;
# five years (1826 days) matches the usual term for logs of access to care data.
ACCESS_LOG_RETENTION_DAYS = env_int("ACCESS_LOG_RETENTION_DAYS", 1826)

# --- Web process garbage collector (core/gc.py) -------------------------------------
GC_THRESHOLDS = tuple(int(x) for x in env_list("GC_THRESHOLDS", ["700", "10", "1000"]))

# --- Slow websockets (core/ws_protocol.py, capacity/consumers.py, docs/operations.md) ------
# Kernel send buffer of each websocket (SO_SNDBUF; Linux doubles it), and the bytes a board
# socket may have waiting in the process (transport buffer + queue) before it is closed with 1013.
WS_SEND_BUFFER_BYTES = env_int("WS_SEND_BUFFER_BYTES", 64 * 1024)
WS_MAX_QUEUED_BYTES = env_int("WS_MAX_QUEUED_BYTES", 256 * 1024)

# --- Capacity rules (configurable, docs/operations.md) ----------------------------
CAPACITY_STALE_AFTER = timedelta(minutes=env_int("CAPACITY_STALE_AFTER_MINUTES", 240))
# The search's ranking (docs/search.md, "Ranking"): travel-time bands in minutes, and how far other
# regions' locations are listed beside the home region's.
# The largest API request body (bytes): a location's units in one PUT fit many times over (docs/api.md).
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 64 * 1024)
SEARCH_TIME_BANDS = tuple(int(m) for m in env_list("SEARCH_TIME_BANDS", ["30", "60", "90"]))
SEARCH_OTHER_REGIONS_WITHIN_MINUTES = env_int("SEARCH_OTHER_REGIONS_WITHIN_MINUTES", SEARCH_TIME_BANDS[0])
CAPACITY_REMIND_BEFORE = timedelta(minutes=env_int("CAPACITY_REMIND_BEFORE_MINUTES", 30))

# --- Placement requests (configurable, docs/requests.md) ----------------------------
# Minutes a location has to answer, per urgency; after that the request expires.
PLACEMENT_DEADLINE = {
    "immediate": timedelta(minutes=env_int("PLACEMENT_DEADLINE_IMMEDIATE_MINUTES", 5)),
    "urgent": timedelta(minutes=env_int("PLACEMENT_DEADLINE_URGENT_MINUTES", 15)),
    "planned": timedelta(minutes=env_int("PLACEMENT_DEADLINE_PLANNED_MINUTES", 60)),
}
# A refusal registered by hand this close to one a request's "no" registered, for the same
# location and care, is taken to be the same one: it is not counted twice (docs/requests.md).
REFUSAL_REQUEST_LINK_WINDOW = timedelta(minutes=env_int("REFUSAL_REQUEST_LINK_WINDOW_MINUTES", 180))

# --- Refusals (configurable, docs/refusals.md) -------------------------------------
REFUSAL_MAX_AGE = timedelta(days=env_int("REFUSAL_MAX_AGE_DAYS", 7))
REFUSAL_EDIT_WINDOW = timedelta(hours=env_int("REFUSAL_EDIT_WINDOW_HOURS", 24))
# Alerts: this many refusals at one location within the window (0: off) ...
REFUSAL_ALERT_SPIKE_COUNT = env_int("REFUSAL_ALERT_SPIKE_COUNT", 3)
REFUSAL_ALERT_SPIKE_WINDOW = timedelta(hours=env_int("REFUSAL_ALERT_SPIKE_HOURS", 6))
# ... or this many locations of one region in admission stop at once (0: off).
REFUSAL_ALERT_STOP_LOCATIONS = env_int("REFUSAL_ALERT_STOP_LOCATIONS", 2)
# An unacknowledged alert shows as a banner on its coordinators' pages this long.
REFUSAL_ALERT_BANNER = timedelta(hours=env_int("REFUSAL_ALERT_BANNER_HOURS", 24))

# --- Hospital-system API (docs/api.md) ------------------------------------------
# Requests per token per minute (fixed one-minute window, counted in the cache).
API_RATE_LIMIT_PER_MINUTE = env_int("API_RATE_LIMIT_PER_MINUTE", 120)

# --- Auth -------------------------------------------------------------------------
AUTH_USER_MODEL = "hospitals.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
SESSION_COOKIE_HTTPONLY = True
# A signed-in user who makes no request for this long is logged out at the next one
# (core/middleware.py IdleTimeoutMiddleware; 0: never). Live pushes are not activity.
SESSION_IDLE_TIMEOUT = timedelta(minutes=env_int("SESSION_IDLE_MINUTES", 30))

# --- https and security headers (docs/security.md) ---------------------------------------
# The deployment is reached over https (TLS ends here or at a proxy that sets X-Forwarded-Proto):
# http is redirected, HSTS is sent and every cookie is Secure.
# On by default in production; BEHIND_HTTPS=false for plain http (the test suite's servers).
BEHIND_HTTPS = env_bool("BEHIND_HTTPS", default=PRODUCTION)
if BEHIND_HTTPS:
    SECURE_SSL_REDIRECT = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    # Load-balancer probes speak plain http (SECURE_REDIRECT_EXEMPT: regexes without the leading /).
    SECURE_REDIRECT_EXEMPT = [r"^health/$"]
    # Prometheus scrapes each process's own port on the private network (docs/operations.md).
    SECURE_REDIRECT_EXEMPT.append(r"^metrics$")
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", default=BEHIND_HTTPS)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
# Django's defaults, spelled out: nosniff, Referrer-Policy same-origin, COOP same-origin, frames DENY.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# No inline script and no eval anywhere; htmx's indicator <style> is off (templates/base.html).
# 'self' in connect-src covers the same host's ws:/wss: (CSP Level 3; Chromium, Firefox, Safari).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp.SELF],
        "script-src": [csp.SELF],
        "style-src": [csp.SELF],
        "img-src": [csp.SELF, "data:"],
        "font-src": [csp.SELF],
        "connect-src": [csp.SELF],
        "frame-ancestors": [csp.NONE],
        "base-uri": [csp.SELF],
        "form-action": [csp.SELF],
        "object-src": [csp.NONE],
    }
}

# --- Login lockout (django-axes; hospitals/lockout.py, docs/security.md) ----------------
# Axes' backend first: it refuses a locked account or address before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# This many failures lock the account and, separately, the client address (REMOTE_ADDR as the
# ASGI server sets it; behind a proxy run uvicorn with --proxy-headers --forwarded-allow-ips).
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
# ["username", "ip_address"] for logins; API token failures by address only.
AXES_LOCKOUT_PARAMETERS = "hospitals.lockout.lockout_parameters"
AXES_LOCKOUT_CALLABLE = "hospitals.lockout.lockout_response"
AXES_RESET_ON_SUCCESS = True
# The cool-off runs from the failure that locked, so the page can say until when.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# Logins and logouts go to the project's own access log (hospitals/receivers.py).
AXES_DISABLE_ACCESS_LOG = True
# Unlocking goes through /accounts/locked/ and the members page, which record who unlocked;
# deleting attempts in axes' own admin would not.
AXES_ENABLE_ADMIN = False

# --- Second factor (hospitals/mfa.py, docs/security.md) --------------------------------
# On in the production topology (DATABASE_URL set), off in the embedded demo.
MFA_ENFORCED = env_bool("MFA_ENFORCED", default=bool(DATABASE_URL))
# Roles that must use a second factor; other members only when their organisation requires it.
MFA_REQUIRED_ROLES = env_list("MFA_REQUIRED_ROLES", ["national_admin", "org_admin", "coordinator"])
# "Remember this device for my shift": at most 12 hours; 0 hides the option.
MFA_REMEMBER_HOURS = max(0, min(env_int("MFA_REMEMBER_HOURS", 12), 12))
OTP_TOTP_ISSUER = env_str("MFA_ISSUER", "Geboortezorg capaciteit")

# --- i18n ---------------------------------------------------------------------------
LANGUAGE_CODE = "nl"
LANGUAGES = [("nl", _("Dutch")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True

# --- Static -------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
# Serve static files straight from the app folders when collectstatic has not run
# (tests, a first start); production runs collectstatic (Procfile).
WHITENOISE_USE_FINDERS = env_bool("WHITENOISE_USE_FINDERS", default=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- Mail ---------------------------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "capaciteit@example.org")

# One JSON object a line in production (a log shipper reads them), plain text in the embedded
# demo: LOG_FORMAT=json|text. Lines logged during a request carry its request_id and path
# (core/logs.py; the id comes from the proxy's X-Request-ID when it sends one).
LOG_FORMAT = env_str("LOG_FORMAT", "json" if PRODUCTION else "text")
if LOG_FORMAT not in {"json", "text"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or text, got {LOG_FORMAT!r}")
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request": {"()": "core.logs.RequestContextFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": ["levelname", "name", "message"],
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": True,  # ISO 8601, UTC
        },
        "text": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request"]},
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # axes logs every attempt at INFO; failures and lockouts are WARNING.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}
if LOG_FORMAT == "json":
    # uvicorn's own loggers have their own text handlers: route them through ours too.
    # uvicorn.error logs two INFO lines per websocket ("... [accepted]", "connection open"): 10,000
    # lines and a tenth of the time of a reconnect storm of 5,000 boards (docs/performance.md), so it
    # logs from WARNING up unless UVICORN_LOG_LEVEL says otherwise. Who read what is in the access log.
    for _name, _level in (
        ("uvicorn", "INFO"),
        ("uvicorn.error", env_str("UVICORN_LOG_LEVEL", "WARNING")),
        ("uvicorn.access", "INFO"),
    ):
        LOGGING["loggers"][_name] = {"handlers": ["console"], "level": _level, "propagate": False}
