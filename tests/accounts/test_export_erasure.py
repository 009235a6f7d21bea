"""What the export shows of an account that used every feature, and what closing it leaves."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.app_settings import app_settings as lockout_settings
from accounts.models import EmailAddress, LoginThrottle, OneTimeToken, UserSession
from audit import alerts, chain
from audit.models import AlertOptOut, AlertSent, Event
from authsuite.app_settings import app_settings as core_settings
from authsuite.models import OutboxMessage
from mfa.models import EnforcementState, RecoveryCode, TOTPDevice, TrustedBrowser
from passkeys.models import Passkey, WebAuthnUser
from tests.accounts.support import (
    api_get,
    api_login,
    freeze,
    links_to,
    signed_in_api,
    signed_in_html,
)
from tests.factories import UserFactory
from tests.helpers import token_from
from tests.mfa.support import enroll
from tests.passkeys.support import add_passkey, password_client

pytestmark = pytest.mark.django_db
User = get_user_model()
EXPORT = "/accounts/export/"
CLOSE = "/accounts/close/"
GUESSER = "203.0.113.9"  # locks its pair with the login address
OTHER_IP = "198.51.100.7"
OPTIONAL = "audit.alerts.NewDeviceSignIn"


@pytest.fixture(autouse=True)
def _fresh_devices():
    alerts._known_devices.clear()
    yield
    alerts._known_devices.clear()


@pytest.fixture
def everything(user, password):
    """An account that used every feature, a browser signed in to it with the password
    just now, and the secrets the export must never show."""
    browser = Client()
    signed_in_html(browser, user.email, password)
    phone = Client()
    signed_in_api(phone, user.email, password)
    EmailAddress.objects.create(user=user, email="second@example.com", verified=True)
    # Typed on the account, never verified: possibly someone else's mailbox.
    EmailAddress.objects.create(user=user, email="typed@example.com")
    Client().post("/accounts/password/reset/", {"email": user.email})
    (reset_link,) = links_to(user.email)
    Client().post("/accounts/password/reset/", {"email": "typed@example.com"})
    passkey = add_passkey(password_client(user, password))
    totp_key, codes = enroll(user)
    # A second factor now: the browser proves it too before closing the account.
    assert browser.post("/mfa/challenge/", {"code": codes[0]}).status_code == 302
    TrustedBrowser.objects.create(user=user, digest="f" * 64, device="Firefox 128 on Ubuntu",
                                  ip="203.0.113.5", expires_at=timezone.now() + timedelta(days=30))
    alerts.preference_set(None, user=user, rule_name=OPTIONAL, enabled=False)
    EnforcementState.objects.create(user=user)  # a second factor required of it since now
    for _ in range(lockout_settings.LOCKOUT_THRESHOLD):
        api_login(Client(), user.email, "wrong password", REMOTE_ADDR=GUESSER)
    api_login(Client(), "second@example.com", "wrong password", REMOTE_ADDR=OTHER_IP)
    secrets = [
        user.password, token_from(reset_link), totp_key, *codes, "f" * 64,
        passkey.credential_id, base64.b64encode(bytes(passkey.public_key)).decode(),
        base64.urlsafe_b64encode(bytes(passkey.public_key)).decode().rstrip("="),
        *RecoveryCode.objects.values_list("digest", flat=True),
        *TOTPDevice.objects.values_list("sealed_key", flat=True),
        *OneTimeToken.objects.values_list("digest", flat=True),
        *UserSession.objects.values_list("key_digest", flat=True),
        *WebAuthnUser.objects.values_list("handle", flat=True),
        *[s for s in OutboxMessage.objects.values_list("sealed_context", flat=True) if s],
        browser.session.session_key, phone.session.session_key, password,
    ]
    return user, browser, secrets


def test_export_shows_what_the_suite_keeps_about_the_account(everything):
    user, browser, secrets = everything
    neighbour = UserFactory(email="neighbour@example.com")
    Client().post("/accounts/password/reset/", {"email": neighbour.email})

    response = browser.get(EXPORT)

    assert response.status_code == 200
    data = json.loads(response.content)
    # Every mail to the account or to an address it verified; not the one to the address
    # it only typed, which someone else asked for.
    site = core_settings.SITE_NAME
    assert [(m["to"], m["subject"], m["status"]) for m in data["mail"]] == [
        (user.email, f"{site}: reset your password", "sent"),
        (user.email, f"{site}: A passkey was added", "sent"),
        (user.email, f"{site}: A recovery code was used", "sent"),
        (user.email, f"{site}: Repeated failed sign-ins to your account", "sent"),
    ]
    assert {m["to"] for m in data["mail"]} == {user.email}
    assert all(set(m) == {"to", "subject", "status", "created_at", "sent_at"}
               for m in data["mail"])
    failures = {(f["address"], f["scope"], f["ip"]): f for f in data["sign_in_failures"]}
    assert set(failures) == {(user.email, "ip", GUESSER), (user.email, "account", None),
                             ("second@example.com", "ip", OTHER_IP),
                             ("second@example.com", "account", None)}
    assert failures[(user.email, "ip", GUESSER)]["lockouts"] == 1
    assert failures[(user.email, "ip", GUESSER)]["locked_until"] is not None
    assert failures[(user.email, "account", None)]["consecutive_failures"] == 5
    activity = data["security_activity"]
    assert activity["complete"] is True
    assert activity["limit"] == 1000
    actions = [e["action"] for e in activity["events"]]
    assert {"accounts.login.succeeded", "accounts.login.failed", "passkeys.added",
            "audit.alert.preference_changed", "accounts.account.locked"} <= set(actions)
    assert actions.count("accounts.login.failed") == 5  # the login address's; newest first
    assert [e["id"] for e in activity["events"]] == sorted(
        (e["id"] for e in activity["events"]), reverse=True)
    assert {e["ip"] for e in activity["events"]
            if e["action"] == "accounts.login.failed"} == {GUESSER}
    assert data["mfa"]["required_since"] == EnforcementState.objects.get(
        user=user).required_since.isoformat()
    preferences = {p["rule"]: p["enabled"] for p in data["alerts"]["preferences"]}
    assert preferences[OPTIONAL] is False
    assert preferences["audit.alerts.PasskeyAdded"] is True
    assert "audit.alerts.PasskeyAdded" in {s["rule"] for s in data["alerts"]["sent"]}

    text = response.content.decode()
    assert "neighbour@example.com" not in text
    assert "typed@example.com" in {a["email"] for a in data["email_addresses"]}
    for secret in secrets:
        assert secret not in text, secret


@override_settings(AUTHSUITE_AUDIT_EXPORT_EVENTS=3)
def test_export_bounds_the_security_activity_and_says_so(everything):
    user, browser, _secrets = everything

    activity = api_get(browser, "account/export/").json()["security_activity"]

    assert activity["limit"] == 3
    assert activity["complete"] is False
    newest = Event.objects.filter(actor_id=str(user.pk)).order_by("-pk")[:3]
    assert [e["id"] for e in activity["events"]] == [e.pk for e in newest]


def _export_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert api_get(client, "account/export/").status_code == 200
    return len(queries)


def test_export_costs_the_same_queries_however_much_there_is(everything,
                                                            django_assert_max_num_queries):
    user, browser, _secrets = everything
    before = _export_queries(browser)

    # As much again of everything the export lists, one row at a time.
    for i in range(5):
        EmailAddress.objects.create(user=user, email=f"more{i}@example.com", verified=True)
        OutboxMessage.objects.create(template="accounts/email/password_changed",
                                     to=user.email, user=user, status="sent")
        LoginThrottle.objects.create(identifier=f"more{i}@example.com", ip=OTHER_IP,
                                     failures=1)
        UserSession.objects.create(user=user, key_digest=f"{i:064d}", device="curl")
        TrustedBrowser.objects.create(user=user, digest=f"{i:064x}",
                                      expires_at=timezone.now() + timedelta(days=1))
        AlertSent.objects.create(rule=OPTIONAL, user_id=str(user.pk), key=str(i))
        alerts.preference_set(None, user=user, rule_name=OPTIONAL, enabled=i % 2 == 0)
        Passkey.objects.create(user=user, credential_id=f"id{i}", public_key=b"k", name=f"k{i}")

    assert _export_queries(browser) == before
    # The session and the account, then one or two per section.
    with django_assert_max_num_queries(19):
        api_get(browser, "account/export/")


# --- closing --------------------------------------------------------------------------------

def _rows_naming(user_id) -> dict[str, int]:
    """Rows of every model that point at the account by a foreign key."""
    found = {}
    for model in apps.get_models():
        for field in model._meta.fields:
            if field.is_relation and field.related_model is User:
                count = model._default_manager.filter(**{field.attname: user_id}).count()
                if count:
                    found[f"{model._meta.label}.{field.name}"] = count
    return found


def _session_data_of(user_id) -> list[dict]:
    """The session store's entries signed in to the account, by their tracked session."""
    found = [data for data in (s.get_decoded() for s in Session.objects.all())
             if data.get("_auth_user_id") == str(user_id)]
    return sorted(found, key=lambda data: data["_authsuite_sid"])


def test_closing_leaves_only_the_trail_and_a_running_lock(everything):
    user, browser, _secrets = everything
    user_id, addresses = user.pk, [user.email, "second@example.com"]
    neighbour = UserFactory(email="neighbour@example.com")
    Client().post("/accounts/password/reset/", {"email": neighbour.email})
    api_login(Client(), neighbour.email, "wrong password", REMOTE_ADDR=GUESSER)
    # A message still to be sent when the account closes.
    queued = OutboxMessage.objects.create(template="accounts/email/password_changed",
                                          to=user.email, user=user,
                                          next_attempt_at=timezone.now() + timedelta(hours=1))
    neighbours_mail = set(OutboxMessage.objects.filter(to=neighbour.email).values_list("pk",
                                                                                       flat=True))
    last_event = Event.objects.order_by("-pk").first().pk
    sids = {data["_authsuite_sid"] for data in _session_data_of(user_id)}
    browser_sid = browser.session["_authsuite_sid"]
    assert len(sids) == 3

    response = browser.post(CLOSE, {"confirm": "on"})

    assert response.status_code == 302, response
    assert response["Location"] == "/accounts/login/", response["Location"]
    assert not User.objects.filter(pk=user_id).exists()
    assert _rows_naming(user_id) == {}
    assert not AlertOptOut.objects.filter(user_id=str(user_id)).exists()
    assert not AlertSent.objects.filter(user_id=str(user_id)).exists()
    # Of its mail, only the message still to be sent, which the outbox delivers and then
    # forgets as any other; the mail to the address it only typed is someone else's.
    assert list(OutboxMessage.objects.filter(to__in=addresses)) == [queued]
    queued.refresh_from_db()
    assert queued.user_id is None and queued.status == "pending"
    assert OutboxMessage.objects.filter(to="typed@example.com").count() == 1
    # Of its failed sign-ins, the lock still running, its consecutive count forgotten.
    assert list(LoginThrottle.objects.filter(identifier__in=addresses).values_list(
        "identifier", "ip", "lockouts", "consecutive_failures")) == [(user.email, GUESSER, 1, 0)]
    # The neighbour's are untouched.
    assert set(OutboxMessage.objects.filter(to=neighbour.email).values_list(
        "pk", flat=True)) == neighbours_mail
    assert LoginThrottle.objects.filter(identifier=neighbour.email).count() == 2
    # The session data of its two other browsers, which the suite cannot find (it keeps a
    # digest of their keys), until they expire; the closing browser's is gone.
    assert [data["_authsuite_sid"] for data in _session_data_of(user_id)] == sorted(
        sids - {browser_sid})
    # The trail keeps every event, the closure's too, and still verifies.
    closed = Event.objects.filter(action="accounts.account.closed").get()
    assert closed.target_id == str(user_id) and closed.target_repr == user.email
    assert list(Event.objects.filter(pk__gt=last_event).order_by("pk").values_list(
        "action", flat=True)) == ["accounts.session.ended"] * 3 + ["accounts.account.closed"]
    assert Event.objects.filter(actor_id=str(user_id)).exists()
    chain.seal_all()
    assert chain.verify().ok


def test_the_kept_lock_holds_until_it_ends(everything, password, time_machine):
    user, browser, _secrets = everything
    freeze(time_machine)
    browser.post(CLOSE, {"confirm": "on"})
    # Signed up again with the address: the guesser is still locked out, the owner is not.
    again = UserFactory(email=user.email)

    assert api_login(Client(), again.email, password, REMOTE_ADDR=GUESSER).status_code == 429
    signed_in_api(Client(), again.email, password, REMOTE_ADDR=OTHER_IP)
    time_machine.shift(lockout_settings.LOCKOUT_MAX + 1)
    signed_in_api(Client(), again.email, password, REMOTE_ADDR=GUESSER)


def test_a_deleted_account_leaves_the_same(everything):
    # Staff's delete, or the project's own code: the same as a closure.
    user, _browser, _secrets = everything
    user.delete()

    assert not OutboxMessage.objects.filter(to__in=[user.email, "second@example.com"]).exists()
    assert list(LoginThrottle.objects.values_list("identifier", "ip")) == [(user.email, GUESSER)]


@override_settings(AUTHSUITE_ACCOUNTS_CLOSE_ACTION="deactivate")
def test_deactivating_instead_forgets_nothing(everything):
    user, browser, _secrets = everything
    mail = OutboxMessage.objects.filter(user=user).count()
    throttles = LoginThrottle.objects.count()

    browser.post(CLOSE, {"confirm": "on"})

    user.refresh_from_db()
    assert user.is_active is False
    assert OutboxMessage.objects.filter(user=user).count() == mail
    assert LoginThrottle.objects.count() == throttles


@pytest.mark.parametrize(("method", "path", "body", "status"), [
    ("post", "account/export/", "{}", 405),
    ("delete", "account/export/", "", 405),
    ("post", "account/close/", "{not json", 400),
    ("get", "account/close/", "", 405),
])
def test_bad_requests_to_export_and_close_are_refused(client, user, password, method, path,
                                                      body, status):
    signed_in_api(client, user.email, password)

    response = getattr(client, method)("/api/auth/v1/" + path, body,
                                       content_type="application/json")

    assert response.status_code == status
    assert User.objects.filter(pk=user.pk).exists()
    assert "error" in response.json()


def test_export_page_refuses_a_post(client, user, password):
    signed_in_html(client, user.email, password)
    assert client.post(EXPORT).status_code == 405



@pytest.mark.parametrize("locked", [False, True])
def test_an_address_signed_up_again_is_not_held_by_the_closed_accounts_failures(
        client, user, password, time_machine, locked):
    freeze(time_machine)
    signed_in_html(client, user.email, password)
    # Guesses in a row reached the limit: the closed account's password was refused, and
    # with it, were the row kept, the next account's of that address.
    LoginThrottle.objects.create(
        identifier=user.email, ip=LoginThrottle.ACCOUNT_WIDE,
        consecutive_failures=lockout_settings.LOCKOUT_CONSECUTIVE_LIMIT,
        locked_until=timezone.now() + timedelta(seconds=60) if locked else None)
    client.post(CLOSE, {"confirm": "on"})
    again = UserFactory(email=user.email)
    if locked:  # the lock is the address's: it holds until it ends
        assert api_login(Client(), again.email, password).status_code == 429
        time_machine.shift(61)

    signed_in_api(Client(), again.email, password)
