"""Races on PostgreSQL: one-time links used at the same moment, failed sign-ins counted at once,
one address verified by several accounts at once, or by one account while staff give it to
another; one account's addresses added, made primary and removed at once; its sessions ended
by two requests at once; its browsers signed in at once past the session limit, or while
it is closed or deleted.

Each thread is a browser of its own (its own test client, so its own database connection);
a barrier releases them together. Real transactions: a race needs commits to race with.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from http.cookies import SimpleCookie

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import sessions
from accounts.app_settings import app_settings
from accounts.flows.email import addresses
from accounts.models import EmailAddress, LoginThrottle, OneTimeToken, UserSession
from tests.accounts.support import api_delete, api_login, api_post, is_signed_in, signed_in_api
from tests.factories import UserFactory
from tests.helpers import held_then_raced, last_link, race, token_from, user_admin_url

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

BROWSERS = 4


def test_magic_link_clicked_in_many_browsers_at_once_signs_in_once(user):
    Client().post(reverse("accounts:magic_link"), {"email": user.email})
    link = last_link(user.email)
    clients = [Client() for _ in range(BROWSERS)]

    codes = race(BROWSERS, lambda i: clients[i].post(link).status_code)

    assert sorted(codes) == [302] + [400] * (BROWSERS - 1)
    winner = clients[codes.index(302)]
    assert winner.session["_auth_user_id"] == str(user.pk)
    assert all("_auth_user_id" not in c.session for c in clients if c is not winner)
    assert UserSession.objects.filter(user=user).count() == 1


def test_password_reset_link_used_in_many_browsers_at_once_sets_one_password(user):
    Client().post(reverse("accounts:password_reset"), {"email": user.email})
    link = last_link(user.email)
    passwords = [f"quite new passphrase number {i}" for i in range(BROWSERS)]

    def reset(i: int) -> int:
        form = {"new_password": passwords[i], "new_password_confirm": passwords[i]}
        return Client().post(link, form).status_code

    codes = race(BROWSERS, reset)

    assert sorted(codes) == [302] + [400] * (BROWSERS - 1)
    user.refresh_from_db()
    assert user.check_password(passwords[codes.index(302)])


def _fail_sign_in(user):
    return lambda i: Client().post(
        reverse("accounts:login"), {"email": user.email, "password": f"wrong guess {i}"}
    ).status_code


def _throttle(user, ip: str) -> LoginThrottle:
    return LoginThrottle.objects.get(identifier=user.email, ip=ip)


def test_concurrent_failed_sign_ins_are_all_counted(user, settings):
    attempts = 6
    settings.AUTHSUITE_ACCOUNTS_LOCKOUT_THRESHOLD = attempts + 1

    race(attempts, _fail_sign_in(user))

    assert _throttle(user, "127.0.0.1").failures == attempts
    assert _throttle(user, LoginThrottle.ACCOUNT_WIDE).failures == attempts


def test_concurrent_failed_sign_ins_reaching_the_threshold_lock_once(user, settings, password):
    attempts = 6
    settings.AUTHSUITE_ACCOUNTS_LOCKOUT_THRESHOLD = attempts

    race(attempts, _fail_sign_in(user))

    pair = _throttle(user, "127.0.0.1")
    assert (pair.failures, pair.lockouts) == (0, 1)
    assert pair.locked_until is not None
    response = Client().post(reverse("accounts:login"), {"email": user.email, "password": password})
    assert "_auth_user_id" not in response.client.session  # locked, even with the password


def test_accounts_verifying_one_address_at_once_leave_it_verified_on_exactly_one(db):
    address = "contested@example.com"
    users = [UserFactory(email=f"claimant{i}@example.com") for i in range(BROWSERS)]
    clients, links = [], []
    for user in users:
        client = Client()
        signed_in_api(client, user.email, "correct horse battery staple")
        assert api_post(client, "emails/", {"email": address}).status_code == 202
        clients.append(client)
        links.append(token_from(last_link(address)))

    codes = race(BROWSERS, lambda i: api_post(clients[i], "email/verify/",
                                              {"token": links[i]}).status_code)

    assert codes.count(200) == 1, codes
    assert sorted(codes)[1:] == [400] * (BROWSERS - 1)  # the losers' links were voided
    winner = users[codes.index(200)]
    assert list(EmailAddress.objects.filter(email=address).values_list("user", "verified")) == [
        (winner.pk, True)]
    assert OneTimeToken.objects.filter(email=address, voided_at__isnull=False).count() == (
        BROWSERS - 1)


def claimant_of(address: str):
    """An account that claims ``address`` (added, unverified), its signed-in client and the
    token of the link mailed to the address."""
    claimant = UserFactory(email="claimant@example.com")
    client = Client()
    signed_in_api(client, claimant.email, "correct horse battery staple")
    api_post(client, "emails/", {"email": address})
    return claimant, client, token_from(last_link(address))


def test_signing_up_while_a_claim_is_verified_never_leaves_both(db):
    address = "contested@example.com"
    claimant, client, token = claimant_of(address)
    owner = Client()

    def act(i: int) -> int:
        if i == 0:
            return api_post(client, "email/verify/", {"token": token}).status_code
        return api_post(owner, "signup/", {"email": address,
                                           "password": "the owner's long passphrase"}).status_code

    verified, signed_up = race(2, act)

    assert signed_up == 201  # the same answer either way
    owner_account = get_user_model().objects.filter(email=address).exists()
    claim_verified = EmailAddress.objects.filter(user=claimant, email=address,
                                                 verified=True).exists()
    assert owner_account != claim_verified  # one of them holds the address, never both
    assert verified == (409 if owner_account else 200)


def test_staff_giving_an_address_hold_it_until_saved_against_a_verification(staff, monkeypatch):
    # Once the admin form has found the address free, a verification by the account that
    # claims it waits for the save, then finds its link void: never a 500 from a save that
    # lost the address between its check and its write.
    import threading
    import time

    from accounts.admin import users as accounts_admin  # where the login address is checked
    from tests.accounts.test_admin import change_form

    address = "contested@example.com"
    ann = UserFactory(email="ann@example.com")
    _claimant, client, token = claimant_of(address)
    admin = Client()
    admin.force_login(staff)
    form = change_form(admin, ann)
    form["email"] = [address]
    checked = threading.Event()
    real_check = accounts_admin.held_elsewhere

    def check_then_linger(email, *, user):
        held = real_check(email, user=user)
        checked.set()
        time.sleep(0.3)  # room for the verification to run, were the address not held
        return held

    monkeypatch.setattr(accounts_admin, "held_elsewhere", check_then_linger)

    def act(i: int):
        if i == 0:
            assert checked.wait(timeout=10)
            return api_post(client, "email/verify/", {"token": token}).status_code
        return admin.post(user_admin_url("change", ann.pk), form).status_code

    verified, saved = race(2, act)

    assert (verified, saved) == (400, 302)
    ann.refresh_from_db()
    assert ann.email == address
    assert list(EmailAddress.objects.filter(email=address).values_list("user", "verified")) == [
        (ann.pk, True)]


def signed_in(user, password) -> Client:
    """A browser of its own, signed in as ``user`` a moment ago (recent enough to change the
    sign-in address)."""
    client = Client()
    signed_in_api(client, user.email, password)
    return client


def lingering(real, *, done: threading.Event | None = None):
    """``real``, then a pause (``done`` set first): room for a racing request to act between
    a flow's check and its write, were nothing to make it wait."""
    def call(*args, **kwargs):
        result = real(*args, **kwargs)
        if done is not None:
            done.set()
        time.sleep(0.3)
        return result
    return call


def test_addresses_added_at_once_never_pass_the_limit(user, password, settings, monkeypatch):
    settings.AUTHSUITE_ACCOUNTS_RATE_LIMITS = {"verification_resend": {"account": None}}
    limit = app_settings.MAX_EMAIL_ADDRESSES
    for i in range(limit - 2):  # with the login address: room for one more
        EmailAddress.objects.create(user=user, email=f"kept{i}@example.com")
    clients = [signed_in(user, password) for _ in range(BROWSERS)]
    # Between the count and the insert, each add lingers: they would all have counted
    # before any of them inserted.
    monkeypatch.setattr(addresses, "address_held", lingering(addresses.address_held))

    codes = race(BROWSERS, lambda i: api_post(clients[i], "emails/",
                                              {"email": f"new{i}@example.com"}).status_code)

    assert sorted(codes) == [202] + [400] * (BROWSERS - 1), codes
    assert EmailAddress.objects.filter(user=user).count() == limit


def test_an_address_removed_while_made_primary_is_kept_as_the_primary(user, password,
                                                                      monkeypatch):
    second = EmailAddress.objects.create(user=user, email="second@example.com", verified=True)
    making, removing = signed_in(user, password), signed_in(user, password)
    swapping = threading.Event()
    monkeypatch.setattr(addresses, "primary_address",
                        lingering(addresses.primary_address, done=swapping))

    def act(i: int) -> int:
        if i == 0:
            return api_post(making, f"emails/{second.pk}/primary/").status_code
        assert swapping.wait(timeout=10)  # the primary is being changed to this address
        return api_delete(removing, f"emails/{second.pk}/").status_code

    made, removed = race(2, act)

    assert (made, removed) == (200, 400)  # email_primary: it is the sign-in address now
    user.refresh_from_db()
    assert user.email == second.email
    assert list(EmailAddress.objects.filter(user=user, primary=True)
                .values_list("email", flat=True)) == [second.email]


def test_two_addresses_made_primary_at_once_leave_exactly_one(user, password, monkeypatch):
    rows = [EmailAddress.objects.create(user=user, email=f"second{i}@example.com", verified=True)
            for i in range(2)]
    clients = [signed_in(user, password) for _ in rows]
    monkeypatch.setattr(addresses, "primary_address", lingering(addresses.primary_address))

    codes = race(2, lambda i: api_post(clients[i], f"emails/{rows[i].pk}/primary/").status_code)

    assert codes == [200, 200]  # one after the other, never a 500
    user.refresh_from_db()
    assert user.email in {row.email for row in rows}
    assert list(EmailAddress.objects.filter(user=user, primary=True)
                .values_list("email", flat=True)) == [user.email]
    assert EmailAddress.objects.filter(user=user).count() == 3


# --- sessions ended at once -----------------------------------------------------------------

def _held_then_raced(rows: list[int], actions: list, meanwhile=None) -> list:
    """:func:`tests.helpers.held_then_raced` with the sessions ``rows`` held: the requests
    have read the sessions open by then, the race between a read and the write that ends
    them made certain rather than left to timing."""
    return held_then_raced(UserSession.objects.filter(pk__in=rows), actions, meanwhile)


def _ended_events() -> list[int]:
    from audit.models import Event
    from tests.audit.support import data

    return sorted(data(e)["session_id"]
                  for e in Event.objects.filter(action="accounts.session.ended"))


@pytest.mark.parametrize("who", ["user-twice", "staff-and-user"])
def test_sessions_ended_by_two_requests_at_once_are_recorded_once(user, password, staff, who):
    # Both requests read the same sessions open, and each recorded ending all of them: two
    # accounts.session.ended events, and two session_ended signals, for one session.
    for n in range(3):
        signed_in_api(Client(), user.email, password, REMOTE_ADDR=f"192.0.2.{n}")
    others = list(UserSession.objects.filter(user=user).values_list("pk", flat=True))
    browser = Client()
    signed_in_api(browser, user.email, password)
    current = UserSession.objects.filter(user=user).exclude(pk__in=others).get().pk
    assert current > max(others)  # staff end it last: the user's request gets that far
    twin = Client()
    twin.cookies = SimpleCookie(browser.cookies)  # the same session, in another tab

    def end_others(client):
        return lambda: client.post(reverse("accounts:sessions"), {"session": "others"})

    def end_all_as_staff():
        admin = Client()
        admin.force_login(staff)
        return admin.post(user_admin_url("changelist"), {
            "action": "end_all_sessions", "_selected_action": [user.pk]})

    second = end_others(twin) if who == "user-twice" else end_all_as_staff
    responses = _held_then_raced(others, [end_others(browser), second])

    assert [r.status_code for r in responses] == [302, 302]
    assert not UserSession.objects.filter(pk__in=others, ended_at__isnull=True).exists()
    ended = [*others, current] if who == "staff-and-user" else others
    assert _ended_events() == sorted(ended)  # each once, by whichever request ended it


def test_a_session_timed_out_while_staff_end_it_is_recorded_once(user, password, staff):
    # The browser's request finds its session past the idle timeout and ends it; staff end
    # it in between. The request's update ended it again (its reason over staff's) and
    # recorded a second accounts.session.ended.
    browser = Client()
    signed_in_api(browser, user.email, password)
    row = UserSession.objects.get(user=user)
    idle = timedelta(seconds=app_settings.SESSION_IDLE_TIMEOUT + 60)
    UserSession.objects.filter(pk=row.pk).update(last_seen_at=timezone.now() - idle)

    def end_as_staff():
        assert sessions.sessions_end(user, reason="staff", by=staff) == 1

    (response,) = _held_then_raced([row.pk], [lambda: browser.get(reverse("accounts:profile"))],
                                   meanwhile=end_as_staff)

    assert response.status_code == 302  # signed out all the same
    row.refresh_from_db()
    assert row.end_reason == "staff"
    assert _ended_events() == [row.pk]


def _signing_in(how: str, browser: Client, user, password: str):
    """The request that signs ``browser`` in as ``user``: through the pipeline (the API's
    password sign-in), or the first one of a session signed in by the project's own code
    (``force_login``, done here), which the middleware adopts. It returns the response."""
    if how == "pipeline":
        return lambda: api_login(browser, user.email, password)
    browser.force_login(user)
    return lambda: browser.get(reverse("accounts:profile"))


@pytest.mark.parametrize("how", ["pipeline", "adopted"])
def test_a_sign_in_past_the_session_limit_while_staff_end_the_sessions_never_deadlocks(
        user, password, settings, how):
    # The sign-in ended the surplus sessions one at a time, least recently used last: it
    # held the newer row's lock and waited for the older one, which staff ending every
    # session (in key order, as every other request ends them) held while waiting for the
    # newer one. PostgreSQL broke the deadlock with an error: a 500 on one of the two.
    # Adopted, the session is recorded after the account's row lock, in the transaction
    # that ends the others, as a sign-in's is: staff ending the sessions meanwhile do not
    # see it.
    for n in range(2):
        signed_in_api(Client(), user.email, password, REMOTE_ADDR=f"192.0.2.{n}")
    older, newer = UserSession.objects.filter(user=user).order_by("pk").values_list(
        "pk", flat=True)
    now = timezone.now()
    UserSession.objects.filter(pk=older).update(last_seen_at=now - timedelta(minutes=10))
    UserSession.objects.filter(pk=newer).update(last_seen_at=now - timedelta(minutes=5))
    settings.AUTHSUITE_ACCOUNTS_MAX_SESSIONS = 1
    browser = Client()

    (response,) = _held_then_raced(
        [older], [_signing_in(how, browser, user, password)],
        meanwhile=lambda: sessions.sessions_end(user, reason="staff"))

    assert response.status_code == 200
    assert sorted(UserSession.objects.filter(user=user, ended_at__isnull=True)
                  .values_list("pk", flat=True)) == [browser.session["_authsuite_sid"]]
    assert _ended_events() == [older, newer]  # each once, by staff


@pytest.mark.parametrize("close_action", ["delete", "deactivate"])
@pytest.mark.parametrize("how", ["pipeline", "adopted"])
def test_the_account_closed_while_a_sign_in_past_the_session_limit_completes_never_deadlocks(
        user, password, settings, close_action, how):
    # The close ended the account's sessions, then deleted or disabled its row; the sign-in
    # held that row (its last_login update) while it waited to end, past the limit, a
    # session the close held. PostgreSQL broke the deadlock with an error: a 500 on one.
    # An adoption, which takes the row first as well, must neither deadlock nor record a
    # session of the account it waited for the close of.
    settings.AUTHSUITE_ACCOUNTS_CLOSE_ACTION = close_action
    settings.AUTHSUITE_ACCOUNTS_MAX_SESSIONS = 1
    closing, browser = Client(), Client()
    signed_in_api(closing, user.email, password)

    closed, signed_in = _held_then_raced(
        [closing.session[sessions.SID_KEY]],
        [lambda: api_post(closing, "account/close/"), _signing_in(how, browser, user, password)])

    refused = {"pipeline": 403, "adopted": 302}[how]  # adopted: signed out, to the sign-in page
    assert (closed.status_code, signed_in.status_code) == (204, refused)
    assert not is_signed_in(browser)
    assert not UserSession.objects.filter(ended_at__isnull=True).exists()



def _deleting(how: str, user, staff):
    """The request (or the project's own code) that deletes ``user``: staff on the user's
    delete page, staff with the changelist's "delete selected" action, or ``user.delete()``."""
    if how == "code":
        return lambda: get_user_model().objects.get(pk=user.pk).delete()
    admin = Client()
    admin.force_login(staff)
    if how == "admin":
        return lambda: admin.post(user_admin_url("delete", user.pk), {"post": "yes"})
    return lambda: admin.post(user_admin_url("changelist"), {
        "action": "delete_selected", "index": "0", "_selected_action": [user.pk], "post": "yes"})


@pytest.mark.parametrize("deleted_by", ["code", "admin", "admin-action"])
@pytest.mark.parametrize("how", ["pipeline", "adopted"])
def test_the_account_deleted_while_a_sign_in_past_the_session_limit_completes_never_deadlocks(
        user, password, staff, settings, deleted_by, how):
    # Django's delete removes the rows that refer to the account (its sessions) before the
    # account's row; the sign-in held that row (its last_login update, or an adoption's
    # lock) while it waited to end, past the limit, a session the delete held. PostgreSQL
    # broke the deadlock with an error: a 500 on one of the two, or the delete failing.
    settings.AUTHSUITE_ACCOUNTS_MAX_SESSIONS = 1
    elsewhere, browser = Client(), Client()
    signed_in_api(elsewhere, user.email, password)

    deleted, signed_in = _held_then_raced(
        [elsewhere.session[sessions.SID_KEY]],
        [_deleting(deleted_by, user, staff), _signing_in(how, browser, user, password)])

    if deleted_by != "code":
        assert deleted.status_code == 302
    refused = {"pipeline": 403, "adopted": 302}[how]  # adopted: signed out, to the sign-in page
    assert signed_in.status_code == refused
    assert not get_user_model().objects.filter(pk=user.pk).exists()
    assert not is_signed_in(browser)
    assert not UserSession.objects.filter(user_id=user.pk).exists()

def _closed_events() -> list:
    from audit.models import Event

    return list(Event.objects.filter(action="accounts.account.closed"))


@pytest.mark.parametrize("close_action", ["delete", "deactivate"])
def test_an_account_closed_by_two_requests_at_once_is_closed_once(user, password, settings,
                                                                  close_action):
    # A double click, or two tabs: both requests passed the recent-sign-in check before
    # either closed the account. The second waited for the first's lock on the account,
    # then closed it again: a second accounts.account.closed event and account_closed
    # signal (and with "delete", a second delete of rows already gone).
    settings.AUTHSUITE_ACCOUNTS_CLOSE_ACTION = close_action
    browser = Client()
    signed_in_api(browser, user.email, password)
    twin = Client()
    twin.cookies = SimpleCookie(browser.cookies)  # the same session, in another tab
    heard = []

    def closed(sender, **kwargs):
        heard.append(kwargs["user_id"])

    from accounts import signals

    signals.account_closed.connect(closed, dispatch_uid="test.closed")
    try:
        first, second = _held_then_raced(
            [browser.session[sessions.SID_KEY]],
            [lambda: api_post(browser, "account/close/"), lambda: api_post(twin, "account/close/")])
    finally:
        signals.account_closed.disconnect(dispatch_uid="test.closed")

    assert (first.status_code, second.status_code) == (204, 204)  # closed, as each asked
    assert heard == [user.pk]
    assert len(_closed_events()) == 1
    assert not is_signed_in(browser) and not is_signed_in(twin)
    if close_action == "delete":
        assert not get_user_model().objects.filter(pk=user.pk).exists()
    else:
        assert get_user_model().objects.filter(pk=user.pk, is_active=False).exists()


@pytest.mark.parametrize("how", ["admin", "admin-action"])
def test_an_account_deleted_by_two_staff_at_once_is_recorded_deleted_once(user, password,
                                                                          staff, how):
    # Both staff loaded the account before either deleted it. The second delete waited for
    # the first's lock on the account's row, found it gone and deleted nothing, yet the
    # trail said it deleted the account too: two admin.user.deleted events.
    from audit.models import Event

    signed_in_api(Client(), user.email, password)
    action = f"admin.{get_user_model()._meta.model_name}.deleted"

    responses = _held_then_raced(
        list(UserSession.objects.filter(user=user).values_list("pk", flat=True)),
        [_deleting(how, user, staff), _deleting(how, user, staff)])

    assert [r.status_code for r in responses] == [302, 302]
    assert not get_user_model().objects.filter(pk=user.pk).exists()
    assert Event.objects.filter(action=action).count() == 1


# --- the session limit under sign-ins at once ------------------------------------------------

def _open_sessions(user) -> list[int]:
    return sorted(UserSession.objects.filter(user=user, ended_at__isnull=True)
                  .values_list("pk", flat=True))


def _assert_limit_kept(user, clients: list[Client], codes: list[int], limit: int) -> None:
    """Exactly ``limit`` of the browsers' sessions are open, the others ended by the limit,
    and each browser still signed in is one whose request went through."""
    kept = _open_sessions(user)
    assert len(kept) == limit, kept
    assert sorted(UserSession.objects.filter(user=user, ended_at__isnull=False)
                  .values_list("end_reason", flat=True)) == ["session_limit"] * (BROWSERS - limit)
    for client, code in zip(clients, codes, strict=True):
        if client.session.get(sessions.SID_KEY) in kept:
            assert code == 200, codes
            assert is_signed_in(client)
        else:
            assert not is_signed_in(client)


@pytest.mark.parametrize("limit", [1, 2])
def test_sign_ins_of_one_account_at_once_leave_exactly_the_session_limit_open(
        user, password, settings, monkeypatch, limit):
    # Each sign-in lingers between recording its session and counting the account's others:
    # had nothing made them take turns, every one would count all of them and end the
    # others, signing out every browser. The account's row, which the sign-in's last_login
    # update holds until it commits, makes the next one wait and count what it committed.
    settings.AUTHSUITE_ACCOUNTS_MAX_SESSIONS = limit
    clients = [Client() for _ in range(BROWSERS)]
    monkeypatch.setattr(sessions, "session_start", lingering(sessions.session_start))

    codes = race(BROWSERS, lambda i: api_login(clients[i], user.email, password).status_code)

    assert codes == [200] * BROWSERS  # the newest always goes through
    _assert_limit_kept(user, clients, codes, limit)


@pytest.mark.parametrize("limit", [1, 2])
def test_sessions_signed_in_outside_the_pipeline_adopted_at_once_leave_exactly_the_limit_open(
        user, settings, monkeypatch, limit):
    # Sessions signed in by the project's own code, first seen by the middleware at once.
    # Each adoption recorded its session, counted the account's others (every one of them
    # committed by then) and ended them: fewer sessions than the limit stayed open, none at
    # all with a limit of one (every browser signed out).
    settings.AUTHSUITE_ACCOUNTS_MAX_SESSIONS = limit
    clients = [Client() for _ in range(BROWSERS)]
    for client in clients:
        client.force_login(user)
    monkeypatch.setattr(sessions, "session_start", lingering(sessions.session_start))

    codes = race(BROWSERS, lambda i: clients[i].get(reverse("accounts:profile")).status_code)

    _assert_limit_kept(user, clients, codes, limit)



def _adding(what: str, browser: Client):
    """The request of ``browser`` (signed in a moment ago) that adds ``what`` to its
    account; anything it needs beforehand (a passkey's options, signed) is done now."""
    if what == "address":
        return lambda: api_post(browser, "emails/", {"email": "new@example.com"})
    if what == "authenticator app":
        return lambda: api_post(browser, "mfa/totp/setup/")
    from tests.passkeys.authenticator import SoftAuthenticator
    from tests.passkeys.support import ORIGIN, register_options

    credential = SoftAuthenticator().create(register_options(browser), origin=ORIGIN)
    return lambda: api_post(browser, "passkeys/register/", {"credential": credential})


@pytest.mark.parametrize("what", ["address", "authenticator app", "passkey"])
def test_adding_to_an_account_while_staff_delete_it_is_refused(user, password, staff, what):
    # The request waited for the delete's lock on the account's row, found none, and
    # inserted its row all the same: the commit failed on the row's reference to the
    # account (an IntegrityError, a 500).
    browser = signed_in(user, password)
    adding = _adding(what, browser)

    deleted, added = _held_then_raced(
        list(UserSession.objects.filter(user=user).values_list("pk", flat=True)),
        [_deleting("admin", user, staff), adding])

    assert (deleted.status_code, added.status_code) == (302, 403)
    assert added.json()["error"]["code"] == "permission_denied"
    assert not get_user_model().objects.filter(pk=user.pk).exists()
