"""The demo project's Celery app. Reusable apps use ``@shared_task`` and never import this."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "authsuite.settings")

app = Celery("authsuite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
