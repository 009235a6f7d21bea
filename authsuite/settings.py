"""Settings of the demo project, on embedded defaults overridable by environment.

- DATABASE_URL: a SQLite file (var/demo.sqlite3) by default; ``postgres://...`` for PostgreSQL.
- REDIS_URL: cache, rate limits and Celery broker; unset means local-memory cache and eager
  Celery (tasks run in the web process right after the transaction commits).
- EMAIL_URL: ``smtp://user:pass@host:port`` (``smtp+tls://`` for STARTTLS, ``smtps://``
  for TLS); unset means the demo mailbox page at /mailbox/.
- DEBUG (default on for the demo), SECRET_KEY, ALLOWED_HOSTS (comma-separated).

Production: ``DJANGO_SETTINGS_MODULE=authsuite.settings_production`` (see README).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

import dj_database_url

# The checkout's root when the demo runs from one (manage.py beside the apps). Installed from
# the package, the apps sit in site-packages, no place for a database or collected static
# files (and perhaps not writable): the directory the site is run from is the base then.
_CHECKOUT = Path(__file__).resolve().parent.parent
BASE_DIR = _CHECKOUT if (_CHECKOUT / "manage.py").is_file() else Path.cwd()
VAR_DIR = Path(os.environ.get("AUTHSUITE_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str) -> list[str]:
    """A comma-separated variable as a list, blank items dropped (unset: empty)."""
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY", "demo-only-insecure-key-change-me-" + "x" * 20)
ALLOWED_HOSTS = [
    h.strip() for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",")
    if h.strip()
]

INSTALLED_APPS = [
    "mfa.apps.MFAAdminConfig",  # the Django admin, behind the suite's sign-in and MFA
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "authsuite",
    "accounts",
    "django_otp",
    "mfa",
    "passkeys",
    "audit",
]
if env_bool("AUTHSUITE_MAILBOX", DEBUG):
    INSTALLED_APPS.append("authsuite.mailbox")

MIDDLEWARE = [
    "authsuite.context.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.sessions.SessionTrackingMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "authsuite.urls"
CSRF_FAILURE_VIEW = "authsuite.views.csrf_failure"
WSGI_APPLICATION = "authsuite.wsgi.application"
ASGI_APPLICATION = "authsuite.asgi.application"

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
                "authsuite.context_processors.authsuite",
            ],
        },
    },
]

SQLITE_INIT_COMMAND = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
if not os.environ.get("DATABASE_URL"):
    VAR_DIR.mkdir(parents=True, exist_ok=True)  # only for the default database, made there
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'demo.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Write-ahead logging: readers do not block the writer, and a commit appends to the log
    # instead of writing and deleting a rollback journal (synchronous=NORMAL is durable
    # against application crashes; a power cut may lose the last commits, never corrupt).
    # IMMEDIATE transactions take the write lock up front instead of failing half-way.
    DATABASES["default"].setdefault("OPTIONS", {}).update({
        "init_command": SQLITE_INIT_COMMAND,
        "transaction_mode": "IMMEDIATE",
    })

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "authsuite"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["accounts.backends.EmailBackend"]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "/accounts/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

PASSWORD_HASHERS = [
    "accounts.hashers.NormalizingArgon2idPasswordHasher",
    # Checks the hashes stored before passwords were normalised; they are stored again in
    # the normal form at their next sign-in.
    "accounts.hashers.Argon2idPasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "accounts.passwords.LengthValidator", "OPTIONS": {"min_length": 15}},
    {"NAME": "accounts.passwords.BlocklistValidator"},
    {"NAME": "accounts.passwords.BreachedPasswordValidator"},
    {"NAME": "accounts.passwords.StableStringValidator"},
]

SESSION_ENGINE = "accounts.session_store"  # Django's session table, written once per request
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 30 * 86400  # upper bound; the server enforces the real timeouts

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

DATA_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 200


def _email_settings(url: str) -> dict:
    if not url:
        backend = (
            "authsuite.mailbox.backends.MailboxBackend"
            if "authsuite.mailbox" in INSTALLED_APPS
            else "django.core.mail.backends.locmem.EmailBackend"
        )
        return {"EMAIL_BACKEND": backend}
    parts = urlsplit(url)
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": parts.hostname or "localhost",
        "EMAIL_PORT": parts.port or 25,
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_TLS": parts.scheme == "smtp+tls",
        "EMAIL_USE_SSL": parts.scheme == "smtps",
        "EMAIL_TIMEOUT": 10,
    }


globals().update(_email_settings(os.environ.get("EMAIL_URL", "")))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "authsuite <no-reply@localhost>")

# Celery: Redis (or any broker URL) when configured, else tasks run eagerly in-process.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL)
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing must fail fast when the broker is down: the outbox sweeper delivers later,
# and a sign-in must never hang on an unreachable broker.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
# max_retries=0: a publish that finds no connection tries once instead of retrying until the
# connection timeout (each mail of a request would wait 2 s). Workers reconnect on their own
# terms (broker_connection_max_retries).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": 2, "socket_timeout": 5, "max_retries": 0,
}
CELERY_TASK_PUBLISH_RETRY = False
CELERY_BEAT_SCHEDULE = {
    "authsuite-sweep-outbox": {"task": "authsuite.sweep_outbox", "schedule": 60.0},
    "accounts-expire-sessions": {"task": "accounts.expire_sessions", "schedule": 300.0},
    "audit-seal": {"task": "audit.seal_events", "schedule": 30.0},
    "audit-checkpoint": {"task": "audit.checkpoint", "schedule": 600.0},
    "audit-prune": {"task": "audit.prune", "schedule": 86400.0},
    "passkeys-expire-signups": {"task": "passkeys.expire_signups", "schedule": 3600.0},
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "authsuite.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "authsuite API",
    "DESCRIPTION": "Accounts, sessions and sign-in flows. Errors use one envelope: "
    '{"error": {"code", "message", "fields"}}.',
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": "/api/auth/v1",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "authsuite.api.schema.error_responses",
    ],
}

RATELIMIT_IP_META_KEY = "authsuite.context.ratelimit_ip"
RATELIMIT_USE_CACHE = "default"

AUTHSUITE_SITE_NAME = os.environ.get("AUTHSUITE_SITE_NAME", "authsuite demo")
AUTHSUITE_MFA_REQUIRED = os.environ.get("AUTHSUITE_MFA_REQUIRED", "nobody")
# Passkeys are bound to a domain: the demo serves them at http://localhost:8000 (browsers
# allow WebAuthn over plain HTTP on localhost only, and never on an IP address).
AUTHSUITE_PASSKEYS_RP_ID = os.environ.get("AUTHSUITE_PASSKEYS_RP_ID", "localhost")
AUTHSUITE_PASSKEYS_ORIGINS = [
    o.strip() for o in os.environ.get("AUTHSUITE_PASSKEYS_ORIGINS",
                                      "http://localhost:8000").split(",") if o.strip()
]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"authsuite": {"handlers": ["console"], "level": "INFO"}},
}
