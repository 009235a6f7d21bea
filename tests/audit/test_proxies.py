"""Users changed through a proxy of the user model, in an admin site of the project's own:
Django sends the model signals with the proxy as the sender, and a site of any name serves
URLs of the application "admin". The change is recorded, and its effects follow, as for one
made in the suite's own admin."""

from __future__ import annotations

import types

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db.models.signals import post_delete, post_save, pre_delete, pre_save
from django.test import Client, override_settings
from django.urls import include, path, reverse

from accounts import receivers
from accounts.models import UserSession
from audit.events import django_auth
from audit.models import AlertOptOut, Event
from tests.accounts.support import signed_in_api
from tests.audit.support import data, form_data
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _disconnect(proxy) -> None:
    user = get_user_model()._meta.label_lower
    for signal, uid in [
        (pre_save, "accounts.remember_active"),
        (post_save, "accounts.end_sessions_when_disabled"),
        (pre_delete, "accounts.lock_before_delete"),
        (pre_save, f"audit:{user}:pre"), (post_save, f"audit:{user}:post"),
        (post_delete, f"audit:{user}:delete"), (post_delete, "audit.forget_user_alerts"),
    ]:
        signal.disconnect(sender=proxy, dispatch_uid=uid)


@pytest.fixture
def staff_accounts():
    """A proxy of the user model, as a project's app defines one, with an admin site of
    the project's own ("staff") listing it with the user model's admin; the receivers
    connected as the apps connect them when the project starts."""
    model = get_user_model()
    meta = type("Meta", (), {"proxy": True, "app_label": model._meta.app_label})
    proxy = type("StaffAccount", (model,), {"__module__": __name__, "Meta": meta})
    site = admin.AdminSite(name="staff")
    site.register(proxy, type(admin.site._registry[model]))
    urls = types.ModuleType("staff_urls")
    urls.urlpatterns = [path("staff/", site.urls), path("", include("authsuite.urls"))]
    try:
        receivers.connect_user_model()
        django_auth.connect()
        with override_settings(ROOT_URLCONF=urls):
            yield proxy
    finally:
        _disconnect(proxy)
        del apps.all_models[model._meta.app_label]["staffaccount"]
        apps.clear_cache()
        ContentType.objects.clear_cache()  # the admin's log made the proxy one


def change_url(proxy, view: str, *args) -> str:
    return reverse(f"staff:{proxy._meta.app_label}_staffaccount_{view}", args=args)


@pytest.fixture
def admin_client(staff):
    client = Client()
    client.force_login(staff)
    return client


@pytest.mark.own_user_model
def test_a_change_made_through_a_proxy_is_recorded_as_one_to_the_user(
        staff_accounts, admin_client, staff, user):
    # Unheard: the proxy's admin changed accounts with nothing in the trail.
    url = change_url(staff_accounts, "change", user.pk)
    form = form_data(admin_client.get(url).content.decode(), "staffaccount_form")
    group = Group.objects.create(name="Auditors")
    form.update({"name": ["Renamed"], "is_staff": ["on"], "groups": [str(group.pk)]})

    response = admin_client.post(url, form)

    assert response.status_code == 302, response.content[:2000]
    (event,) = Event.objects.filter(action="admin.user.changed")
    assert (event.actor_id, event.target_type, event.target_id) == (
        str(staff.pk), get_user_model()._meta.label_lower, str(user.pk))
    assert set(data(event)["changes"]) == {"name", "is_staff"}
    (joined,) = Event.objects.filter(action="admin.user.groups_changed")
    assert data(joined) == {"change": "add", "related": ["Auditors"]}


def test_an_account_disabled_through_a_proxy_is_signed_out(staff_accounts, user, password):
    # Its sessions and mailed links lived on until the browser came back (or the sweeper
    # ran), as for an account disabled by code that sends no signal.
    signed_in_api(Client(), user.email, password)
    account = staff_accounts.objects.get(pk=user.pk)
    account.is_active = False

    account.save()

    assert UserSession.objects.get(user=user).end_reason == "deactivated"


def test_an_account_deleted_through_a_proxy_is_recorded_and_forgotten(
        staff_accounts, admin_client, staff):
    user = UserFactory()
    AlertOptOut.objects.create(user_id=str(user.pk), rule="new_device")
    url = change_url(staff_accounts, "delete", user.pk)

    response = admin_client.post(url, {"post": "yes"})

    assert response.status_code == 302, response.content[:2000]
    assert not get_user_model().objects.filter(pk=user.pk).exists()
    (event,) = Event.objects.filter(action="admin.user.deleted")
    assert event.target_id == str(user.pk)
    assert not AlertOptOut.objects.filter(user_id=str(user.pk)).exists()
