"""The test settings on the smallest user model Django allows (``tests.minimal_user``): an
email and a password, no ``is_active``, no name, no permissions.

The database is a file named by ``CUSTOM_USER_DB``: tests run ``manage.py migrate`` on it
in a process of its own (tests/core/test_custom_user_model.py).
"""

import os

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.minimal_user"]
AUTH_USER_MODEL = "minimal_user.Person"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",
                         "NAME": os.environ.get("CUSTOM_USER_DB", ":memory:")}}
AUTHSUITE_ACCOUNTS_EMAIL_VERIFICATION = "none"
