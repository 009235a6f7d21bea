"""Signed-in sessions: tracked with IP and device, listed and ended by their user, timed out
on the server, and ended when the account is disabled."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import checks
from django.test import Client, override_settings
from django.urls import reverse

from accounts import sessions
from accounts.flows.account import account_deactivate
from accounts.models import UserSession
from audit.views import activity_for
from tests.accounts.support import (
    AUTH_KEY,
    CHROME_WINDOWS,
    FIREFOX_UBUNTU,
    api_delete,
    api_get,
    api_post,
    error_code,
    freeze,
    is_signed_in,
    signed_in_api,
    signed_in_html,
)
from tests.factories import UserFactory
from tests.helpers import user_admin_url

pytestmark = pytest.mark.django_db
SESSIONS = "/accounts/sessions/"


def firefox() -> Client:
    return Client(HTTP_USER_AGENT=FIREFOX_UBUNTU, REMOTE_ADDR="203.0.113.7")


def chrome() -> Client:
    return Client(HTTP_USER_AGENT=CHROME_WINDOWS, REMOTE_ADDR="198.51.100.20")


@pytest.fixture
def two_browsers(user, password):
    laptop, desktop = firefox(), chrome()
    signed_in_html(laptop, user.email, password)
    signed_in_api(desktop, user.email, password)
    return laptop, desktop


def row_of(client) -> UserSession:
    return UserSession.objects.get(pk=client.session["_authsuite_sid"])


# --- tracking -------------------------------------------------------------------------------

def test_each_sign_in_is_tracked_with_ip_and_device(user, two_browsers):
    laptop, desktop = two_browsers

    firefox_row, chrome_row = row_of(laptop), row_of(desktop)
    assert (firefox_row.ip, firefox_row.device) == ("203.0.113.7", "Firefox 128 on Ubuntu")
    assert firefox_row.user_agent == FIREFOX_UBUNTU
    assert (chrome_row.ip, chrome_row.device) == ("198.51.100.20", "Chrome 126 on Windows 10")
    assert firefox_row.user == chrome_row.user == user
    assert firefox_row.is_active and chrome_row.is_active


def test_session_row_never_holds_the_session_key(two_browsers):
    laptop, _ = two_browsers
    key = laptop.session.session_key
    row = row_of(laptop)
    assert key not in {row.key_digest, row.user_agent, row.device, row.end_reason}
    assert len(row.key_digest) == 64


def test_magic_link_sessions_are_tracked_too(user):
    phone = firefox()
    phone.post(reverse("accounts:magic_link"), {"email": user.email})
    from tests.helpers import last_link

    phone.post(last_link(user.email))
    assert row_of(phone).device == "Firefox 128 on Ubuntu"


# --- listing --------------------------------------------------------------------------------

def test_html_lists_own_sessions_only(user, password, two_browsers):
    laptop, _ = two_browsers
    stranger = Client(HTTP_USER_AGENT="curl/8.5.0")
    from tests.factories import UserFactory

    other = UserFactory()
    signed_in_html(stranger, other.email, password)

    page = laptop.get(SESSIONS).content.decode()

    assert page.count('class="session"') == 2
    assert "Firefox 128 on Ubuntu" in page
    assert "Chrome 126 on Windows 10" in page
    assert "203.0.113.7" in page and "198.51.100.20" in page
    assert "curl" not in page
    assert "This browser" in page


def test_api_lists_own_sessions(user, two_browsers):
    laptop, desktop = two_browsers

    listed = api_get(desktop, "sessions/").json()

    assert {(s["device"], s["ip"], s["current"]) for s in listed} == {
        ("Firefox 128 on Ubuntu", "203.0.113.7", False),
        ("Chrome 126 on Windows 10", "198.51.100.20", True),
    }
    assert all(set(s) == {"id", "device", "ip", "created_at", "last_seen_at", "remember",
                          "current"} for s in listed)


def test_sessions_need_a_session(client):
    assert client.get(SESSIONS)["Location"].startswith("/accounts/login/")
    assert api_get(client, "sessions/").status_code == 403


# --- ending ---------------------------------------------------------------------------------

def test_html_end_one_other_session(two_browsers):
    laptop, desktop = two_browsers
    target = row_of(desktop)

    response = laptop.post(SESSIONS, {"session": str(target.pk)}, follow=True)

    assert b"The session ended." in response.content
    assert is_signed_in(laptop)
    assert not is_signed_in(desktop)
    target.refresh_from_db()
    assert (target.is_active, target.end_reason) == (False, "user")


@pytest.mark.parametrize("signed_in", ["two_browsers", "stale_browsers"])
def test_html_end_the_current_session_signs_out(request, signed_in):
    # Ending this session is signing out: no recent authentication needed.
    laptop, desktop = request.getfixturevalue(signed_in)
    response = laptop.post(SESSIONS, {"session": str(row_of(laptop).pk)})
    assert response["Location"] == "/accounts/login/"
    assert not is_signed_in(laptop)
    assert is_signed_in(desktop)


def test_html_end_others(user, password, two_browsers):
    laptop, desktop = two_browsers
    third = Client()
    signed_in_html(third, user.email, password)

    response = laptop.post(SESSIONS, {"session": "others"}, follow=True)

    assert b"2 other sessions ended." in response.content
    assert is_signed_in(laptop)
    assert not is_signed_in(desktop)
    assert not is_signed_in(third)


def test_html_end_all(two_browsers):
    laptop, desktop = two_browsers
    response = laptop.post(SESSIONS, {"session": "all"})
    assert response["Location"] == "/accounts/login/"
    assert not is_signed_in(laptop)
    assert not is_signed_in(desktop)
    assert not UserSession.objects.filter(ended_at__isnull=True).exists()


def test_api_end_one(two_browsers):
    laptop, desktop = two_browsers
    assert api_delete(desktop, f"sessions/{row_of(laptop).pk}/").status_code == 204
    assert not is_signed_in(laptop)
    assert is_signed_in(desktop)


@pytest.mark.parametrize("signed_in", ["two_browsers", "stale_browsers"])
def test_api_end_the_current_session(request, signed_in):
    laptop, desktop = request.getfixturevalue(signed_in)
    assert api_delete(desktop, f"sessions/{row_of(desktop).pk}/").status_code == 204
    assert not is_signed_in(desktop)
    assert is_signed_in(laptop)


def test_api_end_others(two_browsers):
    laptop, desktop = two_browsers
    response = api_post(desktop, "sessions/end-others/")
    assert response.json() == {"detail": "1 session ended."}
    assert is_signed_in(desktop)
    assert not is_signed_in(laptop)


def test_api_end_all_is_end_others_then_logout(two_browsers):
    laptop, desktop = two_browsers
    api_post(desktop, "sessions/end-others/")
    assert api_post(desktop, "logout/").status_code == 204
    assert not is_signed_in(desktop)
    assert not is_signed_in(laptop)
    assert not UserSession.objects.filter(ended_at__isnull=True).exists()


def test_cannot_end_someone_elses_session(two_browsers, password):
    laptop, _ = two_browsers
    from tests.factories import UserFactory

    victim = Client()
    signed_in_html(victim, UserFactory().email, password)
    victim_row = row_of(victim)

    response = api_delete(laptop, f"sessions/{victim_row.pk}/")
    assert response.status_code == 404
    assert error_code(response) == "session_not_found"
    laptop.post(SESSIONS, {"session": str(victim_row.pk)})
    assert is_signed_in(victim)


def test_ended_session_is_signed_out_on_its_next_request(two_browsers):
    laptop, desktop = two_browsers
    row = row_of(laptop)
    UserSession.objects.filter(pk=row.pk).update(ended_at=row.created_at, end_reason="staff")

    assert laptop.get("/accounts/")["Location"].startswith("/accounts/login/")
    assert AUTH_KEY not in laptop.session
    # Even with the old cookie kept, the server session is gone.
    assert not is_signed_in(laptop)


# --- timeouts -------------------------------------------------------------------------------

@pytest.fixture
def clock(time_machine):
    freeze(time_machine)
    return time_machine


def test_idle_timeout(user, password, clock):
    browser = firefox()
    signed_in_html(browser, user.email, password)

    clock.shift(3601)

    assert browser.get("/accounts/")["Location"].startswith("/accounts/login/")
    assert not is_signed_in(browser)
    assert UserSession.objects.get(user=user).end_reason == "idle_timeout"


def test_activity_keeps_an_idle_session_alive(user, password, clock):
    browser = firefox()
    signed_in_html(browser, user.email, password)
    for _ in range(5):
        clock.shift(50 * 60)
        assert browser.get("/accounts/").status_code == 200
    assert UserSession.objects.get(user=user).is_active


def test_absolute_timeout_even_when_active(user, password, clock):
    browser = firefox()
    signed_in_html(browser, user.email, password)
    for _ in range(24):  # a request every 30 minutes for 12 hours
        clock.shift(30 * 60)
        assert browser.get("/accounts/").status_code == 200

    clock.shift(1)

    assert browser.get("/accounts/")["Location"].startswith("/accounts/login/")
    assert not is_signed_in(browser)
    row = UserSession.objects.get(user=user)
    assert row.end_reason == "absolute_timeout"
    assert row.ended_at - row.created_at == timedelta(hours=12, seconds=1)


def test_remembered_sessions_use_the_longer_timeouts(user, password, clock):
    browser = firefox()
    signed_in_html(browser, user.email, password, remember="on")
    clock.shift(6 * 86400)
    assert browser.get("/accounts/").status_code == 200
    clock.shift(6 * 86400)
    assert browser.get("/accounts/").status_code == 200
    clock.shift(7 * 86400 + 1)
    assert not is_signed_in(browser)
    assert UserSession.objects.get(user=user).end_reason == "idle_timeout"


def test_remembered_sessions_end_at_the_remember_absolute_timeout(user, password, clock):
    browser = chrome()
    signed_in_api(browser, user.email, password, remember=True)
    for _ in range(4):
        clock.shift(6 * 86400)
        assert is_signed_in(browser)
    clock.shift(6 * 86400 - 1)
    assert is_signed_in(browser)
    clock.shift(2)
    assert not is_signed_in(browser)


@override_settings(AUTHSUITE_ACCOUNTS_REMEMBER_ABSOLUTE_TIMEOUT=3 * 86400)
def test_remembered_absolute_timeout_is_enforced_by_the_server(user, password, clock):
    browser = chrome()
    signed_in_api(browser, user.email, password, remember=True)
    # Whatever the session store says, the tracking row decides.
    store = browser.session
    store.set_expiry(365 * 86400)
    store.save()
    for _ in range(2):
        clock.shift(86400)
        assert is_signed_in(browser)
    clock.shift(86401)
    assert not is_signed_in(browser)
    assert UserSession.objects.get(user=user).end_reason == "absolute_timeout"


@override_settings(AUTHSUITE_ACCOUNTS_SESSION_IDLE_TIMEOUT=600,
                   AUTHSUITE_ACCOUNTS_SESSION_ABSOLUTE_TIMEOUT=1800)
def test_timeouts_are_configurable(user, password, clock):
    idle, busy = firefox(), chrome()
    signed_in_html(idle, user.email, password)
    signed_in_api(busy, user.email, password)
    clock.shift(500)
    assert is_signed_in(busy)
    clock.shift(101)  # 601 s
    assert not is_signed_in(idle)
    assert is_signed_in(busy)
    for _ in range(2):  # 1601 s
        clock.shift(500)
        assert is_signed_in(busy)
    clock.shift(200)  # 1801 s
    assert not is_signed_in(busy)
    assert UserSession.objects.get(device__startswith="Chrome").end_reason == "absolute_timeout"


# --- how many at once ------------------------------------------------------------------------

def browser_at(n: int) -> Client:
    return Client(HTTP_USER_AGENT=FIREFOX_UBUNTU, REMOTE_ADDR=f"203.0.113.{n}")


def test_any_number_of_sessions_by_default(user, password, clock):
    browsers = [browser_at(n) for n in range(1, 6)]
    for browser in browsers:
        signed_in_html(browser, user.email, password)
        clock.shift(120)

    assert all(is_signed_in(browser) for browser in browsers)


@override_settings(AUTHSUITE_ACCOUNTS_MAX_SESSIONS=2)
def test_a_sign_in_past_the_limit_ends_the_least_recently_used_session(user, password, clock):
    first, second, third = browser_at(1), browser_at(2), browser_at(3)
    signed_in_html(first, user.email, password)
    clock.shift(120)
    signed_in_html(second, user.email, password)
    clock.shift(120)
    assert first.get("/accounts/").status_code == 200  # used after the second signed in
    clock.shift(120)

    signed_in_html(third, user.email, password)

    assert not is_signed_in(second)
    assert is_signed_in(first) and is_signed_in(third)
    ended = UserSession.objects.get(user=user, ended_at__isnull=False)
    assert (ended.ip, ended.end_reason) == ("203.0.113.2", "session_limit")
    assert sessions.sessions_alive(user).count() == 2
    [event] = [row for row in activity_for(user, 50) if row["action"] == "accounts.session.ended"]
    assert (event["by"], event["ip"]) == ("you", "203.0.113.3")  # the sign-in that ended it


@override_settings(AUTHSUITE_ACCOUNTS_MAX_SESSIONS=1)
def test_a_limit_of_one_keeps_the_newest_sign_in(user, password, clock):
    laptop, desktop = firefox(), chrome()
    signed_in_html(laptop, user.email, password)
    clock.shift(60)

    signed_in_api(desktop, user.email, password)

    assert is_signed_in(desktop)
    assert not is_signed_in(laptop)


@override_settings(AUTHSUITE_ACCOUNTS_MAX_SESSIONS=2)
def test_signing_in_again_in_the_same_browser_ends_its_session_not_another(user, password,
                                                                           clock):
    """The browser's session before it signed in again (its key rotated) can no longer be
    used: left open, it was listed, counted as another session, and kept over a real one
    that the limit then ended."""
    phone, laptop = chrome(), firefox()
    signed_in_html(phone, user.email, password)
    clock.shift(120)
    signed_in_html(laptop, user.email, password)
    before = row_of(laptop).pk
    clock.shift(120)

    signed_in_api(laptop, user.email, password)

    assert is_signed_in(phone) and is_signed_in(laptop)
    assert row_of(laptop).pk != before
    assert UserSession.objects.get(pk=before).end_reason == "replaced"
    assert sorted(sessions.sessions_alive(user).values_list("pk", flat=True)) == sorted(
        [row_of(phone).pk, row_of(laptop).pk])


def test_signing_in_as_someone_else_in_the_same_browser_ends_the_first_ones_session(
        user, password):
    shared = firefox()
    signed_in_html(shared, user.email, password)
    first = row_of(shared).pk
    someone_else = UserFactory(password=password)

    signed_in_html(shared, someone_else.email, password)

    assert UserSession.objects.get(pk=first).end_reason == "replaced"
    assert not sessions.sessions_alive(user).exists()
    assert row_of(shared).user_id == someone_else.pk


@override_settings(AUTHSUITE_ACCOUNTS_MAX_SESSIONS=1)
def test_a_session_signed_in_outside_the_pipeline_counts_too(user, password, clock):
    """A project's own sign-in view (``django.contrib.auth.login``, a single sign-on
    callback) makes a session the middleware adopts: it is a sign-in past the limit like any
    other, and ends the least recently used, never the other accounts' sessions."""
    someone_else = UserFactory(password=password)
    theirs = browser_at(9)
    signed_in_html(theirs, someone_else.email, password)
    laptop = firefox()
    signed_in_html(laptop, user.email, password)
    clock.shift(60)
    elsewhere = chrome()
    elsewhere.force_login(user)

    assert elsewhere.get("/accounts/").status_code == 200  # adopted here

    assert not is_signed_in(laptop)
    assert is_signed_in(elsewhere) and is_signed_in(theirs)
    assert UserSession.objects.get(user=user, ended_at__isnull=False).end_reason == "session_limit"


@pytest.mark.urls("tests.core.urls_project_views")
@override_settings(AUTHSUITE_ACCOUNTS_MAX_SESSIONS=1)
def test_a_sign_out_by_djangos_logout_ends_the_tracked_session(user, password):
    """A project's own sign-out view (``django.contrib.auth.logout``) ends the session's row
    as the suite's sign-out does: it is no longer listed, and a later sign-in under the
    limit ends nothing for it."""
    laptop, phone = firefox(), chrome()
    signed_in_html(laptop, user.email, password)
    row = row_of(laptop)

    assert laptop.post("/project/sign-out/sync/").json()["authenticated"] is False

    row.refresh_from_db()
    assert row.end_reason == "logout"
    signed_in_html(phone, user.email, password)
    assert not UserSession.objects.filter(end_reason="session_limit").exists()
    assert [s["current"] for s in api_get(phone, "sessions/").json()] == [True]


@override_settings(AUTHSUITE_ACCOUNTS_MAX_SESSIONS=1)
def test_a_session_whose_account_is_disabled_as_it_is_adopted_is_signed_out(user, monkeypatch):
    """The account disabled after the request loaded its user, before the adoption took its
    row (waiting, on PostgreSQL, for the request that disabled it): no session is recorded
    for it, and the browser is signed out, as a sign-in then is refused."""
    elsewhere = chrome()
    elsewhere.force_login(user)
    lock = sessions.lock_user_row

    def disabled_first(who, **kwargs):
        get_user_model()._default_manager.filter(pk=who.pk).update(is_active=False)
        return lock(who, **kwargs)

    monkeypatch.setattr(sessions, "lock_user_row", disabled_first)

    assert elsewhere.get("/accounts/").status_code == 302  # to the sign-in page

    assert not UserSession.objects.filter(user=user).exists()
    assert "_auth_user_id" not in elsewhere.session


@pytest.mark.django_db(transaction=True)  # the reference is checked as the insert commits
def test_a_session_whose_account_is_deleted_as_it_is_adopted_is_signed_out(user, monkeypatch):
    """Without a session limit the adoption takes no lock: it records the session at once.
    The account deleted after the request loaded its user, the new row's reference to it
    failed as the insert committed (an IntegrityError, a 500). The browser is signed out
    instead, as it is when the account's row is found gone under a limit."""
    elsewhere = chrome()
    elsewhere.force_login(user)
    start = sessions.session_start

    def deleted_first(request, who, **kwargs):
        get_user_model()._default_manager.filter(pk=who.pk).delete()
        return start(request, who, **kwargs)

    monkeypatch.setattr(sessions, "session_start", deleted_first)

    assert elsewhere.get("/accounts/").status_code == 302  # to the sign-in page

    assert not UserSession.objects.exists()
    assert "_auth_user_id" not in elsewhere.session


@pytest.mark.parametrize("value", [0, -1, "2", 2.0, True])
def test_a_limit_that_is_no_count_is_a_configuration_error(value):
    with override_settings(AUTHSUITE_ACCOUNTS_MAX_SESSIONS=value):
        found = [m.id for m in checks.run_checks() if m.id == "authsuite_accounts.E013"]
    assert found == ["authsuite_accounts.E013"]


@pytest.mark.parametrize("value", [None, 1, 3])
def test_a_limit_of_at_least_one_passes_the_checks(value):
    with override_settings(AUTHSUITE_ACCOUNTS_MAX_SESSIONS=value):
        assert "authsuite_accounts.E013" not in [m.id for m in checks.run_checks()]


def test_abandoned_sessions_are_not_listed(user, password, clock):
    abandoned, active = firefox(), chrome()
    signed_in_html(abandoned, user.email, password)
    clock.shift(30 * 60)
    signed_in_html(active, user.email, password)
    clock.shift(31 * 60)  # the Firefox session idled out and its browser never came back

    listed = api_get(active, "sessions/").json()
    page = active.get(SESSIONS).content.decode()

    assert [s["device"] for s in listed] == ["Chrome 126 on Windows 10"]
    assert "Firefox" not in page
    assert page.count('class="session"') == 1


def test_last_seen_is_refreshed_with_the_current_ip(user, password, clock):
    browser = firefox()
    signed_in_html(browser, user.email, password)
    clock.shift(61)
    browser.get("/accounts/", REMOTE_ADDR="203.0.113.99")
    row = UserSession.objects.get(user=user)
    assert row.ip == "203.0.113.99"
    assert row.last_seen_at == row.created_at + timedelta(seconds=61)


# --- deactivation ---------------------------------------------------------------------------

def admin_change_data(response) -> dict:
    """The POST data of an admin change form as it is rendered."""
    data = {}
    form = response.context["adminform"].form
    forms = [(form, form.fields)]
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        management = formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = management[name].value()
        forms.extend((f, f.fields) for f in formset.forms)
    for bound_form, fields in forms:
        for name in fields:
            value = bound_form[name].value()
            key = bound_form.add_prefix(name)
            if value is None or value is False:
                continue
            data[key] = "on" if value is True else value
    return data


def test_deactivating_in_the_admin_form_ends_all_sessions(user, staff, two_browsers):
    laptop, desktop = two_browsers
    admin = Client()
    admin.force_login(staff)
    url = user_admin_url("change", user.pk)
    data = admin_change_data(admin.get(url))
    del data["is_active"]

    response = admin.post(url, {**data, "_save": "Save"})

    assert response.status_code == 302, response.context["adminform"].form.errors
    user.refresh_from_db()
    assert user.is_active is False
    assert not is_signed_in(laptop)
    assert not is_signed_in(desktop)
    assert set(UserSession.objects.filter(user=user).values_list("end_reason", flat=True)) == {
        "deactivated"
    }


def test_deactivating_with_the_admin_action_ends_all_sessions(user, staff, two_browsers):
    laptop, desktop = two_browsers
    admin = Client()
    admin.force_login(staff)

    admin.post(user_admin_url("changelist"),
               {"action": "deactivate", "_selected_action": [user.pk]})

    user.refresh_from_db()
    assert user.is_active is False
    assert not is_signed_in(laptop)
    assert not is_signed_in(desktop)


def test_sessions_ended_by_a_staff_deactivation_name_the_staff_member_alone(user, staff,
                                                                           two_browsers):
    # The action ends every session at once, as the staff member's act: when the browsers
    # come back to a disabled account, there is nothing left for them to end unnamed.
    from audit.models import Event
    from tests.factories import UserFactory

    laptop, desktop = two_browsers
    other = UserFactory()
    other_browser = Client()
    other_browser.force_login(other)
    other_browser.get("/accounts/")
    admin = Client()
    admin.force_login(staff)
    start = Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    admin.post(user_admin_url("changelist"),
               {"action": "deactivate", "_selected_action": [user.pk, other.pk]})
    for browser in (laptop, desktop, other_browser):
        assert not is_signed_in(browser)

    ended = Event.objects.filter(pk__gt=start, action="accounts.session.ended")
    assert sorted((e.actor_id, e.target_id) for e in ended) == sorted(
        [(str(staff.pk), str(user.pk))] * 2 + [(str(staff.pk), str(other.pk))])


def test_deactivate_flow_ends_all_sessions(user, two_browsers):
    laptop, desktop = two_browsers
    account_deactivate(user)
    assert not UserSession.objects.filter(user=user, ended_at__isnull=True).exists()
    assert not is_signed_in(laptop)
    assert not is_signed_in(desktop)


def test_a_user_disabled_by_a_bulk_update_is_signed_out_for_good(user, two_browsers):
    # QuerySet.update() sends no signal. The backend refuses the user meanwhile; the first
    # request of each browser ends its session, so enabling the user revives none.
    laptop, desktop = two_browsers
    type(user).objects.filter(pk=user.pk).update(is_active=False)

    assert laptop.get("/accounts/").status_code == 302
    assert list(UserSession.objects.filter(user=user, ended_at__isnull=False)
                .values_list("end_reason", flat=True)) == ["deactivated"]
    type(user).objects.filter(pk=user.pk).update(is_active=True)

    assert not is_signed_in(laptop)
    assert is_signed_in(desktop)  # it made no request while the user was disabled...


def test_the_periodic_sweep_ends_sessions_of_users_disabled_by_a_bulk_update(user, two_browsers):
    laptop, desktop = two_browsers
    type(user).objects.filter(pk=user.pk).update(is_active=False)

    assert sessions.sessions_expire() == 2
    type(user).objects.filter(pk=user.pk).update(is_active=True)

    # ...unless the sweep ran: then none comes back.
    assert not is_signed_in(laptop)
    assert not is_signed_in(desktop)
    assert set(UserSession.objects.filter(user=user).values_list("end_reason", flat=True)) == {
        "deactivated"}


def test_the_periodic_task_voids_the_live_links_of_disabled_accounts(user):
    from django.utils import timezone

    from accounts.models import OneTimeToken

    now = timezone.now()
    live, expired = (OneTimeToken.objects.create(
        purpose="magic_link", user=user, email=user.email, digest=digest, expires_at=expires)
        for digest, expires in (("a" * 64, now + timedelta(minutes=5)),
                                ("b" * 64, now - timedelta(minutes=5))))
    type(user)._default_manager.filter(pk=user.pk).update(is_active=False)
    sessions.sessions_expire()
    live.refresh_from_db()
    expired.refresh_from_db()
    assert live.voided_at is not None
    # One that expired works no more anyway: left as it is, and not looked for.
    assert expired.voided_at is None


def test_saving_an_active_user_ends_nothing(user, staff, two_browsers):
    laptop, _ = two_browsers
    user.name = "Renamed"
    user.save()
    assert is_signed_in(laptop)


def test_staff_end_all_sessions_action(user, staff, two_browsers):
    laptop, desktop = two_browsers
    admin = Client()
    admin.force_login(staff)
    admin.post(user_admin_url("changelist"),
               {"action": "end_all_sessions", "_selected_action": [user.pk]})
    assert not is_signed_in(laptop)
    assert not is_signed_in(desktop)
    user.refresh_from_db()
    assert user.is_active


@override_settings(AUTHSUITE_ACCOUNTS_SESSION_TOUCH_INTERVAL=300)
def test_touch_interval_is_configurable(user, password, clock):
    browser = firefox()
    signed_in_html(browser, user.email, password)
    created = UserSession.objects.get(user=user).created_at

    clock.shift(200)
    browser.get("/accounts/")
    assert UserSession.objects.get(user=user).last_seen_at == created
    clock.shift(101)
    browser.get("/accounts/")
    assert UserSession.objects.get(user=user).last_seen_at == created + timedelta(seconds=301)


@override_settings(AUTHSUITE_ACCOUNTS_REMEMBER_IDLE_TIMEOUT=3600)
def test_remember_idle_timeout_is_configurable(user, password, clock):
    browser = firefox()
    signed_in_html(browser, user.email, password, remember="on")
    clock.shift(3601)
    assert not is_signed_in(browser)
    assert UserSession.objects.get(user=user).end_reason == "idle_timeout"


# --- ending another session takes a recent authentication (ASVS 7.5.2) ---------------------

@pytest.fixture
def stale_browsers(user, password, time_machine):
    """Two sessions of one account, both signed in more than five minutes ago."""
    freeze(time_machine)
    laptop, desktop = firefox(), chrome()
    signed_in_html(laptop, user.email, password)
    signed_in_api(desktop, user.email, password)
    time_machine.shift(301)
    return laptop, desktop


@pytest.mark.parametrize("which", ["others", "all", "desktop"])
def test_html_stale_session_reauthenticates_before_ending_another(stale_browsers, which):
    laptop, desktop = stale_browsers
    choice = str(row_of(desktop).pk) if which == "desktop" else which
    response = laptop.post(SESSIONS, {"session": choice})
    assert response["Location"] == "/accounts/reauthenticate/?next=%2Faccounts%2Fsessions%2F"
    assert is_signed_in(laptop)
    assert is_signed_in(desktop)
    assert UserSession.objects.filter(ended_at__isnull=True).count() == 2


def test_html_after_reauthenticating_another_session_can_be_ended(stale_browsers, password):
    laptop, desktop = stale_browsers
    response = laptop.post("/accounts/reauthenticate/?next=%2Faccounts%2Fsessions%2F",
                           {"password": password})
    assert response["Location"] == SESSIONS
    response = laptop.post(SESSIONS, {"session": "others"}, follow=True)
    assert b"1 other session ended." in response.content
    assert not is_signed_in(desktop)


@pytest.mark.parametrize("call", ["end-others", "end-all", "delete-other"])
def test_api_stale_session_reauthenticates_before_ending_another(stale_browsers, call):
    laptop, desktop = stale_browsers
    if call == "delete-other":
        response = api_delete(desktop, f"sessions/{row_of(laptop).pk}/")
    else:
        response = api_post(desktop, f"sessions/{call}/")
    assert response.status_code == 403
    assert error_code(response) == "reauthentication_required"
    assert is_signed_in(laptop)
    assert is_signed_in(desktop)
    assert UserSession.objects.filter(ended_at__isnull=True).count() == 2
