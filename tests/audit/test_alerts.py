"""Security alerts: rules turn events into mail through the outbox, one mail per change,
throttled repeats, project rules, and an ``audit.alert.sent`` event for each."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import EmailAddress
from audit import chain
from audit.alerts import AlertRule
from audit.app_settings import DEFAULT_ALERT_RULES
from audit.models import Event
from authsuite.models import OutboxMessage
from tests.audit.support import data
from tests.helpers import last_link, outbox_for, user_admin_url

pytestmark = pytest.mark.django_db

FIREFOX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/126.0.0.0 Safari/537.36")


class WatchReauthentication(AlertRule):
    """A project's own rule: tell the user whenever someone confirms their identity."""

    actions = ("accounts.reauthenticated",)
    subject = "Your identity was confirmed"
    summary = "Someone entered your password to confirm it was you."
    advice = "If this was not you, change your password."

    def recipients(self, event, user):
        return [user.email, "security-team@example.com"]


def sign_in(client, user, password, **extra):
    response = client.post(reverse("accounts:login"), {"email": user.email, "password": password},
                           **extra)
    assert response.status_code == 302
    return response


def alerts_to(address: str, subject: str = "") -> list:
    return [m for m in outbox_for(address) if subject in m.subject]


def sent_events(rule: str = "") -> list[Event]:
    return [e for e in Event.objects.filter(action="audit.alert.sent").order_by("pk")
            if rule in data(e)["rule"]]


def change_password(client, password: str, new: str):
    response = client.post(reverse("accounts:password_change"),
                           {"current_password": password, "new_password": new,
                            "new_password_confirm": new})
    assert response.status_code == 302, response.content[:500]


def test_a_sign_in_from_a_new_device_is_reported(client, user, password):
    sign_in(client, user, password, HTTP_USER_AGENT=FIREFOX)
    sign_in(Client(), user, password, HTTP_USER_AGENT=FIREFOX)
    assert not mail.outbox  # the first device, then the same one again: not news
    sign_in(Client(), user, password, HTTP_USER_AGENT=CHROME, REMOTE_ADDR="203.0.113.50")
    [message] = alerts_to(user.email)
    assert "New sign-in to your account" in message.subject
    login = Event.objects.filter(action="accounts.login.succeeded").order_by("pk").last()
    body = message.body
    assert login.occurred_at.strftime("%Y-%m-%d %H:%M UTC") in body  # when
    assert "203.0.113.50" in body and "Chrome 126 on Windows" in body  # where
    assert "device it had not been used on before" in body  # what
    assert "If this was not you" in body  # what to do
    [sent] = sent_events("NewDeviceSignIn")
    assert (sent.actor_id, sent.target_type, sent.target_id) == (str(user.pk), "audit.event",
                                                                 str(login.pk))
    assert data(sent) == {"rule": "audit.alerts.NewDeviceSignIn", "recipients": 1}
    sign_in(Client(), user, password, HTTP_USER_AGENT=CHROME)
    assert len(mail.outbox) == 1  # now a known device


def test_a_known_device_costs_no_lookup_after_the_first_confirmation(user, password):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def lookups(agent) -> int:
        with CaptureQueriesContext(connection) as captured:
            sign_in(Client(), user, password, HTTP_USER_AGENT=agent)
        return sum(q["sql"].startswith("SELECT EXISTS") and '"audit_event"' in q["sql"]
                   for q in captured)

    assert lookups(FIREFOX) == 1  # first sign-in: unknown, nothing remembered
    assert lookups(FIREFOX) == 1  # the trail now shows Firefox: remembered
    assert lookups(FIREFOX) == 0
    assert lookups(CHROME) == 1
    assert len(alerts_to(user.email, "New sign-in")) == 1  # Chrome is still news


def test_alerts_go_through_the_outbox(client, user, password):
    sign_in(client, user, password, HTTP_USER_AGENT=FIREFOX)
    sign_in(Client(), user, password, HTTP_USER_AGENT=CHROME)
    [row] = OutboxMessage.objects.filter(template="audit/email/alert")
    assert (row.to, row.user_id, row.status) == (user.email, user.pk, OutboxMessage.Status.SENT)
    assert row.context["title"] == "New sign-in to your account"
    assert mail.outbox[0].extra_headers["X-Authsuite-Message"] == str(row.pk)


@override_settings(AUTHSUITE_ACCOUNTS_LOCKOUT_THRESHOLD=3)
def test_a_lockout_is_reported(client, user):
    for _ in range(3):
        client.post(reverse("accounts:login"), {"email": user.email, "password": "wrong " * 3},
                    REMOTE_ADDR="203.0.113.9")
    [message] = alerts_to(user.email, "Repeated failed sign-ins")
    assert "203.0.113.9" in message.body
    assert "turn on two-step verification" in message.body
    assert sent_events("AccountLocked")


@override_settings(AUTHSUITE_ACCOUNTS_LOCKOUT_THRESHOLD=3)
def test_a_lockout_of_an_unknown_address_mails_nobody(client):
    for _ in range(3):
        client.post(reverse("accounts:login"), {"email": "nobody@example.com",
                                                "password": "wrong " * 3})
    assert Event.objects.filter(action="accounts.account.locked").exists()
    assert not mail.outbox
    assert not sent_events()


def test_a_password_change_sends_exactly_one_mail(client, user, password):
    sign_in(client, user, password)
    change_password(client, password, password + "!")
    messages = outbox_for(user.email)
    assert len(messages) == 1
    assert "Your password was changed" in messages[0].subject
    assert not OutboxMessage.objects.filter(template="accounts/email/password_changed").exists()
    assert len(sent_events("PasswordChanged")) == 1


def test_a_password_reset_sends_exactly_one_alert(client, user, password):
    client.post(reverse("accounts:password_reset"), {"email": user.email})
    link = last_link(user.email)
    mail.outbox.clear()
    response = client.post(link, {"new_password": password + "?",
                                  "new_password_confirm": password + "?"})
    assert response.status_code == 302
    [message] = outbox_for(user.email)
    assert "Your password was changed" in message.subject
    assert "reset your password now" in message.body


def test_an_email_change_is_told_to_the_old_and_the_new_address(client, user, password):
    sign_in(client, user, password)
    old = user.email
    client.post(reverse("accounts:email"), {"email": "new.home@example.com"})
    client.post(last_link("new.home@example.com"))
    mail.outbox.clear()
    address = EmailAddress.objects.get(email="new.home@example.com")
    client.post(reverse("accounts:email"), {"action": "primary", "address": address.pk})
    to_old = alerts_to(old, "Your sign-in address was changed")
    to_new = alerts_to("new.home@example.com", "Your sign-in address was changed")
    assert len(to_old) == len(to_new) == 1
    assert len(mail.outbox) == 2
    for message in (to_old[0], to_new[0]):
        assert f"Old address: {old}" in message.body
        assert "New address: new.home@example.com" in message.body
    assert not OutboxMessage.objects.filter(template="accounts/email/email_changed").exists()
    assert data(sent_events("EmailChanged")[0])["recipients"] == 2


@override_settings(AUTHSUITE_AUDIT_ENABLED=False)
def test_with_auditing_off_the_accounts_notice_is_sent_instead(client, user, password):
    sign_in(client, user, password)
    change_password(client, password, password + "!")
    [message] = outbox_for(user.email)
    assert message.subject.endswith("your password was changed")
    assert not Event.objects.exists()


WATCH_RULES = [*DEFAULT_ALERT_RULES, "tests.audit.test_alerts.WatchReauthentication"]


def reauthenticate(client, password: str) -> None:
    assert client.post(reverse("accounts:reauthenticate"), {"password": password}
                       ).status_code == 302


@override_settings(AUTHSUITE_AUDIT_ALERT_RULES=WATCH_RULES)
def test_repeats_are_throttled(client, user, password, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    sign_in(client, user, password)
    reauthenticate(client, password)
    reauthenticate(client, password)
    assert len(alerts_to(user.email, "identity was confirmed")) == 1  # within the throttle
    assert len(sent_events("WatchReauthentication")) == 1
    time_machine.shift(timedelta(seconds=901))
    reauthenticate(client, password)
    assert len(alerts_to(user.email, "identity was confirmed")) == 2


@override_settings(AUTHSUITE_AUDIT_ALERT_RULES=WATCH_RULES, AUTHSUITE_AUDIT_ALERT_THROTTLE=0)
def test_the_throttle_is_a_setting(client, user, password):
    sign_in(client, user, password)
    reauthenticate(client, password)
    reauthenticate(client, password)
    assert len(alerts_to(user.email, "identity was confirmed")) == 2


def test_every_change_of_how_the_account_signs_in_is_mailed(client, user, password,
                                                             time_machine):
    """Not throttled: the second change within a minute may be the intruder's."""
    time_machine.move_to(timezone.now(), tick=False)
    sign_in(client, user, password)
    change_password(client, password, password + "1")
    change_password(client, password + "1", password + "2")
    assert len(alerts_to(user.email, "password was changed")) == 2
    assert len(sent_events("PasswordChanged")) == 2


def test_a_staff_reset_recorded_before_its_counts_is_told_in_general_terms(user, staff):
    """An mfa.reset event from before resets said what they removed still alerts."""
    from audit import recorder

    recorder.write(action="mfa.reset", user=staff, target=("user", str(user.pk), user.email))

    [message] = alerts_to(user.email, "Two-step verification was reset")
    assert "every second factor (authenticator app, recovery codes, passkeys)" in " ".join(
        message.body.split())


@pytest.mark.parametrize(("removed", "told"), [
    ({"totp": 1, "passkey": 1, "recovery_codes": 1},
     "removed every second factor it had: an authenticator app, 1 passkey and 1 unused "
     "recovery code."),
    ({"hardware_token": 2, "passkey": 3}, "it had: 3 passkeys and 2 × hardware_token."),
    ({}, "it had no second factor to remove."),
])
def test_a_staff_reset_alert_names_what_it_removed(user, staff, removed, told):
    from audit import recorder

    recorder.write(action="mfa.reset", user=staff, target=("user", str(user.pk), user.email),
                   data={"removed": removed})

    [message] = alerts_to(user.email, "Two-step verification was reset")
    assert told in " ".join(message.body.split())


def test_a_project_rule_works(client, user, password):
    rules = [*DEFAULT_ALERT_RULES, "tests.audit.test_alerts.WatchReauthentication"]
    with override_settings(AUTHSUITE_AUDIT_ALERT_RULES=rules):
        sign_in(client, user, password)
        client.post(reverse("accounts:reauthenticate"), {"password": password})
    [message] = alerts_to(user.email, "Your identity was confirmed")
    assert "Someone entered your password" in message.body
    assert "If this was not you, change your password." in message.body
    assert len(alerts_to("security-team@example.com")) == 1
    [sent] = sent_events("WatchReauthentication")
    assert data(sent) == {"rule": "tests.audit.test_alerts.WatchReauthentication",
                          "recipients": 2}
    client.post(reverse("accounts:reauthenticate"), {"password": password})
    assert len(alerts_to(user.email, "Your identity was confirmed")) == 1  # rule gone again


def test_without_the_rule_the_accounts_notice_comes_back(client, user, password):
    rules = [r for r in DEFAULT_ALERT_RULES if not r.endswith("PasswordChanged")]
    with override_settings(AUTHSUITE_AUDIT_ALERT_RULES=rules):
        sign_in(client, user, password)
        change_password(client, password, password + "!")
    [message] = outbox_for(user.email)
    assert message.subject.endswith("your password was changed")
    assert not sent_events()


def test_every_alert_is_in_the_chain(client, user, password):
    sign_in(client, user, password, HTTP_USER_AGENT=FIREFOX)
    sign_in(Client(), user, password, HTTP_USER_AGENT=CHROME)
    change_password(client, password, password + "!")
    assert len(sent_events()) == 2
    chain.seal_all()
    report = chain.verify()
    assert report.ok, report.problems
    assert all(e.seal for e in sent_events())


def test_an_alert_names_when_in_utc(client, user, password):
    sign_in(client, user, password)
    change_password(client, password, password + "!")
    [message] = outbox_for(user.email)
    assert re.search(r"When: +\d{4}-\d\d-\d\d \d\d:\d\d UTC", message.body)
    assert re.search(r"IP: +127\.0\.0\.1", message.body)


def test_existing_alert_rows_get_their_windows_and_racing_pairs_are_separated(user):
    """The migration that adds the once-per-window constraint: rows sent in one window by the
    race it closes are kept, each in a window of its own."""
    from importlib import import_module

    from django.apps import apps
    from django.db import connection

    from audit.app_settings import app_settings
    from audit.models import AlertSent

    fill_windows = import_module("audit.migrations.0008_alert_once_per_window").fill_windows
    at = timezone.now().replace(microsecond=0)
    throttle = app_settings.ALERT_THROTTLE
    rows = [AlertSent.objects.create(rule="r", user_id=str(user.pk), key="", sent_at=sent_at,
                                     window=-i - 1000)
            for i, sent_at in enumerate([at, at, at + timedelta(seconds=throttle)])]

    class Editor:
        pass

    editor = Editor()
    editor.connection = connection
    fill_windows(apps, editor)

    first, raced, later = (AlertSent.objects.get(pk=row.pk).window for row in rows)
    assert first == int(at.timestamp()) // throttle
    assert raced == -rows[1].pk  # the pair the race left in one window: apart now
    assert later == first + 1


def test_an_alert_about_what_staff_did_names_staff_never_their_ip_or_device(user, staff):
    from tests.accounts.test_admin import change_form

    old = user.email
    admin = Client(REMOTE_ADDR="192.0.2.200", HTTP_USER_AGENT=CHROME)
    admin.force_login(staff)
    form = change_form(admin, user)
    form["email"] = ["moved@example.com"]
    assert admin.post(user_admin_url("change", user.pk), form).status_code == 302

    for address in (old, "moved@example.com"):
        [message] = alerts_to(address, "sign-in address was changed")
        for body in (message.body, message.alternatives[0][0]):
            assert "192.0.2.200" not in body and "Chrome" not in body
            assert "Staff" in body
    changed = Event.objects.get(action="accounts.email.changed")
    assert (changed.ip, changed.user_agent) == ("192.0.2.200", CHROME)  # kept in the trail


def _links(html: str) -> list[str]:
    return re.findall(r'href="([^"]+)"', html)


def test_an_optional_alert_links_to_the_page_that_turns_it_off(client, user, password):
    sign_in(client, user, password, HTTP_USER_AGENT=FIREFOX)
    sign_in(Client(), user, password, HTTP_USER_AGENT=CHROME)
    [message] = alerts_to(user.email, "New sign-in")
    preferences = "http://testserver" + reverse("audit:alert_preferences")
    security = "http://testserver" + reverse("audit:security")
    [(html, _mimetype)] = message.alternatives
    assert _links(html) == [security, preferences]
    for link in _links(html):  # the text part says what the HTML part does
        assert f"\n{link}\n" in message.body
    assert "Security page" in html and "alert settings page" in message.body


def test_a_critical_alert_has_no_link_to_turn_it_off(client, user, password):
    sign_in(client, user, password)
    change_password(client, password, "an entirely new passphrase 42")
    [message] = alerts_to(user.email, "password")
    [(html, _mimetype)] = message.alternatives
    assert _links(html) == ["http://testserver" + reverse("audit:security")]
    assert reverse("audit:alert_preferences") not in message.body
    assert "alert settings" not in html


@override_settings(AUTHSUITE_BASE_URL="https://id.example.com")
def test_alert_links_use_the_base_url(client, user, password):
    sign_in(client, user, password, HTTP_USER_AGENT=FIREFOX)
    sign_in(Client(), user, password, HTTP_USER_AGENT=CHROME)
    [message] = alerts_to(user.email, "New sign-in")
    assert "https://id.example.com" + reverse("audit:alert_preferences") in message.body
