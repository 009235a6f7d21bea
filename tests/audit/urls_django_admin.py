"""The audit trail's admin on Django's own admin site, beside the demo's URLs."""

from django.contrib import admin
from django.urls import path

from audit.admin import EventAdmin
from audit.models import Event
from authsuite.urls import urlpatterns as demo_urlpatterns

site = admin.AdminSite(name="django_admin")
site.register(Event, EventAdmin)

urlpatterns = [path("django-admin/", site.urls), *demo_urlpatterns]
