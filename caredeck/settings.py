"""CareDeck settings, read from the environment.

Every variable is documented in the README's configuration table. Nothing set means a
working local install: SQLite under ./var, mail printed on the console, tasks in the
database.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import urlparse

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent


def envbool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def envint(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from exc


def envlist(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def envsecret(name: str) -> str | None:
    """A secret from NAME, or from the file named by NAME_FILE (container secrets)."""
    value = os.environ.get(name)
    if value:
        return value
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text().strip()
    return None


DATA_DIR = Path(os.environ.get("CAREDECK_DATA_DIR", "var")).resolve()
TESTING = envbool("CAREDECK_TESTING")


def _secret_key() -> str:
    # Generated once and kept beside the data, so sessions survive a restart.
    key = envsecret("SECRET_KEY")
    if key:
        return key
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = envbool("CAREDECK_DEBUG")
HTTPS = envbool("CAREDECK_HTTPS")
BASE_URL = os.environ.get("CAREDECK_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = [
    f"{urlparse(BASE_URL).scheme}://{urlparse(BASE_URL).netloc}",
    *envlist("CSRF_TRUSTED_ORIGINS", []),
]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "axes",
    "django_tasks",
    "django_tasks_db",
    "caredeck.core",
    "caredeck.accounts",
    "caredeck.notify",
    "caredeck.topology",
    "caredeck.incidents",
    "caredeck.problems",
    "caredeck.maintenance",
    "caredeck.status",
    "caredeck.ideas",
    "caredeck.cases",
    "caredeck.monitoring",
    "caredeck.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "caredeck.core.middleware.CurrentTenantMiddleware",
    # Last, as django-axes asks, so it sees the outcome of authentication.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "caredeck.urls"
WSGI_APPLICATION = "caredeck.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "caredeck.web.context_processors.shell",
            ],
        },
    }
]

# --- Database -------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "caredeck.sqlite3",
            "OPTIONS": {
                # WAL lets the web, the worker and the scheduler read while one writes;
                # IMMEDIATE avoids "database is locked" on read-then-write transactions.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
            # Kept open between tasks, as the PostgreSQL one is: closing a WAL connection
            # costs a few ms, and db_worker closes it twice per task (bench/README.md).
            "CONN_MAX_AGE": 60,
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Authentication -------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    # Hashing dominates test time; the real hasher is exercised in production only.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24 * 3  # invitations use the same tokens: 3 days

# Lock-out after repeated wrong passwords (django-axes): per user name and address.
AXES_FAILURE_LIMIT = envint("CAREDECK_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = envint("CAREDECK_LOGIN_LOCKOUT_MINUTES", 15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS
SECURE_HSTS_SECONDS = 60 * 60 * 24 * 365 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- Internationalisation -------------------------------------------------------------
LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns when it is missing
# Served by whitenoise straight from the apps' folders: no collectstatic step, so the
# two README commands stay one command each (see docs/decisions.md).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_ROOT = DATA_DIR / "media"
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- Mail -----------------------------------------------------------------------------
EMAIL_URL = os.environ.get("EMAIL_URL")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "CareDeck <caredeck@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
if EMAIL_URL:
    _mail = urlparse(EMAIL_URL)
    if _mail.scheme not in {"smtp", "smtps", "submission"}:
        raise ImproperlyConfigured("EMAIL_URL must be smtp://, smtps:// or submission://")
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = _mail.hostname or "localhost"
    EMAIL_PORT = _mail.port or (465 if _mail.scheme == "smtps" else 25)
    EMAIL_HOST_USER = _mail.username or ""
    EMAIL_HOST_PASSWORD = _mail.password or ""
    EMAIL_USE_SSL = _mail.scheme == "smtps"
    EMAIL_USE_TLS = _mail.scheme == "submission"
    EMAIL_TIMEOUT = 10
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

# --- Background work ------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL")
if TESTING:
    TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
elif REDIS_URL:
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    RQ_QUEUES = {"default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 300}}
    INSTALLED_APPS.append("django_rq")
else:
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}

# The outbox (see notify/services.py): back-off 1 min doubling, capped at 1 h; a message
# still failing 24 h after it was written is dead and the platform admins are alerted.
OUTBOX_RETRY_BASE_SECONDS = envint("CAREDECK_OUTBOX_RETRY_BASE_SECONDS", 60)
OUTBOX_RETRY_MAX_SECONDS = envint("CAREDECK_OUTBOX_RETRY_MAX_SECONDS", 3600)
OUTBOX_DEAD_AFTER_HOURS = envint("CAREDECK_OUTBOX_DEAD_AFTER_HOURS", 24)
# A worker that claimed a message and died: the message is due again after this.
OUTBOX_SENDING_LEASE_SECONDS = envint("CAREDECK_OUTBOX_SENDING_LEASE_SECONDS", 300)
# A queued message no worker picked up (its task was lost) is enqueued again after this.
OUTBOX_PICKUP_GRACE_SECONDS = envint("CAREDECK_OUTBOX_PICKUP_GRACE_SECONDS", 60)
OUTBOX_BATCH_SIZE = envint("CAREDECK_OUTBOX_BATCH_SIZE", 50)
WEBHOOK_TIMEOUT_SECONDS = envint("CAREDECK_WEBHOOK_TIMEOUT_SECONDS", 10)
SCHEDULER_TICK_SECONDS = envint("CAREDECK_SCHEDULER_TICK_SECONDS", 5)
# How long before a customer notice is due the incident manager is reminded.
INCIDENT_REMINDER_MINUTES = envint("CAREDECK_INCIDENT_REMINDER_MINUTES", 5)
# The Ideas Lab: votes per user, the PM's answer clock and the in-development cadence.
IDEAS_VOTE_BUDGET = envint("CAREDECK_IDEAS_VOTE_BUDGET", 10)
IDEAS_PM_ANSWER_BUSINESS_DAYS = envint("CAREDECK_IDEAS_PM_ANSWER_BUSINESS_DAYS", 30)
IDEAS_DEV_UPDATE_DAYS = envint("CAREDECK_IDEAS_DEV_UPDATE_DAYS", 60)
# One vote earned for every this many of a user's comments marked helpful (0: off).
IDEAS_HELPFUL_COMMENTS_PER_VOTE = envint("CAREDECK_IDEAS_HELPFUL_COMMENTS_PER_VOTE", 5)
# Customer Care: an SLA warning goes out when this share of the target is left; a care
# manager acknowledges an escalation within CASES_ESCALATION_ACK_MINUTES; a case waiting
# on the customer is reminded after CASES_CUSTOMER_REMINDER_DAYS and closes itself after
# CASES_CUSTOMER_WAIT_DAYS; a customer may reopen a closed case for CASES_REOPEN_DAYS.
CASES_SLA_WARNING_SHARE = float(os.environ.get("CAREDECK_CASES_SLA_WARNING_SHARE", "0.2"))
CASES_ESCALATION_ACK_MINUTES = envint("CAREDECK_CASES_ESCALATION_ACK_MINUTES", 60)
CASES_CUSTOMER_WAIT_DAYS = envint("CAREDECK_CASES_CUSTOMER_WAIT_DAYS", 7)
CASES_CUSTOMER_REMINDER_DAYS = (3, 6)
CASES_REOPEN_DAYS = envint("CAREDECK_CASES_REOPEN_DAYS", 30)
# "Breaching soon" in the queues: an SLA due within this many minutes.
CASES_BREACHING_SOON_MINUTES = envint("CAREDECK_CASES_BREACHING_SOON_MINUTES", 60)
# Synthetic monitoring: raw results kept this many days (then hour/day roll-ups only); a
# confirmed failure waits this long for neighbours before it alerts (one incident for a
# region); this many tenants failing through one element make it that element's
# failure; a remote agent silent this long is flagged. The built-in probe runs this many
# checks at once.
MONITORING_RAW_DAYS = envint("CAREDECK_MONITORING_RAW_DAYS", 14)
MONITORING_CORRELATION_SECONDS = envint("CAREDECK_MONITORING_CORRELATION_SECONDS", 20)
MONITORING_CORRELATION_MIN_TENANTS = envint("CAREDECK_MONITORING_CORRELATION_MIN_TENANTS", 2)
MONITORING_AGENT_SILENCE_SECONDS = envint("CAREDECK_MONITORING_AGENT_SILENCE_SECONDS", 900)
MONITORING_CONCURRENCY = envint("CAREDECK_MONITORING_CONCURRENCY", 200)
# Who runs incidents that monitoring opens (an incident manager's e-mail; default: the
# first active incident manager).
MONITORING_INCIDENT_MANAGER = os.environ.get("CAREDECK_MONITORING_INCIDENT_MANAGER", "")
# The provider's public status page (/public-status/): no tenant names, no sign-in.
CAREDECK_PUBLIC_STATUS = envbool("CAREDECK_PUBLIC_STATUS", True)

# --- API ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "caredeck.accounts.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "caredeck.core.api.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "caredeck.core.api.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # ASCII-escaped JSON: an error that echoes input with lone surrogates (valid in a
    # JSON request, not encodable as UTF-8) still renders instead of failing with a 500.
    "UNICODE_JSON": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CareDeck API",
    "DESCRIPTION": "The customer-operations hub of a cloud service provider.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "OrganizationKindEnum": "caredeck.accounts.roles.OrganizationKind",
        "RequesterKindEnum": [("customer", "Customer"), ("partner", "Partner")],
        "MessageStatusEnum": "caredeck.notify.models.MessageStatus",
        "AccessRequestStatusEnum": "caredeck.accounts.models.AccessRequestStatus",
        "CheckKindEnum": "caredeck.monitoring.models.CheckKind",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("CAREDECK_LOG_LEVEL", "INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}
