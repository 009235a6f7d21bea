"""Addresses that mix scripts so that they pass for another (``ann@exаmple.com``, its ``а``
Cyrillic), stored before the rule or written where no form checks them: staff see them
marked wherever the admin and the audit trail's export show them. Every other address shows
as it is."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import EmailAddress
from accounts.scripts import staff_spelling
from audit import chain
from audit.models import Event
from authsuite.models import OutboxMessage
from tests.accounts.test_address_scripts import CYRILLIC_A, LOOKALIKE, WELCOME
from tests.accounts.test_admin import change_form, change_url, staff_with
from tests.audit.support import data
from tests.factories import UserFactory
from tests.helpers import user_admin_url

pytestmark = pytest.mark.django_db

User = get_user_model()
SHOWN = "ann@ex\\u0430mple.com (mixed scripts: Latin, Cyrillic)"
WORK = f"ann.work@ex{CYRILLIC_A}mple.com"
WORK_SHOWN = "ann.work@ex\\u0430mple.com (mixed scripts: Latin, Cyrillic)"


# --- the spelling ---------------------------------------------------------------------------

@pytest.mark.parametrize(("address", "shown"), [
    (LOOKALIKE, SHOWN),
    ("ann@xn--exmple-4nf.com", SHOWN),  # the same domain in punycode
    (f"{CYRILLIC_A}nn@example.com", "\\u0430nn@example.com (mixed scripts: Latin, Cyrillic)"),
    ("ann@ex\u03b1mple.c\u043em",  # Greek in one label, Cyrillic in another
     "ann@ex\\u03b1mple.c\\u043em (mixed scripts: Latin, Greek, Cyrillic)"),
    # A label mostly Cyrillic: the Latin letter is the one spelled out.
    ("ann@\u0435\u0445\u0430\u0440\u04cf\u0435\u0455m.example",
     "ann@\u0435\u0445\u0430\u0440\u04cf\u0435\u0455\\u006d.example "
     "(mixed scripts: Cyrillic, Latin)"),
])
def test_a_lookalike_is_spelled_out(address, shown):
    assert staff_spelling(address) == shown


@pytest.mark.parametrize("address", [*WELCOME, "ann@xn--bcher-kva.de", "ann.archer", "", "ann"])
def test_any_other_address_or_name_is_shown_as_it_is(address):
    assert staff_spelling(address) == address


# --- the admin ------------------------------------------------------------------------------

@pytest.fixture
def holder():
    """An account stored before the rule: its address and a second one, written as they
    are, past every form and model check."""
    holder = UserFactory(email="ann@example.net")
    User.objects.filter(pk=holder.pk).update(**{User.get_email_field_name(): LOOKALIKE})
    EmailAddress.objects.filter(user=holder).update(email=LOOKALIKE)
    EmailAddress.objects.bulk_create([EmailAddress(user=holder, email=WORK)])
    holder.refresh_from_db()
    mail.outbox.clear()
    return holder


@pytest.fixture
def admin_client(staff):
    client = Client()
    client.force_login(staff)
    return client


def page(response) -> str:
    assert response.status_code == 200
    return response.content.decode()


def test_the_list_and_its_search_results_show_the_lookalike_marked(admin_client, holder):
    regular = UserFactory(email="bob@example.com")
    for query in ({}, {"q": LOOKALIKE.upper()}):  # found in any case (not shown as typed)
        html = page(admin_client.get(user_admin_url("changelist"), query))
        assert SHOWN in html
        assert LOOKALIKE not in html
    html = page(admin_client.get(user_admin_url("changelist")))
    assert f">{regular.email}</a>" in html  # unchanged, and still the link to the page
    html = page(admin_client.get(user_admin_url("changelist"), {"o": "1"}))  # sorted by it
    assert SHOWN in html


def test_the_change_page_shows_the_rows_marked_and_says_how_the_login_address_reads(
        admin_client, holder):
    html = page(admin_client.get(change_url(holder)))
    assert WORK_SHOWN in html  # a saved row: shown, not an input
    assert WORK not in html
    # The login address's input keeps the letters it has (saved as it is), and says how
    # they read beside it.
    assert f'value="{LOOKALIKE}"' in html
    assert f"Its letters: {SHOWN}" in html


def test_saving_the_page_keeps_the_addresses_and_its_message_marks_them(admin_client, holder):
    form = change_form(admin_client, holder)
    form["name"] = ["Ann Archer"]
    form["email_addresses-1-verified"] = ["on"]  # the second row, verified by staff

    response = admin_client.post(change_url(holder), form, follow=True)

    assert response.redirect_chain, response.context["adminform"].form.errors
    holder.refresh_from_db()
    assert getattr(holder, User.get_email_field_name()) == LOOKALIKE
    assert set(EmailAddress.objects.filter(user=holder).values_list("email", "verified")) == {
        (LOOKALIKE, True), (WORK, True)}
    html = page(response)
    assert LOOKALIKE not in html and WORK not in html
    history = page(admin_client.get(user_admin_url("history", holder.pk)))
    assert WORK_SHOWN in history
    assert WORK not in history


def test_a_page_staff_may_only_view_shows_the_addresses_marked(holder):
    member, client = staff_with("view_user")
    member.user_permissions.add(Permission.objects.get(
        content_type=ContentType.objects.get_for_model(EmailAddress),
        codename="view_emailaddress"))
    html = page(client.get(change_url(holder)))
    assert SHOWN in html and WORK_SHOWN in html
    assert LOOKALIKE not in html and WORK not in html


@pytest.mark.own_user_model  # django.contrib.auth's User names an account by its username
def test_the_page_title_and_the_delete_confirmation_show_the_lookalike_marked(
        admin_client, holder):
    assert f"<h2>{SHOWN}</h2>" in page(admin_client.get(change_url(holder)))
    html = page(admin_client.get(user_admin_url("delete", holder.pk)))
    assert SHOWN in html and WORK_SHOWN in html
    assert LOOKALIKE not in html and WORK not in html


def test_the_delete_confirmation_lists_the_rows_marked(admin_client, holder):
    html = page(admin_client.get(user_admin_url("delete", holder.pk)))
    assert f"Email address: {WORK_SHOWN}" in html
    assert WORK not in html


def test_regular_addresses_show_as_they_are(admin_client):
    ann = UserFactory(email="ann@пример.рф")
    EmailAddress.objects.create(user=ann, email="ann@bücher.de")
    listing = page(admin_client.get(user_admin_url("changelist")))
    assert ">ann@пример.рф</a>" in listing
    html = page(admin_client.get(change_url(ann)))
    assert "ann@bücher.de" in html
    assert "Its letters" not in html
    assert "mixed scripts" not in page(admin_client.get(user_admin_url("delete", ann.pk)))


# --- the audit trail's export -----------------------------------------------------------------

def test_the_csv_export_shows_the_lookalike_marked(admin_client, holder):
    chain.record(action="test.lookalike", actor_id=str(holder.pk), actor_repr=LOOKALIKE,
                 target_type="user", target_id=str(holder.pk), target_repr=WORK)
    chain.record(action="test.lookalike", actor_id="1", actor_repr="ann@пример.рф",
                 target_type="user", target_id="1", target_repr="bob@example.com")
    response = admin_client.get("/admin/audit/event/export/csv/?action=test.lookalike")
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["actor"], r["target"]) for r in rows] == [
        (SHOWN, WORK_SHOWN), ("ann@пример.рф", "bob@example.com")]
    assert LOOKALIKE not in text and WORK not in text


# --- the audit trail in the admin -------------------------------------------------------------

EVENTS = "/admin/audit/event/"


@pytest.fixture
def trail(holder):
    """Events naming the holder: as actor, as target of type ``user`` and as the admin's
    target (the user model's label), beside a regular account and a role whose name is no
    account's."""
    user_label = User._meta.label_lower
    return [
        chain.record(action="test.lookalike", actor_id=str(holder.pk), actor_repr=LOOKALIKE),
        chain.record(action="test.lookalike", actor_id="1", actor_repr="bob@example.com",
                     target_type="user", target_id=str(holder.pk), target_repr=WORK),
        chain.record(action="test.lookalike", actor_id="1", actor_repr="ann@пример.рф",
                     target_type=user_label, target_id=str(holder.pk), target_repr=LOOKALIKE),
        chain.record(action="test.lookalike", actor_id="1", actor_repr="bob@example.com",
                     target_type="rbac.role", target_id="7", target_repr=f"ex{CYRILLIC_A}mple"),
    ]


def test_the_audit_list_and_its_search_results_show_the_lookalike_marked(admin_client, trail):
    holder = trail[0].actor_id  # the actor of one, the account another is done to
    for query in ({}, {"q": holder}, {"action": "test.lookalike"}):
        html = page(admin_client.get(EVENTS, query))
        assert SHOWN in html and WORK_SHOWN in html, query
        assert LOOKALIKE not in html and WORK not in html, query
    html = page(admin_client.get(EVENTS))
    assert "ann@пример.рф" in html and "bob@example.com" in html  # as they are
    assert f">ex{CYRILLIC_A}mple<" in html  # a role's name is no address: left as it is


def test_an_event_page_shows_its_actor_and_account_target_marked(admin_client, trail):
    html = page(admin_client.get(f"{EVENTS}{trail[0].pk}/change/"))
    assert SHOWN in html and LOOKALIKE not in html
    html = page(admin_client.get(f"{EVENTS}{trail[1].pk}/change/"))
    assert WORK_SHOWN in html and WORK not in html
    assert "bob@example.com" in html
    html = page(admin_client.get(f"{EVENTS}{trail[2].pk}/change/"))
    assert SHOWN in html and LOOKALIKE not in html
    assert "ann@пример.рф" in html


def test_the_csv_export_marks_an_account_changed_in_the_admin_too(admin_client, trail):
    response = admin_client.get(f"{EVENTS}export/csv/", {"action": "test.lookalike"})
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["actor"], r["target"]) for r in rows] == [
        (SHOWN, ""), ("bob@example.com", WORK_SHOWN), ("ann@пример.рф", SHOWN),
        ("bob@example.com", f"ex{CYRILLIC_A}mple")]


def _deactivate(holder, staff):
    from accounts.flows.account import account_deactivate

    account_deactivate(holder, by=staff)
    return "accounts.account.deactivated"


def _reset_mfa(holder, staff):
    from mfa.flows.factors import mfa_reset

    mfa_reset(holder, by=staff)
    return "mfa.reset"


def _remove_passkeys(holder, staff):
    from passkeys.flows.management import passkeys_remove
    from passkeys.models import Passkey

    ids = [Passkey.objects.create(user=holder, credential_id=f"c{n}", public_key=b"x",
                                  name=f"Key {n}").pk for n in (1, 2)]
    passkeys_remove(None, user=holder, passkey_ids=ids, by=staff)
    return "passkeys.removed"


@pytest.mark.parametrize("act", [_deactivate, _reset_mfa, _remove_passkeys])
def test_an_event_about_the_account_stores_its_address_as_it_is(admin_client, staff, holder,
                                                                 act):
    """The trail is evidence: it keeps the letters the address has (the admin and the
    export mark them when they show them), whatever the user model's ``__str__`` says."""
    action = act(holder, staff)
    event = Event.objects.filter(action=action).latest("pk")
    assert (event.target_type, event.target_id, event.target_repr) == (
        "user", str(holder.pk), LOOKALIKE)
    assert (event.actor_id, event.actor_repr) == (str(staff.pk), staff.email)
    html = page(admin_client.get(EVENTS, {"action": action}))
    assert SHOWN in html and LOOKALIKE not in html


def test_a_change_in_the_admin_stores_the_address_as_it_is(admin_client, holder):
    form = change_form(admin_client, holder)
    form["name" if "name" in form else "first_name"] = ["Ann"]
    response = admin_client.post(change_url(holder), form)
    assert response.status_code == 302
    event = Event.objects.get(action=f"admin.{User._meta.model_name}.changed")
    assert (event.target_type, event.target_id, event.target_repr) == (
        User._meta.label_lower, str(holder.pk), LOOKALIKE)
    html = page(admin_client.get(EVENTS, {"action": event.action}))
    assert SHOWN in html and LOOKALIKE not in html


def test_the_audit_list_shows_regular_addresses_as_they_are(admin_client, staff):
    ann = UserFactory(email="ann@пример.рф")
    from accounts.flows.account import account_deactivate

    account_deactivate(ann, by=staff)
    event = Event.objects.get(action="accounts.account.deactivated")
    assert event.target_repr == "ann@пример.рф"
    html = page(admin_client.get(EVENTS, {"q": str(ann.pk)}))
    assert "ann@пример.рф" in html and "mixed scripts" not in html
    assert "ann@пример.рф" in page(admin_client.get(f"{EVENTS}{event.pk}/change/"))


# --- the outbox, passkey sign-ups and sign-in throttles in the admin --------------------------

OUTBOX = "/admin/authsuite/outboxmessage/"


def test_the_outbox_list_its_search_results_and_a_message_page_show_the_lookalike_marked(
        admin_client, holder):
    message = OutboxMessage.objects.create(template="accounts/email/verify", to=LOOKALIKE,
                                           user=holder)
    regular = OutboxMessage.objects.create(template="accounts/email/verify",
                                           to="ann@пример.рф")
    for query in ({}, {"q": LOOKALIKE.upper()}):  # found in any case (not shown as typed)
        html = page(admin_client.get(OUTBOX, query))
        assert SHOWN in html and LOOKALIKE not in html, query
    html = page(admin_client.get(OUTBOX, {"o": "2"}))  # sorted by the address
    assert SHOWN in html and "ann@пример.рф" in html
    html = page(admin_client.get(f"{OUTBOX}{message.pk}/change/"))
    assert SHOWN in html and LOOKALIKE not in html  # the field and the page's title
    html = page(admin_client.get(f"{OUTBOX}{regular.pk}/change/"))
    assert "ann@пример.рф" in html and "mixed scripts" not in html


def _pending_signup(address: str, n: int):
    from datetime import timedelta

    from django.utils import timezone

    from passkeys.models import PendingSignup

    return PendingSignup.objects.create(email=address, handle=f"h{n}", digest=f"d{n}",
                                        expires_at=timezone.now() + timedelta(hours=1))


def _throttle(address: str, n: int):
    from accounts.models import LoginThrottle

    return LoginThrottle.objects.create(identifier=address, ip="", failures=n)


@pytest.mark.parametrize(("base", "make"), [
    ("/admin/passkeys/pendingsignup/", _pending_signup),
    ("/admin/accounts/loginthrottle/", _throttle),
], ids=["passkey-sign-ups", "sign-in-throttles"])
def test_other_admins_with_an_address_show_the_lookalike_marked(admin_client, base, make):
    lookalike, regular = make(LOOKALIKE, 1), make("ann@пример.рф", 2)
    for query in ({}, {"q": LOOKALIKE.upper()}):  # found in any case (not shown as typed)
        html = page(admin_client.get(base, query))
        assert SHOWN in html and LOOKALIKE not in html, query
    assert "ann@пример.рф" in page(admin_client.get(base))
    html = page(admin_client.get(f"{base}{lookalike.pk}/change/"))
    assert SHOWN in html and LOOKALIKE not in html  # the field and the page's title
    html = page(admin_client.get(f"{base}{regular.pk}/change/"))
    assert "ann@пример.рф" in html and "mixed scripts" not in html


def test_members_changed_from_a_group_are_stored_by_their_address_as_it_is(
        rf, admin_client, staff, holder):
    """A project's group admin that edits members changes the relation from the group's
    side: the members are named in the event as the target is, by the address as stored."""
    from django.contrib.auth.models import Group
    from django.urls import resolve

    from authsuite import context

    group = Group.objects.create(name="Auditors")
    path = reverse("admin:auth_group_change", args=[group.pk])
    request = rf.post(path)
    request.user, request.resolver_match = staff, resolve(path)
    token = context._request.set(request)
    try:
        group.user_set.add(holder)
    finally:
        context._request.reset(token)
    event = Event.objects.get(action__startswith="admin.group.")
    assert (event.target_id, data(event)["related"]) == (str(group.pk), [LOOKALIKE])


@pytest.mark.parametrize("address", [None, "", "ann@example.com"])
def test_no_note_is_given_under_an_address_that_reads_as_it_is(address):
    from accounts.admin.spelling import address_help

    assert address_help(address) == ""
