"""Settings of the Celery worker process that the services tests spawn.

The test settings, with the environment the fixture gives it (the test database, the test
broker, the local SMTP server), and an outbox on a short clock so retries happen within a test.
"""

from tests.settings import *  # noqa: F403

AUTHSUITE_MAIL_RETRY_BACKOFF = 1  # seconds before the first retry, doubling after
AUTHSUITE_MAIL_MAX_ATTEMPTS = 3
