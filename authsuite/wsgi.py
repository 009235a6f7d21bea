import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "authsuite.settings")

import authsuite.celery  # noqa: E402,F401 - configures the Celery app tasks are queued on

application = get_wsgi_application()
