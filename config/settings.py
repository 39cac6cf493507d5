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
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG and env_bool("REQUIRE_SECRET_KEY", default=False):
        raise ImproperlyConfigured("SECRET_KEY must be set in production")
    # Embedded/demo default only; production sets SECRET_KEY (docs/operations.md).
    SECRET_KEY = "insecure-embedded-default-change-me-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
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
    # The API (api/v1.py); listed so its docs page loads Swagger UI from static files.
    "ninja",
    # The project's apps, bottom layer first; each imports only those above it in this list
    # (docs/architecture.md; enforced by import-linter in `make lint`).
    "core",
    "hospitals",
    "capacity",
    "search",
    "refusals",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "core.middleware.DutchByDefaultMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
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
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_int("DB_POOL_MAX", 20) > 0:
        # A connection per request (and per socket handshake) cost ~15 ms on a fresh
        # connection (docs/performance.md); psycopg's pool keeps them open. Not
        # together with persistent connections (DB_CONN_MAX_AGE must stay 0).
        DATABASES["default"]["OPTIONS"] = {
            "pool": {"min_size": env_int("DB_POOL_MIN", 2), "max_size": env_int("DB_POOL_MAX", 20), "timeout": 10}
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
                "hosts": [{"address": REDIS_URL, "max_connections": REDIS_MAX_CONNECTIONS}],
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

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A broker that hangs must not hold up a request that enqueues after commit.
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 5}
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
}

# --- Web process garbage collector (core/gc.py) -------------------------------------
GC_THRESHOLDS = tuple(int(x) for x in env_list("GC_THRESHOLDS", ["700", "10", "1000"]))

# --- Capacity rules (configurable, docs/operations.md) ----------------------------
CAPACITY_STALE_AFTER = timedelta(minutes=env_int("CAPACITY_STALE_AFTER_MINUTES", 240))
# The search's ranking (docs/search.md, "Ranking"): travel-time bands in minutes, and how far other
# regions' locations are listed beside the home region's.
SEARCH_TIME_BANDS = tuple(int(m) for m in env_list("SEARCH_TIME_BANDS", ["30", "60", "90"]))
SEARCH_OTHER_REGIONS_WITHIN_MINUTES = env_int("SEARCH_OTHER_REGIONS_WITHIN_MINUTES", SEARCH_TIME_BANDS[0])
CAPACITY_REMIND_BEFORE = timedelta(minutes=env_int("CAPACITY_REMIND_BEFORE_MINUTES", 30))

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
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

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

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
