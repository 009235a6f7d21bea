"""Which signals become which events, and what an event holds.

Every suite flow, Django's own auth signals, staff changes in the admin, and the core's
refusals (rate limits, CSRF, 403) each leave an event with who, when, from where and what.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import timedelta

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.models import Group, Permission
from django.dispatch import Signal
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from accounts import signals as account_signals
from accounts.models import EmailAddress
from audit import chain, registry
from audit.models import Event
from authsuite import crypto
from tests.audit.support import all_text, data, form_data
from tests.factories import UserFactory
from tests.helpers import last_link, user_admin_url

User = get_user_model()

pytestmark = pytest.mark.django_db

FIREFOX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
REQUEST_ID = "req-0123456789abcdef"


def actions() -> list[str]:
    return list(Event.objects.order_by("pk").values_list("action", flat=True))


def one(action: str) -> Event:
    return Event.objects.get(action=action)


def sign_in(client, user, password, **extra):
    response = client.post(reverse("accounts:login"), {"email": user.email, "password": password},
                           **extra)
    assert response.status_code == 302, response.content[:300]
    return response


def test_a_sign_in_event_says_who_when_where_and_how(client, user, password):
    before = timezone.now()
    sign_in(client, user, password, HTTP_USER_AGENT=FIREFOX, REMOTE_ADDR="198.51.100.4",
            HTTP_X_REQUEST_ID=REQUEST_ID)
    event = one("accounts.login.succeeded")
    assert before <= event.occurred_at <= timezone.now()
    assert event.occurred_at.utcoffset() == timedelta(0)
    assert (event.actor_id, event.actor_repr, event.outcome) == (str(user.pk), user.email, "success")
    assert (event.ip, event.user_agent, event.request_id) == ("198.51.100.4", FIREFOX, REQUEST_ID)
    assert data(event) == {"method": "password", "amr": ["pwd"], "device": "Firefox 128 on Ubuntu"}
    # The session is referred to by a keyed digest, never by its key.
    key = client.cookies["sessionid"].value
    assert re.fullmatch(r"[0-9a-f]{16}", event.session_ref)
    assert event.session_ref == crypto.token_digest(key, purpose="audit-session")[:16]
    assert event.session_ref not in key and key not in all_text(event)


def test_failed_sign_ins_are_recorded_without_the_typed_address_of_strangers(client, user):
    client.post(reverse("accounts:login"), {"email": user.email, "password": "wrong " * 3})
    client.post(reverse("accounts:login"), {"email": "nobody@example.com",
                                            "password": "wrong " * 3})
    known, unknown = Event.objects.filter(action="accounts.login.failed").order_by("pk")
    assert (known.actor_id, known.outcome) == (str(user.pk), "failure")
    assert data(known) == {"method": "password", "reason": "credentials"}
    assert unknown.actor_id == ""
    assert re.fullmatch(r"[0-9a-f]{16}", data(unknown)["identifier_digest"])
    assert "nobody@example.com" not in all_text(unknown)


@override_settings(AUTHSUITE_ACCOUNTS_LOCKOUT_THRESHOLD=3)
def test_a_lockout_is_recorded(client, user, password):
    for _ in range(3):
        client.post(reverse("accounts:login"), {"email": user.email, "password": "wrong " * 3},
                    REMOTE_ADDR="203.0.113.9")
    locked = one("accounts.account.locked")
    assert (locked.actor_id, locked.outcome, locked.ip) == (str(user.pk), "denied", "203.0.113.9")
    assert data(locked)["ip"] == "203.0.113.9"
    assert data(locked)["until"] > timezone.now().isoformat()
    client.post(reverse("accounts:login"), {"email": user.email, "password": password},
                REMOTE_ADDR="203.0.113.9")
    last_failure = Event.objects.filter(action="accounts.login.failed").order_by("pk").last()
    assert data(last_failure)["reason"] == "locked"


@override_settings(AUTHSUITE_ACCOUNTS_RATE_LIMITS={"login": {"ip": "2/m", "account": None}})
def test_a_rate_limit_hit_is_recorded(client, user):
    for _ in range(3):
        client.post(reverse("accounts:login"), {"email": user.email, "password": "wrong " * 3})
    hit = one("authsuite.rate_limited")
    assert hit.outcome == "denied"
    assert data(hit)["group"] == "accounts.login" and data(hit)["scope"] == "ip"
    assert 0 < data(hit)["retry_after"] <= 60
    assert user.email not in all_text(hit)


def test_a_csrf_failure_is_recorded_with_the_url_pattern_not_the_token(client, user):
    client.post(reverse("accounts:magic_link"), {"email": user.email})
    link = last_link(user.email)
    client = Client(enforce_csrf_checks=True)
    token = link.rstrip("/").rsplit("/", 1)[-1]
    response = client.post(link, {})
    assert response.status_code == 403
    event = one("authsuite.csrf_failed")
    assert event.outcome == "denied"
    assert data(event)["path"] == "/accounts/magic-link/<str:token>/"
    assert "CSRF" in data(event)["reason"]
    assert token not in all_text(event)


def test_a_permission_denial_is_recorded(client):
    clerk = UserFactory(is_staff=True)  # staff, but may not read the audit trail
    client.force_login(clerk)
    assert client.get("/admin/audit/event/").status_code == 403
    event = one("authsuite.permission_denied")
    assert (event.outcome, data(event)["path"]) == ("denied", "/admin/audit/event/")


def test_the_account_flows_are_recorded(client, password):
    client.post(reverse("accounts:signup"), {"email": "ann@example.com", "password": password,
                                             "name": "Ann"})
    ann = User.objects.get(email="ann@example.com")
    client.post(last_link("ann@example.com"), {"password": password})
    sign_in(client, ann, password)
    client.post(reverse("accounts:email"), {"email": "ann.new@example.com"})
    client.post(last_link("ann.new@example.com"))
    new = EmailAddress.objects.get(email="ann.new@example.com")
    client.post(reverse("accounts:email"), {"action": "primary", "address": new.pk})
    old = EmailAddress.objects.get(email="ann@example.com")
    client.post(reverse("accounts:email"), {"action": "remove", "address": old.pk})
    client.post(reverse("accounts:reauthenticate"), {"password": password})
    client.post(reverse("accounts:password_change"), {"current_password": password,
                                                      "new_password": password + "!",
                                                      "new_password_confirm": password + "!"})
    client.post(reverse("accounts:logout"))
    client.post(reverse("accounts:password_reset"), {"email": "ann.new@example.com"})
    client.post(last_link("ann.new@example.com"), {"new_password": password + "?",
                                                   "new_password_confirm": password + "?"})
    client.post(reverse("accounts:magic_link"), {"email": "ann.new@example.com"})
    client.post(last_link("ann.new@example.com"))

    expected = [
        "accounts.signup", "accounts.email.verified", "accounts.login.succeeded",
        "accounts.email.added", "accounts.email.verified", "accounts.email.changed",
        "accounts.email.removed", "accounts.reauthenticated", "accounts.password.changed",
        "accounts.session.ended", "accounts.logout", "accounts.password.reset_requested",
        "accounts.password.reset_completed", "accounts.magic_link.requested",
        "accounts.magic_link.used", "accounts.login.succeeded",
    ]
    seen = [a for a in actions() if not a.startswith("audit.")]
    assert [a for a in seen if a in expected] == expected, seen
    changed = one("accounts.email.changed")
    assert data(changed) == {"old_email": "ann@example.com", "new_email": "ann.new@example.com"}
    assert all(e.actor_id == str(ann.pk) for e in Event.objects.filter(action__startswith="accounts."))
    chain.seal_all()
    assert chain.verify().ok


def test_the_actor_survives_the_deletion_of_the_account(client, user, password):
    sign_in(client, user, password)
    user_id, email = str(user.pk), user.email
    response = client.post(reverse("accounts:close"), {"confirm": "on"})
    assert response.status_code == 302
    assert not User.objects.filter(pk=user_id).exists()
    login = one("accounts.login.succeeded")
    assert (login.actor_id, login.actor_repr) == (user_id, email)
    closed = one("accounts.account.closed")
    assert (closed.target_type, closed.target_id, closed.target_repr) == ("user", user_id, email)


def test_django_auth_signals_outside_the_suite_are_recorded(client, user, password):
    assert authenticate(email=user.email, password="wrong " * 3) is None
    failed = one("auth.login.failed")
    assert failed.outcome == "failure"
    assert "wrong" not in all_text(failed)
    client.force_login(user)
    assert one("auth.login.succeeded").actor_id == str(user.pk)
    client.logout()
    assert one("auth.logout").actor_id == str(user.pk)


def test_a_suite_sign_in_is_recorded_once(client, user, password):
    sign_in(client, user, password)
    client.post(reverse("accounts:logout"))
    assert "auth.login.succeeded" not in actions()
    assert "auth.logout" not in actions()
    assert actions().count("accounts.login.succeeded") == 1
    assert actions().count("accounts.logout") == 1


@pytest.fixture
def admin_client(staff):
    client = Client()
    client.force_login(staff)
    return client


def _user_form(admin_client, user) -> dict:
    url = user_admin_url("change", user.pk)
    return form_data(admin_client.get(url).content.decode(), "user_form")


@pytest.mark.own_user_model
def test_staff_changes_to_a_user_are_recorded_with_before_and_after(admin_client, staff, user):
    form = _user_form(admin_client, user)
    form.update({"name": ["Renamed"], "is_staff": ["on"]})
    url = user_admin_url("change", user.pk)
    response = admin_client.post(url, form)
    assert response.status_code == 302, response.content[:2000]
    event = one("admin.user.changed")
    assert (event.actor_id, event.actor_repr) == (str(staff.pk), staff.email)
    assert (event.target_type, event.target_id) == ("accounts.user", str(user.pk))
    changes = data(event)["changes"]
    assert changes["name"] == {"before": user.name, "after": "Renamed"}
    assert changes["is_staff"] == {"before": False, "after": True}
    assert set(changes) == {"name", "is_staff"}


def test_a_user_created_by_staff_is_recorded_with_the_password_masked(admin_client):
    form = form_data(admin_client.get(user_admin_url("add")).content.decode(),
                     "user_form")
    form.update({"email": ["new@example.com"], "name": ["New Person"]})
    if "username" in form:  # django.contrib.auth's User
        form["username"] = ["new.person"]
    response = admin_client.post(user_admin_url("add"), form)
    assert response.status_code == 302, response.content[:2000]
    created = User.objects.get(email="new@example.com")
    event = one("admin.user.created")
    changes = data(event)["changes"]
    assert changes["email"]["after"] == "new@example.com"
    assert changes["password"] == {"before": "********", "after": "******** (changed)"}
    assert created.password not in all_text(event)
    assert created.password[:10] not in all_text(event)


def test_groups_and_permissions_changed_by_staff_are_recorded(admin_client, user):
    permission = Permission.objects.get(codename="view_event")
    response = admin_client.post(reverse("admin:auth_group_add"), {
        "name": "Auditors", "permissions": [str(permission.pk)]})
    assert response.status_code == 302, response.content[:2000]
    group = Group.objects.get(name="Auditors")
    assert data(one("admin.group.created"))["changes"]["name"] == {"before": None,
                                                                     "after": "Auditors"}
    granted = one("admin.group.permissions_changed")
    assert data(granted) == {"change": "add", "related": [str(permission)]}
    form = _user_form(admin_client, user)
    form["groups"] = [str(group.pk)]
    response = admin_client.post(user_admin_url("change", user.pk), form)
    assert response.status_code == 302
    joined = one("admin.user.groups_changed")
    assert (joined.target_id, data(joined)) == (str(user.pk), {"change": "add",
                                                               "related": ["Auditors"]})


def test_saves_outside_the_admin_are_not_staff_changes(user):
    user.name = "Changed by code"
    user.save()
    assert not Event.objects.filter(action__startswith="admin.").exists()


def test_each_event_is_one_json_log_line(client, user, password, caplog):
    caplog.set_level(logging.INFO, logger="authsuite.audit")
    sign_in(client, user, password, HTTP_USER_AGENT="Evil\r\nFAKE LINE\u2028x")
    client.post(reverse("accounts:logout"))
    lines = [r for r in caplog.records if r.name == "authsuite.audit"]
    events = list(Event.objects.order_by("pk"))
    assert len(lines) == len(events) >= 2
    for record, event in zip(lines, events, strict=True):
        text = record.getMessage()
        assert len(text.splitlines()) == 1
        assert text.isascii()
        line = json.loads(text)
        assert (line["id"], line["action"], line["actor"]) == (event.pk, event.action,
                                                               event.actor_repr)
        assert line["occurred_at"] == event.occurred_at.isoformat()
        # A constant template, the event also as a field of its own for a JSON formatter.
        assert record.msg == "%s"
        assert record.audit_event["id"] == event.pk


@override_settings(AUTHSUITE_AUDIT_LOG_EVENTS=False)
def test_the_log_lines_can_be_turned_off(client, user, password, caplog):
    caplog.set_level(logging.INFO, logger="authsuite.audit")
    sign_in(client, user, password)
    assert Event.objects.exists()
    assert not [r for r in caplog.records if r.name == "authsuite.audit"]


def test_a_signal_is_recorded_once_however_often_the_app_connects(user):
    registry.connect_installed()
    registry.connect_installed()
    account_signals.password_reset_requested.send(sender=User, request=None, user=user)
    assert actions() == ["accounts.password.reset_requested"]


def test_declarations_of_apps_not_installed_stay_disconnected():
    signal = Signal()
    declaration = registry.declare("not_an_installed_app", signal, "nowhere.happened")
    try:
        registry.connect_installed()
        assert not declaration.connected
        signal.send(sender=None)
        assert not Event.objects.exists()
    finally:
        registry._declarations.remove(declaration)


def test_only_whitelisted_signal_arguments_reach_the_event(user):
    account_signals.email_added.send(sender=User, request=None, user=user, email="x@example.com",
                                     password="should never be stored")
    event = one("accounts.email.added")
    assert data(event) == {"email": "x@example.com"}
    assert "should never" not in all_text(event)


def test_a_change_that_cannot_be_recorded_does_not_happen(client, user, password, monkeypatch):
    sign_in(client, user, password)

    def broken(**kwargs):
        raise RuntimeError("audit storage unavailable")

    monkeypatch.setattr(chain, "record", broken)
    with pytest.raises(RuntimeError):
        client.post(reverse("accounts:password_change"), {
            "current_password": password, "new_password": password + "!",
            "new_password_confirm": password + "!"})
    user.refresh_from_db()
    assert user.check_password(password)


SUITE_APPS = ("authsuite", "accounts", "mfa", "passkeys", "oidc", "rbac")


def test_every_installed_suite_app_is_listened_to(user, staff):
    from django.apps import apps

    installed = {a for a in SUITE_APPS if apps.is_installed(a)}
    declared = {d.app_label for d in registry.declarations()}
    assert installed <= declared, installed - declared
    for declaration in registry.declarations():
        if declaration.app_label not in installed:
            continue
        assert declaration.connected, declaration.action
        uids = [lookup[0] for lookup, *_ in declaration.signal.receivers]
        assert f"audit:{declaration.action}" in uids, declaration.action


def test_every_declared_signal_becomes_its_event(user, staff):
    """Each declaration's receiver, with the keyword arguments its signal documents."""
    from django.apps import apps

    kwargs = {
        "request": None, "user": user, "by": staff, "user_id": user.pk, "email": user.email,
        "old_email": user.email, "new_email": "new@example.com", "identifier": user.email,
        "method": "password", "amr": ["pwd"], "reason": "credentials", "ip": "192.0.2.1",
        "until": timezone.now(), "session_id": 7, "action": "delete", "group": "g",
        "scope": "ip", "retry_after": 5, "path": "/x/", "device_id": 3, "count": 10,
        "remaining": 9, "failures": 2, "trusted_id": 4, "passkey_id": 5, "name": "Key",
        "aaguid": "0" * 32, "ceremony": "authentication", "stored_count": 3,
        "received_count": 2, "purpose": "magic_link", "reset": True, "batch": (1, 2),
        "removed": {"totp": 1, "passkey": 2}, "with_app": True, "messages": [11, 12],
        "not_sent": 1,
    }
    checked = 0
    for declaration in registry.declarations():
        if not apps.is_installed(declaration.app_label):
            continue
        before = Event.objects.filter(action=declaration.action).count()
        declaration.receiver(sender=None, **kwargs)
        event = Event.objects.filter(action=declaration.action).order_by("pk").last()
        assert Event.objects.filter(action=declaration.action).count() == before + 1
        assert event.outcome == declaration.outcome, declaration.action
        assert set(data(event)) >= set(declaration.data), declaration.action
        checked += 1
    assert checked >= 30
