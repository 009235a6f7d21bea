"""Settings of the prefork Celery worker that the time-limit tests spawn.

The services worker's, with a claim short enough for its time limits to run out within a
test (``authsuite.outbox.delivery_time_limits``: soft 3 s, hard 4 s) and a backend whose
sends hang while the test says so (``tests.services.support.StallingBackend``).
"""

from tests.services.worker_settings import *  # noqa: F403

AUTHSUITE_MAIL_CLAIM_TIMEOUT = 5
EMAIL_BACKEND = "tests.services.support.StallingBackend"
