"""Least privilege in the admin: what staff with some of Django's permissions, and none of
others, can reach and do on the suite's admin pages.

Each action needs its own permission and is refused (403, on the record as
``authsuite.permission_denied``) to staff without it, however the request is made; the
accounts of staff and superusers are for superusers to act on, and those left out of an
action are named to staff and the refusal is recorded; a user's flags and address change on
the user's page only, through its checks; outbox rows are never deleted by hand.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import path, reverse

from accounts.admin import adopt_user_admin
from accounts.models import LoginThrottle, PasswordChangeRequired, UserSession
from audit import chain
from audit.models import Event
from authsuite.models import OutboxMessage
from authsuite.urls import urlpatterns as project_urls
from passkeys.models import Passkey
from tests.accounts.support import member_with
from tests.factories import UserFactory
from tests.helpers import user_admin_url

User = get_user_model()
pytestmark = pytest.mark.django_db

CHANGELIST = user_admin_url("changelist")
USER_ACTIONS = ["send_password_reset", "end_all_sessions", "unlock", "deactivate", "reactivate",
                "require_password_change", "reset_mfa"]
OUTBOX = "/admin/authsuite/outboxmessage/"
PASSKEYS = "/admin/passkeys/passkey/"



def act(client, action, *rows, url=CHANGELIST, follow=False, **extra):
    return client.post(url, {"action": action, "index": "0",
                             "_selected_action": [row.pk for row in rows], **extra},
                       follow=follow)


def last_event_id() -> int:
    return Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def denials_since(start: int):
    return Event.objects.filter(pk__gt=start, action="authsuite.permission_denied")


# --- an action without its permission -----------------------------------------------------

@pytest.mark.parametrize("action", USER_ACTIONS)
def test_an_action_posted_without_its_permission_is_refused_and_recorded(action):
    member, client = member_with("view_user")
    ann = UserFactory(email="ann@example.com", is_active=action != "reactivate")
    LoginThrottle.objects.create(identifier=ann.email, ip="", lockouts=1,
                                 consecutive_failures=100)
    start = last_event_id()

    response = act(client, action, ann)

    assert response.status_code == 403
    denied = denials_since(start).get()
    assert (denied.outcome, denied.actor_id) == ("denied", str(member.pk))
    # Nothing else happened: no flow ran, nothing was mailed, nothing changed.
    assert not Event.objects.filter(pk__gt=start).exclude(pk=denied.pk).exists()
    assert not OutboxMessage.objects.exists()
    ann.refresh_from_db()
    assert ann.is_active == (action != "reactivate")
    assert LoginThrottle.objects.filter(identifier=ann.email).exists()
    assert not PasswordChangeRequired.objects.filter(user=ann).exists()


@pytest.mark.parametrize(("url", "action", "codenames"), [
    (OUTBOX, "retry_now", ["view_outboxmessage"]),
    (OUTBOX, "delete_selected", ["view_outboxmessage", "delete_outboxmessage"]),
    (PASSKEYS, "remove_passkeys", ["view_passkey", "change_passkey"]),
    (PASSKEYS, "delete_selected", ["view_passkey", "delete_passkey"]),
    ("/admin/accounts/loginthrottle/", "delete_selected",
     ["view_loginthrottle", "delete_loginthrottle"]),
    ("/admin/audit/event/", "delete_selected", ["view_event", "delete_event"]),
])
def test_the_other_admins_refuse_an_action_posted_without_its_permission(url, action,
                                                                         codenames):
    plain = UserFactory()
    rows = {
        OUTBOX: lambda: OutboxMessage.objects.create(
            template="accounts/email/verify", to=plain.email,
            status=OutboxMessage.Status.FAILED, attempts=5),
        PASSKEYS: lambda: Passkey.objects.create(user=plain, credential_id="c",
                                                 public_key=b"x", name="k"),
        "/admin/accounts/loginthrottle/": lambda: LoginThrottle.objects.create(
            identifier=plain.email, ip="", consecutive_failures=100),
        "/admin/audit/event/": lambda: chain.record(action="test.event", actor_repr="ann"),
    }
    row = rows[url]()
    kept = type(row).objects.filter(pk=row.pk)
    before = list(kept.values())
    member, client = member_with(*codenames)
    start = last_event_id()

    response = act(client, action, row, url=url, post="yes")

    assert response.status_code == 403
    assert denials_since(start).get().actor_id == str(member.pk)
    assert list(kept.values()) == before


def test_an_unknown_action_is_still_the_admins_no_action_message(staff):
    client = Client()
    client.force_login(staff)

    response = act(client, "no_such_action", staff, follow=True)

    assert response.status_code == 200
    assert "No action selected." in response.content.decode()


def test_staff_with_the_change_permission_still_run_the_actions():
    _member, client = member_with("view_user", "change_user")
    ann = UserFactory(email="ann@example.com")

    assert act(client, "deactivate", ann).status_code == 302

    ann.refresh_from_db()
    assert not ann.is_active


# --- accounts out of reach ----------------------------------------------------------------

@pytest.mark.parametrize("action", USER_ACTIONS)
def test_accounts_of_staff_left_out_of_an_action_are_named_and_the_refusal_recorded(staff,
                                                                                   action):
    # A superuser and another staff member: only superusers act on them.
    colleague = UserFactory(email="colleague@example.com", is_staff=True)
    for account in (staff, colleague):
        UserSession.objects.create(user=account, key_digest=f"{account.pk:064d}")
        LoginThrottle.objects.create(identifier=account.email, ip="", lockouts=1,
                                     consecutive_failures=100)
        if action == "reactivate":
            User.objects.filter(pk=account.pk).update(is_active=False)
    member, client = member_with("view_user", "change_user")
    start = last_event_id()

    response = act(client, action, staff, colleague, follow=True)

    assert response.status_code == 200
    html = response.content.decode()
    assert ("Only superusers act on the accounts of staff members and superusers: 2 of "
            "the selected accounts were left as they were.") in html
    events = Event.objects.filter(pk__gt=start)
    denied = events.get()
    assert (denied.action, denied.outcome, denied.actor_id) == (
        "authsuite.permission_denied", "denied", str(member.pk))
    for account in (staff, colleague):
        account.refresh_from_db()
        assert account.is_active == (action != "reactivate")
        assert UserSession.objects.get(user=account).ended_at is None
        assert LoginThrottle.objects.filter(identifier=account.email).exists()
    assert not PasswordChangeRequired.objects.exists()
    assert not OutboxMessage.objects.exists()


def test_accounts_within_reach_are_acted_on_beside_those_left_out(staff):
    plain = UserFactory(email="plain@example.com")
    member, client = member_with("view_user", "change_user")
    start = last_event_id()

    response = act(client, "deactivate", staff, plain, follow=True)

    assert "Deactivated 1 users." in response.content.decode()
    assert "1 of the selected accounts were left as they were." in response.content.decode()
    assert sorted(Event.objects.filter(pk__gt=start).values_list("action", "target_id")) == [
        ("accounts.account.deactivated", str(plain.pk)), ("authsuite.permission_denied", "")]
    assert not User.objects.get(pk=plain.pk).is_active and User.objects.get(pk=staff.pk).is_active


def test_a_superuser_leaves_nobody_out(staff):
    client = Client()
    client.force_login(staff)
    colleague = UserFactory(is_staff=True)
    start = last_event_id()

    response = act(client, "require_password_change", colleague, follow=True)

    assert "left as they were" not in response.content.decode()
    assert not denials_since(start).exists()
    assert PasswordChangeRequired.objects.filter(user=colleague).exists()


def test_passkeys_of_staff_left_out_of_a_removal_are_named_and_the_refusal_recorded(staff):
    kept = Passkey.objects.create(user=staff, credential_id="a", public_key=b"x", name="k")
    plain = UserFactory()
    removed = Passkey.objects.create(user=plain, credential_id="b", public_key=b"x", name="k")
    member, client = member_with("view_passkey", "delete_passkey")
    start = last_event_id()

    response = act(client, "remove_passkeys", kept, removed, url=PASSKEYS, follow=True)

    html = response.content.decode()
    assert "1 passkeys removed." in html
    assert ("Only superusers act on the accounts of staff members and superusers: 1 of the "
            "selected passkeys were left as they were.") in html
    assert list(Passkey.objects.all()) == [kept]
    assert denials_since(start).get().actor_id == str(member.pk)


# --- a user's flags and address change on the user's page only ----------------------------

class EditableUserAdmin(type(admin.site._registry[User])):
    """A project's user admin, built on the suite's, that edits flags and the address in
    its list."""

    list_display = ["id", User.get_email_field_name(), "is_staff", "is_superuser", "is_active"]
    list_editable = [User.get_email_field_name(), "is_staff", "is_superuser", "is_active"]


editable_site = admin.AdminSite(name="editable_admin")
editable_site.register(User, EditableUserAdmin)
adopt_user_admin(editable_site)
urlpatterns = [path("editable-admin/", editable_site.urls), *project_urls]


def list_edit(client, url, changes: dict) -> dict:
    """Every listed account, posted back from the list with ``changes`` ({pk: {field:
    value}}) as a list-editable page would post it."""
    users = list(User.objects.order_by("pk"))
    field = User.get_email_field_name()
    data = {"form-TOTAL_FORMS": str(len(users)), "form-INITIAL_FORMS": str(len(users)),
            "_save": "Save"}
    for i, user in enumerate(users):
        values = {field: getattr(user, field), "is_staff": user.is_staff,
                  "is_superuser": user.is_superuser, "is_active": user.is_active,
                  **changes.get(user.pk, {})}
        data[f"form-{i}-id"] = str(user.pk)
        for name, value in values.items():
            if value is True:
                data[f"form-{i}-{name}"] = "on"
            elif value is not False:
                data[f"form-{i}-{name}"] = value
    return data


@pytest.mark.urls(__name__)
@pytest.mark.parametrize("who", ["staff member", "superuser"])
def test_a_projects_list_editable_user_admin_edits_nothing_in_the_list(staff, who):
    # Django saves a list's rows without asking, row by row, whether they may be changed or
    # which fields are read-only: staff would make themselves superusers, and take over a
    # superuser's account by giving it their address, from the list.
    member, client = member_with("view_user", "change_user")
    if who == "superuser":
        client.force_login(staff)
    url = reverse("editable_admin:" + "_".join(
        [User._meta.app_label, User._meta.model_name, "changelist"]))
    page = client.get(url)
    assert page.status_code == 200
    assert page.context["cl"].formset is None
    assert 'name="form-0-is_superuser"' not in page.content.decode()
    field = User.get_email_field_name()
    before = list(User.objects.order_by("pk").values(field, "is_staff", "is_superuser",
                                                        "is_active"))

    client.post(url, list_edit(client, url, {
        staff.pk: {field: "attacker@example.net", "is_active": False},
        member.pk: {"is_superuser": True}}))

    assert list(User.objects.order_by("pk").values(field, "is_staff", "is_superuser",
                                                   "is_active")) == before
    assert not Event.objects.filter(action__startswith="admin.").exists()


# --- outbox rows --------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["staff member", "superuser"])
def test_nobody_deletes_outbox_rows_by_hand(staff, who):
    # A pending notice of what staff did to an account (a reset, sessions ended) would
    # otherwise vanish before its owner is told, unrecorded.
    notice = OutboxMessage.objects.create(template="mfa/email/reset", to="ann@example.com")
    if who == "superuser":
        client = Client()
        client.force_login(staff)
    else:
        _member, client = member_with("view_outboxmessage", "change_outboxmessage",
                                      "delete_outboxmessage")

    page = client.get(OUTBOX)
    assert page.status_code == 200
    assert 'value="delete_selected"' not in page.content.decode()
    assert 'value="retry_now"' in page.content.decode()
    assert client.get(f"{OUTBOX}{notice.pk}/delete/").status_code == 403
    assert client.post(f"{OUTBOX}{notice.pk}/delete/", {"post": "yes"}).status_code == 403
    assert act(client, "delete_selected", notice, url=OUTBOX, post="yes").status_code == 403
    assert list(OutboxMessage.objects.all()) == [notice]


def test_deleting_an_account_keeps_its_outbox_rows_without_the_outbox_permissions(staff):
    # The rows are not deleted with the account (it is set aside): deleting an account
    # asks for no permission on the outbox.
    client = Client()
    client.force_login(staff)
    ann = UserFactory(email="ann@example.com")
    OutboxMessage.objects.create(template="accounts/email/verify", to=ann.email, user=ann)

    assert client.post(user_admin_url("delete", ann.pk), {"post": "yes"}).status_code == 302

    assert not User.objects.filter(pk=ann.pk).exists()
    assert OutboxMessage.objects.get().user is None


# --- the suite's own admin addresses ------------------------------------------------------

@pytest.mark.parametrize("who", ["visitor", "user", "staff member"])
def test_the_set_password_address_is_behind_the_admins_sign_in(who, user):
    client = Client()
    if who == "user":
        client.force_login(user)
    elif who == "staff member":
        client.force_login(UserFactory(is_staff=True))
    url = user_admin_url("change", user.pk) + "password/"

    for response in (client.get(url), client.post(url, {"password1": "x", "password2": "x"})):
        if who == "staff member":
            assert response.status_code == 404
        else:
            assert response.status_code == 302
            assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("url", [
    "/admin/audit/event/export/csv/", "/admin/audit/event/export/jsonl/",
    CHANGELIST, OUTBOX, PASSKEYS, "/admin/passkeys/pendingsignup/",
    "/admin/accounts/loginthrottle/", "/admin/audit/event/", "/admin/audit/checkpoint/",
    "/admin/auth/group/"])
def test_staff_with_a_permission_on_one_model_only_reach_no_other(url):
    # view_event only: the audit trail and its exports, nothing else.
    _member, client = member_with("view_event")
    allowed = url.startswith("/admin/audit/event/")

    assert client.get(url).status_code == (200 if allowed else 403)


# --- secrets, to anyone -------------------------------------------------------------------

def test_no_admin_page_or_export_shows_a_secret_even_to_a_superuser(staff):
    from accounts import tokens
    from accounts.models import OneTimeToken
    from authsuite import crypto
    from mfa.models import RecoveryCode, TOTPDevice
    from tests.audit.support import form_data
    from tests.mfa.support import enroll

    client = Client()
    client.force_login(staff)
    ann = UserFactory(email="ann@example.com")
    secret, codes = enroll(ann)
    raw = tokens.token_issue(user=ann, purpose=OneTimeToken.Purpose.PASSWORD_RESET,
                             email=ann.email, lifetime=3600)
    UserSession.objects.create(user=ann, key_digest="7" * 64, device="Firefox 128 on Ubuntu")
    passkey = Passkey.objects.create(user=ann, credential_id="credential-id-5e1f",
                                     public_key=b"public-key-9c2d", name="Phone")
    mail = OutboxMessage.objects.create(
        template="accounts/email/magic_link", to=ann.email, user=ann,
        context={"note": "context-marker-3b7a"},
        sealed_context=crypto.seal('{"url": "https://id.example.com/m/link-marker-41c9/"}'))
    # Changes staff make, in the admin's history and the audit trail too.
    form = form_data(client.get(user_admin_url("change", ann.pk)).content.decode(), "user_form")
    form.pop("is_active", None)
    assert client.post(user_admin_url("change", ann.pk), form).status_code == 302
    act(client, "send_password_reset", ann)
    act(client, "end_all_sessions", ann)

    secrets = [User.objects.get(pk=ann.pk).password, staff.password, secret, *codes,
               *RecoveryCode.objects.values_list("digest", flat=True),
               TOTPDevice.objects.get(user=ann).sealed_key, raw,
               *OneTimeToken.objects.values_list("digest", flat=True),
               *UserSession.objects.values_list("key_digest", flat=True),
               passkey.credential_id, "public-key-9c2d", mail.sealed_context[:40],
               "context-marker-3b7a", "link-marker-41c9"]
    events = "/admin/audit/event/"
    urls = ["/admin/", CHANGELIST, user_admin_url("change", ann.pk),
            user_admin_url("history", ann.pk), PASSKEYS, f"{PASSKEYS}{passkey.pk}/change/",
            OUTBOX, f"{OUTBOX}{mail.pk}/change/", f"{OUTBOX}{mail.pk}/history/", events,
            f"{events}export/csv/", f"{events}export/jsonl/",
            *(f"{events}{pk}/change/" for pk in Event.objects.values_list("pk", flat=True))]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        body = b"".join(response.streaming_content) if response.streaming else response.content
        page = body.decode()
        assert not [s for s in secrets if s in page], url
