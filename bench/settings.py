"""Settings of the benchmarks: the test settings, made to behave like a production web process.

- The production password hashers: the fast test hasher would make a sign-in meaningless.
- SQLite in the file named by ``AUTHSUITE_BENCH_DB`` (a benchmark sets it), or in memory.
- Celery with a broker (in-process memory transport) instead of eager tasks: a web process
  queues background work and a worker does it; eager tasks would bill the request for it.
- Persistent database connections, as production web processes keep them.
- Rate-limit counters in their own cache, so a benchmark can reset them between iterations
  without emptying the cache the application uses for everything else.
- The application's URLs plus one empty form view (``bench.urls``), the floor ``bench login``
  reports beside the sign-in.
"""

import os

from authsuite.settings import PASSWORD_HASHERS as PRODUCTION_PASSWORD_HASHERS
from authsuite.settings import SQLITE_INIT_COMMAND
from tests.settings import *  # noqa: F403

PASSWORD_HASHERS = list(PRODUCTION_PASSWORD_HASHERS)
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("AUTHSUITE_BENCH_DB", ":memory:"),
        # As the demo configures SQLite: write-ahead logging, IMMEDIATE transactions.
        "OPTIONS": {"init_command": SQLITE_INIT_COMMAND, "transaction_mode": "IMMEDIATE"},
        # Persistent connections, as a production web process keeps them: requests are
        # handed to the WSGI application, which would otherwise reconnect for each one.
        "CONN_MAX_AGE": None,
    }
}
ROOT_URLCONF = "bench.urls"
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "bench"},
    "ratelimit": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "bench-ratelimit",
    },
}
RATELIMIT_USE_CACHE = "ratelimit"
CELERY_BROKER_URL = "memory://"
CELERY_TASK_ALWAYS_EAGER = False
