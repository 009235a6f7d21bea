"""Usernameless sign-in with a passkey: what a verified assertion gives, and every way an
assertion is refused, each without a session, a counter change or a last-use stamp."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client

from audit.models import Event
from authsuite.models import OutboxMessage
from passkeys import ceremonies
from passkeys.models import Passkey
from tests.helpers import outbox_for
from tests.passkeys.authenticator import EDDSA, ES256, SoftAuthenticator, b64url, unb64url
from tests.passkeys.support import (
    AUTH_KEY,
    CHALLENGE_KEY,
    ORIGIN,
    actions,
    add_passkey,
    auth_record,
    code,
    failure_reasons,
    login,
    login_options,
    password_client,
    post,
    signed_in,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(passkey):
    """A browser that has not signed in."""
    return Client()


def refused(browser, response, passkey, expected="passkey_invalid", *, used=0):
    """Refused with ``expected`` and nothing changed: no session, no counter, no use.

    ``passkey`` holds the state from before the attempt; ``used`` counts the successful
    uses before it."""
    assert response.status_code == 400, response.content
    assert code(response) == expected
    assert not signed_in(browser)
    assert AUTH_KEY not in browser.session
    before = (passkey.sign_count, passkey.last_used_at, passkey.flagged_at)
    passkey.refresh_from_db()
    assert (passkey.sign_count, passkey.last_used_at, passkey.flagged_at) == before
    assert actions().count("passkeys.used") == used


# Sign-in ---------------------------------------------------------------------------------

@pytest.mark.parametrize("alg", [ES256, EDDSA])
@pytest.mark.parametrize("attestation", ["none", "packed"])
def test_register_then_sign_in(user, password, alg, attestation):
    authenticator = SoftAuthenticator()
    passkey = add_passkey(password_client(user, password), authenticator, alg=alg,
                          attestation=attestation)
    browser = Client()
    options = login_options(browser)
    assert options["allowCredentials"] == []
    assert options["userVerification"] == "required"
    assert options["rpId"] == "localhost"
    assert len(unb64url(options["challenge"])) >= 16
    assertion = authenticator.get(options, origin=ORIGIN)
    response = post(browser, "passkeys/login/", {"credential": assertion})
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "authenticated"
    assert response.json()["redirect"] == "/accounts/"
    assert browser.session[AUTH_KEY] == str(user.pk)
    record = auth_record(browser)
    assert record["amr"] == ["hwk", "mfa", "user"]
    assert record["acr"] == "urn:authsuite:acr:phr"
    passkey.refresh_from_db()
    assert passkey.sign_count == 1
    assert passkey.last_used_at is not None
    assert actions(action__startswith="passkeys.used") == ["passkeys.used"]
    assert "accounts.login.succeeded" in actions(actor_id=str(user.pk))


def test_a_synced_passkey_is_a_software_key(user, password):
    authenticator = SoftAuthenticator(backup_eligible=True, backup_state=True)
    add_passkey(password_client(user, password), authenticator)
    browser = Client()
    assert login(browser, authenticator).status_code == 200
    assert auth_record(browser)["amr"] == ["mfa", "swk", "user"]
    assert auth_record(browser)["acr"] == "urn:authsuite:acr:phr"


def test_backup_state_may_change(user, password):
    authenticator = SoftAuthenticator(backup_eligible=True, backup_state=False)
    passkey = add_passkey(password_client(user, password), authenticator)
    next(iter(authenticator.credentials.values())).backup_state = True
    assert login(Client(), authenticator).status_code == 200
    passkey.refresh_from_db()
    assert passkey.backup_state is True


def test_the_session_key_changes_at_sign_in(browser, authenticator):
    options = login_options(browser)
    before = browser.session.session_key
    assert CHALLENGE_KEY in browser.session
    assertion = authenticator.get(options, origin=ORIGIN)
    assert post(browser, "passkeys/login/", {"credential": assertion}).status_code == 200
    assert browser.session.session_key != before
    assert CHALLENGE_KEY not in browser.session


def test_counters_that_stay_at_zero_are_fine(browser, authenticator, passkey):
    # Many synced passkeys always report 0: no counter, nothing to compare.
    assert login(browser, authenticator, counter_step=0).status_code == 200
    assert login(Client(), authenticator, counter_step=0).status_code == 200
    passkey.refresh_from_db()
    assert passkey.sign_count == 0 and passkey.flagged_at is None


def test_next_url_is_kept_when_safe(browser, authenticator):
    options = login_options(browser)
    assertion = authenticator.get(options, origin=ORIGIN)
    response = post(browser, "passkeys/login/", {"credential": assertion, "next": "/passkeys/"})
    assert response.json()["redirect"] == "/passkeys/"


def test_next_url_is_kept_whatever_the_redirect_setting_names(browser, authenticator, settings):
    settings.LOGIN_REDIRECT_URL = "dashboard"  # the project's own URL name, not routed here
    options = login_options(browser)
    assertion = authenticator.get(options, origin=ORIGIN)
    response = post(browser, "passkeys/login/", {"credential": assertion, "next": "/passkeys/"})
    assert response.status_code == 200, response.content
    assert response.json()["redirect"] == "/passkeys/"
    assert signed_in(browser)


def test_without_a_next_url_the_redirect_setting_is_resolved(browser, authenticator, settings):
    settings.LOGIN_REDIRECT_URL = "accounts:sessions"
    options = login_options(browser)
    assertion = authenticator.get(options, origin=ORIGIN)
    response = post(browser, "passkeys/login/", {"credential": assertion})
    assert response.json()["redirect"] == "/accounts/sessions/"


def test_next_url_elsewhere_is_dropped(browser, authenticator):
    options = login_options(browser)
    assertion = authenticator.get(options, origin=ORIGIN)
    response = post(browser, "passkeys/login/",
                    {"credential": assertion, "next": "https://evil.example/"})
    assert response.json()["redirect"] == "/accounts/"


def test_without_uv_a_passkey_is_one_factor(user, password, settings):
    settings.AUTHSUITE_PASSKEYS_USER_VERIFICATION = "preferred"
    authenticator = SoftAuthenticator(user_verification=False)
    add_passkey(password_client(user, password), authenticator)
    browser = Client()
    response = login(browser, authenticator)
    assert response.status_code == 200
    # The user has a passkey, so MFA applies: one "have" factor is not enough.
    assert response.json()["status"] == "pending"
    assert response.json()["stage"] == "mfa"
    assert not signed_in(browser)


def test_rp_id_and_origins_come_from_settings_never_the_host(browser, authenticator, passkey,
                                                           settings):
    settings.ALLOWED_HOSTS = ["*"]
    host = {"HTTP_HOST": "evil.example"}
    options = post(browser, "passkeys/login/options/", **host).json()
    assert options["rpId"] == "localhost"
    assertion = authenticator.get(options, origin="http://evil.example", rp_id="evil.example")
    refused(browser, post(browser, "passkeys/login/", {"credential": assertion}, **host), passkey)


def test_sign_in_starts_are_rate_limited_per_ip(browser, authenticator, passkey, settings):
    settings.AUTHSUITE_PASSKEYS_RATE_LIMITS = {"login": {"ip": "3/5m"}}
    for _ in range(3):
        login_options(browser)
    response = post(browser, "passkeys/login/options/")
    assert response.status_code == 429
    assert code(response) == "rate_limited"
    assert int(response["Retry-After"]) > 0
    assert Event.objects.filter(action__contains="rate_limit").exists()
    # Another address is not affected.
    assert post(Client(), "passkeys/login/options/", REMOTE_ADDR="192.0.2.7").status_code == 200


# The login page ---------------------------------------------------------------------------

def test_login_page_offers_the_passkey_button_and_autofill(client):
    page = client.get("/accounts/login/").content.decode()
    assert re.search(r'<button[^>]+data-passkey="login"[^>]*>Sign in with a passkey</button>', page)
    assert "&lt;button" not in page  # the slot's markup is not escaped a second time
    assert re.search(r'<input[^>]+name="email"[^>]+autocomplete="username webauthn"', page) or \
        re.search(r'autocomplete="username webauthn"[^>]+name="email"', page)
    assert "data-passkey-autofill" in page
    assert '<script src="/static/passkeys/passkeys.js" defer></script>' in page
    assert "<script>" not in page  # CSP: no inline script


# Refusals ---------------------------------------------------------------------------------

def test_replayed_assertion(browser, authenticator, passkey):
    options = login_options(browser)
    assertion = authenticator.get(options, origin=ORIGIN)
    assert post(browser, "passkeys/login/", {"credential": assertion}).status_code == 200
    passkey.refresh_from_db()
    post(browser, "logout/")
    refused(browser, post(browser, "passkeys/login/", {"credential": assertion}), passkey,
            "passkey_challenge_missing", used=1)
    replay = Client()
    login_options(replay)  # a fresh challenge in another session does not help
    refused(replay, post(replay, "passkeys/login/", {"credential": assertion}), passkey,
            used=1)


def test_replayed_assertion_in_the_same_session(browser, authenticator, passkey):
    options = login_options(browser)
    assertion = authenticator.get(options, origin=ORIGIN)
    bad = authenticator.get(options, origin="https://evil.example")
    assert code(post(browser, "passkeys/login/", {"credential": bad})) == "passkey_invalid"
    # The challenge went with the first attempt, so the good answer is now too late.
    refused(browser, post(browser, "passkeys/login/", {"credential": assertion}), passkey,
            "passkey_challenge_missing")


def test_reused_challenge(browser, authenticator, passkey):
    options = login_options(browser)
    first = authenticator.get(options, origin=ORIGIN)
    second = authenticator.get(options, origin=ORIGIN)
    assert post(browser, "passkeys/login/", {"credential": first}).status_code == 200
    passkey.refresh_from_db()
    post(browser, "logout/")
    refused(browser, post(browser, "passkeys/login/", {"credential": second}), passkey,
            "passkey_challenge_missing", used=1)


def test_a_challenge_put_back_into_the_session_stays_used(browser, authenticator, passkey):
    """What two requests of one session running at once would see: both loaded the
    challenge before either saved the session."""
    options = login_options(browser)
    stored = browser.session[CHALLENGE_KEY]
    bad = authenticator.get(options, origin="https://evil.example")
    assert code(post(browser, "passkeys/login/", {"credential": bad})) == "passkey_invalid"
    session = browser.session
    session[CHALLENGE_KEY] = stored
    session.save()
    good = authenticator.get(options, origin=ORIGIN)
    refused(browser, post(browser, "passkeys/login/", {"credential": good}), passkey,
            "passkey_challenge_missing")


def test_expired_challenge(browser, authenticator, passkey, monkeypatch):
    start = 1_800_000_000.0
    monkeypatch.setattr(ceremonies, "now", lambda: start)
    options = login_options(browser)
    assertion = authenticator.get(options, origin=ORIGIN)
    monkeypatch.setattr(ceremonies, "now", lambda: start + 180.5)
    refused(browser, post(browser, "passkeys/login/", {"credential": assertion}), passkey,
            "passkey_challenge_missing")


def test_no_challenge_at_all(browser, authenticator, passkey):
    assertion = authenticator.get({"challenge": b64url(b"x" * 32)}, origin=ORIGIN)
    refused(browser, post(browser, "passkeys/login/", {"credential": assertion}), passkey,
            "passkey_challenge_missing")


def test_challenge_of_another_session(browser, authenticator, passkey):
    options = login_options(Client())
    login_options(browser)
    assertion = authenticator.get(options, origin=ORIGIN)
    refused(browser, post(browser, "passkeys/login/", {"credential": assertion}), passkey)


def test_challenge_of_another_ceremony(user, password, browser, authenticator, passkey):
    # The password is accepted and the second factor is pending: its challenge cannot
    # serve a passwordless sign-in.
    assert post(browser, "login/", {"email": user.email, "password": password}).json()[
        "stage"] == "mfa"
    options = post(browser, "passkeys/second-factor/options/").json()
    assertion = authenticator.get(options, origin=ORIGIN)
    refused(browser, post(browser, "passkeys/login/", {"credential": assertion}), passkey,
            "passkey_challenge_missing")


@pytest.mark.parametrize("origin", ["https://evil.example", "http://localhost:8001",
                                    "https://localhost:8000", "http://localhost.evil.example:8000"])
def test_wrong_origin(browser, authenticator, passkey, origin):
    refused(browser, login(browser, authenticator, origin=origin), passkey)


def test_wrong_rp_id_hash(browser, authenticator, passkey):
    refused(browser, login(browser, authenticator, rp_id="evil.example"), passkey)


def test_user_presence_missing(browser, authenticator, passkey):
    authenticator.user_presence = False
    refused(browser, login(browser, authenticator), passkey)


def test_user_verification_missing(browser, authenticator, passkey):
    authenticator.user_verification = False
    refused(browser, login(browser, authenticator), passkey)


def test_tampered_signature(browser, authenticator, passkey):
    refused(browser, login(browser, authenticator, tamper_signature=True), passkey)
    assert "verification" in failure_reasons()


def test_tampered_client_data(browser, authenticator, passkey):
    refused(browser, login(browser, authenticator, tamper_client_data=True), passkey)


def test_tampered_authenticator_data(browser, authenticator, passkey):
    options = login_options(browser)
    assertion = authenticator.get(options, origin=ORIGIN)
    data = bytearray(unb64url(assertion["response"]["authenticatorData"]))
    data[-1] ^= 0x01  # the counter
    assertion["response"]["authenticatorData"] = b64url(bytes(data))
    refused(browser, post(browser, "passkeys/login/", {"credential": assertion}), passkey)


def test_signed_by_another_key(browser, authenticator, passkey):
    from cryptography.hazmat.primitives.asymmetric import ec

    credential = next(iter(authenticator.credentials.values()))
    credential.private_key = ec.generate_private_key(ec.SECP256R1())
    refused(browser, login(browser, authenticator), passkey)


def test_cross_origin(browser, authenticator, passkey):
    refused(browser, login(browser, authenticator, client_extra={"crossOrigin": True}), passkey)


def test_top_origin(browser, authenticator, passkey):
    extra = {"crossOrigin": True, "topOrigin": "https://evil.example"}
    refused(browser, login(browser, authenticator, client_extra=extra), passkey)


def test_top_origin_without_cross_origin(browser, authenticator, passkey):
    refused(browser, login(browser, authenticator,
                           client_extra={"topOrigin": "https://evil.example"}), passkey)


def test_cross_origin_allowed_when_configured(browser, authenticator, passkey, settings):
    settings.AUTHSUITE_PASSKEYS_ALLOW_CROSS_ORIGIN = True
    settings.AUTHSUITE_PASSKEYS_TOP_ORIGINS = ["https://portal.example"]
    extra = {"crossOrigin": True, "topOrigin": "https://portal.example"}
    assert login(browser, authenticator, client_extra=extra).status_code == 200


def test_wrong_client_data_type(browser, authenticator, passkey):
    refused(browser, login(browser, authenticator, client_extra={"type": "webauthn.create"}),
            passkey)


def test_unknown_credential(browser, passkey):
    stranger = SoftAuthenticator()
    stranger.create({"pubKeyCredParams": [{"alg": ES256}], "rp": {"id": "localhost"},
                     "user": {"id": b64url(b"h" * 32)}, "challenge": b64url(b"c" * 32)},
                    origin=ORIGIN)
    refused(browser, login(browser, stranger), passkey, "passkey_unknown_credential")
    assert failure_reasons() == ["unknown_credential"]


def test_user_handle_mismatch(browser, authenticator, passkey):
    refused(browser, login(browser, authenticator, user_handle=b"\x00" * 32), passkey)
    assert failure_reasons() == ["user_handle_mismatch"]


def test_user_handle_of_another_user(browser, authenticator, passkey, password):
    from passkeys.flows import user_handle
    from tests.factories import UserFactory

    other = UserFactory(password=password)
    handle = unb64url(user_handle(other))
    refused(browser, login(browser, authenticator, user_handle=handle), passkey)
    assert failure_reasons() == ["user_handle_mismatch"]


def test_user_handle_missing_in_a_usernameless_sign_in(browser, authenticator, passkey):
    refused(browser, login(browser, authenticator, user_handle=None), passkey)
    assert failure_reasons() == ["user_handle_missing"]


def test_backup_eligibility_cannot_change(browser, authenticator, passkey):
    credential = next(iter(authenticator.credentials.values()))
    credential.backup_eligible = True
    refused(browser, login(browser, authenticator), passkey)
    assert failure_reasons() == ["backup_flags"]


def test_backed_up_without_backup_eligibility(browser, authenticator, passkey):
    credential = next(iter(authenticator.credentials.values()))
    credential.backup_state = True
    refused(browser, login(browser, authenticator), passkey)


def test_inactive_user(browser, authenticator, passkey, user):
    type(user).objects.filter(pk=user.pk).update(is_active=False)
    refused(browser, login(browser, authenticator), passkey, "passkey_unknown_credential")


def test_flagged_passkey_is_refused(browser, authenticator, passkey):
    from django.utils import timezone

    Passkey.objects.filter(pk=passkey.pk).update(flagged_at=timezone.now())
    passkey.refresh_from_db()
    refused(browser, login(browser, authenticator), passkey, "passkey_cloned")
    assert failure_reasons() == ["flagged"]


# Clone detection ---------------------------------------------------------------------------

@pytest.mark.parametrize("step", [0, -1, -5])
def test_counter_not_increasing_flags_the_passkey(user, browser, authenticator, passkey, step):
    assert login(Client(), authenticator, counter_step=5).status_code == 200
    passkey.refresh_from_db()
    assert passkey.sign_count == 5
    mail.outbox.clear()

    response = login(browser, authenticator, counter_step=step)

    assert response.status_code == 400
    assert code(response) == "passkey_cloned"
    assert not signed_in(browser)
    passkey.refresh_from_db()
    assert passkey.sign_count == 5
    assert passkey.flagged_at is not None
    event = Event.objects.get(action="passkeys.clone_detected")
    assert event.outcome == "denied" and event.actor_id == str(user.pk)
    assert '"received_count":' in event.data and '"stored_count":5' in event.data.replace(" ", "")
    alert = [m for m in mail.outbox if user.email in m.to]
    assert [m.subject for m in alert] == [alert[0].subject]
    assert "A passkey was disabled" in alert[0].subject
    # Through the suite's outbox, committed with the flag (delivered, as Celery is eager).
    row = OutboxMessage.objects.filter(to=user.email, template="audit/email/alert").latest("pk")
    assert row.status == OutboxMessage.Status.SENT
    # The flagged passkey no longer signs in, even with a good counter.
    again = Client()
    assert code(login(again, authenticator, counter_step=10)) == "passkey_cloned"


@pytest.mark.parametrize("without", ["audit_trail", "alert_rules"])
def test_a_clone_is_told_without_the_alert_rule(user, browser, authenticator, passkey,
                                                settings, without):
    """With no alert rule to send it (the audit trail off, or the rule not in force), the
    passkeys app tells the owner itself, as it does of a passkey added or removed: the
    passkey is disabled, and someone may hold a copy of it."""
    if without == "audit_trail":
        settings.AUTHSUITE_AUDIT_ENABLED = False
    else:
        settings.AUTHSUITE_AUDIT_ALERT_RULES = []
    assert login(Client(), authenticator, counter_step=5).status_code == 200
    mail.outbox.clear()

    assert code(login(browser, authenticator, counter_step=0)) == "passkey_cloned"

    [message] = outbox_for(user.email)
    assert message.subject.endswith("A passkey was disabled")
    assert f"“{passkey.name}”" in message.body and "disabled" in message.body


def test_counter_from_zero_to_zero_after_a_count_is_a_clone(browser, authenticator, passkey):
    assert login(Client(), authenticator, counter_step=3).status_code == 200
    credential = next(iter(authenticator.credentials.values()))
    credential.sign_count = 0
    response = login(browser, authenticator, counter_step=0)
    assert code(response) == "passkey_cloned"
    passkey.refresh_from_db()
    assert passkey.flagged_at is not None


def test_an_unsigned_low_counter_flags_nothing(browser, authenticator, passkey):
    """Only a correctly signed assertion can flag a credential: otherwise anyone who knows a
    credential id could disable it."""
    assert login(Client(), authenticator, counter_step=5).status_code == 200
    passkey.refresh_from_db()
    response = login(browser, authenticator, counter_step=-3, tamper_signature=True)
    refused(browser, response, passkey, used=1)
    assert not Event.objects.filter(action="passkeys.clone_detected").exists()
