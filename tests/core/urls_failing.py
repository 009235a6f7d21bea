"""The demo's URLs plus two views that fail, under the API and outside it."""

from django.urls import path

from authsuite.urls import *  # noqa: F403
from authsuite.urls import urlpatterns as suite_urlpatterns


def failing(request):
    raise RuntimeError("a bug")


urlpatterns = [
    path("api/auth/v1/failing/", failing),
    path("failing/", failing),
    *suite_urlpatterns,
]
