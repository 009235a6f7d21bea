"""Test settings: the demo settings with a fast hasher, in-memory mail and eager Celery.

DATABASE_URL selects PostgreSQL (the services and concurrency tests need it); REDIS_URL
selects Redis for the cache and rate limits. Without them: SQLite and local memory.
"""

import os

os.environ.setdefault("AUTHSUITE_MAILBOX", "true")
os.environ.setdefault("SECRET_KEY", "test-secret-key-" + "t" * 40)

from authsuite.settings import *  # noqa: E402,F403
from authsuite.settings import DATABASES, INSTALLED_APPS  # noqa: E402

DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]

if not os.environ.get("DATABASE_URL"):
    DATABASES["default"] = {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
DATABASES["default"].setdefault("TEST", {})
if "postgresql" in DATABASES["default"]["ENGINE"]:
    DATABASES["default"]["TEST"]["NAME"] = os.environ.get("TEST_DB_NAME", "test_authsuite")

# Hashing is not under test almost anywhere: a fast hasher keeps the suite quick on two
# cores. Tests of the Argon2 hasher configure it explicitly.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SILENCED_SYSTEM_CHECKS = ["authsuite_accounts.W001"]

# In-memory mail unless EMAIL_URL names an SMTP server: the Celery worker that the services
# tests spawn delivers to their local SMTP server (scripts/test.sh unsets EMAIL_URL).
if not os.environ.get("EMAIL_URL"):
    EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL

INSTALLED_APPS = list(INSTALLED_APPS)
LOGGING = {"version": 1, "disable_existing_loggers": False}
