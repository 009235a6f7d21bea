"""The admin behind MFA, and the staff "Reset two-step verification" action."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from accounts import authrecord
from audit.models import Event
from mfa.models import RecoveryCode, RecoveryCodeSet, TOTPDevice, TrustedBrowser
from tests.helpers import STAFF_AGENT, STAFF_IP, user_admin_url
from tests.mfa.support import (
    AUTH_KEY,
    enroll,
    login,
    sign_in_fully,
    subjects,
)

pytestmark = pytest.mark.django_db

CHANGELIST = user_admin_url("changelist")


@pytest.fixture
def staff_rule(settings):
    settings.AUTHSUITE_MFA_REQUIRED = "staff"


@pytest.fixture
def admin_client(client, staff, password, clock, staff_rule):
    """Staff signed in with password and code."""
    secret, _ = enroll(staff)
    sign_in_fully(client, staff, password, clock, secret)
    assert client.get("/admin/").status_code == 200
    mail.outbox.clear()
    return client


def password_only_session(client, staff, password):
    """Staff signed in on a trusted browser: the session holds no second factor."""
    TrustedBrowser.objects.all().delete()
    client.force_login(staff)
    session = client.session
    session["_authsuite_auth"] = {"auth_time": authrecord.now(), "amr": ["pwd"],
                                  "acr": "urn:authsuite:acr:1fa"}
    session.save()


# --- the admin needs a second factor in the session -----------------------------------------


def test_password_only_staff_are_sent_to_step_up(client, staff, password, staff_rule):
    enroll(staff)
    password_only_session(client, staff, password)
    response = client.get(f"{CHANGELIST}?q=a&o=1", follow=True)
    assert response.redirect_chain[-1][0] == (
        "/mfa/challenge/?next=" + quote(f"{CHANGELIST}?q=a&o=1", safe=""))
    assert "Confirm with your second factor" in response.content.decode()


def test_step_up_opens_the_admin(client, staff, password, clock, staff_rule):
    secret, _ = enroll(staff)
    password_only_session(client, staff, password)
    clock.step()
    response = client.post("/mfa/challenge/?next=/admin/", {"code": clock.code(secret)})
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_staff_without_a_factor_are_sent_to_set_one_up(client, staff, password, staff_rule,
                                                       settings):
    settings.AUTHSUITE_MFA_GRACE_PERIOD = 86400  # they may sign in, but not use the admin
    assert login(client, staff, password)["Location"] == reverse("accounts:profile")
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[-1][0] == reverse("mfa:totp_setup")
    assert "Set up two-step verification to use the admin." in response.content.decode()


def test_without_staff_enforcement_the_admin_opens_with_a_password(client, staff, password):
    assert login(client, staff, password)["Location"] == reverse("accounts:profile")
    assert client.get("/admin/").status_code == 200


def test_staff_with_a_factor_step_up_whoever_must_use_one(client, staff, password):
    # No rule makes staff use a second factor, but this staff member has one: a session that
    # vouches for the password alone (a trusted browser, or one kept signed in past the
    # assurance age) holds no more than a stolen cookie and the password would.
    enroll(staff)
    password_only_session(client, staff, password)
    response = client.get(CHANGELIST, follow=True)
    assert response.redirect_chain[-1][0] == "/mfa/challenge/?next=" + quote(CHANGELIST, safe="")
    response = client.post(CHANGELIST, {"action": "reset_mfa", ACTION_CHECKBOX_NAME: [str(staff.pk)]})
    assert response.status_code == 302
    assert TOTPDevice.objects.filter(user=staff).exists()


def test_protect_admin_off(client, staff, password, staff_rule, settings):
    settings.AUTHSUITE_MFA_PROTECT_ADMIN = False
    enroll(staff)
    password_only_session(client, staff, password)
    assert client.get("/admin/").status_code == 200


def test_non_staff_never_reach_the_admin(client, user, password):
    login(client, user, password)
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[-1][0].startswith(reverse("accounts:login"))
    assert AUTH_KEY in client.session  # still signed in, just not let in


def test_the_admin_login_form_is_never_shown(client, staff, password):
    response = client.get("/admin/login/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/admin/"
    response = client.post(f"/admin/login/?next={CHANGELIST}",
                           {"username": staff.email, "password": password})
    assert response["Location"] == f"/accounts/login/?next={CHANGELIST}"
    assert AUTH_KEY not in client.session


# --- staff reset ----------------------------------------------------------------------------


def test_the_user_admin_offers_the_reset_action():
    from django.contrib.auth import get_user_model

    from mfa.receivers import reset_mfa

    assert reset_mfa in admin.site._registry[get_user_model()].actions


def test_staff_reset_a_users_mfa(admin_client, staff, user, password):
    enroll(user)
    TrustedBrowser.objects.create(user=user, digest="x" * 64,
                                  expires_at=timezone.now() + timedelta(days=3))
    response = admin_client.post(CHANGELIST, {
        "action": "reset_mfa", ACTION_CHECKBOX_NAME: [str(user.pk)],
    }, follow=True)
    assert response.status_code == 200
    assert "Two-step verification reset for 1 users." in response.content.decode()
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not RecoveryCodeSet.objects.filter(user=user).exists()
    assert not RecoveryCode.objects.filter(device__user=user).exists()
    assert not TrustedBrowser.objects.filter(user=user).exists()
    assert TOTPDevice.objects.filter(user=staff).exists()  # only the selected user
    event = Event.objects.get(action="mfa.reset")
    assert event.actor_id == str(staff.pk)
    assert (event.target_type, event.target_id) == ("user", str(user.pk))
    # Exactly one email, to the user (not to the staff member who acted).
    assert subjects(user.email) == ["authsuite demo: Two-step verification was reset"]
    assert subjects(staff.email) == []
    assert len(mail.outbox) == 1
    # The user signs in with the password alone again.
    admin_client.post(reverse("accounts:logout"))
    assert login(admin_client, user, password)["Location"] == reverse("accounts:profile")


def test_resetting_several_users(admin_client, password):
    from tests.factories import UserFactory

    users = [UserFactory(password=password) for _ in range(3)]
    for u in users:
        enroll(u)
    admin_client.post(CHANGELIST, {"action": "reset_mfa",
                                   ACTION_CHECKBOX_NAME: [str(u.pk) for u in users]})
    assert not TOTPDevice.objects.filter(user__in=users).exists()
    assert Event.objects.filter(action="mfa.reset").count() == 3
    assert sorted(m.to[0] for m in mail.outbox) == sorted(u.email for u in users)


def test_staff_never_see_secrets_or_codes(admin_client, user):
    secret, codes = enroll(user)
    device = TOTPDevice.objects.get(user=user)
    digests = list(RecoveryCode.objects.values_list("digest", flat=True))
    pages = [admin_client.get(url).content.decode() for url in (
        "/admin/", CHANGELIST, f"{CHANGELIST}{user.pk}/change/", f"{CHANGELIST}?q={user.email}",
    )]
    for page in pages:
        assert secret not in page and device.sealed_key not in page
        assert not any(code in page for code in codes)
        assert not any(digest in page for digest in digests)
    for model in (TOTPDevice, RecoveryCodeSet, RecoveryCode, TrustedBrowser):
        assert model not in admin.site._registry


def test_the_reset_is_refused_without_a_second_factor_in_the_session(client, staff, user,
                                                                    password, staff_rule):
    enroll(staff)
    enroll(user)
    password_only_session(client, staff, password)
    response = client.post(CHANGELIST, {"action": "reset_mfa",
                                        ACTION_CHECKBOX_NAME: [str(user.pk)]})
    assert response.status_code == 302
    assert TOTPDevice.objects.filter(user=user).exists()
    assert not Event.objects.filter(action="mfa.reset").exists()


def test_reset_signal_payload_has_no_secret(admin_client, user):
    enroll(user)
    admin_client.post(CHANGELIST, {"action": "reset_mfa", ACTION_CHECKBOX_NAME: [str(user.pk)]})
    # What was removed, counted: no key, code or digest.
    assert json.loads(Event.objects.get(action="mfa.reset").data) == {
        "removed": {"totp": 1, "recovery_codes": 10}}


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/admin/",
                                    "javascript:alert(1)"])
def test_the_admin_login_is_not_an_open_redirect(admin_client, target):
    response = admin_client.get("/admin/login/", {"next": target})
    assert response["Location"] == "/admin/"


def test_the_admin_login_keeps_a_local_target(admin_client):
    response = admin_client.get("/admin/login/", {"next": CHANGELIST})
    assert response["Location"] == CHANGELIST


def test_every_event_of_a_staff_reset_names_the_staff_member_and_the_account(
        admin_client, staff, user):
    """What the reset does beside removing the factors (forgetting the trusted browsers) is
    the staff member's doing too, not the account owner's from the staff member's browser."""
    enroll(user)
    TrustedBrowser.objects.create(user=user, digest="x" * 64,
                                  expires_at=timezone.now() + timedelta(days=3))
    start = Event.objects.order_by("pk").last().pk

    admin_client.post(CHANGELIST, {"action": "reset_mfa", ACTION_CHECKBOX_NAME: [str(user.pk)]})

    done = Event.objects.filter(pk__gt=start).exclude(action="audit.alert.sent")
    assert {e.action for e in done} == {"mfa.reset", "mfa.browser.untrusted"}
    assert {(e.actor_id, e.target_type, e.target_id) for e in done} == {
        (str(staff.pk), "user", str(user.pk))}


@pytest.mark.parametrize("without", ["audit_trail", "alert_rules"])
def test_the_reset_notice_the_mfa_app_sends_says_staff_never_their_ip_or_device(
        admin_client, user, settings, without):
    """With no alert rule to send it, the MFA app's own notice tells of the reset: staff did
    it, from a request whose IP address and device are not the user's to see."""
    if without == "audit_trail":
        settings.AUTHSUITE_AUDIT_ENABLED = False
    else:
        settings.AUTHSUITE_AUDIT_ALERT_RULES = []
    enroll(user)

    admin_client.post(CHANGELIST, {"action": "reset_mfa", ACTION_CHECKBOX_NAME: [str(user.pk)]},
                      REMOTE_ADDR=STAFF_IP, HTTP_USER_AGENT=STAFF_AGENT)

    [message] = [m for m in mail.outbox if m.to == [user.email]]
    assert message.subject.endswith("Two-step verification was reset")
    html = message.alternatives[0][0]
    for body in (message.body, html):
        assert STAFF_IP not in body and "Chrome" not in body and "Windows" not in body
    assert "By:     Staff" in message.body
    assert "<th align=\"left\">By</th><td>Staff</td>" in html
