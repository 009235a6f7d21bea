"""URLconf of the demo project."""

from django.apps import apps
from django.contrib import admin
from django.urls import include, path

from authsuite import views

urlpatterns = [
    path("", views.home, name="home"),
    path("admin/", admin.site.urls),
    path("", include("authsuite.suite_urls")),
]
if apps.is_installed("authsuite.mailbox"):
    urlpatterns.append(path("mailbox/", include("authsuite.mailbox.urls")))

handler400 = "authsuite.views.bad_request"
handler403 = "authsuite.views.permission_denied"
handler404 = "authsuite.views.not_found"
handler500 = "authsuite.views.server_error"
