"""Production profile: everything in settings.py, hardened. Passes ``check --deploy``.

Requires SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL (PostgreSQL), REDIS_URL and EMAIL_URL in the
environment. TLS is assumed to end at the proxy in front of gunicorn; set
AUTHSUITE_TRUSTED_PROXY_COUNT to the number of proxies that append to X-Forwarded-For (1 when
unset: one reverse proxy; 0 without one, or each client chooses the IP that rate limits,
lockout and the audit log see).
"""

import os

os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("AUTHSUITE_MAILBOX", "false")

from authsuite.settings import *  # noqa: E402,F403
from authsuite.settings import INSTALLED_APPS, env_list  # noqa: E402

DEBUG = False
SECRET_KEY = os.environ["SECRET_KEY"]
# To rotate SECRET_KEY, list the keys it replaced here (comma-separated) until what they
# signed or keyed (sessions, links, trusted browsers, recovery codes) may end.
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS")
INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "authsuite.mailbox"]

SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
# The __Host- prefix binds a cookie to this exact host over HTTPS with Path=/.
SESSION_COOKIE_NAME = "__Host-sessionid"
CSRF_COOKIE_NAME = "__Host-csrftoken"
AUTHSUITE_ACCOUNTS_LOCKOUT_DEVICE_COOKIE_NAME = "__Host-authsuite_device"
AUTHSUITE_MFA_TRUST_COOKIE_NAME = "__Host-authsuite_mfa_trust"
CSRF_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)  # noqa: F405
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", 63072000))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
AUTHSUITE_TRUSTED_PROXY_COUNT = int(os.environ.get("AUTHSUITE_TRUSTED_PROXY_COUNT", "1"))
AUTHSUITE_BASE_URL = os.environ.get("AUTHSUITE_BASE_URL", "")

# Staff must use a second factor, and the admin asks for it in every session.
AUTHSUITE_MFA_REQUIRED = os.environ.get("AUTHSUITE_MFA_REQUIRED", "staff")
AUTHSUITE_MFA_ENCRYPTION_KEY = os.environ.get("AUTHSUITE_MFA_ENCRYPTION_KEY", "")
# The keys that encrypt secrets at rest rotate as SECRET_KEY does: the keys each replaced
# (comma-separated) in its *_FALLBACKS variable until what they sealed is gone.
AUTHSUITE_MFA_ENCRYPTION_KEY_FALLBACKS = env_list("AUTHSUITE_MFA_ENCRYPTION_KEY_FALLBACKS")
AUTHSUITE_SECRET_BOX_KEY = os.environ.get("AUTHSUITE_SECRET_BOX_KEY", "")
AUTHSUITE_SECRET_BOX_KEY_FALLBACKS = env_list("AUTHSUITE_SECRET_BOX_KEY_FALLBACKS")
AUTHSUITE_AUDIT_SIGNING_KEY = os.environ.get("AUTHSUITE_AUDIT_SIGNING_KEY", "")

PASSWORD_HASHERS = [
    "accounts.hashers.NormalizingArgon2idPasswordHasher",
    # Checks the hashes stored before passwords were normalised; they are stored again in
    # the normal form at their next sign-in.
    "accounts.hashers.Argon2idPasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
SESSION_ENGINE = "accounts.session_cache" if REDIS_URL else "accounts.session_store"  # noqa: F405
# Connections stay open between requests (a new one costs more than a sign-in's statements);
# a health check before reuse replaces one the database closed.
DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ.get("DB_CONN_MAX_AGE", "60"))  # noqa: F405
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True  # noqa: F405
