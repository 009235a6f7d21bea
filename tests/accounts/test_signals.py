"""The accounts signals: each documented one is sent, with its documented sender and kwargs,
and no payload ever carries a password, a token or a session key."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Model
from django.dispatch import Signal
from django.http import HttpRequest
from django.test import Client

from accounts import signals
from accounts.flows.account import account_deactivate, account_reactivate
from accounts.flows.password import password_change_require
from accounts.models import EmailAddress, UserSession
from tests.accounts.support import API, api_delete, api_post
from tests.factories import UserFactory
from tests.helpers import LINK_RE, last_link, token_from, user_admin_url

pytestmark = pytest.mark.django_db
User = get_user_model()

SECRET_PASSWORDS = [
    "Sentinel Passphrase 7Q4xZ first",
    "Sentinel Passphrase 7Q4xZ wrong",
    "Sentinel Passphrase 7Q4xZ changed",
    "Sentinel Passphrase 7Q4xZ reset",
]
FIRST, WRONG, CHANGED, RESET = SECRET_PASSWORDS
EMAIL = "signal.tester@example.com"


def documented() -> dict[str, set[str]]:
    """Signal name -> documented kwargs, read from the module docstring."""
    found = {}
    for line in re.split(r"\n- ", signals.__doc__):
        match = re.match(r"``(\w+)``: (.*)", line.strip(), re.S)
        if match and isinstance(getattr(signals, match.group(1), None), Signal):
            found[match.group(1)] = set(re.findall(r"``(\w+)``(?! *:)", match.group(2))) - {
                "password", "magic_link", "credentials", "locked", "inactive", "delete",
                "deactivate",
            }
    return found


DOCUMENTED = documented()


class Recorder:
    def __init__(self):
        self.calls: list[tuple[str, object, dict]] = []
        self.user_pks: list[object] = []  # as they were when the signal was sent
        self.session_keys: set[str] = set()

    def receiver_for(self, name):
        def receive(sender, signal, **kwargs):
            self.calls.append((name, sender, kwargs))
            self.user_pks.append(getattr(kwargs.get("user"), "pk", None))
            request = kwargs.get("request")
            session = getattr(request, "session", None)
            if session is not None and session.session_key:
                self.session_keys.add(session.session_key)
        return receive

    def names(self) -> set[str]:
        return {name for name, _, _ in self.calls}

    def of(self, name) -> list[dict]:
        return [kwargs for n, _, kwargs in self.calls if n == name]


@pytest.fixture
def recorder():
    rec = Recorder()
    receivers = []
    for name in DOCUMENTED:
        receive = rec.receiver_for(name)
        getattr(signals, name).connect(receive, weak=False)
        receivers.append((name, receive))
    yield rec
    for name, receive in receivers:
        getattr(signals, name).disconnect(receive)


def test_the_docstring_documents_every_signal():
    declared = {n for n, v in vars(signals).items() if isinstance(v, Signal)}
    assert set(DOCUMENTED) == declared
    assert DOCUMENTED["login_failed"] == {"request", "user", "identifier", "method", "reason"}
    assert DOCUMENTED["account_closed"] == {"request", "user_id", "email", "action"}


# --- the journeys ---------------------------------------------------------------------------

def mailed_tokens() -> set[str]:
    from django.core import mail

    return {token_from(link) for m in mail.outbox for link in LINK_RE.findall(m.body)}


def html_journey(staff, session_keys: set[str]) -> None:
    browser = Client(REMOTE_ADDR="203.0.113.1")
    other_browser = Client(REMOTE_ADDR="203.0.113.2")
    attacker = Client(REMOTE_ADDR="203.0.113.66")
    admin = Client()
    admin.force_login(staff)

    browser.post("/accounts/signup/", {"email": EMAIL, "password": FIRST})
    browser.post(last_link(EMAIL), {"password": FIRST})  # email_verified
    attacker.post("/accounts/signup/", {"email": EMAIL, "password": WRONG})  # address taken
    for _ in range(6):  # login_failed (credentials, then locked), account_locked
        attacker.post("/accounts/login/", {"email": EMAIL, "password": WRONG})
    attacker.post("/accounts/login/", {"email": "nobody@example.com", "password": WRONG})
    attacker.post("/accounts/magic-link/", {"email": "nobody@example.com"})
    attacker.post("/accounts/password/reset/", {"email": "nobody@example.com"})
    user = User.objects.get(email=EMAIL)
    admin.post(user_admin_url("changelist"),
               {"action": "unlock", "_selected_action": [user.pk]})
    browser.post("/accounts/login/", {"email": EMAIL, "password": FIRST})
    other_browser.post("/accounts/login/", {"email": EMAIL, "password": FIRST})
    session_keys.update({browser.session.session_key, other_browser.session.session_key})
    browser.post("/accounts/reauthenticate/", {"password": WRONG})
    browser.post("/accounts/reauthenticate/", {"password": FIRST})
    browser.post("/accounts/email/", {"action": "add", "email": "second.tester@example.com"})
    browser.post(last_link("second.tester@example.com"))
    second = EmailAddress.objects.get(email="second.tester@example.com")
    browser.post("/accounts/email/", {"action": "primary", "address": second.pk})
    attacker.post("/accounts/magic-link/", {"email": EMAIL})  # link_withheld: not the login one
    old = EmailAddress.objects.get(email=EMAIL)
    browser.post("/accounts/email/", {"action": "remove", "address": old.pk})
    browser.post("/accounts/password/change/",
                 {"current_password": FIRST, "new_password": CHANGED,
                  "new_password_confirm": CHANGED})
    session_keys.add(browser.session.session_key)
    browser.post("/accounts/password/reset/", {"email": "second.tester@example.com"})
    browser.post(last_link("second.tester@example.com"),
                 {"new_password": RESET, "new_password_confirm": RESET})
    phone = Client()
    phone.post("/accounts/magic-link/", {"email": "second.tester@example.com"})
    phone.post(last_link("second.tester@example.com"))
    session_keys.add(phone.session.session_key)
    browser.post("/accounts/login/", {"email": "second.tester@example.com", "password": RESET})
    session_keys.add(browser.session.session_key)
    phone_row = UserSession.objects.get(pk=phone.session["_authsuite_sid"])
    browser.post("/accounts/sessions/", {"session": str(phone_row.pk)})
    browser.post("/accounts/logout/")
    browser.post("/accounts/login/", {"email": "second.tester@example.com", "password": RESET})
    session_keys.add(browser.session.session_key)
    browser.post("/accounts/close/", {"confirm": "on"})

    bystander = UserFactory()
    bystander_browser = Client()
    bystander_browser.force_login(bystander)
    bystander_browser.get("/accounts/profile/")  # a tracked session, for staff to end
    for action in ("require_password_change", "send_password_reset", "end_all_sessions",
                   "deactivate"):
        admin.post(user_admin_url("changelist"),
                   {"action": action, "_selected_action": [bystander.pk]})
    attacker.post("/accounts/password/reset/", {"email": bystander.email})  # link_withheld
    admin.post(user_admin_url("changelist"),
               {"action": "reactivate", "_selected_action": [bystander.pk]})


def api_journey(session_keys: set[str]) -> None:
    app = Client(REMOTE_ADDR="203.0.113.1")
    other = Client(REMOTE_ADDR="203.0.113.2")
    attacker = Client(REMOTE_ADDR="203.0.113.66")

    api_post(app, "signup/", {"email": EMAIL, "password": FIRST})
    api_post(app, "email/verify/", {"token": token_from(last_link(EMAIL)), "password": FIRST})
    api_post(attacker, "signup/", {"email": EMAIL, "password": WRONG})  # address taken
    for _ in range(6):
        api_post(attacker, "login/", {"email": EMAIL, "password": WRONG})
    api_post(attacker, "login/", {"email": "nobody@example.com", "password": WRONG})
    from accounts.lockout import account_unlock

    account_unlock(User.objects.get(email=EMAIL))
    api_post(app, "login/", {"email": EMAIL, "password": FIRST})
    api_post(other, "login/", {"email": EMAIL, "password": FIRST})
    session_keys.update({app.session.session_key, other.session.session_key})
    api_post(app, "reauthenticate/", {"password": WRONG})
    api_post(app, "reauthenticate/", {"password": FIRST})
    api_post(app, "emails/", {"email": "second.tester@example.com"})
    api_post(app, "email/verify/", {"token": token_from(last_link("second.tester@example.com"))})
    second = EmailAddress.objects.get(email="second.tester@example.com")
    api_post(app, f"emails/{second.pk}/primary/")
    api_post(attacker, "password/reset/", {"email": EMAIL})  # link_withheld: not the login one
    old = EmailAddress.objects.get(email=EMAIL)
    api_delete(app, f"emails/{old.pk}/")
    api_post(app, "password/change/", {"current_password": FIRST, "new_password": CHANGED})
    session_keys.add(app.session.session_key)
    api_post(app, "password/reset/", {"email": "second.tester@example.com"})
    api_post(app, "password/reset/confirm/", {
        "token": token_from(last_link("second.tester@example.com")), "new_password": RESET,
    })
    phone = Client()
    api_post(phone, "magic-link/", {"email": "nobody@example.com"})
    api_post(phone, "password/reset/", {"email": "nobody@example.com"})
    api_post(phone, "magic-link/", {"email": "second.tester@example.com"})
    api_post(phone, "magic-link/confirm/",
             {"token": token_from(last_link("second.tester@example.com"))})
    session_keys.add(phone.session.session_key)
    api_post(app, "login/", {"email": "second.tester@example.com", "password": RESET})
    session_keys.add(app.session.session_key)
    api_delete(app, f"sessions/{phone.session['_authsuite_sid']}/")
    api_post(app, "sessions/end-others/")
    api_post(app, "logout/")
    api_post(app, "login/", {"email": "second.tester@example.com", "password": RESET})
    session_keys.add(app.session.session_key)
    assert app.post(API + "account/close/", content_type="application/json").status_code == 204

    bystander = UserFactory()
    password_change_require(None, user=bystander, by=None)
    account_deactivate(bystander)
    api_post(attacker, "magic-link/", {"email": bystander.email})  # link_withheld
    account_reactivate(bystander)


@pytest.fixture(params=["html", "api"])
def journey(request, recorder, staff):
    session_keys: set[str] = set()
    if request.param == "html":
        html_journey(staff, session_keys)
    else:
        api_journey(session_keys)
    recorder.session_keys |= session_keys
    return recorder


# --- every signal, documented kwargs and sender ---------------------------------------------

def test_every_documented_signal_is_sent(journey):
    assert journey.names() == set(DOCUMENTED)


def test_kwargs_are_exactly_the_documented_ones(journey):
    for name, _, kwargs in journey.calls:
        assert set(kwargs) == DOCUMENTED[name], name


def test_sender_is_the_user_model(journey):
    for name, sender, kwargs in journey.calls:
        user = kwargs.get("user", "no user kwarg")
        # An address no account has: no user at all, so None's class.
        expected = type(None) if user is None or name == "unknown_address_asked" else User
        assert sender is expected, (name, sender)


def test_user_kwargs_are_users_and_requests_are_requests(journey):
    for (name, _, kwargs), pk in zip(journey.calls, journey.user_pks, strict=True):
        if "user" in kwargs and kwargs["user"] is not None:
            assert isinstance(kwargs["user"], User), name
            assert pk is not None, name
        assert kwargs["request"] is None or isinstance(kwargs["request"], HttpRequest), name


def test_payload_values(journey):
    succeeded = journey.of("login_succeeded")
    assert {(k["method"], tuple(k["amr"])) for k in succeeded} >= {
        ("password", ("pwd",)), ("magic_link", ("email",))
    }
    failed = journey.of("login_failed")
    assert {(k["method"], k["reason"]) for k in failed} == {
        ("password", "credentials"), ("password", "locked"), ("reauthenticate", "credentials")
    }
    unknown = [k for k in failed if k["identifier"] == "nobody@example.com"]
    assert unknown and all(k["user"] is None for k in unknown)
    asked = journey.of("unknown_address_asked")
    assert sorted((k["identifier"], k["purpose"]) for k in asked) == [
        ("nobody@example.com", "magic_link"), ("nobody@example.com", "password_reset")]
    withheld = journey.of("link_withheld")
    assert sorted((k["reason"], k["email"] == k["user"].email) for k in withheld) == [
        ("inactive", True), ("not_login_address", False)]
    assert {k["purpose"] for k in withheld} == {"magic_link", "password_reset"}
    locked = [k for k in failed if k["reason"] == "locked"]
    assert locked and all(k["user"] is not None and k["identifier"] == EMAIL for k in locked)

    (taken,) = journey.of("signup_address_taken")
    assert taken["email"] == EMAIL and taken["user"].email == EMAIL

    (lock,) = journey.of("account_locked")
    assert (lock["identifier"], lock["ip"]) == (EMAIL, "203.0.113.66")
    assert isinstance(lock["until"], datetime)
    assert lock["user"].email == EMAIL

    (changed,) = journey.of("email_changed")
    assert (changed["old_email"], changed["new_email"]) == (EMAIL, "second.tester@example.com")
    assert {k["email"] for k in journey.of("email_added")} == {"second.tester@example.com"}
    assert {k["email"] for k in journey.of("email_removed")} == {EMAIL}
    assert {k["email"] for k in journey.of("email_verified")} == {
        EMAIL, "second.tester@example.com"
    }

    ended = journey.of("session_ended")
    assert all(isinstance(k["session_id"], int) for k in ended)
    assert {k["reason"] for k in ended} >= {"password_changed", "password_reset", "user",
                                           "logout", "account_closed"}

    (closed,) = journey.of("account_closed")
    assert (closed["email"], closed["action"]) == ("second.tester@example.com", "delete")
    assert isinstance(closed["user_id"], int)
    (deactivated,) = journey.of("account_deactivated")
    assert deactivated["user"].email != EMAIL
    (reactivated,) = journey.of("account_reactivated")
    assert reactivated["user"] == deactivated["user"]
    assert {k["method"] for k in journey.of("reauthenticated")} == {"password"}
    (unlocked,) = journey.of("account_unlocked")
    assert unlocked["user"].email == EMAIL


def test_the_admin_is_named_as_by(recorder, staff):
    html_journey(staff, set())
    (unlocked,) = recorder.of("account_unlocked")
    (deactivated,) = recorder.of("account_deactivated")
    (reactivated,) = recorder.of("account_reactivated")
    (required,) = recorder.of("password_change_required")
    assert unlocked["by"] == staff
    assert deactivated["by"] == staff
    assert reactivated["by"] == staff
    assert required["by"] == staff
    reset_by = {k["user"].email: k["by"] for k in recorder.of("password_reset_requested")}
    assert [by for email, by in reset_by.items() if email != EMAIL
            and not email.startswith("second.")] == [staff]
    assert {k["by"] for k in recorder.of("session_ended") if k["reason"] == "staff"} == {staff}
    assert all(k["by"] is None for k in recorder.of("session_ended") if k["reason"] == "user")


# --- no secrets -----------------------------------------------------------------------------

def flatten(value, depth=0) -> list[str]:
    """Every piece of text reachable from a payload value."""
    if depth > 4:
        return []
    if isinstance(value, Model):
        return [str(value)] + [
            text for name, attr in vars(value).items() if name != "_state"
            for text in flatten(attr, depth + 1)
        ]
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in (*flatten(k, depth + 1),
                                                       *flatten(v, depth + 1))]
    if isinstance(value, list | tuple | set | frozenset):
        return [t for v in value for t in flatten(v, depth + 1)]
    return [repr(value), str(value)]


def test_no_payload_carries_a_secret(journey):
    secrets = [*SECRET_PASSWORDS, *mailed_tokens(), *journey.session_keys]
    assert len(mailed_tokens()) >= 4
    assert len(journey.session_keys) >= 4
    for name, sender, kwargs in journey.calls:
        # The request is the context of the event (what the client sent), not its payload.
        payload = {k: v for k, v in kwargs.items() if k != "request"}
        texts = flatten(payload) + flatten(sender)
        for secret in secrets:
            assert not any(secret in text for text in texts), (name, secret[:6])
