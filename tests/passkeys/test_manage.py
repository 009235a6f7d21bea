"""Managing passkeys: the list (API and page), renaming, removing with reauthentication and
an alert, the last-credential guard, and the admin."""

from __future__ import annotations

import json
import uuid

import pytest
from django.contrib.auth.hashers import make_password
from django.core import mail
from django.test import Client
from django.utils import timezone

from accounts import authrecord
from audit.models import Event
from authsuite.models import OutboxMessage
from passkeys import flows as passkey_flows
from passkeys.models import Passkey
from tests.factories import UserFactory
from tests.helpers import STAFF_AGENT, STAFF_IP, outbox_for
from tests.passkeys.authenticator import SoftAuthenticator
from tests.passkeys.support import (
    ORIGIN,
    add_passkey,
    code,
    get,
    login,
    password_client,
    post,
)

pytestmark = pytest.mark.django_db

ICLOUD = uuid.UUID("fbfc3007-154e-4ecc-8c0b-6e020557d7bd")
YUBIKEY = uuid.UUID("cb69481e-8ff7-4039-93ec-0a2729a154a8")


@pytest.fixture
def client(user, password):
    return password_client(user, password)


def stale(client, monkeypatch) -> None:
    """The session's authentication is older than the reauthentication timeout."""
    now = authrecord.now()
    monkeypatch.setattr(authrecord, "now", lambda: now + 10 ** 6)


def delete(client, pk):
    return client.delete(f"/api/auth/v1/passkeys/{pk}/")


def patch(client, pk, data):
    return client.patch(f"/api/auth/v1/passkeys/{pk}/", data, content_type="application/json")


def passkey_only(user, client) -> tuple[Client, list[Passkey]]:
    """Make ``user`` passwordless with two passkeys; returns a client signed in with one
    (dropping the password ended the other sessions)."""
    authenticator = SoftAuthenticator()
    keys = [add_passkey(client, authenticator), add_passkey(client)]
    user.set_unusable_password()
    user.save(update_fields=["password"])
    browser = Client()
    assert login(browser, authenticator).json()["status"] == "authenticated"
    return browser, keys


# The list -------------------------------------------------------------------------------------

def test_api_list(client, user):
    synced = add_passkey(client, SoftAuthenticator(aaguid=ICLOUD, backup_eligible=True,
                                                   backup_state=True))
    bound = add_passkey(client, SoftAuthenticator(aaguid=YUBIKEY), name="Key on my keyring")
    rows = get(client, "passkeys/").json()
    assert [r["id"] for r in rows] == [bound.pk, synced.pk]
    assert rows[0]["name"] == "Key on my keyring" and rows[0]["provider"] == "YubiKey 5"
    assert rows[0]["backup_eligible"] is False and rows[0]["last_used_at"] is None
    assert rows[1]["name"] == "iCloud Keychain" and rows[1]["backup_eligible"] is True
    assert rows[1]["backup_state"] is True and rows[1]["created_at"]
    assert set(rows[0]) == {"id", "name", "provider", "created_at", "last_used_at",
                            "backup_eligible", "backup_state", "flagged_at"}


def test_api_list_shows_only_your_own(client, password):
    add_passkey(client)
    other = password_client(UserFactory(password=password), password)
    assert get(other, "passkeys/").json() == []


def test_api_list_query_count_does_not_grow(client, django_assert_max_num_queries):
    add_passkey(client)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as one:
        get(client, "passkeys/")
    count = len(one)  # read now: the log is cleared when the next request starts
    for _ in range(4):
        add_passkey(client)
    with django_assert_max_num_queries(count):
        assert len(get(client, "passkeys/").json()) == 5


def test_the_page_lists_name_provider_dates_and_kind(client, user, password):
    authenticator = SoftAuthenticator(aaguid=ICLOUD, backup_eligible=True, backup_state=True)
    add_passkey(client, authenticator)
    add_passkey(client, SoftAuthenticator(aaguid=YUBIKEY), name="Desk key")
    login(Client(), authenticator)
    page = client.get("/passkeys/").content.decode()
    assert 'value="iCloud Keychain"' in page and 'value="Desk key"' in page
    assert "YubiKey 5" in page
    assert "Synced (backed up)" in page and "This device only" in page
    assert "never" in page and " ago" in page
    # The date each was added, whatever the day the test runs on (midnight UTC included).
    for passkey in Passkey.objects.filter(user=user):
        assert passkey.created_at.strftime("%Y-%m-%d") in page
    assert 'data-passkey="register"' in page


def test_the_page_asks_for_reauthentication_before_adding(client, monkeypatch):
    stale(client, monkeypatch)
    page = client.get("/passkeys/").content.decode()
    assert 'data-passkey="register"' not in page
    assert "/accounts/reauthenticate/?next=/passkeys/" in page


def test_the_page_needs_a_signed_in_user(db):
    response = Client().get("/passkeys/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_page_query_count_does_not_grow(client, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    add_passkey(client)
    with CaptureQueriesContext(connection) as one:
        client.get("/passkeys/")
    count = len(one)
    for _ in range(4):
        add_passkey(client)
    with django_assert_max_num_queries(count):
        client.get("/passkeys/")


# Rename ---------------------------------------------------------------------------------------

def test_rename_through_the_api(client, user):
    passkey = add_passkey(client)
    response = patch(client, passkey.pk, {"name": "  Phone  "})
    assert response.status_code == 200 and response.json()["name"] == "Phone"
    passkey.refresh_from_db()
    assert passkey.name == "Phone"
    assert Event.objects.filter(action="passkeys.renamed").count() == 1


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_rename_refuses_a_bad_name(client, name):
    passkey = add_passkey(client)
    response = patch(client, passkey.pk, {"name": name})
    assert response.status_code == 400
    passkey.refresh_from_db()
    assert passkey.name == "Passkey"


def test_rename_someone_elses_passkey(client, password):
    other = password_client(UserFactory(password=password), password)
    passkey = add_passkey(other)
    response = patch(client, passkey.pk, {"name": "Mine now"})
    assert response.status_code == 404
    assert code(response) == "passkey_not_found"


def test_rename_on_the_page(client):
    passkey = add_passkey(client)
    response = client.post("/passkeys/", {"action": "rename", "passkey": passkey.pk,
                                          "name": "Work laptop"})
    assert response.status_code == 302
    passkey.refresh_from_db()
    assert passkey.name == "Work laptop"


@pytest.mark.parametrize("data", [{"action": "rename", "passkey": "abc"},
                                  {"action": "rename", "passkey": "9" * 40},
                                  {"action": "explode", "passkey": "1"}, {}])
def test_the_page_refuses_bad_posts(client, data):
    add_passkey(client)
    response = client.post("/passkeys/", data)
    assert response.status_code == 302


# Remove ---------------------------------------------------------------------------------------

def test_remove_through_the_api(client, user):
    passkey = add_passkey(client)
    mail.outbox.clear()
    response = delete(client, passkey.pk)
    assert response.status_code == 204
    assert not Passkey.objects.exists()
    event = Event.objects.get(action="passkeys.removed")
    assert event.actor_id == str(user.pk) and event.target_id == str(user.pk)
    assert json.loads(event.data)["name"] == "Passkey"
    assert [m.subject.split(": ", 1)[-1] for m in mail.outbox if user.email in m.to] == [
        "A passkey was removed"]


def test_remove_needs_a_recent_authentication(client, monkeypatch):
    passkey = add_passkey(client)
    stale(client, monkeypatch)
    response = delete(client, passkey.pk)
    assert response.status_code == 403
    assert code(response) == "reauthentication_required"
    assert Passkey.objects.filter(pk=passkey.pk).exists()


def test_remove_on_the_page_asks_for_reauthentication(client, monkeypatch):
    passkey = add_passkey(client)
    stale(client, monkeypatch)
    response = client.post("/passkeys/", {"action": "remove", "passkey": passkey.pk})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/reauthenticate/")
    assert Passkey.objects.filter(pk=passkey.pk).exists()


def test_remove_on_the_page(client, user):
    passkey = add_passkey(client)
    response = client.post("/passkeys/", {"action": "remove", "passkey": passkey.pk})
    assert response.status_code == 302
    assert not Passkey.objects.exists()
    assert Event.objects.filter(action="passkeys.removed").exists()


def test_the_page_offers_to_end_the_other_sessions_after_a_passkey_is_added(client, user,
                                                                          password):
    """ASVS 5.0 7.4.3: a passkey added because someone else may have had the account does
    not sign that someone out by itself; the page offers to."""
    elsewhere = password_client(user, password)
    add_passkey(client)

    html = client.get("/passkeys/").content.decode()

    assert 'action="/accounts/sessions/"' in html
    assert '<input type="hidden" name="session" value="others">' in html
    client.post("/accounts/sessions/", {"session": "others"})
    assert not get(elsewhere, "session/").json()["authenticated"]
    assert get(client, "session/").json()["authenticated"]
    assert 'name="session" value="others"' not in client.get("/passkeys/").content.decode()


def test_remove_someone_elses_passkey(client, password):
    other = password_client(UserFactory(password=password), password)
    passkey = add_passkey(other)
    assert code(delete(client, passkey.pk)) == "passkey_not_found"
    assert Passkey.objects.filter(pk=passkey.pk).exists()


def test_the_last_credential_cannot_be_removed(client, user):
    client, (first, second) = passkey_only(user, client)
    assert delete(client, first.pk).status_code == 204
    response = delete(client, second.pk)
    assert response.status_code == 400
    assert code(response) == "passkey_last_credential"
    assert Passkey.objects.filter(pk=second.pk).exists()
    assert not Event.objects.filter(action="passkeys.removed", data__contains=str(second.pk)).exists()


def test_a_flagged_passkey_is_no_way_to_sign_in(client, user):
    client, (first, second) = passkey_only(user, client)
    Passkey.objects.filter(pk=first.pk).update(flagged_at=timezone.now())
    assert code(delete(client, second.pk)) == "passkey_last_credential"
    # The flagged one itself may go.
    assert delete(client, first.pk).status_code == 204


def test_the_last_passkey_may_go_when_there_is_a_password(client, user):
    passkey = add_passkey(client)
    assert delete(client, passkey.pk).status_code == 204


def test_the_last_credential_on_the_page(client, user):
    client, (first, second) = passkey_only(user, client)
    Passkey.objects.filter(pk=first.pk).delete()
    response = client.post("/passkeys/", {"action": "remove", "passkey": second.pk}, follow=True)
    assert "This is the only way you can sign in" in response.content.decode()
    assert Passkey.objects.filter(pk=second.pk).exists()


# Admin ---------------------------------------------------------------------------------------

@pytest.fixture
def admin_client(staff):
    client = Client()
    client.force_login(staff)
    return client


def test_admin_lists_a_users_passkeys(admin_client, client, user, password):
    add_passkey(client, SoftAuthenticator(aaguid=YUBIKEY))
    flagged = add_passkey(client, SoftAuthenticator(aaguid=ICLOUD, backup_eligible=True))
    Passkey.objects.filter(pk=flagged.pk).update(flagged_at=timezone.now())
    add_passkey(password_client(UserFactory(password=password, email="zed@example.com"),
                                password))
    page = admin_client.get(f"/admin/passkeys/passkey/?user__id__exact={user.pk}")
    assert page.status_code == 200
    html = page.content.decode()
    assert "YubiKey 5" in html and "iCloud Keychain" in html
    assert "zed@example.com" not in html
    assert admin_client.get("/admin/passkeys/passkey/?flagged_at__isnull=False").status_code == 200
    detail = admin_client.get(f"/admin/passkeys/passkey/{flagged.pk}/change/")
    assert detail.status_code == 200
    assert "public_key" not in detail.content.decode()
    # Removal is the list's action (the user is told): no link to a delete page refused.
    assert f"/admin/passkeys/passkey/{flagged.pk}/delete/" not in detail.content.decode()
    assert admin_client.get(f"/admin/passkeys/passkey/{flagged.pk}/delete/").status_code == 403


def test_admin_lists_pending_sign_ups_read_only(admin_client, staff):
    from datetime import timedelta

    from passkeys.models import PendingSignup

    now = timezone.now()

    def pending(n, email, **extra):
        return PendingSignup.objects.create(
            email=email, handle=f"h{n}", digest=f"digest-{n}",
            expires_at=extra.pop("expires_at", now + timedelta(hours=1)), **extra)

    waiting = pending(1, "waiting@example.com")
    pending(2, "replaced@example.com", voided_at=now)
    pending(3, "expired@example.com", expires_at=now - timedelta(minutes=1))
    pending(4, "used@example.com", used_at=now)

    page = admin_client.get("/admin/passkeys/pendingsignup/")
    assert page.status_code == 200
    html = page.content.decode()
    assert all(f"{state}@example.com" in html for state in ("waiting", "replaced", "expired", "used"))
    assert "digest-1" not in html  # the link's digest is not shown
    for state, email in [("live", "waiting"), ("voided", "replaced"), ("expired", "expired"),
                         ("used", "used")]:
        html = admin_client.get(f"/admin/passkeys/pendingsignup/?state={state}").content.decode()
        shown = {e for e in ("waiting", "replaced", "expired", "used") if f"{e}@example.com" in html}
        assert shown == {email}, state
    detail = admin_client.get(f"/admin/passkeys/pendingsignup/{waiting.pk}/change/")
    assert detail.status_code == 200 and "waiting@example.com" in detail.content.decode()
    assert admin_client.get("/admin/passkeys/pendingsignup/add/").status_code == 403
    assert admin_client.post(f"/admin/passkeys/pendingsignup/{waiting.pk}/change/",
                             {"email": "changed@example.com"}).status_code == 403
    assert admin_client.post(f"/admin/passkeys/pendingsignup/{waiting.pk}/delete/",
                             {"post": "yes"}).status_code == 403
    assert PendingSignup.objects.get(pk=waiting.pk).email == "waiting@example.com"


def test_admin_list_query_count_does_not_grow(admin_client, password, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    add_passkey(password_client(UserFactory(password=password), password))
    with CaptureQueriesContext(connection) as one:
        admin_client.get("/admin/passkeys/passkey/")
    count = len(one)
    for _ in range(4):
        add_passkey(password_client(UserFactory(password=password), password))
    with django_assert_max_num_queries(count):
        admin_client.get("/admin/passkeys/passkey/")


def test_staff_remove_a_passkey(admin_client, staff, client, user):
    passkey = add_passkey(client)
    mail.outbox.clear()
    response = admin_client.post("/admin/passkeys/passkey/", {
        "action": "remove_passkeys", "_selected_action": [passkey.pk],
    })
    assert response.status_code == 302
    assert not Passkey.objects.exists()
    event = Event.objects.get(action="passkeys.removed")
    assert event.actor_id == str(staff.pk) and event.target_id == str(user.pk)
    assert [m.to for m in mail.outbox] == [[user.email]]
    assert "A passkey was removed" in mail.outbox[0].subject


def test_staff_removing_the_last_passkey_record_all_it_turns_off_as_theirs(admin_client, staff,
                                                                          client, user):
    """The last second factor gone, two-step verification is off and the trusted browsers are
    forgotten: the staff member's doing, on the account, as the removal itself is."""
    from datetime import timedelta

    from mfa.models import TrustedBrowser

    passkey = add_passkey(client)
    TrustedBrowser.objects.create(user=user, digest="x" * 64,
                                  expires_at=timezone.now() + timedelta(days=3))
    start = Event.objects.order_by("pk").last().pk

    remove_in_admin(admin_client, [passkey])

    done = Event.objects.filter(pk__gt=start).exclude(action="audit.alert.sent")
    assert {e.action for e in done} == {"passkeys.removed", "mfa.browser.untrusted",
                                        "mfa.disabled"}
    assert {(e.actor_id, e.target_type, e.target_id) for e in done} == {
        (str(staff.pk), "user", str(user.pk))}


@pytest.mark.parametrize("without", ["audit_trail", "alert_rules"])
@pytest.mark.parametrize("count", [1, 2])
def test_the_notice_of_passkeys_staff_removed_says_staff_never_their_ip_or_device(
        admin_client, client, user, settings, without, count):
    """With no alert rule to send it, the passkeys app's own notice tells of the removal:
    staff did it, from a request whose IP address and device are not the user's to see."""
    if without == "audit_trail":
        settings.AUTHSUITE_AUDIT_ENABLED = False
    else:
        settings.AUTHSUITE_AUDIT_ALERT_RULES = []
    passkeys = [add_passkey(client) for _ in range(count)]
    mail.outbox.clear()

    admin_client.post("/admin/passkeys/passkey/", {
        "action": "remove_passkeys", "_selected_action": [p.pk for p in passkeys]},
        REMOTE_ADDR=STAFF_IP, HTTP_USER_AGENT=STAFF_AGENT)

    [message] = outbox_for(user.email)
    assert "removed" in message.subject
    html = message.alternatives[0][0]
    for body in (message.body, html):
        assert STAFF_IP not in body and "Chrome" not in body and "Windows" not in body
    assert "By:     Staff" in message.body
    assert "<th align=\"left\">By</th><td>Staff</td>" in html


def remove_in_admin(admin_client, passkeys):
    return admin_client.post("/admin/passkeys/passkey/", {
        "action": "remove_passkeys", "_selected_action": [p.pk for p in passkeys]})


def told(email: str) -> list[str]:
    """The messages to ``email``, each as its subject and its body on one line."""
    return [f"{m.subject} | {' '.join(m.body.split())}" for m in outbox_for(email)]


@pytest.mark.parametrize("audit_on", [True, False], ids=["alert", "notice"])
def test_staff_removing_several_passkeys_tell_each_user_once(admin_client, staff, client, user,
                                                            password, settings, audit_on):
    """One message per user naming how many went; the trail keeps one event per passkey."""
    mine = [add_passkey(client) for _ in range(3)]
    other = UserFactory(password=password, email="other@example.com")
    other_client = password_client(other, password)
    theirs = [add_passkey(other_client) for _ in range(2)]
    third = UserFactory(password=password, email="third@example.com")
    alone = add_passkey(password_client(third, password), name="Work laptop")
    OutboxMessage.objects.all().delete()
    mail.outbox.clear()
    settings.AUTHSUITE_AUDIT_ENABLED = audit_on
    last_event = Event.objects.order_by("pk").values_list("pk", flat=True).last()

    response = remove_in_admin(admin_client, [*mine, *theirs, alone])

    assert response.status_code == 302
    assert not Passkey.objects.exists()
    [mine_told] = told(user.email)
    assert mine_told.startswith("authsuite demo: Passkeys were removed | ")
    assert "Staff removed 3 passkeys from your account" in mine_told
    [theirs_told] = told(other.email)
    assert "Staff removed 2 passkeys from your account" in theirs_told
    # One passkey of an account: told as when it is removed on its own.
    [alone_told] = told(third.email)
    assert alone_told.startswith("authsuite demo: A passkey was removed | ")
    assert "Staff removed" not in alone_told
    assert OutboxMessage.objects.count() == 3
    if audit_on:
        removed = Event.objects.filter(action="passkeys.removed").order_by("pk")
        assert [(e.target_id, json.loads(e.data).get("batch")) for e in removed] == [
            (str(user.pk), [1, 3]), (str(user.pk), [2, 3]), (str(user.pk), [3, 3]),
            (str(other.pk), [1, 2]), (str(other.pk), [2, 2]), (str(third.pk), None)]
        assert {e.actor_id for e in removed} == {str(staff.pk)}
        assert Event.objects.filter(action="audit.alert.sent", pk__gt=last_event).count() == 3
    page = admin_client.get("/admin/passkeys/passkey/")
    assert "6 passkeys removed." in [str(m) for m in page.context["messages"]]


def test_staff_removing_passkeys_queue_the_message_with_the_removal(staff, user, client,
                                                                   monkeypatch):
    """The message is queued in the removals' transaction: a removal that fails takes the
    others and the message with it."""
    from passkeys import signals

    keys = [add_passkey(client) for _ in range(3)]
    OutboxMessage.objects.all().delete()

    def fail_on_the_last(sender, passkey_id, **kwargs):
        if passkey_id == keys[-1].pk:
            raise RuntimeError("could not record it")

    signals.passkey_removed.connect(fail_on_the_last, dispatch_uid="test.fail_on_the_last")
    try:
        with pytest.raises(RuntimeError):
            passkey_flows.passkeys_remove(None, user=user, passkey_ids=[k.pk for k in keys],
                                          by=staff)
    finally:
        signals.passkey_removed.disconnect(dispatch_uid="test.fail_on_the_last")

    assert Passkey.objects.filter(user=user).count() == 3
    assert not OutboxMessage.objects.exists()
    assert not Event.objects.filter(action="passkeys.removed").exists()


def test_staff_removing_passkeys_pass_over_another_users_and_gone_ones(staff, user, client,
                                                                       password):
    keys = [add_passkey(client) for _ in range(2)]
    elsewhere = add_passkey(password_client(UserFactory(password=password), password))
    mail.outbox.clear()

    removed = passkey_flows.passkeys_remove(
        None, user=user, passkey_ids=[*(k.pk for k in keys), elsewhere.pk, 10 ** 9], by=staff)

    assert removed == 2
    assert list(Passkey.objects.values_list("pk", flat=True)) == [elsewhere.pk]
    assert len(outbox_for(user.email)) == 1


def test_staff_cannot_add_or_edit(admin_client, client):
    passkey = add_passkey(client)
    assert admin_client.get("/admin/passkeys/passkey/add/").status_code == 403
    admin_client.post(f"/admin/passkeys/passkey/{passkey.pk}/change/", {"name": "x"})
    passkey.refresh_from_db()
    assert passkey.name == "Passkey"


def test_passkey_only_user_signs_in_with_it(client, user):
    authenticator = SoftAuthenticator()
    add_passkey(client, authenticator)
    user.password = make_password(None)
    user.save(update_fields=["password"])
    browser = Client()
    options = post(browser, "passkeys/login/options/").json()
    response = post(browser, "passkeys/login/",
                    {"credential": authenticator.get(options, origin=ORIGIN)})
    assert response.json()["status"] == "authenticated"


def _staff_with(*codenames):
    from django.contrib.auth.models import Permission

    member = UserFactory(is_staff=True)
    member.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    browser = Client()
    browser.force_login(member)
    return browser


def test_staff_who_may_only_view_passkeys_cannot_remove_them(client, user):
    passkey = add_passkey(client)
    viewer = _staff_with("view_passkey")
    assert viewer.get("/admin/passkeys/passkey/").status_code == 200
    viewer.post("/admin/passkeys/passkey/", {"action": "remove_passkeys",
                                             "_selected_action": [passkey.pk]})
    assert Passkey.objects.filter(pk=passkey.pk).exists()


def test_only_superusers_remove_a_superusers_passkey(password):
    chief = UserFactory(password=password, is_staff=True, is_superuser=True)
    passkey = add_passkey(password_client(chief, password))
    remover = _staff_with("view_passkey", "delete_passkey")
    remover.post("/admin/passkeys/passkey/", {"action": "remove_passkeys",
                                              "_selected_action": [passkey.pk]})
    assert Passkey.objects.filter(pk=passkey.pk).exists()
