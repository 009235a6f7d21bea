"""The second-factor stage: codes and recovery codes, the record it leaves, rate limits per
account and per IP, the device's back-off, audited failures, the lock and its alert, and
the step-up of a signed-in user."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from audit.models import Event
from mfa.models import RecoveryCode, TOTPDevice
from tests.accounts.support import freeze
from tests.factories import UserFactory
from tests.mfa.support import (
    AUTH_KEY,
    RECORD_KEY,
    Clock,
    api_post,
    disabled,
    enroll,
    error_code,
    login,
    meanwhile,
    password_reset,
    signed_in,
    subjects,
)

pytestmark = pytest.mark.django_db

CHALLENGE = reverse("mfa:challenge")
WRONG = "000000"


@pytest.fixture
def enrolled(user):
    return enroll(user)


@pytest.fixture
def pending(client, user, password, enrolled):
    assert login(client, user, password)["Location"] == CHALLENGE
    mail.outbox.clear()
    return client


@pytest.fixture
def wait(time_machine):
    """Let the device's back-off after a wrong code run out (django-otp reads timezone.now)."""
    time_machine.move_to(timezone_now(), tick=True)

    def shift(seconds: float = 120) -> None:
        time_machine.shift(timedelta(seconds=seconds))

    return shift


def timezone_now():
    from django.utils import timezone

    return timezone.now()


def events(action: str) -> list[Event]:
    return list(Event.objects.filter(action=action).order_by("pk"))


def wrong_code(secret: str, clock: Clock) -> str:
    code = WRONG
    while code in {clock.code(secret, s) for s in (-1, 0, 1)}:
        code = str(int(code) + 1).zfill(6)
    return code


# --- the page -------------------------------------------------------------------------------


def test_the_challenge_page(pending):
    page = pending.get(CHALLENGE).content.decode()
    field = re.search(r'<input[^>]*name="code"[^>]*>', page).group(0)
    assert 'autocomplete="one-time-code"' in field
    assert 'inputmode="numeric"' in field
    assert '<label for="id_code">' in page
    assert "Don&#x27;t ask again on this browser for 30 days" in page


def test_the_challenge_page_without_a_pending_sign_in(client):
    assert client.get(CHALLENGE)["Location"] == reverse("accounts:login")


def test_a_wrong_code_shows_a_clear_error(pending, enrolled, clock):
    response = pending.post(CHALLENGE, {"code": wrong_code(enrolled[0], clock)})
    assert response.status_code == 200
    page = response.content.decode()
    assert '<p class="error" id="id_code_error">That code is not valid.</p>' in page
    assert AUTH_KEY not in pending.session


def test_a_right_code_signs_in_and_goes_on(client, user, password, enrolled, clock):
    response = client.post(reverse("accounts:login") + "?next=/accounts/sessions/",
                           {"email": user.email, "password": password})
    assert response["Location"] == CHALLENGE
    response = client.post(CHALLENGE, {"code": clock.code(enrolled[0])})
    assert response["Location"] == "/accounts/sessions/"
    assert client.session[AUTH_KEY] == str(user.pk)
    record = client.session[RECORD_KEY]
    assert record["amr"] == ["mfa", "otp", "pwd"]
    assert record["acr"] == "urn:authsuite:acr:mfa"
    device = TOTPDevice.objects.get(user=user)
    assert device.last_used_at is not None
    assert [e.data for e in events("mfa.challenge.succeeded")] == ['{"method":"totp"}']


def test_the_session_key_changes_when_the_challenge_is_passed(pending, enrolled, clock):
    before = pending.session.session_key
    pending.post(CHALLENGE, {"code": clock.code(enrolled[0])})
    assert pending.session.session_key != before


# --- recovery codes at the challenge --------------------------------------------------------


@pytest.mark.parametrize("shape", ["as-shown", "upper", "no-dashes", "spaces"])
def test_a_recovery_code_signs_in(pending, user, enrolled, shape):
    code = enrolled[1][3]
    typed = {"as-shown": code, "upper": code.upper(), "no-dashes": code.replace("-", ""),
             "spaces": " " + code.replace("-", " ") + " "}[shape]
    response = pending.post(CHALLENGE, {"code": typed})
    assert response.status_code == 302
    assert pending.session[AUTH_KEY] == str(user.pk)
    assert pending.session[RECORD_KEY]["amr"] == ["mfa", "otp", "pwd"]
    assert RecoveryCode.objects.filter(used_at__isnull=False).count() == 1


def test_using_a_recovery_code_emails_how_many_remain(pending, user, enrolled):
    pending.post(CHALLENGE, {"code": enrolled[1][0]})
    assert subjects(user.email) == ["authsuite demo: A recovery code was used"]
    assert "9 unused codes remain" in mail.outbox[0].body
    assert enrolled[1][0] not in mail.outbox[0].body
    assert [json.loads(e.data) for e in events("mfa.recovery_code.used")] == [{"remaining": 9}]


def test_every_recovery_code_use_is_reported(client, user, password, enrolled):
    for index in (0, 1):
        login(client, user, password)
        client.post(CHALLENGE, {"code": enrolled[1][index]})
        client.post(reverse("accounts:logout"))
    bodies = [m.body for m in mail.outbox if "recovery code was used" in m.subject]
    assert len(bodies) == 2
    assert "9 unused codes remain" in bodies[0] and "8 unused codes remain" in bodies[1]


def test_a_recovery_code_works_once(client, user, password, enrolled, wait):
    login(client, user, password)
    client.post(CHALLENGE, {"code": enrolled[1][0]})
    client.post(reverse("accounts:logout"))
    wait()
    login(client, user, password)
    response = client.post(CHALLENGE, {"code": enrolled[1][0]})
    assert response.status_code == 200 and AUTH_KEY not in client.session


def test_another_users_recovery_code_does_not_work(pending, staff):
    _, codes = enroll(staff)
    response = pending.post(CHALLENGE, {"code": codes[0]})
    assert response.status_code == 200 and AUTH_KEY not in pending.session
    assert not RecoveryCode.objects.filter(used_at__isnull=False).exists()


# --- failures, the lock and the device's back-off -------------------------------------------


def test_failures_are_audited(pending, user, enrolled, clock, wait):
    pending.post(CHALLENGE, {"code": wrong_code(enrolled[0], clock)})
    wait()
    pending.post(CHALLENGE, {"code": "zzzz-zzzz-zzzz"})
    failed = events("mfa.challenge.failed")
    assert [json.loads(e.data) for e in failed] == [
        {"method": "totp", "failures": 1}, {"method": "recovery_code", "failures": 2},
    ]
    assert {e.actor_id for e in failed} == {str(user.pk)}
    assert {e.outcome for e in failed} == {"failure"}
    assert mail.outbox == []  # a typo is not worth an email


def test_repeated_failures_lock_the_stage_and_alert_the_user(settings, pending, user, enrolled,
                                                             clock, wait):
    settings.AUTHSUITE_MFA_CHALLENGE_MAX_FAILURES = 3
    wrong = wrong_code(enrolled[0], clock)
    for _ in range(2):
        assert pending.post(CHALLENGE, {"code": wrong}).status_code == 200
        wait()
    response = pending.post(CHALLENGE, {"code": wrong}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("accounts:login")
    assert "Too many wrong codes. Sign in again." in response.content.decode()
    assert len(events("mfa.challenge.locked")) == 1
    assert subjects(user.email) == ["authsuite demo: Repeated wrong two-step codes"]
    # The attempt is over: even the right code does nothing now.
    wait()
    response = pending.post(CHALLENGE, {"code": clock.code(enrolled[0])})
    assert response["Location"] == reverse("accounts:login")
    assert not signed_in(pending)


def test_wrong_codes_in_a_row_alert_across_sign_ins_started_afresh(settings, user, password,
                                                                    enrolled, clock, wait):
    """Whoever knows the password may start a new sign-in for each guess: the account's
    device counts them all."""
    settings.AUTHSUITE_MFA_CHALLENGE_MAX_FAILURES = 3
    wrong = wrong_code(enrolled[0], clock)
    for guess in range(1, 7):
        browser = Client()
        login(browser, user, password)
        response = browser.post(CHALLENGE, {"code": wrong})
        if guess % 3:
            assert response.status_code == 200  # one wrong code in this sign-in
        else:
            assert response["Location"] == reverse("accounts:login")  # abandoned
        wait()
    assert len(events("mfa.challenge.failed")) == 6
    assert len(events("mfa.challenge.locked")) == 2
    assert subjects(user.email) == ["authsuite demo: Repeated wrong two-step codes"]  # throttled
    # A right code ends the run: the count starts again.
    browser = Client()
    login(browser, user, password)
    assert browser.post(CHALLENGE, {"code": clock.code(enrolled[0])}).status_code == 302
    assert TOTPDevice.objects.get().throttling_failure_count == 0


def test_wrong_codes_of_another_account_do_not_count_toward_the_lock(settings, client, user,
                                                                   password, enrolled, clock,
                                                                   wait):
    """One browser, two accounts: the wrong codes of a sign-in given up on are not counted
    against the next account signed in to there, which neither locks at its first wrong code
    nor has its owner told of guesses that were never made."""
    settings.AUTHSUITE_MFA_CHALLENGE_MAX_FAILURES = 3
    wrong = wrong_code(enrolled[0], clock)
    login(client, user, password)
    for _ in range(2):
        assert client.post(CHALLENGE, {"code": wrong}).status_code == 200
        wait()
    other = UserFactory(password=password)
    other_secret, _ = enroll(other)
    assert login(client, other, password)["Location"] == CHALLENGE
    mail.outbox.clear()
    response = client.post(CHALLENGE, {"code": wrong_code(other_secret, clock)})
    assert response.status_code == 200
    assert not events("mfa.challenge.locked")
    assert json.loads(events("mfa.challenge.failed")[-1].data)["failures"] == 1
    assert subjects(other.email) == []


def test_the_lock_over_the_api(settings, client, user, password, enrolled, clock, wait):
    settings.AUTHSUITE_MFA_CHALLENGE_MAX_FAILURES = 2
    api_post(client, "login/", {"email": user.email, "password": password})
    wrong = wrong_code(enrolled[0], clock)
    assert error_code(api_post(client, "mfa/challenge/", {"code": wrong})) == "mfa_code_invalid"
    wait()
    response = api_post(client, "mfa/challenge/", {"code": wrong})
    assert response.status_code == 429 and error_code(response) == "mfa_locked"
    assert response["Retry-After"]
    response = api_post(client, "mfa/challenge/", {"code": clock.code(enrolled[0])})
    assert error_code(response) == "no_login_pending"
    assert len(mail.outbox) == 1


def test_the_lock_says_when_to_retry_without_a_back_off(settings, client, user, password,
                                                       enrolled, clock):
    # THROTTLE_FACTOR 0 (no back-off): the lock's 429 came without Retry-After, which every
    # 429 of the API sends (and the schema promises); "0" says to start again at once.
    settings.AUTHSUITE_MFA_THROTTLE_FACTOR = 0
    settings.AUTHSUITE_MFA_CHALLENGE_MAX_FAILURES = 1
    api_post(client, "login/", {"email": user.email, "password": password})
    response = api_post(client, "mfa/challenge/", {"code": wrong_code(enrolled[0], clock)})
    assert response.status_code == 429 and error_code(response) == "mfa_locked"
    assert response["Retry-After"] == "0"


def test_the_device_backs_off_after_a_wrong_code(pending, settings, enrolled, clock, wait):
    settings.AUTHSUITE_MFA_THROTTLE_FACTOR = 10
    pending.post(CHALLENGE, {"code": wrong_code(enrolled[0], clock)})
    response = pending.post(CHALLENGE, {"code": clock.code(enrolled[0])})
    assert response.status_code == 429
    assert "Wait a moment" in response.content.decode()
    assert AUTH_KEY not in pending.session
    wait(11)
    response = pending.post(CHALLENGE, {"code": clock.code(enrolled[0])})
    assert response.status_code == 302 and signed_in(pending)
    assert TOTPDevice.objects.get().throttling_failure_count == 0


@pytest.mark.parametrize("failures", [1, 3])
def test_a_code_the_back_off_refuses_is_audited_and_says_how_long(client, settings, user,
                                                                  password, enrolled, clock,
                                                                  failures):
    """A refusal by the device's back-off is a limit hit like a rate limit's: audited, and
    its Retry-After is the wait left (1, 2, 4... times THROTTLE_FACTOR), not one second."""
    settings.AUTHSUITE_MFA_THROTTLE_FACTOR = 30
    TOTPDevice.objects.filter(user=user).update(throttling_failure_count=failures - 1)
    api_post(client, "login/", {"email": user.email, "password": password})
    wrong = wrong_code(enrolled[0], clock)
    assert error_code(api_post(client, "mfa/challenge/", {"code": wrong})) == "mfa_code_invalid"

    response = api_post(client, "mfa/challenge/", {"code": clock.code(enrolled[0])})

    assert response.status_code == 429 and error_code(response) == "mfa_throttled"
    wait = 30 * 2 ** (failures - 1)
    assert wait - 5 <= int(response["Retry-After"]) <= wait
    [event] = events("authsuite.rate_limited")
    assert event.outcome == "denied"
    assert json.loads(event.data) == {"group": "mfa.device", "scope": "account",
                                      "retry_after": int(response["Retry-After"])}
    assert not signed_in(client)


# --- rate limits ----------------------------------------------------------------------------


@pytest.fixture
def one_window(time_machine):
    """One rate-limit window throughout: a count never starts again half-way through."""
    freeze(time_machine)


def test_attempts_are_rate_limited_per_account(settings, user, password, enrolled, clock,
                                               one_window):
    settings.AUTHSUITE_MFA_RATE_LIMITS = {"account": "3/5m", "ip": None}
    settings.AUTHSUITE_MFA_THROTTLE_FACTOR = 0  # the rate limit alone, not the back-off
    codes = []
    for number in range(4):
        client = Client(REMOTE_ADDR=f"198.51.100.{number + 1}")  # a new address each time
        login(client, user, password)
        codes.append(client.post(CHALLENGE, {"code": wrong_code(enrolled[0], clock)}).status_code)
    assert codes == [200, 200, 200, 429]
    # Even the right code is refused while the account is over its limit.
    clock.step()
    response = client.post(CHALLENGE, {"code": clock.code(enrolled[0])})
    assert response.status_code == 429 and "Retry-After" in response
    assert AUTH_KEY not in client.session
    assert Event.objects.filter(action="authsuite.rate_limited").exists()


def test_attempts_are_rate_limited_per_ip(settings, password, clock, one_window):
    settings.AUTHSUITE_MFA_RATE_LIMITS = {"ip": "3/5m", "account": None}
    statuses = []
    for _ in range(4):
        other = UserFactory(password=password)
        enroll(other)
        client = Client(REMOTE_ADDR="203.0.113.9")
        login(client, other, password)
        statuses.append(client.post(CHALLENGE, {"code": WRONG}).status_code)
    assert statuses == [200, 200, 200, 429]


def test_the_api_answers_a_rate_limit_in_the_envelope(settings, client, user, password, enrolled,
                                                      one_window):
    settings.AUTHSUITE_MFA_RATE_LIMITS = {"account": "1/5m"}
    api_post(client, "login/", {"email": user.email, "password": password})
    api_post(client, "mfa/challenge/", {"code": WRONG})
    response = api_post(client, "mfa/challenge/", {"code": WRONG})
    assert response.status_code == 429
    assert error_code(response) == "mfa_throttled" and int(response["Retry-After"]) > 0


def unlock_as_staff(staff, user):
    from tests.helpers import user_admin_url

    admin = Client()
    admin.force_login(staff)
    return admin.post(user_admin_url("changelist"), {
        "action": "unlock", "_selected_action": [user.pk]}, follow=True).content.decode()


def test_staff_unlocking_the_account_ends_the_back_off_of_both_devices(
        settings, client, user, password, enrolled, clock, staff):
    """The owner who called for help was still refused at the second step: the unlock
    forgot the password's failures and left each device's back-off (hours, after a few
    dozen wrong codes in a row) where it was."""
    from mfa.models import RecoveryCodeSet

    settings.AUTHSUITE_MFA_THROTTLE_FACTOR = 60
    TOTPDevice.objects.filter(user=user).update(throttling_failure_count=12,
                                                throttling_failure_timestamp=timezone_now())
    RecoveryCodeSet.objects.filter(user=user).update(throttling_failure_count=3,
                                                     throttling_failure_timestamp=timezone_now())
    login(client, user, password)
    refused = client.post(CHALLENGE, {"code": clock.code(enrolled[0])})
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 3600

    assert "Unlocked 1 users." in unlock_as_staff(staff, user)

    assert [(d.throttling_failure_count, d.throttling_failure_timestamp) for d in
            (TOTPDevice.objects.get(), RecoveryCodeSet.objects.get())] == [(0, None)] * 2
    assert events("accounts.account.unlocked")
    response = client.post(CHALLENGE, {"code": clock.code(enrolled[0])})
    assert response.status_code == 302 and signed_in(client)


def test_staff_unlocking_the_account_ends_its_codes_rate_limit_not_the_ips(
        settings, user, password, enrolled, clock, staff):
    settings.AUTHSUITE_MFA_RATE_LIMITS = {"account": "2/5m", "ip": "3/5m"}
    settings.AUTHSUITE_MFA_THROTTLE_FACTOR = 0  # the rate limits alone, not the back-off
    for number in range(2):
        client = Client(REMOTE_ADDR=f"198.51.100.{number + 1}")
        login(client, user, password)
        assert client.post(CHALLENGE, {"code": wrong_code(enrolled[0], clock)}).status_code == 200
    owner = Client(REMOTE_ADDR="198.51.100.1")
    login(owner, user, password)
    assert owner.post(CHALLENGE, {"code": clock.code(enrolled[0])}).status_code == 429

    assert "Unlocked 1 users." in unlock_as_staff(staff, user)

    clock.step()
    response = owner.post(CHALLENGE, {"code": clock.code(enrolled[0])})
    assert response.status_code == 302 and signed_in(owner)
    # The IP's own count was left: it had typed three codes against a limit of three.
    other = UserFactory(password=password)
    enroll(other)
    guesser = Client(REMOTE_ADDR="198.51.100.1")
    login(guesser, other, password)
    assert guesser.post(CHALLENGE, {"code": WRONG}).status_code == 429


def test_unlocking_an_account_whose_codes_were_never_wrong_does_nothing(
        user, password, enrolled, clock, staff):
    client = Client()
    login(client, user, password)
    assert client.post(CHALLENGE, {"code": clock.code(enrolled[0])}).status_code == 302

    page = unlock_as_staff(staff, user)

    assert "Nothing was locked for 1 user" in page
    assert not events("accounts.account.unlocked")


# --- step-up of a signed-in user ------------------------------------------------------------


@pytest.fixture
def trusted_session(client, user, password, enrolled, clock):
    """Signed in on a trusted browser: the session's amr has no second factor."""
    login(client, user, password)
    response = client.post(CHALLENGE, {"code": clock.code(enrolled[0]), "trust_browser": "on"})
    assert response.status_code == 302
    client.post(reverse("accounts:logout"))
    assert login(client, user, password)["Location"] == reverse("accounts:profile")
    assert client.session[RECORD_KEY]["amr"] == ["pwd"]
    mail.outbox.clear()
    return client


def test_step_up_adds_the_second_factor(trusted_session, enrolled, clock):
    page = trusted_session.get(CHALLENGE).content.decode()
    assert "Confirm with your second factor" in page
    before = trusted_session.session.session_key
    clock.step()
    response = trusted_session.post(CHALLENGE + "?next=/accounts/sessions/",
                                    {"code": clock.code(enrolled[0])})
    assert response["Location"] == "/accounts/sessions/"
    assert trusted_session.session[RECORD_KEY]["amr"] == ["mfa", "otp", "pwd"]
    assert trusted_session.session.session_key != before


def test_step_up_never_redirects_off_site(trusted_session, enrolled, clock):
    clock.step()
    response = trusted_session.post(CHALLENGE + "?next=https://evil.example/",
                                    {"code": clock.code(enrolled[0])})
    assert response["Location"] == reverse("mfa:index")


def test_step_up_failures_are_audited(trusted_session, enrolled, clock):
    response = trusted_session.post(CHALLENGE, {"code": wrong_code(enrolled[0], clock)})
    assert response.status_code == 200
    assert trusted_session.session[RECORD_KEY]["amr"] == ["pwd"]
    assert [json.loads(e.data) for e in events("mfa.challenge.failed")] == [
        {"method": "totp", "failures": None}]


def test_wrong_step_up_codes_in_a_row_alert_the_user(settings, trusted_session, user, enrolled,
                                                     clock, wait):
    """A stolen session may guess at the step-up instead of a sign-in: the account's device
    counts those wrong codes too, and the user is told as after a sign-in's."""
    settings.AUTHSUITE_MFA_CHALLENGE_MAX_FAILURES = 3
    wrong = wrong_code(enrolled[0], clock)
    for _ in range(6):
        assert trusted_session.post(CHALLENGE, {"code": wrong}).status_code == 200
        wait()
    assert len(events("mfa.challenge.failed")) == 6
    assert len(events("mfa.challenge.locked")) == 2
    assert subjects(user.email) == ["authsuite demo: Repeated wrong two-step codes"]  # throttled
    # Nothing to abandon: the session is still signed in, and the right code steps it up.
    assert signed_in(trusted_session)
    clock.step()
    assert trusted_session.post(CHALLENGE, {"code": clock.code(enrolled[0])}).status_code == 302
    assert trusted_session.session[RECORD_KEY]["amr"] == ["mfa", "otp", "pwd"]


def test_step_up_over_the_api(trusted_session, enrolled, clock):
    clock.step()
    response = api_post(trusted_session, "mfa/challenge/", {"code": clock.code(enrolled[0])})
    assert response.status_code == 200
    assert response.json()["amr"] == ["mfa", "otp", "pwd"]
    assert response.json()["acr"] == "urn:authsuite:acr:mfa"


# --- the recovery-code form on the page -----------------------------------------------------


def test_the_page_has_a_text_field_for_recovery_codes(pending):
    page = pending.get(CHALLENGE).content.decode()
    field = re.search(r'<input[^>]*id="id_recovery_code"[^>]*>', page).group(0)
    assert 'inputmode="text"' in field and 'name="code"' in field
    assert '<label for="id_recovery_code">Recovery code</label>' in page
    assert '<input type="hidden" name="kind" value="recovery"' in page
    assert "<details class=\"recovery\">" in page  # closed until used


def test_a_recovery_code_through_its_own_form(pending, user, enrolled):
    response = pending.post(CHALLENGE, {"kind": "recovery", "code": enrolled[1][0]})
    assert response.status_code == 302 and pending.session[AUTH_KEY] == str(user.pk)


def test_a_wrong_recovery_code_shows_its_error_on_its_form(pending):
    response = pending.post(CHALLENGE, {"kind": "recovery", "code": "zzzz-zzzz-zzzz"})
    page = response.content.decode()
    assert '<details class="recovery" open>' in page
    assert '<p class="error" id="id_recovery_code_error">That code is not valid.</p>' in page
    assert 'id="id_code_error"' not in page


# --- a sign-in that ends while its code is checked --------------------------------------------


@pytest.mark.parametrize("change", [password_reset, disabled])
@pytest.mark.parametrize("kind", ["totp", "recovery"])
def test_a_sign_in_ended_meanwhile_answers_409_and_keeps_the_code(
        client, user, password, enrolled, clock, monkeypatch, change, kind):
    api_post(client, "login/", {"email": user.email, "password": password})
    meanwhile(monkeypatch, change(user))
    one_time = clock.code(enrolled[0]) if kind == "totp" else enrolled[1][0]

    response = api_post(client, "mfa/challenge/", {"code": one_time})

    assert response.status_code == 409 and error_code(response) == "no_login_pending"
    assert not signed_in(client)
    # The code was not spent on a sign-in that could not go on.
    assert TOTPDevice.objects.get(user=user).last_t == -1
    assert not RecoveryCode.objects.filter(used_at__isnull=False).exists()
    assert not events("mfa.challenge.succeeded")


@pytest.mark.parametrize("change", [password_reset, disabled])
def test_a_sign_in_ended_meanwhile_sends_the_page_back_to_sign_in(
        pending, user, enrolled, clock, monkeypatch, change):
    meanwhile(monkeypatch, change(user))

    response = pending.post(CHALLENGE, {"code": clock.code(enrolled[0])}, follow=True)

    assert response.redirect_chain[-1][0] == reverse("accounts:login")
    assert "Your sign-in expired. Start again." in response.content.decode()
    assert AUTH_KEY not in pending.session
    assert TOTPDevice.objects.get(user=user).last_t == -1
