"""A user's own security activity: /accounts/security/ and GET /api/auth/v1/security/events/."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts import lockout
from accounts.models import LoginThrottle
from audit import chain
from audit.models import Event
from tests.factories import UserFactory
from tests.helpers import STAFF_AGENT, STAFF_IP, user_admin_url

pytestmark = pytest.mark.django_db

PAGE = "/accounts/security/"
API = "/api/auth/v1/security/events/"
FIREFOX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
STAFF_DEVICE = "Chrome 126 on Windows 10"


def sign_in(client, user, password, **extra):
    response = client.post(reverse("accounts:login"), {"email": user.email, "password": password},
                           **extra)
    assert response.status_code == 302
    return response


@pytest.fixture
def two_people(client, user, password):
    """The user signed in on ``client``; Bob has his own history."""
    bob = UserFactory(password=password)
    other = Client()
    sign_in(other, bob, password, REMOTE_ADDR="203.0.113.99")
    other.post(reverse("accounts:login"), {"email": bob.email, "password": "wrong " * 3})
    client.post(reverse("accounts:login"), {"email": user.email, "password": "wrong " * 3})
    sign_in(client, user, password, HTTP_USER_AGENT=FIREFOX, REMOTE_ADDR="198.51.100.4")
    return user, bob


def test_the_page_lists_only_your_own_activity(client, two_people):
    user, bob = two_people
    response = client.get(PAGE)
    assert response.status_code == 200
    events = response.context["events"]
    assert [e["action"] for e in events][:2] == ["accounts.login.succeeded",
                                                 "accounts.login.failed"]
    mine = set(Event.objects.filter(actor_id=str(user.pk)).values_list("pk", flat=True))
    assert {e["id"] for e in events} == mine
    page = response.content.decode()
    assert "Signed in" in page and "Failed sign-in" in page
    assert "Firefox 128 on Ubuntu" in page and "198.51.100.4" in page
    assert "203.0.113.99" not in page  # Bob's sign-in


def test_the_api_lists_only_your_own_activity(client, two_people):
    user, bob = two_people
    response = client.get(API)
    assert response.status_code == 200
    rows = response.json()
    assert rows[0] == {
        "id": rows[0]["id"], "occurred_at": rows[0]["occurred_at"],
        "action": "accounts.login.succeeded", "label": "Signed in", "outcome": "success",
        "ip": "198.51.100.4", "device": "Firefox 128 on Ubuntu", "method": "password",
        "by": "you",
    }
    assert rows[1]["outcome"] == "failure"
    bobs = set(Event.objects.filter(actor_id=str(bob.pk)).values_list("pk", flat=True))
    assert bobs and not bobs & {r["id"] for r in rows}
    assert [r["id"] for r in rows] == sorted((r["id"] for r in rows), reverse=True)


def test_what_staff_did_to_your_account_is_shown_but_not_their_other_work(client, user, password,
                                                                           staff):
    sign_in(client, user, password)
    LoginThrottle.objects.create(identifier=user.email, failures=3)  # something to unlock
    assert lockout.account_unlock(user, by=staff) is True
    chain.record(action="admin.user.changed", actor_id=str(staff.pk), target_type="user",
                 target_id=str(user.pk), data={"changes": {"is_staff": {}}})
    rows = client.get(API).json()
    assert rows[0]["action"] == "accounts.account.unlocked"
    assert rows[0]["label"] == "Sign-in unlocked by staff"
    assert "admin.user.changed" not in {r["action"] for r in rows}
    bystander = Client()
    bystander.force_login(UserFactory())
    assert "accounts.account.unlocked" not in {r["action"] for r in bystander.get(API).json()}


def test_nobody_signed_in_sees_nothing(client, two_people):
    anonymous = Client()
    response = anonymous.get(PAGE)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))
    response = anonymous.get(API)
    assert response.status_code in (401, 403)
    assert "error" in response.json()


def test_activity_is_never_cached(client, two_people):
    for url in (PAGE, API):
        assert "no-store" in client.get(url)["Cache-Control"]


@override_settings(AUTHSUITE_AUDIT_SECURITY_PAGE_SIZE=5)
def test_pages_go_back_by_key(client, user, password):
    sign_in(client, user, password)
    for i in range(11):
        chain.record(action="accounts.reauthenticated", actor_id=str(user.pk), data={"i": i})
    mine = list(Event.objects.filter(actor_id=str(user.pk)).order_by("-pk")
                .values_list("pk", flat=True))
    seen, before = [], None
    while True:
        rows = client.get(API, {"before": before} if before else {}).json()
        seen += [r["id"] for r in rows]
        if len(rows) < 5:
            break
        before = rows[-1]["id"]
    assert seen == mine
    page = client.get(PAGE)
    assert f"?before={mine[4]}" in page.content.decode()
    assert [e["id"] for e in client.get(PAGE, {"before": mine[4]}).context["events"]] == mine[5:10]


@pytest.mark.parametrize("before", ["²", "9" * 30, "-5", "0", "x", "1.5", " 7", "7\x00", "٣"])
def test_odd_keys_are_refused_by_the_api_and_give_the_page_its_newest(client, two_people,
                                                                      before):
    response = client.get(API, {"before": before})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert list(response.json()["error"]["fields"]) == ["before"]
    # A person who edits the address bar gets the newest page, as with no key at all.
    newest = client.get(PAGE).context["events"]
    page = client.get(PAGE, {"before": before})
    assert page.status_code == 200
    assert list(page.context["events"]) == list(newest)


def test_a_page_costs_the_same_for_a_short_or_long_history(client, user, password):
    sign_in(client, user, password)
    client.get(PAGE)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(PAGE).status_code == 200
        return len(captured)

    short = queries()
    for i in range(120):
        chain.record(action="accounts.reauthenticated", actor_id=str(user.pk), data={"i": i})
    assert queries() == short


STAFF_ACTIONS = {  # the user admin's action: the events it leaves on the account's page
    "send_password_reset": {"accounts.password.reset_requested"},
    "unlock": {"accounts.account.unlocked"},
    "end_all_sessions": {"accounts.session.ended"},
    "deactivate": {"accounts.account.deactivated"},
    "reactivate": {"accounts.account.reactivated"},
}


def test_what_staff_did_shows_staff_never_their_ip_or_device(client, user, password, staff):
    sign_in(client, user, password, HTTP_USER_AGENT=FIREFOX, REMOTE_ADDR="198.51.100.4")
    admin = Client(REMOTE_ADDR=STAFF_IP, HTTP_USER_AGENT=STAFF_AGENT)
    admin.force_login(staff)
    start = Event.objects.order_by("pk").last().pk
    # Failures to forget, and staff unlock them (an account never locked is left alone).
    LoginThrottle.objects.create(identifier=user.email, failures=3)
    for action in STAFF_ACTIONS:
        response = admin.post(user_admin_url("changelist"),
                              {"action": action, "_selected_action": [user.pk]})
        assert response.status_code == 302, action
    client = Client()
    sign_in(client, user, password, HTTP_USER_AGENT=FIREFOX, REMOTE_ADDR="198.51.100.4")

    rows = client.get(API).json()
    page = client.get(PAGE)

    by_staff = [r for r in rows if r["by"] == "staff"]
    assert {r["action"] for r in by_staff} == set().union(*STAFF_ACTIONS.values())
    assert all((r["ip"], r["device"]) == (None, "—") for r in by_staff)
    text = page.content.decode()
    for shown in (str(rows), text):
        assert STAFF_IP not in shown and STAFF_DEVICE not in shown
    assert "198.51.100.4" in text and "Firefox 128 on Ubuntu" in text  # the user's own
    assert [e["by"] for e in page.context["events"]] == [r["by"] for r in rows]
    assert text.count("Staff</td>") == len(by_staff)
    # The trail keeps everything: who, from where, on what.
    done = Event.objects.filter(pk__gt=start, ip=STAFF_IP)
    assert {e.action for e in done} >= set().union(*STAFF_ACTIONS.values())
    assert all(e.user_agent == STAFF_AGENT for e in done)
    requested = done.get(action="accounts.password.reset_requested")
    assert (requested.actor_id, requested.target_type, requested.target_id) == (
        str(staff.pk), "user", str(user.pk))
    assert STAFF_IP in admin.get(reverse("admin:audit_event_change",
                                         args=[requested.pk])).content.decode()


def test_everything_a_staff_reset_of_two_step_verification_did_shows_staff(client, user,
                                                                           password, staff):
    """The reset removes the factors and forgets the trusted browsers, and alerts the user:
    each of those rows is the staff member's doing, never shown with their IP or device."""
    from datetime import timedelta

    from django.utils import timezone

    from mfa.models import TrustedBrowser
    from tests.mfa.support import enroll
    from tests.passkeys.support import add_passkey, password_client

    add_passkey(password_client(user, password))
    enroll(user)
    TrustedBrowser.objects.create(user=user, digest="x" * 64,
                                  expires_at=timezone.now() + timedelta(days=3))
    admin = Client(REMOTE_ADDR=STAFF_IP, HTTP_USER_AGENT=STAFF_AGENT)
    admin.force_login(staff)
    start = Event.objects.order_by("pk").last().pk
    response = admin.post(user_admin_url("changelist"),
                          {"action": "reset_mfa", "_selected_action": [user.pk]})
    assert response.status_code == 302
    done = set(Event.objects.filter(pk__gt=start).values_list("pk", flat=True))
    sign_in(client, user, password, HTTP_USER_AGENT=FIREFOX, REMOTE_ADDR="198.51.100.4")

    rows = [r for r in client.get(API).json() if r["id"] in done]
    text = client.get(PAGE).content.decode()

    assert {r["id"] for r in rows} == done  # the user is shown all of it
    assert {r["action"] for r in rows} >= {"mfa.reset", "passkeys.removed",
                                           "mfa.browser.untrusted", "audit.alert.sent"}
    assert all((r["by"], r["ip"], r["device"]) == ("staff", None, "—") for r in rows), rows
    assert STAFF_IP not in text and STAFF_DEVICE not in text
    assert "198.51.100.4" in text  # the user's own sign-in, as ever


def test_what_staff_did_to_your_addresses_is_shown_as_staffs(client, user, password, staff):
    from django.test import RequestFactory

    from accounts.flows.email import email_remove
    from accounts.flows.email.staff import email_add_by_staff, email_set_by_staff
    from accounts.models import EmailAddress

    request = RequestFactory().post("/admin/")
    request.user = staff
    old = user.email
    email_add_by_staff(request, user=user, email="ann.work@example.com", verified=True)
    type(user)._default_manager.filter(pk=user.pk).update(email="ann.home@example.com")
    user.refresh_from_db()
    email_set_by_staff(request, user=user, old_email=old)
    email_remove(request, user=user, by=staff,
                 address_id=EmailAddress.objects.get(user=user, email=old).pk)
    sign_in(client, user, password)

    by_staff = {r["action"] for r in client.get(API).json() if r["by"] == "staff"}

    assert by_staff == {"accounts.email.added", "accounts.email.verified",
                        "accounts.email.changed", "accounts.email.removed",
                        "audit.alert.sent"}  # the alert of the changed address
