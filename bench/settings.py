"""Settings of the benchmarks: the test settings, but with the production password hashers.

The fast test hasher would make every measurement of a sign-in meaningless. The database is
SQLite, in the file named by ``AUTHSUITE_BENCH_DB`` (a benchmark sets it) or in memory.
"""

import os

from authsuite.settings import PASSWORD_HASHERS as PRODUCTION_PASSWORD_HASHERS
from tests.settings import *  # noqa: F403

PASSWORD_HASHERS = list(PRODUCTION_PASSWORD_HASHERS)
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("AUTHSUITE_BENCH_DB", ":memory:"),
    }
}
