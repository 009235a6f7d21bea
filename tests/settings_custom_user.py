"""The test settings on a project's own user model, in an app the suite's apps do not know
(``tests.custom_user``): its migrations must run before the suite's tables point at it.

The database is a file named by ``CUSTOM_USER_DB``: tests run ``manage.py migrate`` on it
in a process of its own (tests/core/test_custom_user_model.py).
"""

import os

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.custom_user"]
AUTH_USER_MODEL = "custom_user.Member"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",
                         "NAME": os.environ.get("CUSTOM_USER_DB", ":memory:")}}
AUTHSUITE_ACCOUNTS_EMAIL_VERIFICATION = "none"
