"""Staff in the admin: finding users, reading their addresses and sessions, the safe actions.

Staff never read or set a password (they send a reset link), and the outbox admin shows
delivery status without the content of a message. Query counts of the busiest pages are
pinned, and the same whatever the number of rows listed.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import is_password_usable
from django.core import mail
from django.db import connection
from django.forms.models import BaseModelForm
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.errors import AccountsError, FlowError
from accounts.forms import SignupForm
from accounts.models import (
    EmailAddress,
    LoginThrottle,
    OneTimeToken,
    PasswordChangeRequired,
    UserSession,
)
from audit.models import Event
from authsuite import crypto
from authsuite.models import OutboxMessage
from tests.audit.support import form_data
from tests.factories import UserFactory
from tests.helpers import user_admin_url

User = get_user_model()

pytestmark = pytest.mark.django_db

CHANGELIST = user_admin_url("changelist")


def change_url(user) -> str:
    return user_admin_url("change", user.pk)


@pytest.fixture
def admin_client(staff):
    client = Client()
    client.force_login(staff)
    assert client.get("/admin/").status_code == 200
    return client


@pytest.fixture
def people(staff):
    now = timezone.now()
    ann = UserFactory(email="ann@example.com", name="Ann Archer", last_login=now)
    bob = UserFactory(email="bob@example.com", name="Bob Baker", is_active=False, verified_email=False)
    carol = UserFactory(email="carol@example.com", name="Carol Cook", is_staff=True)
    EmailAddress.objects.create(user=carol, email="carol.alt@example.org", verified=True)
    EmailAddress.objects.create(user=carol, email="carol.other@example.org")
    dave = UserFactory(email="dave@example.com", name="Dave Dyer")
    LoginThrottle.objects.create(identifier="dave@example.com", ip="", failures=0, lockouts=1,
                                 locked_until=now + timedelta(minutes=10))
    LoginThrottle.objects.create(identifier="dave@example.com", ip="198.51.100.7", failures=3)
    erin = UserFactory(email="erin@example.com", name="Erin Early", last_login=now - timedelta(days=30))
    return {"staff": staff, "ann": ann, "bob": bob, "carol": carol, "dave": dave, "erin": erin}


def listed(response) -> set[str]:
    assert response.status_code == 200
    return {user.email for user in response.context["cl"].result_list}


def everyone(people) -> set[str]:
    return {u.email for u in people.values()}


# --- the list: search and filters -------------------------------------------------------------


# Whole terms only, each found on an index (``accounts.admin.search``): a part of an address
# or a name would read every account of a large site.
@pytest.mark.parametrize(("query", "expected"), [
    pytest.param("ann archer", {"ann@example.com"}, marks=pytest.mark.own_user_model),  # name
    pytest.param("archer", set(), marks=pytest.mark.own_user_model),  # a part of it
    ("ANN@EXAMPLE.COM", {"ann@example.com"}),  # an address in any case
    (" ann@ｅxample.com ", {"ann@example.com"}),  # and in any width, as sign-up takes it
    ("ANN@EXAMPLE", set()),  # a part of an address
    ("carol.alt@example.org", {"carol@example.com"}),  # a secondary address finds its user
    ("carol@example.com", {"carol@example.com"}),  # the login address and its row: once
    ("example.org", set()),
    ("nobody-matches-this", set()),
    ("' OR 1=1 --", set()),
    ("%", set()),
])
def test_search(admin_client, people, query, expected):
    response = admin_client.get(CHANGELIST, {"q": query})
    assert listed(response) == expected
    emails = [u.email for u in response.context["cl"].result_list]
    assert len(emails) == len(set(emails))


def test_the_unfiltered_list_shows_everyone(admin_client, people):
    assert listed(admin_client.get(CHANGELIST)) == everyone(people)


@pytest.mark.parametrize(("params", "expected"), [
    ({"is_active__exact": "0"}, {"bob"}),
    ({"is_active__exact": "1"}, {"staff", "ann", "carol", "dave", "erin"}),
    ({"verified": "no"}, {"bob"}),
    ({"verified": "yes"}, {"staff", "ann", "carol", "dave", "erin"}),
    ({"is_staff__exact": "1"}, {"staff", "carol"}),
    ({"is_staff__exact": "0"}, {"ann", "bob", "dave", "erin"}),
    ({"locked": "yes"}, {"dave"}),
])
def test_filters(admin_client, people, params, expected):
    response = admin_client.get(CHANGELIST, params)
    assert listed(response) == {people[name].email for name in expected}


def filter_choices(admin_client, parameter: str) -> dict[str, str]:
    """The links a list filter offers: {label: query string}."""
    cl = admin_client.get(CHANGELIST).context["cl"]
    for spec in cl.filter_specs:
        if parameter in getattr(spec, "field_path", getattr(spec, "parameter_name", "")):
            return {str(c["display"]): c["query_string"] for c in spec.choices(cl)}
    raise AssertionError(f"no {parameter} filter")


@pytest.mark.parametrize(("label", "expected"), [
    ("Any date", {"staff", "ann", "bob", "carol", "dave", "erin"}),
    ("Today", {"staff", "ann"}),
    ("Past 7 days", {"staff", "ann"}),
    ("No date", {"bob", "carol", "dave"}),
    ("Has date", {"staff", "ann", "erin"}),
])
def test_last_login_filter(admin_client, people, label, expected):
    query = filter_choices(admin_client, "last_login")[label]
    assert listed(admin_client.get(CHANGELIST + query)) == {people[n].email for n in expected}


def test_every_filter_is_offered(admin_client, people):
    cl = admin_client.get(CHANGELIST).context["cl"]
    titles = {str(spec.title) for spec in cl.filter_specs}
    assert titles == {"active", "email verified", "staff status", "locked", "last login"}


def test_a_lock_that_expired_is_not_listed_as_locked(admin_client, people):
    LoginThrottle.objects.filter(identifier="dave@example.com").update(
        locked_until=timezone.now() - timedelta(seconds=1))
    assert listed(admin_client.get(CHANGELIST, {"locked": "yes"})) == set()


# --- the detail page ---------------------------------------------------------------------------


def test_detail_shows_addresses_and_open_sessions(admin_client, people):
    carol = people["carol"]
    UserSession.objects.create(user=carol, key_digest="a" * 64, device="Firefox 128 on Ubuntu",
                               ip="203.0.113.5")
    UserSession.objects.create(user=carol, key_digest="b" * 64, device="Safari 17 on iOS 17",
                               ip="2001:db8::7", ended_at=timezone.now(), end_reason="logout")
    response = admin_client.get(change_url(carol))
    assert response.status_code == 200
    html = response.content.decode()
    for text in ("carol@example.com", "carol.alt@example.org", "carol.other@example.org",
                 "Firefox 128 on Ubuntu", "203.0.113.5"):
        assert text in html, text
    # Open sessions only: the ended one is in the audit trail.
    assert "Safari 17 on iOS 17" not in html and "2001:db8::7" not in html
    # Another user's rows are not on this page.
    UserSession.objects.create(user=people["ann"], key_digest="c" * 64, device="Opera 1 on Plan9")
    assert "Opera 1 on Plan9" not in admin_client.get(change_url(carol)).content.decode()


# --- passwords: never read, never set ----------------------------------------------------------


def test_no_password_field_on_the_change_or_add_form(admin_client, people):
    carol = people["carol"]
    for url in (change_url(carol), user_admin_url("add")):
        response = admin_client.get(url)
        assert response.status_code == 200
        assert "password" not in response.context["adminform"].form.fields
        html = response.content.decode()
        assert 'name="password' not in html
    assert carol.password not in admin_client.get(change_url(carol)).content.decode()


def test_a_password_posted_to_the_change_form_is_ignored(admin_client, people):
    carol = people["carol"]
    before = User.objects.get(pk=carol.pk).password
    response = admin_client.post(change_url(carol), {
        "email": carol.email, "name": "Carol Cook", "is_active": "on", "is_staff": "on",
        "date_joined_0": "2024-01-01", "date_joined_1": "00:00:00",
        "password": "md5$chosen$by-staff", "password1": "chosen by staff 123",
        "password2": "chosen by staff 123",
        "email_addresses-TOTAL_FORMS": "0", "email_addresses-INITIAL_FORMS": "0",
        "auth_sessions-TOTAL_FORMS": "0", "auth_sessions-INITIAL_FORMS": "0",
        "_save": "Save",
    })
    assert response.status_code in (200, 302)
    assert User.objects.get(pk=carol.pk).password == before


@pytest.mark.own_user_model
def test_a_user_added_by_staff_has_no_usable_password(admin_client):
    response = admin_client.post(user_admin_url("add"), {
        "email": "New.Person@Example.com", "name": "New Person", "is_active": "on",
        "password": "chosen by staff 123", "date_joined_0": "2024-01-01", "date_joined_1": "00:00:00",
        "email_addresses-TOTAL_FORMS": "0", "email_addresses-INITIAL_FORMS": "0",
        "auth_sessions-TOTAL_FORMS": "0", "auth_sessions-INITIAL_FORMS": "0",
        "_save": "Save",
    })
    assert response.status_code == 302, response.context["adminform"].form.errors
    created = User.objects.get(email="new.person@example.com")
    assert not is_password_usable(created.password)
    assert not created.check_password("chosen by staff 123")


@pytest.mark.parametrize("method", ["get", "post"])
def test_the_set_password_page_does_not_exist(admin_client, people, method):
    carol = people["carol"]
    before = User.objects.get(pk=carol.pk).password
    url = change_url(carol) + "password/"
    response = getattr(admin_client, method)(url, {"password1": "chosen by staff 123",
                                                  "password2": "chosen by staff 123"})
    assert response.status_code == 404
    assert User.objects.get(pk=carol.pk).password == before


# --- actions -----------------------------------------------------------------------------------


def act(client, action: str, *users):
    return client.post(CHANGELIST, {
        "action": action, "_selected_action": [u.pk for u in users], "index": "0",
    })


def signed_in_as(user) -> Client:
    client = Client()
    client.force_login(user)
    assert client.get(reverse("accounts:profile")).status_code == 200
    return client


def test_send_password_reset(admin_client, people):
    ann, bob = people["ann"], people["bob"]
    response = act(admin_client, "send_password_reset", ann, bob)
    assert response.status_code == 302
    # Only the active account gets a link: a deactivated one must not be revived this way.
    messages = OutboxMessage.objects.filter(template="accounts/email/password_reset")
    assert [m.to for m in messages] == [ann.email]
    assert OneTimeToken.objects.filter(user=ann, purpose="password_reset").count() == 1
    assert not OneTimeToken.objects.filter(user=bob).exists()
    assert [m.to for m in mail.outbox] == [[ann.email]]
    assert "/accounts/password/reset/" in mail.outbox[0].body
    assert User.objects.get(pk=ann.pk).password == ann.password  # nothing else changed
    # Staff sent it: the mail says so, never the staff member's IP or device.
    for body in (mail.outbox[0].body, mail.outbox[0].alternatives[0][0]):
        assert "Our staff sent you this link" in body and "by our staff" in body
        assert "127.0.0.1" not in body and "device" not in body.lower()


def test_end_all_sessions(admin_client, people):
    ann = people["ann"]
    ann_browser = signed_in_as(ann)
    response = act(admin_client, "end_all_sessions", ann)
    assert response.status_code == 302
    rows = UserSession.objects.filter(user=ann)
    assert rows and all(r.ended_at is not None and r.end_reason == "staff" for r in rows)
    # Their browser is signed out at its next request; the staff member's is not.
    response = ann_browser.get(reverse("accounts:profile"))
    assert response.status_code == 302
    assert admin_client.get(CHANGELIST).status_code == 200


def test_deleting_accounts_locks_each_ones_row_first_in_key_order(admin_client, people,
                                                                   monkeypatch):
    # "Delete selected" deletes the accounts with one queryset delete: Django still sends
    # pre_delete for each, and each row is locked before any row referring to it goes
    # (tests/accounts/test_concurrency.py shows the deadlock that order keeps away).
    from accounts import receivers

    chosen = [people["erin"], people["ann"], people["carol"]]
    for person in chosen:
        signed_in_as(person)
    locked, real_lock = [], receivers.lock_user_row

    def lock(user, **kwargs):
        locked.append((user.pk, UserSession.objects.filter(user_id=user.pk).exists()))
        return real_lock(user, **kwargs)

    monkeypatch.setattr(receivers, "lock_user_row", lock)

    response = admin_client.post(CHANGELIST, {
        "action": "delete_selected", "_selected_action": [u.pk for u in chosen], "index": "0",
        "post": "yes"})

    assert response.status_code == 302
    assert locked == [(pk, True) for pk in sorted(u.pk for u in chosen)]  # nothing gone yet
    assert not User.objects.filter(pk__in=[u.pk for u in chosen]).exists()
    assert not UserSession.objects.filter(user_id__in=[u.pk for u in chosen]).exists()


def test_unlock(admin_client, people, password):
    dave = people["dave"]
    assert Client().post(reverse("accounts:login"),
                         {"email": dave.email, "password": password}).status_code == 429
    response = act(admin_client, "unlock", dave)
    assert response.status_code == 302
    assert not LoginThrottle.objects.filter(identifier="dave@example.com").exists()
    response = Client().post(reverse("accounts:login"), {"email": dave.email, "password": password})
    assert response.status_code == 302


def test_deactivate_and_reactivate_are_offered_where_is_active_is_a_column(admin_client,
                                                                         people):
    # Hidden only on a user model without it (tests/core/test_custom_user_model.py).
    page = admin_client.get(CHANGELIST).content.decode()
    assert '<option value="deactivate">' in page
    assert '<option value="reactivate">' in page


def test_deactivate_spares_the_staff_member_acting(admin_client, people, staff):
    ann = people["ann"]
    ann_browser = signed_in_as(ann)
    response = act(admin_client, "deactivate", ann, staff)
    assert response.status_code == 302
    assert User.objects.get(pk=ann.pk).is_active is False
    assert User.objects.get(pk=staff.pk).is_active is True
    assert not UserSession.objects.filter(user=ann, ended_at__isnull=True).exists()
    assert ann_browser.get(reverse("accounts:profile")).status_code == 302
    assert admin_client.get(CHANGELIST).status_code == 200


def test_deactivating_an_account_disabled_already_records_nothing(admin_client, people, staff):
    # Bob's account is disabled already: selected with Ann's, only Ann's is disabled now,
    # and only hers shows "Account disabled by staff" (bob's page would show it twice).
    ann, bob = people["ann"], people["bob"]
    before = Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    response = act(admin_client, "deactivate", ann, bob)

    assert response.status_code == 302
    assert [str(m) for m in response.wsgi_request._messages][-1] == "Deactivated 1 users."
    assert not User.objects.filter(pk__in=[ann.pk, bob.pk], is_active=True).exists()
    assert list(Event.objects.filter(pk__gt=before, action="accounts.account.deactivated")
                .values_list("actor_id", "target_id")) == [(str(staff.pk), str(ann.pk))]

    before = Event.objects.order_by("-pk").values_list("pk", flat=True).first()
    response = act(admin_client, "deactivate", ann, bob)  # the same selection again
    assert [str(m) for m in response.wsgi_request._messages][-1] == "Deactivated 0 users."
    assert not Event.objects.filter(pk__gt=before).exists()


def test_reactivate_records_the_staff_members_act_and_revives_no_session(admin_client,
                                                                          people, staff):
    ann, bob, erin = people["ann"], people["bob"], people["erin"]
    ann_browser = signed_in_as(ann)
    act(admin_client, "deactivate", ann)
    before = Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    response = act(admin_client, "reactivate", ann, bob, erin)  # erin was never disabled

    assert response.status_code == 302
    assert [str(m) for m in response.wsgi_request._messages][-1] == "Reactivated 2 users."
    assert User.objects.filter(pk__in=[ann.pk, bob.pk, erin.pk], is_active=True).count() == 3
    events = Event.objects.filter(pk__gt=before)
    assert sorted((e.action, e.actor_id, e.target_type, e.target_id) for e in events) == sorted(
        ("accounts.account.reactivated", str(staff.pk), "user", str(u.pk)) for u in (ann, bob))
    assert ann_browser.get(reverse("accounts:profile")).status_code == 302
    rows = signed_in_as(ann).get("/api/auth/v1/security/events/").json()
    assert [(r["label"], r["by"], r["ip"]) for r in rows
            if r["action"].startswith("accounts.account.")] == [
        ("Account enabled again by staff", "staff", None),
        ("Account disabled by staff", "staff", None)]


def test_require_password_change(admin_client, people, password):
    ann = people["ann"]
    response = act(admin_client, "require_password_change", ann)
    assert response.status_code == 302
    assert PasswordChangeRequired.objects.filter(user=ann).exists()
    response = Client().post(reverse("accounts:login"), {"email": ann.email, "password": password})
    assert response["Location"] == reverse("accounts:password_change_required")


def test_the_actions_are_recorded_as_the_staff_members_doing(admin_client, people, staff):
    # Who ended the sessions, sent the link or asked for a new password: the staff member,
    # on the account (recorded as the owner's own doing before, or not at all); the owner's
    # security page still lists them, as it lists staff unlocking the account.
    ann = people["ann"]
    signed_in_as(ann)
    before = Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    for action in ("end_all_sessions", "send_password_reset", "require_password_change"):
        assert act(admin_client, action, ann).status_code == 302

    events = Event.objects.filter(pk__gt=before).exclude(action="accounts.login.succeeded")
    assert sorted((e.action, e.actor_id, e.target_type, e.target_id) for e in events) == [
        (action, str(staff.pk), "user", str(ann.pk)) for action in (
            "accounts.password.change_required", "accounts.password.reset_requested",
            "accounts.session.ended")]
    activity = signed_in_as(ann).get("/api/auth/v1/security/events/").json()
    assert {"accounts.password.change_required", "accounts.password.reset_requested",
            "accounts.session.ended"} <= {row["action"] for row in activity}


def test_actions_need_staff(people, password):
    client = signed_in_as(people["ann"])
    response = act(client, "deactivate", people["erin"])
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/") or "login" in response["Location"]
    assert User.objects.get(pk=people["erin"].pk).is_active is True


# --- the outbox admin --------------------------------------------------------------------------

CONTEXT_MARKER = "context-marker-7d1f"
SECRET_MARKER = "secret-marker-93ab"


@pytest.fixture
def queued_message(people):
    return OutboxMessage.objects.create(
        template="accounts/email/magic_link", to="ann@example.com", user=people["ann"],
        context={"email": "ann@example.com", "note": CONTEXT_MARKER},
        sealed_context=crypto.seal(f'{{"url": "https://id.example.com/m/{SECRET_MARKER}/"}}'),
    )


def test_outbox_list_and_detail_show_status_not_content(admin_client, queued_message):
    listing = admin_client.get(reverse("admin:authsuite_outboxmessage_changelist"))
    detail = admin_client.get(reverse("admin:authsuite_outboxmessage_change",
                                      args=[queued_message.pk]))
    for response in (listing, detail):
        assert response.status_code == 200
        html = response.content.decode()
        assert "ann@example.com" in html
        assert "Pending" in html
        assert CONTEXT_MARKER not in html
        assert SECRET_MARKER not in html
        assert queued_message.sealed_context[:40] not in html
        assert "sealed_context" not in html


def test_outbox_admin_has_no_add_and_no_change(admin_client, queued_message):
    assert admin_client.get(reverse("admin:authsuite_outboxmessage_add")).status_code == 403
    url = reverse("admin:authsuite_outboxmessage_change", args=[queued_message.pk])
    response = admin_client.post(url, {"to": "eve@example.com", "status": "sent",
                                       "template": "x", "context": "{}"})
    assert response.status_code == 403
    queued_message.refresh_from_db()
    assert (queued_message.to, queued_message.status) == ("ann@example.com", "pending")


# --- query counts ------------------------------------------------------------------------------

# Session, staff user, session row, whether the staff member has a second factor (a session
# that does not vouch for two: the admin behind MFA then asks for it), count, the page of users.
# On PostgreSQL the planner is asked how many rows there are before they are counted, and a
# large list is not counted at all (``authsuite.admin_lists.EstimatedCountPaginator``).
ADMIN_USER_LIST_QUERIES = {"sqlite": 6, "postgresql": 7}
SESSIONS_PAGE_QUERIES = 4  # session, user, session row, the list


@pytest.mark.parametrize("extra_users", [0, 19])
def test_admin_user_list_queries(admin_client, django_assert_num_queries, extra_users):
    UserFactory.create_batch(extra_users)
    for user in User.objects.all():
        UserSession.objects.create(user=user, key_digest="d" * 64, device="Firefox 128 on Ubuntu")
    assert User.objects.count() == extra_users + 1
    with django_assert_num_queries(ADMIN_USER_LIST_QUERIES[connection.vendor]):
        response = admin_client.get(CHANGELIST)
    assert len(response.context["cl"].result_list) == extra_users + 1


@pytest.mark.parametrize("sessions", [1, 10])
def test_sessions_page_queries(user, django_assert_num_queries, sessions):
    client = signed_in_as(user)
    for _ in range(sessions - 1):
        UserSession.objects.create(user=user, key_digest="e" * 64, device="Firefox 128 on Ubuntu",
                                   ip="203.0.113.9")
    with django_assert_num_queries(SESSIONS_PAGE_QUERIES):
        response = client.get(reverse("accounts:sessions"))
    assert response.status_code == 200
    assert len(response.context["sessions"]) == sessions


# A password sign-in: the lockout standing, the user, the facts every stage decides on (one
# query), then in one transaction last_login, the session tracking row, the audit event and
# its pending seal, the new-device lookup and the session row (written once).
# SQLite counts one statement more: Django opens its transactions there with an explicit
# BEGIN, and writes the event and its pending seal in two statements where PostgreSQL
# takes one; its driver begins transactions implicitly.
PASSWORD_LOGIN_QUERIES = {"sqlite": 11, "postgresql": 10}


def test_password_login_queries(django_assert_num_queries, password, no_inline_sealing):
    warm_up, user = UserFactory(), UserFactory()
    # The very first sign-in also creates rows shared by all later ones (the audit chain head).
    assert Client().post(reverse("accounts:login"),
                         {"email": warm_up.email, "password": password}).status_code == 302
    from django.db import connection

    with django_assert_num_queries(PASSWORD_LOGIN_QUERIES[connection.vendor]):
        response = Client().post(reverse("accounts:login"), {"email": user.email, "password": password})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/"


# --- staff change a login address -----------------------------------------------------------

def change_form(admin_client, user) -> dict:
    return form_data(admin_client.get(change_url(user)).content.decode(), "user_form")


def test_staff_changing_the_login_address_moves_the_rows_and_tells_the_old_one(admin_client):
    ann = UserFactory(email="ann@example.com")
    mail.outbox.clear()
    form = change_form(admin_client, ann)
    form["email"] = ["  Ann.New@Example.COM "]

    response = admin_client.post(change_url(ann), form)

    assert response.status_code == 302, response.context["adminform"].form.errors
    ann.refresh_from_db()
    assert ann.email == "ann.new@example.com"
    rows = {a.email: (a.primary, a.verified) for a in EmailAddress.objects.filter(user=ann)}
    assert rows == {"ann.new@example.com": (True, True), "ann@example.com": (False, True)}
    [notice] = [m for m in mail.outbox if m.to == ["ann@example.com"]]
    assert "ann.new@example.com" in notice.body
    assert Event.objects.filter(action="accounts.email.changed").exists()


@pytest.mark.parametrize(("typed", "error"), [
    (f"bob@{chr(0xFF45)}xample.com", "Another account already uses this address."),
    ("ann@" + "\ufdfa" * 14 + ".com", "Enter a valid email address."),
    # Wholly full-width: folded before the field's own check, then refused as held.
    ("".join(chr(ord(c) + 0xFEE0) for c in "bob@example.com"),
     "Another account already uses this address."),
])
def test_staff_type_an_address_in_its_normal_form(admin_client, typed, error):
    ann = UserFactory(email="ann@example.com")
    UserFactory(email="bob@example.com")
    form = change_form(admin_client, ann)
    form["email"] = [typed]

    response = admin_client.post(change_url(ann), form)

    assert response.status_code == 200
    assert error in response.context["adminform"].form.errors["email"]
    ann.refresh_from_db()
    assert ann.email == "ann@example.com"


FULL_WIDTH = "\uff55\uff53\uff45\uff52\uff20\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.\uff43\uff4f\uff4d"


def signup_accepts(typed: str) -> str | None:
    """The address the sign-up form takes ``typed`` as, or None if it refuses it."""
    form = SignupForm(data={"email": typed, "password": "a long enough passphrase"})
    form.is_valid()
    return None if "email" in form.errors else form.cleaned_data["email"]


@pytest.mark.parametrize("typed", [
    FULL_WIDTH,  # ｕｓｅｒ＠ｅｘａｍｐｌｅ.ｃｏｍ
    "\uff35\uff33\uff25\uff32\uff20\uff25\uff38\uff21\uff2d\uff30\uff2c\uff25\uff0e\uff23\uff2f\uff2d",
    f"  {FULL_WIDTH}  ",
    "user\uff20example.com",  # only the at sign full-width
])
def test_staff_type_a_full_width_login_address_as_sign_up_takes_it(admin_client, typed):
    assert signup_accepts(typed) == "user@example.com"
    ann = UserFactory(email="ann@example.com")
    mail.outbox.clear()
    form = change_form(admin_client, ann)
    form["email"] = [typed]

    response = admin_client.post(change_url(ann), form)

    assert response.status_code == 302, response.context["adminform"].form.errors
    ann.refresh_from_db()
    assert ann.email == "user@example.com"
    assert addresses(ann) == {"user@example.com": (True, True), "ann@example.com": (False, True)}
    [notice] = [m for m in mail.outbox if m.to == ["ann@example.com"]]
    assert "user@example.com" in notice.body


@pytest.mark.parametrize("typed", [
    FULL_WIDTH,
    # ｕｓｅｒ＠ｌｏｃａｌｈｏｓｔ: no public domain, as typed or folded
    "\uff55\uff53\uff45\uff52\uff20\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54",
    "user\uff20\uff3b127.0.0.1\uff3d",  # user＠［127.0.0.1］
    "user\uff20\uff20example.com",
    "\uff55\uff53\uff45\uff52",  # no at sign at all
    "user@b\u00fccher.de", "user@xn--bcher-kva.de", "USER@\uff22\u00dcCHER.de",
    "user\u200e\uff20example.com",
    "user\uff20" + "\uff45" * 250 + ".com",  # too long once folded, as typed too
    "\ufb00\uff20example.com",  # the ligature ﬀ folds to "ff"
])
def test_the_login_address_field_accepts_what_sign_up_accepts(admin_client, typed):
    expected = signup_accepts(typed)
    ann = UserFactory(email="ann@example.com")
    form = change_form(admin_client, ann)
    form["email"] = [typed]

    response = admin_client.post(change_url(ann), form)

    ann.refresh_from_db()
    if expected is None:
        assert response.status_code == 200
        assert response.context["adminform"].form.errors["email"]
        assert ann.email == "ann@example.com"
    else:
        assert response.status_code == 302, response.context["adminform"].form.errors
        assert ann.email == expected


def test_staff_add_an_account_with_a_full_width_address(admin_client):
    page = admin_client.get(user_admin_url("add"))
    form = form_data(page.content.decode(), "user_form")
    form.update({"email": [FULL_WIDTH], "name": ["New Person"],
                 "date_joined_0": ["2024-01-01"], "date_joined_1": ["00:00:00"]})
    if "username" in form:  # django.contrib.auth's User
        form["username"] = ["new.person"]

    response = admin_client.post(user_admin_url("add"), form)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert User.objects.filter(email="user@example.com").count() == 1


def ann_and_bobs_address(taken: str):
    """Ann, Bob, and an address Bob holds: his login address, or another he verified."""
    ann = UserFactory(email="ann@example.com")
    bob = UserFactory(email="bob@example.com")
    if taken == "login":
        return ann, bob, "bob@example.com"
    address = EmailAddress.objects.create(user=bob, email="bob.work@example.com", verified=True)
    return ann, bob, address.email


@pytest.mark.parametrize("taken", ["login", "verified"])
def test_staff_cannot_give_an_account_another_accounts_address(admin_client, taken):
    ann, bob, address = ann_and_bobs_address(taken)
    form = change_form(admin_client, ann)
    form["email"] = [address.upper()]

    response = admin_client.post(change_url(ann), form)

    assert response.status_code == 200
    assert "Another account already uses this address." in (
        response.context["adminform"].form.errors["email"])
    ann.refresh_from_db()
    assert ann.email == "ann@example.com"
    assert EmailAddress.objects.get(email=address).user == bob


@pytest.mark.parametrize("taken", ["login", "verified"])
def test_an_address_taken_while_staff_save_is_a_form_error(admin_client, monkeypatch, taken):
    # Another account takes the address after the form checked it and before the save (it
    # signs up with it, or verifies it): the check's answer is stale. Simulated by making
    # the first check answer as it would have a moment earlier.
    from accounts.admin import users as accounts_admin  # where the login address is checked

    ann, bob, address = ann_and_bobs_address(taken)
    checks = []
    real_check = accounts_admin.held_elsewhere

    def check_answered_before_the_other_account(email, *, user):
        checks.append(email)
        return False if len(checks) == 1 else real_check(email, user=user)

    monkeypatch.setattr(accounts_admin, "held_elsewhere", check_answered_before_the_other_account)
    # Django's own uniqueness check of the form (a unique email column) went stale alike.
    real_unique = BaseModelForm.validate_unique
    monkeypatch.setattr(BaseModelForm, "validate_unique",
                        lambda form: None if len(checks) == 1 else real_unique(form))
    form = change_form(admin_client, ann)
    form["email"] = [address]
    mail.outbox.clear()
    events_before = Event.objects.count()

    response = admin_client.post(change_url(ann), form)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["email"] in (
        ["Another account already uses this address."],
        # The suite's own model: Django's check of its unique column speaks first.
        ["User with this Email address already exists.", "Another account already uses this address."],
    )
    assert checks == [address, address]
    # The first attempt left nothing behind.
    ann.refresh_from_db()
    assert ann.email == "ann@example.com"
    assert list(EmailAddress.objects.filter(user=ann).values_list("email", flat=True)) == [
        "ann@example.com"]
    assert EmailAddress.objects.get(email=address).user == bob
    assert mail.outbox == []
    assert not Event.objects.filter(action="accounts.email.changed").exists()
    assert Event.objects.count() == events_before


def test_an_unverified_claim_does_not_stop_staff_and_is_released(admin_client):
    ann = UserFactory(email="ann@example.com")
    mallory = UserFactory(email="mallory@example.com")
    EmailAddress.objects.create(user=mallory, email="ann.new@example.com")
    form = change_form(admin_client, ann)
    form["email"] = ["ann.new@example.com"]

    assert admin_client.post(change_url(ann), form).status_code == 302
    assert list(EmailAddress.objects.filter(email="ann.new@example.com")
                .values_list("user", "verified")) == [(ann.pk, True)]


# --- who may use the actions ----------------------------------------------------------------

def staff_with(*codenames):
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType

    member = UserFactory(is_staff=True)
    member.user_permissions.set(Permission.objects.filter(
        content_type=ContentType.objects.get_for_model(User), codename__in=codenames))
    client = Client()
    client.force_login(member)
    return member, client


def test_view_only_staff_are_offered_no_action_and_cannot_post_one(staff):
    _member, client = staff_with("view_user")
    page = client.get(CHANGELIST)
    assert page.status_code == 200
    assert page.context["action_form"] is None  # no action at all on offer

    for action in ("deactivate", "end_all_sessions", "require_password_change", "reset_mfa"):
        act(client, action, staff)
    staff.refresh_from_db()
    assert staff.is_active
    assert not PasswordChangeRequired.objects.filter(user=staff).exists()


def test_only_superusers_turn_the_actions_on_a_superuser(staff):
    _member, client = staff_with("view_user", "change_user")
    plain = UserFactory()

    act(client, "deactivate", staff, plain)
    act(client, "require_password_change", staff, plain)

    staff.refresh_from_db()
    plain.refresh_from_db()
    assert staff.is_active and not plain.is_active
    assert list(PasswordChangeRequired.objects.values_list("user", flat=True)) == [plain.pk]


def test_only_superusers_reactivate_a_staff_members_account(staff):
    _member, client = staff_with("view_user", "change_user")
    colleague = UserFactory(is_staff=True, is_active=False)
    plain = UserFactory(is_active=False)

    act(client, "reactivate", colleague, plain)

    colleague.refresh_from_db()
    plain.refresh_from_db()
    assert plain.is_active and not colleague.is_active
    assert not Event.objects.filter(action="accounts.account.reactivated",
                                    target_id=str(colleague.pk)).exists()


def test_staff_below_superuser_cannot_change_a_superuser_or_raise_themselves(staff):
    member, client = staff_with("view_user", "change_user", "delete_user")
    form = form_data(client.get(change_url(member)).content.decode(), "user_form")
    assert "is_superuser" not in form and "groups" not in form  # shown, not editable
    form["is_superuser"] = ["on"]
    assert client.post(change_url(member), form).status_code == 302
    member.refresh_from_db()
    assert not member.is_superuser

    page = client.get(change_url(staff))  # a superuser: view only
    assert page.status_code == 200
    assert 'name="email"' not in page.content.decode()
    taken = client.post(change_url(staff), {"email": "attacker@example.com"})
    assert taken.status_code == 403
    staff.refresh_from_db()
    assert staff.email != "attacker@example.com"
    assert client.post(user_admin_url("delete", staff.pk), {"post": "yes"}).status_code == 403
    assert User.objects.filter(pk=staff.pk).exists()


@pytest.mark.parametrize("url", [None, "/admin/audit/event/", "/admin/authsuite/outboxmessage/"])
def test_a_search_too_long_is_the_admins_invalid_lookup(admin_client, user, url):
    url = url or user_admin_url("changelist")
    response = admin_client.get(url, {"q": "a" * 60_000})
    assert response.status_code == 302 and "e=1" in response["Location"]
    assert admin_client.get(url, {"q": "a" * 254}).status_code == 200


def test_a_user_with_many_sessions_can_still_be_saved(admin_client, user):
    from django.conf import settings

    now = timezone.now()
    many = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
    UserSession.objects.bulk_create([
        UserSession(user=user, key_digest=f"{i:064x}", device=f"Browser {i}",
                    last_seen_at=now - timedelta(seconds=i)) for i in range(many)])
    UserSession.objects.bulk_create([
        UserSession(user=user, key_digest=f"{many + i:064x}", ended_at=now) for i in range(10)])

    page = admin_client.get(change_url(user))

    html = page.content.decode()
    assert f"The latest 50 of {many} open sessions." in html
    assert "Browser 0<" in html and "Browser 49<" in html and "Browser 50<" not in html
    form = form_data(html, "user_form")
    assert not any(name.startswith("auth_sessions-0") for name in form)  # nothing posted back
    form["is_staff"] = ["on"]
    assert admin_client.post(change_url(user), form).status_code == 302
    user.refresh_from_db()
    assert user.is_staff
    assert UserSession.objects.filter(user=user, ended_at__isnull=True).count() == many


def test_the_user_page_reads_any_number_of_sessions_in_as_many_queries(admin_client, user):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries_for(sessions: int) -> int:
        UserSession.objects.bulk_create([
            UserSession(user=user, key_digest=crypto.new_token()) for _ in range(sessions)])
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(change_url(user)).status_code == 200
        return len(captured)

    admin_client.get(change_url(user))  # the first request fills caches (content types)
    assert queries_for(1) == queries_for(20)


def test_the_user_page_reads_the_permissions_with_their_content_types(admin_client, user):
    from django.contrib.auth.models import Permission
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    admin_client.get(change_url(user))
    with CaptureQueriesContext(connection) as captured:
        page = admin_client.get(change_url(user))
    assert page.status_code == 200
    assert Permission.objects.count() > 50
    # The permissions are read with their content types (the choices, and the ones the
    # user has), not with one query per permission.
    assert sum("django_content_type" in q["sql"] for q in captured) <= 2
    assert len(captured) < 20


@pytest.mark.parametrize("codenames", [("view_user", "change_user"), ("view_user",)])
def test_staff_see_a_users_permissions_in_as_many_queries_however_many(user, codenames):
    """For staff who are not superusers the permissions are shown, not edited: each one's
    label names its content type, read with it, not one query per permission."""
    from django.contrib.auth.models import Permission
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _member, client = staff_with(*codenames)

    def queries_for(permissions: int) -> int:
        user.user_permissions.set(Permission.objects.order_by("pk")[:permissions])
        with CaptureQueriesContext(connection) as captured:
            page = client.get(change_url(user))
        assert page.status_code == 200
        shown = str(Permission.objects.order_by("pk")[permissions - 1])
        assert shown in page.content.decode()
        return len(captured)

    client.get(change_url(user))  # the first request fills caches (content types)
    assert queries_for(1) == queries_for(30)


# --- the address rows ------------------------------------------------------------------------

def with_new_rows(form: dict, *rows: dict) -> dict:
    """``form`` with ``rows`` added to the address inline, as its "Add another" would."""
    form = dict(form)
    start = int(form["email_addresses-TOTAL_FORMS"][0])
    for i, row in enumerate(rows, start):
        form.update({f"email_addresses-{i}-{name}": [value] for name, value in row.items()})
    form["email_addresses-TOTAL_FORMS"] = [str(start + len(rows))]
    return form


def inline_errors(response) -> list[str]:
    assert response.status_code == 200
    formset = next(f.formset for f in response.context["inline_admin_formsets"]
                   if f.formset.model is EmailAddress)
    return [*formset.non_form_errors(),
            *(message for errors in formset.errors for field in errors.values()
              for message in field)]


def addresses(user) -> dict[str, tuple[bool, bool]]:
    return {a.email: (a.primary, a.verified) for a in EmailAddress.objects.filter(user=user)}


@pytest.fixture
def ann():
    ann = UserFactory(email="ann@example.com")
    EmailAddress.objects.create(user=ann, email="ann.work@example.com")
    return ann


def staff_member(client):
    return User.objects.get(pk=client.session["_auth_user_id"])


def test_staff_add_an_address_in_its_normal_form(admin_client, ann):
    form = with_new_rows(change_form(admin_client, ann), {"email": "  Ann.Home@Example.ORG "})

    response = admin_client.post(change_url(ann), form)

    assert response.status_code == 302, inline_errors(response)
    assert addresses(ann) == {"ann@example.com": (True, True),
                              "ann.work@example.com": (False, False),
                              "ann.home@example.org": (False, False)}
    [added] = Event.objects.filter(action="accounts.email.added")
    assert (added.actor_id, added.target_id) == (str(staff_member(admin_client).pk), str(ann.pk))


def test_staff_verify_an_address_as_its_link_would(admin_client, ann):
    mallory = UserFactory(email="mallory@example.com")
    EmailAddress.objects.create(user=mallory, email="ann.home@example.org")  # a claim only
    form = change_form(admin_client, ann)
    form[f"email_addresses-{row_index(form, 'ann.work@example.com')}-verified"] = ["on"]
    form = with_new_rows(form, {"email": "ann.home@example.org", "verified": "on"})
    mail.outbox.clear()

    response = admin_client.post(change_url(ann), form)

    assert response.status_code == 302, inline_errors(response)
    assert addresses(ann) == {"ann@example.com": (True, True),
                              "ann.work@example.com": (False, True),
                              "ann.home@example.org": (False, True)}
    assert not EmailAddress.objects.filter(user=mallory, email="ann.home@example.org").exists()
    verified = Event.objects.filter(action="accounts.email.verified")
    assert sorted(json.loads(e.data)["email"] for e in verified) == [
        "ann.home@example.org", "ann.work@example.com"]
    assert {(e.actor_id, e.target_id) for e in verified} == {
        (str(staff_member(admin_client).pk), str(ann.pk))}
    # A verified row stays verified: unticking it is not offered.
    page = admin_client.get(change_url(ann))
    rows = next(f.formset for f in page.context["inline_admin_formsets"]
                if f.formset.model is EmailAddress)
    assert all(row.fields["verified"].disabled for row in rows.initial_forms)


def test_staff_cannot_verify_an_address_another_account_holds(admin_client, ann):
    bob = UserFactory(email="bob@example.com")
    form = with_new_rows(change_form(admin_client, ann),
                         {"email": "BOB@example.com", "verified": "on"})

    response = admin_client.post(change_url(ann), form)

    assert "Another account already uses this address." in inline_errors(response)
    assert set(addresses(ann)) == {"ann@example.com", "ann.work@example.com"}
    assert EmailAddress.objects.get(email="bob@example.com").user == bob


VERIFIED_NOTICE = "accounts/email/email_verified_by_staff"


def verified_notices() -> list[str]:
    """The addresses told that staff verified them, one entry per message queued."""
    return sorted(OutboxMessage.objects.filter(template=VERIFIED_NOTICE)
                  .values_list("to", flat=True))


def queued_bodies(template: str) -> list[str]:
    """The text bodies of the queued messages of ``template``, rendered as they will be sent."""
    from authsuite.outbox import render

    return [render(message).body for message in OutboxMessage.objects.filter(template=template)]


def staff_verified_events(email: str, admin_client, user) -> int:
    return sum(
        1 for e in Event.objects.filter(action="accounts.email.verified",
                                        actor_id=str(staff_member(admin_client).pk),
                                        target_id=str(user.pk))
        if json.loads(e.data)["email"] == email)


def test_staff_ticking_verified_tell_the_address(admin_client, ann):
    form = change_form(admin_client, ann)
    form[f"email_addresses-{row_index(form, 'ann.work@example.com')}-verified"] = ["on"]
    mail.outbox.clear()

    response = admin_client.post(change_url(ann), form)

    assert response.status_code == 302, inline_errors(response)
    assert addresses(ann)["ann.work@example.com"] == (False, True)
    assert verified_notices() == ["ann.work@example.com"]
    [notice] = mail.outbox
    assert notice.to == ["ann.work@example.com"]
    assert "verified" in notice.subject
    assert "ann.work@example.com" in notice.body
    assert "signs in with" not in notice.body  # not the address the account signs in with
    [html] = [body for body, kind in notice.alternatives if kind == "text/html"]
    assert "ann.work@example.com" in html
    assert staff_verified_events("ann.work@example.com", admin_client, ann) == 1


def test_staff_adding_a_verified_address_tell_it_and_an_unverified_one_not(admin_client, ann):
    form = with_new_rows(change_form(admin_client, ann),
                         {"email": "Ann.Home@Example.org", "verified": "on"},
                         {"email": "ann.other@example.org"})
    mail.outbox.clear()

    response = admin_client.post(change_url(ann), form)

    assert response.status_code == 302, inline_errors(response)
    assert verified_notices() == ["ann.home@example.org"]
    assert [m.to for m in mail.outbox] == [["ann.home@example.org"]]
    assert staff_verified_events("ann.home@example.org", admin_client, ann) == 1
    assert staff_verified_events("ann.other@example.org", admin_client, ann) == 0


def test_staff_verifying_the_address_the_account_signs_in_with_say_so(admin_client):
    ann = UserFactory(email="ann@example.com", verified_email=False)
    form = change_form(admin_client, ann)
    form[f"email_addresses-{row_index(form, 'ann@example.com')}-verified"] = ["on"]
    mail.outbox.clear()

    response = admin_client.post(change_url(ann), form)

    assert response.status_code == 302, inline_errors(response)
    assert verified_notices() == ["ann@example.com"]
    [notice] = mail.outbox
    assert "signs in with" in notice.body


def test_staff_changing_the_login_address_tell_the_new_one_it_is_verified(admin_client, ann):
    form = change_form(admin_client, ann)
    form["email"] = ["ann.new@example.com"]
    mail.outbox.clear()

    response = admin_client.post(change_url(ann), form)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert verified_notices() == ["ann.new@example.com"]
    [body] = queued_bodies(VERIFIED_NOTICE)
    assert "ann.new@example.com" in body
    assert "signs in with" in body
    assert staff_verified_events("ann.new@example.com", admin_client, ann) == 1


@pytest.mark.parametrize("typed", [
    "Ann@Example.com",
    "ANN@EXAMPLE.COM",
    "\uff21nn@example.com",  # a full-width Ａ: the same address in its normal form
])
def test_staff_retyping_the_login_address_in_another_spelling_change_nothing(admin_client,
                                                                              typed):
    # One mailbox, one address: the same address typed in other letters is no new address,
    # to be verified by staff and announced; the stored spelling stays as it was.
    from django.contrib.admin.models import LogEntry

    ann = UserFactory(email="ann@example.com", verified_email=False)
    form = change_form(admin_client, ann)
    form["email"] = [typed]
    mail.outbox.clear()

    response = admin_client.post(change_url(ann), form)

    assert response.status_code == 302, response.context["adminform"].form.errors
    ann.refresh_from_db()
    assert ann.email == "ann@example.com"
    assert addresses(ann) == {"ann@example.com": (True, False)}  # still waiting for its link
    assert verified_notices() == []
    assert mail.outbox == []
    assert not Event.objects.filter(action__startswith="accounts.email.").exists()
    assert not Event.objects.filter(action="admin.user.changed").exists()
    assert LogEntry.objects.get(object_id=str(ann.pk)).get_change_message() == (
        "No fields changed.")


def test_staff_moving_the_login_address_to_a_verified_one_tell_nobody_it_is_verified(
        admin_client, ann):
    EmailAddress.objects.filter(email="ann.work@example.com").update(verified=True)
    form = change_form(admin_client, ann)
    form["email"] = ["ann.work@example.com"]

    response = admin_client.post(change_url(ann), form)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert verified_notices() == []


def test_saving_a_page_that_verifies_nothing_tells_nobody(admin_client, ann):
    form = change_form(admin_client, ann)
    form["is_staff"] = ["on"]
    mail.outbox.clear()

    response = admin_client.post(change_url(ann), form)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert verified_notices() == []
    assert mail.outbox == []


def test_a_verification_refused_tells_nobody(admin_client, ann):
    UserFactory(email="bob@example.com")
    form = with_new_rows(change_form(admin_client, ann),
                         {"email": "bob@example.com", "verified": "on"})
    form[f"email_addresses-{row_index(form, 'ann.work@example.com')}-verified"] = ["on"]

    response = admin_client.post(change_url(ann), form)

    assert response.status_code == 200
    assert addresses(ann)["ann.work@example.com"] == (False, False)  # the page saved nothing
    assert verified_notices() == []


def test_a_save_tried_again_queues_each_notice_once(admin_client, ann, monkeypatch):
    # The user changed their addresses while the page was open: the admin's transaction
    # rolls back (the notice queued in it with it) and the save is tried again.
    from accounts.admin import users as accounts_admin  # where the address change is saved

    real = accounts_admin.email_set_by_staff
    calls = []

    def changed_meanwhile_once(request, **kwargs):
        calls.append(kwargs["user"].pk)
        if len(calls) == 1:
            raise FlowError(AccountsError.EMAIL_PRIMARY, "Changed meanwhile.")
        return real(request, **kwargs)

    monkeypatch.setattr(accounts_admin, "email_set_by_staff", changed_meanwhile_once)
    form = change_form(admin_client, ann)
    form[f"email_addresses-{row_index(form, 'ann.work@example.com')}-verified"] = ["on"]
    form["email"] = ["ann.new@example.com"]

    response = admin_client.post(change_url(ann), form)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert calls == [ann.pk, ann.pk]
    assert verified_notices() == ["ann.new@example.com", "ann.work@example.com"]


@pytest.mark.parametrize(("rows", "error"), [
    # Rows of one address in another spelling: the rows of the page (the login address's
    # among them) are compared as saved, in their normal form.
    ([{"email": "ANN.WORK@EXAMPLE.COM"}], "Please correct the duplicate data for email."),
    ([{"email": "Ann@Example.com"}], "Please correct the duplicate data for email."),
    ([{"email": "ann.home@example.org"}, {"email": "ANN.HOME@example.org"}],
     "Please correct the duplicate data for email."),
    ([{"email": "not an address"}], "Enter a valid email address."),
    ([{"email": "ann@" + "x" * 250 + ".com"}], "Ensure this value has at most 254 characters"),
    ([{"email": "ann\u202e@example.com"}], "Enter a valid email address."),
])
def test_an_address_row_that_cannot_be_is_a_form_error(admin_client, ann, rows, error):
    before = addresses(ann)
    form = with_new_rows(change_form(admin_client, ann), *rows)
    form["is_staff"] = ["on"]

    response = admin_client.post(change_url(ann), form)

    assert any(message.startswith(error) for message in inline_errors(response)), (
        inline_errors(response))
    assert addresses(ann) == before
    ann.refresh_from_db()
    assert not ann.is_staff  # the whole page is saved, or nothing of it


def test_a_saved_rows_address_and_which_row_is_primary_are_not_edited_in_rows(admin_client, ann):
    page = admin_client.get(change_url(ann))
    form = form_data(page.content.decode(), "user_form")
    assert "email_addresses-0-primary" not in form  # shown, not a field
    rows = next(f.formset for f in page.context["inline_admin_formsets"]
                if f.formset.model is EmailAddress)
    assert all(row.fields["email"].disabled for row in rows.initial_forms)
    # Posted anyway: a second primary row, a primary row with another address.
    form["email_addresses-0-email"] = ["mallory@example.com"]
    form["email_addresses-1-email"] = ["ann@example.com"]
    form["email_addresses-1-primary"] = ["on"]
    form = with_new_rows(form, {"email": "ann.home@example.org", "primary": "on"})

    response = admin_client.post(change_url(ann), form)

    assert response.status_code == 302, inline_errors(response)
    assert addresses(ann) == {"ann@example.com": (True, True),
                              "ann.work@example.com": (False, False),
                              "ann.home@example.org": (False, False)}
    ann.refresh_from_db()
    assert ann.email == "ann@example.com"


def row_index(form: dict, email: str) -> int:
    address = EmailAddress.objects.get(email=email)
    return next(int(name.split("-")[1]) for name, value in form.items()
                if name.endswith("-id") and value == [str(address.pk)])


def test_an_account_without_rows_gets_no_second_row_of_its_login_address(admin_client):
    # Accounts made by staff or before the suite was installed have no rows yet: the
    # login address's row is made primary when first needed.
    ann = UserFactory(email="ann@example.com", verified_email=False)
    EmailAddress.objects.filter(user=ann).delete()
    form = with_new_rows(change_form(admin_client, ann), {"email": "ANN@example.com"})

    response = admin_client.post(change_url(ann), form)

    assert inline_errors(response) == ["This is the address the account signs in with."]
    assert addresses(ann) == {}


def test_the_login_address_row_cannot_be_removed(admin_client, ann):
    form = change_form(admin_client, ann)
    form[f"email_addresses-{row_index(form, 'ann@example.com')}-DELETE"] = ["on"]

    response = admin_client.post(change_url(ann), form)

    assert "change the email address above instead of removing it" in " ".join(
        inline_errors(response))
    assert "ann@example.com" in addresses(ann)


def test_removing_an_address_voids_its_links_and_is_recorded(admin_client, ann):
    from accounts import tokens

    raw = tokens.token_issue(user=ann, purpose=OneTimeToken.Purpose.VERIFY_EMAIL,
                             email="ann.work@example.com", lifetime=3600)
    pending = tokens.token_peek(raw, purpose=OneTimeToken.Purpose.VERIFY_EMAIL)
    form = change_form(admin_client, ann)
    form[f"email_addresses-{row_index(form, 'ann.work@example.com')}-DELETE"] = ["on"]

    response = admin_client.post(change_url(ann), form)

    assert response.status_code == 302, inline_errors(response)
    assert addresses(ann) == {"ann@example.com": (True, True)}
    pending.refresh_from_db()
    assert pending.voided_at is not None
    [removed] = Event.objects.filter(action="accounts.email.removed")
    assert (removed.actor_id, removed.target_type, removed.target_id) == (
        str(staff_member(admin_client).pk), "user", str(ann.pk))
    assert json.loads(removed.data) == {"email": "ann.work@example.com"}


def test_the_add_page_takes_no_address_rows(admin_client):
    page = admin_client.get(user_admin_url("add"))
    form = form_data(page.content.decode(), "user_form")
    form.update({"email": ["new.person@example.com"], "name": ["New Person"],
                 "date_joined_0": ["2024-01-01"], "date_joined_1": ["00:00:00"]})
    if "username" in form:  # django.contrib.auth's User
        form["username"] = ["new.person"]
    form = with_new_rows(form, {"email": "other@example.com", "verified": "on"})

    response = admin_client.post(user_admin_url("add"), form)

    assert response.status_code == 302
    assert not EmailAddress.objects.filter(email="other@example.com").exists()


# --- address rows: what was saved before, and what changes meanwhile --------------------------

def test_a_row_saved_before_a_stricter_check_does_not_stop_the_page(admin_client):
    # An address createsuperuser accepts (a single-label domain), and a row whose old
    # spelling migration 0008 kept because another row holds the normal form.
    ops = UserFactory(email="ops@localhost")
    EmailAddress.objects.create(user=ops, email="ops.work@example.com")
    legacy = EmailAddress.objects.create(user=ops, email="tmp@example.net")
    EmailAddress.objects.filter(pk=legacy.pk).update(email="Ops.Work@example.com")
    form = change_form(admin_client, ops)
    form["email"] = ["ops@example.com"]

    response = admin_client.post(change_url(ops), form)

    assert response.status_code == 302, inline_errors(response)
    ops.refresh_from_db()
    assert ops.email == "ops@example.com"
    assert "Ops.Work@example.com" in addresses(ops)


def test_a_new_row_the_account_has_already_though_not_listed_is_a_form_error(ann):
    # Staff who may add addresses but not see them: the saved rows are not on their page.
    from django.contrib.auth.models import Permission

    member, client = staff_with("view_user", "change_user")
    member.user_permissions.add(Permission.objects.get(
        content_type__app_label="accounts", codename="add_emailaddress"))
    form = with_new_rows(change_form(client, ann), {"email": "Ann.Work@example.com"})

    response = client.post(change_url(ann), form)

    assert inline_errors(response) == ["The account has this address already."]
    assert EmailAddress.objects.filter(user=ann).count() == 2


def test_a_row_the_user_adds_while_staff_add_it_too_is_a_form_error(admin_client, ann):
    form = with_new_rows(change_form(admin_client, ann), {"email": "ann.home@example.org"})
    EmailAddress.objects.create(user=ann, email="ann.home@example.org")  # the user, meanwhile

    response = admin_client.post(change_url(ann), form)

    assert "The account has this address already." in inline_errors(response)


def test_a_row_the_user_removes_while_staff_remove_it_too(admin_client, ann, monkeypatch):
    from accounts import admin as accounts_admin

    work = EmailAddress.objects.get(email="ann.work@example.com")
    form = change_form(admin_client, ann)
    form[f"email_addresses-{row_index(form, work.email)}-DELETE"] = ["on"]
    checked = accounts_admin.EmailAddressFormSet.clean

    def checked_then_the_user_removes_it(formset):
        checked(formset)
        EmailAddress.objects.filter(pk=work.pk).delete()

    monkeypatch.setattr(accounts_admin.EmailAddressFormSet, "clean",
                        checked_then_the_user_removes_it)

    assert admin_client.post(change_url(ann), form).status_code == 302
    assert addresses(ann) == {"ann@example.com": (True, True)}


def test_a_row_the_user_makes_primary_while_staff_remove_it_is_tried_again(admin_client, ann,
                                                                          monkeypatch):
    # The removal finds the row primary (the user made it so after the form's check): the
    # page is tried once more, from the rolled-back state, instead of failing.
    from accounts.admin import addresses as accounts_admin  # where a row is removed

    work = EmailAddress.objects.get(email="ann.work@example.com")
    form = change_form(admin_client, ann)
    form[f"email_addresses-{row_index(form, work.email)}-DELETE"] = ["on"]
    removals = []
    remove = accounts_admin.email_remove

    def found_primary_the_first_time(request, **kwargs):
        removals.append(kwargs["address_id"])
        if len(removals) == 1:
            raise FlowError(AccountsError.EMAIL_PRIMARY, "made primary meanwhile")
        return remove(request, **kwargs)

    monkeypatch.setattr(accounts_admin, "email_remove", found_primary_the_first_time)

    assert admin_client.post(change_url(ann), form).status_code == 302
    assert removals == [work.pk, work.pk]
    assert addresses(ann) == {"ann@example.com": (True, True)}


# --- the account as the page showed it ---------------------------------------------------------

def name_field(form) -> str:
    return "name" if "name" in form else "first_name"


def test_a_page_opened_before_the_user_changed_their_login_address_saves_nothing(
        admin_client, ann):
    from accounts.flows.email import email_make_primary

    form = change_form(admin_client, ann)
    name = getattr(ann, name_field(form))
    form[name_field(form)] = ["Ann Archer"]
    work = EmailAddress.objects.get(email="ann.work@example.com")
    EmailAddress.objects.filter(pk=work.pk).update(verified=True)
    email_make_primary(None, user=ann, address_id=work.pk)  # the user, meanwhile

    response = admin_client.post(change_url(ann), form)

    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors() == [
        "This account changed while the page was open. Reload the page to see it as it is "
        "now, then make your change again."]
    ann.refresh_from_db()
    assert ann.email == "ann.work@example.com"
    assert getattr(ann, name_field(form)) == name
    assert addresses(ann) == {"ann@example.com": (False, True),
                              "ann.work@example.com": (True, True)}
    again = change_form(admin_client, ann)  # reloaded: the change goes through
    again[name_field(again)] = ["Ann Archer"]
    assert admin_client.post(change_url(ann), again).status_code == 302
    ann.refresh_from_db()
    assert (ann.email, getattr(ann, name_field(again))) == ("ann.work@example.com", "Ann Archer")


def test_a_page_opened_before_the_account_was_closed_does_not_open_it_again(admin_client, ann):
    from accounts.flows.account import account_deactivate

    form = change_form(admin_client, ann)
    form[name_field(form)] = ["Ann Archer"]
    account_deactivate(ann)  # the user closes the account, meanwhile

    response = admin_client.post(change_url(ann), form)

    assert response.status_code == 200
    assert not User.objects.get(pk=ann.pk).is_active


def test_what_the_page_shows_is_not_a_row_of_it(admin_client, ann):
    page = admin_client.get(change_url(ann)).content.decode()
    assert 'type="hidden" name="account_as_shown"' in page
    assert 'class="form-row hidden field-account_as_shown"' in page  # the admin hides the row
    _member, viewer = staff_with("view_user")
    assert "account_as_shown" not in viewer.get(change_url(ann)).content.decode()


def test_staff_cannot_disable_their_own_account_on_its_page(admin_client, staff):
    # The Deactivate action leaves the staff member's own account out; its page did not:
    # unticking "Active" there signed them out mid-save and locked them out of the admin.
    form = change_form(admin_client, staff)
    form.pop("is_active", None)

    response = admin_client.post(change_url(staff), form)

    assert response.status_code == 200
    assert "is_active" in response.context["adminform"].form.errors
    staff.refresh_from_db()
    assert staff.is_active
    assert not Event.objects.filter(action="accounts.account.deactivated").exists()
    assert admin_client.get(user_admin_url("changelist")).status_code == 200  # still signed in


def test_staff_still_disable_another_account_on_its_page(admin_client):
    ann = UserFactory(email="ann@example.com")
    form = change_form(admin_client, ann)
    form.pop("is_active", None)

    assert admin_client.post(change_url(ann), form).status_code == 302
    ann.refresh_from_db()
    assert not ann.is_active
