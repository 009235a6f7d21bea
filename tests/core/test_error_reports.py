"""Error reports hide the secrets a failing flow holds.

A request that fails with an unexpected error (a database gone away, a bug) is reported by
Django with every traceback frame's variables: the 500 page with DEBUG on, the admins' email,
any reporter built on ``ExceptionReporter``. With DEBUG off, ``SafeExceptionReporterFilter``
hides what ``sensitive_variables`` marks, and nothing else. Each test makes a flow fail
beneath the frames that hold its secret (a password, a link's token, a code, the key of an
authenticator app), at a call that is not handed the secret itself, builds the report
Django's handler would, and looks for the secret in it.
"""

from __future__ import annotations

import base64
import hashlib
import html
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from unittest import mock

import pytest
from django.core import mail
from django.core.signals import got_request_exception
from django.test import override_settings
from django.urls import reverse
from django.views.debug import ExceptionReporter, SafeExceptionReporterFilter

from accounts import tokens
from mfa import recovery, totp
from mfa import signals as mfa_signals
from tests.accounts.support import api_post, signed_in_api, signed_in_html
from tests.factories import UserFactory
from tests.helpers import link_form, open_link
from tests.mfa.support import Clock, enroll, login, sign_in_fully

pytestmark = pytest.mark.django_db

#: Passwords and a token no report could hold by chance.
PASSWORD = "Orbit-Kestrel-Lantern-5c81e0d2f4"
NEW_PASSWORD = "Quartz-Meadow-Harbour-93ab61c7e0"
TOKEN = "Tk9yNjE2Z0RhUzVfd2RyYW1ldC1wb2xhcmlz"
#: The key of an authenticator app set up in a test.
KEY = bytes.fromhex("6b1e3f0a9c52d47e81f0b3a65c2e9d17048fa3b2")
HIDDEN = SafeExceptionReporterFilter.cleansed_substitute


class Failure(RuntimeError):
    """The unexpected error a test makes a flow raise."""


@dataclass
class Report:
    """A report as text and as HTML (the only one that shows variables), and its frames."""

    text: str = ""
    html: str = ""
    frames: list = field(default_factory=list)

    def hides(self, *secrets: str) -> None:
        """None of ``secrets`` is anywhere in the report. A six-digit code is looked for as
        a string's ``repr``: its digits alone may well be in a memory address."""
        for secret in secrets:
            assert secret not in self.text
            assert secret not in self.html
            assert html.escape(secret) not in self.html

    def variables(self, function: str) -> dict[str, str]:
        """The variables the report shows for the innermost frame of ``function``."""
        found = [frame for frame in self.frames if frame["function"] == function]
        assert found, f"no frame of {function}"
        return {name: value for name, value in found[-1]["vars"]}


@contextmanager
def reported(client):
    """The report Django makes of the request that fails in the block: its handler's
    request and exception, reported as for a 500 (``ExceptionReporter``, the default filter,
    not an email)."""
    caught = []

    def keep(sender, request=None, **kwargs):
        caught.append((request, *sys.exc_info()))

    client.raise_request_exception = False
    report = Report()
    got_request_exception.connect(keep)
    try:
        yield report
    finally:
        got_request_exception.disconnect(keep)
    assert caught, "the request did not fail"
    request, exc_type, exc_value, tb = caught[-1]
    assert exc_type is Failure, exc_value
    reporter = ExceptionReporter(request, exc_type, exc_value, tb)
    report.text = reporter.get_traceback_text()
    report.html = reporter.get_traceback_html()
    report.frames = reporter.get_traceback_frames()


def failing(target: str):
    return mock.patch(target, side_effect=Failure("the database went away"))


def sha1(password: str) -> str:
    return hashlib.sha1(password.encode(), usedforsecurity=False).hexdigest().upper()


@pytest.fixture
def account(db):
    return UserFactory(password=PASSWORD)


# --- passwords ------------------------------------------------------------------------------

# After the check (the lockout's record of a success), in the authentication backend (the
# address looked up) and in Django's hashing beneath it (the stored hash identified).
SIGN_IN_FAILURES = ["accounts.lockout.success_record", "accounts.backends.get_by_email",
                    "django.contrib.auth.hashers.identify_hasher"]


@pytest.mark.parametrize("target", SIGN_IN_FAILURES)
def test_a_failed_sign_in_page_hides_the_password(client, account, target):
    with reported(client) as report, failing(target):
        client.post(reverse("accounts:login"), {"email": account.email, "password": PASSWORD})
    report.hides(PASSWORD)


@pytest.mark.parametrize("target", SIGN_IN_FAILURES)
def test_a_failed_api_sign_in_hides_the_password(client, account, target):
    with reported(client) as report, failing(target):
        api_post(client, "login/", {"email": account.email, "password": PASSWORD})
    report.hides(PASSWORD)


def test_a_failed_sign_in_with_an_unknown_address_hides_the_password(client, db):
    # The backend hashes the password anyway (Django's set_password, then make_password).
    with reported(client) as report, failing("django.contrib.auth.hashers.get_hasher"):
        client.post(reverse("accounts:login"), {"email": "nobody@example.com",
                                                "password": PASSWORD})
    report.hides(PASSWORD)


def test_the_report_still_shows_what_is_not_secret(client, account):
    with reported(client) as report, failing("accounts.lockout.success_record"):
        client.post(reverse("accounts:login"), {"email": account.email, "password": PASSWORD})
    checked = report.variables("password_check")
    assert checked["password"] == HIDDEN
    assert checked["identifier"] == account.email
    assert report.variables("password_login")["remember"] is False


@pytest.mark.parametrize("target", ["accounts.authrecord.record_step_up",
                                    "django.contrib.auth.hashers.identify_hasher"])
def test_a_failed_reauthentication_hides_the_password(client, account, target):
    signed_in_html(client, account.email, PASSWORD)
    with reported(client) as report, failing(target):
        client.post(reverse("accounts:reauthenticate"), {"password": PASSWORD})
    report.hides(PASSWORD)


def test_a_failed_api_reauthentication_hides_the_password(client, account):
    signed_in_api(client, account.email, PASSWORD)
    with reported(client) as report, failing("accounts.authrecord.record_step_up"):
        api_post(client, "reauthenticate/", {"password": PASSWORD})
    report.hides(PASSWORD)


# After the new password is stored (the other sessions ended), and in a validator of the
# password policy (the context words it is compared with).
PASSWORD_SET_FAILURES = ["accounts.sessions.sessions_end",
                         "accounts.passwords.BlocklistValidator._context_words"]


@pytest.mark.parametrize("target", PASSWORD_SET_FAILURES)
def test_a_failed_password_change_hides_both_passwords(client, account, target):
    signed_in_html(client, account.email, PASSWORD)
    with reported(client) as report, failing(target):
        client.post(reverse("accounts:password_change"), {
            "current_password": PASSWORD, "new_password": NEW_PASSWORD,
            "new_password_confirm": NEW_PASSWORD})
    report.hides(PASSWORD, NEW_PASSWORD, NEW_PASSWORD.lower())


def test_a_failed_api_password_change_hides_both_passwords(client, account):
    signed_in_api(client, account.email, PASSWORD)
    with reported(client) as report, failing("accounts.sessions.sessions_end"):
        api_post(client, "password/change/", {"current_password": PASSWORD,
                                              "new_password": NEW_PASSWORD})
    report.hides(PASSWORD, NEW_PASSWORD)


@override_settings(AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_CHECKER=(
    "accounts.passwords.PwnedPasswordsChecker"))
def test_a_failed_breach_check_hides_the_password_and_its_digest(client, db):
    # Handed only the digest's first five digits, which leave the server anyway.
    with reported(client) as report, failing("accounts.pwned.range_fetch"):
        api_post(client, "signup/", {"email": "new@example.com", "password": NEW_PASSWORD})
    report.hides(NEW_PASSWORD, sha1(NEW_PASSWORD), sha1(NEW_PASSWORD)[5:])


def reset_token(user) -> str:
    with mock.patch("authsuite.crypto.new_token", return_value=TOKEN):
        return tokens.token_issue(user=user, purpose=tokens.Purpose.PASSWORD_RESET,
                                  email=user.email, lifetime=3600)


# Also in Django's set_password (the hasher looked up), and once the password is set (the
# lockout told of it).
@pytest.mark.parametrize("target", [*PASSWORD_SET_FAILURES, "accounts.lockout.recovered",
                                    "django.contrib.auth.hashers.get_hasher"])
def test_a_failed_reset_page_hides_the_token_and_the_password(client, account, target):
    link = reverse("accounts:password_reset_confirm", kwargs={"token": reset_token(account)})
    page, url = open_link(client, link)
    with reported(client) as report, failing(target):
        client.post(url, link_form(page, new_password=NEW_PASSWORD,
                                   new_password_confirm=NEW_PASSWORD))
    report.hides(TOKEN, NEW_PASSWORD)


def test_a_failed_api_reset_hides_the_token_and_the_password(client, account):
    reset_token(account)
    with reported(client) as report, failing("accounts.lockout.recovered"):
        api_post(client, "password/reset/confirm/", {"token": TOKEN,
                                                     "new_password": NEW_PASSWORD})
    report.hides(TOKEN, NEW_PASSWORD)


# In Django's set_password (the hasher looked up), and once the account is stored, as the
# verification link is queued.
SIGN_UP_FAILURES = ["django.contrib.auth.hashers.get_hasher",
                    "authsuite.outbox.enqueue.queue_delivery"]


@pytest.mark.parametrize("target", SIGN_UP_FAILURES)
def test_a_failed_sign_up_page_hides_the_password_and_the_link(client, db, target):
    with reported(client) as report, failing(target), \
            mock.patch("authsuite.crypto.new_token", return_value=TOKEN):
        client.post(reverse("accounts:signup"), {"email": "new@example.com",
                                                 "password": NEW_PASSWORD})
    report.hides(NEW_PASSWORD, TOKEN)


@pytest.mark.parametrize("target", SIGN_UP_FAILURES)
def test_a_failed_api_sign_up_hides_the_password_and_the_link(client, db, target):
    with reported(client) as report, failing(target), \
            mock.patch("authsuite.crypto.new_token", return_value=TOKEN):
        api_post(client, "signup/", {"email": "new@example.com", "password": NEW_PASSWORD})
    report.hides(NEW_PASSWORD, TOKEN)


def test_a_failed_email_verification_hides_the_token_and_the_password(client, db):
    # Not signed in as the account: its password proves who chose it.
    user = UserFactory(password=PASSWORD, verified_email=False)
    with mock.patch("authsuite.crypto.new_token", return_value=TOKEN):
        tokens.token_issue(user=user, purpose=tokens.Purpose.VERIFY_EMAIL, email=user.email,
                           lifetime=3600)
    with reported(client) as report, \
            failing("accounts.flows.email.verification.mark_verified"):
        api_post(client, "email/verify/", {"token": TOKEN, "password": PASSWORD})
    report.hides(TOKEN, PASSWORD)


# --- sign-in links --------------------------------------------------------------------------

def magic_token(user) -> str:
    with mock.patch("authsuite.crypto.new_token", return_value=TOKEN):
        return tokens.token_issue(user=user, purpose=tokens.Purpose.MAGIC_LINK,
                                  email=user.email, lifetime=600)


def test_a_failed_magic_link_page_hides_the_token(client, account):
    page, url = open_link(client, reverse("accounts:magic_link_confirm",
                                          kwargs={"token": magic_token(account)}))
    with reported(client) as report, failing("accounts.pipeline.login_begin"):
        client.post(url, link_form(page))
    report.hides(TOKEN)


def test_a_failed_api_magic_link_hides_the_token(client, account):
    magic_token(account)
    with reported(client) as report, failing("accounts.pipeline.login_begin"):
        api_post(client, "magic-link/confirm/", {"token": TOKEN})
    report.hides(TOKEN)


# --- second factors -------------------------------------------------------------------------

@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch)


@pytest.fixture
def at_challenge(client, account, clock):
    """``client`` past the password, at the second-factor stage: (client, key, codes)."""
    secret, codes = enroll(account)
    response = login(client, account, PASSWORD)
    assert response["Location"] == reverse("mfa:challenge")
    clock.step()
    return client, secret, codes


def key_forms(secret: str) -> list[str]:
    """The ways a report would show an app's key: as shown to be scanned, as hex, as bytes."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    return [secret, key.hex(), repr(key)[2:-1]]


def test_a_failed_code_check_hides_the_code_and_the_key(at_challenge, clock, monkeypatch):
    client, secret, _codes = at_challenge
    code = clock.code(secret)

    def clock_fails():
        raise Failure("the clock is unreadable")

    # Read as the code is compared, the app's key decrypted by then.
    monkeypatch.setattr(totp, "now", clock_fails)
    with reported(client) as report:
        client.post(reverse("mfa:challenge"), {"code": code})
    report.hides(repr(code), *key_forms(secret))


def test_a_failed_api_challenge_hides_the_code(at_challenge, clock):
    client, secret, _codes = at_challenge
    code = clock.code(secret)
    with reported(client) as report, failing("accounts.pipeline.stage_passed"):
        api_post(client, "mfa/challenge/", {"code": code})
    report.hides(repr(code))


def test_a_failed_recovery_code_use_hides_the_code(at_challenge):
    client, _secret, codes = at_challenge
    typed = codes[0]
    with reported(client) as report, failing("mfa.flows.verification.factor_notice"):
        client.post(reverse("mfa:challenge"), {"kind": "recovery", "code": typed})
    report.hides(typed, typed.replace("-", ""))


def test_a_failed_trusted_browser_hides_its_token(at_challenge, clock):
    client, secret, _codes = at_challenge
    with reported(client) as report, \
            mock.patch("authsuite.crypto.new_token", return_value=TOKEN), \
            mock.patch.object(mfa_signals.browser_trusted, "send",
                              side_effect=Failure("the audit trail went away")):
        client.post(reverse("mfa:challenge"), {"code": clock.code(secret),
                                               "trust_browser": "on"})
    report.hides(TOKEN)


@pytest.fixture
def signed_in(client, account):
    signed_in_html(client, account.email, PASSWORD)
    mail.outbox.clear()
    return client


def test_a_failed_api_setup_hides_the_key(signed_in, monkeypatch):
    monkeypatch.setattr(totp, "new_key", lambda: KEY)
    opened = []

    def device_key(device):
        # The key is read twice for the setup: for the otpauth URI, then to be shown.
        if opened:
            raise Failure("the key could not be read again")
        opened.append(device)
        return bytes(KEY)

    monkeypatch.setattr(totp, "device_key", device_key)
    with reported(signed_in) as report:
        api_post(signed_in, "mfa/totp/setup/")
    report.hides(*key_forms(totp.base32(KEY)))


def test_a_failed_setup_page_hides_the_key(signed_in, monkeypatch):
    monkeypatch.setattr(totp, "new_key", lambda: KEY)
    signed_in.post(reverse("mfa:totp_setup"), {"action": "begin"})
    # As the page is put together, the setup in its context by then.
    with reported(signed_in) as report, \
            failing("mfa.views.TOTPSetupView.get_template_names"):
        signed_in.get(reverse("mfa:totp_setup"))
    report.hides(*key_forms(totp.base32(KEY)))


@pytest.fixture
def made(monkeypatch) -> list[str]:
    """The recovery codes the next new set holds, as they are shown."""
    codes: list[str] = []
    generate = recovery.generate
    monkeypatch.setattr(recovery, "generate", lambda user: codes.extend(generate(user)) or codes)
    return codes


# Once the recovery codes are made (the trusted browsers forgotten), and once the app is on
# (the session's record of the factor).
ACTIVATION_FAILURES = ["mfa.trust.trust_revoke", "accounts.authrecord.record_step_up"]


@pytest.mark.parametrize("target", ACTIVATION_FAILURES)
def test_a_failed_activation_hides_the_code_and_the_new_recovery_codes(
        signed_in, clock, made, monkeypatch, target):
    monkeypatch.setattr(totp, "new_key", lambda: KEY)
    signed_in.post(reverse("mfa:totp_setup"), {"action": "begin"})
    code = clock.code(totp.base32(KEY))
    with reported(signed_in) as report, failing(target):
        signed_in.post(reverse("mfa:totp_setup"), {"code": code})
    assert made
    report.hides(repr(code), *made, *key_forms(totp.base32(KEY)))


def test_a_failed_new_set_of_recovery_codes_hides_them(client, account, clock, made):
    secret, _none = enroll(account, codes=False)
    sign_in_fully(client, account, PASSWORD, clock, secret)
    with reported(client) as report, failing("mfa.trust.trust_revoke"):
        client.post(reverse("mfa:recovery_codes"))
    assert made
    report.hides(*made)



# --- pages and answers that show a secret ----------------------------------------------------
# Rendered by the handler, after the view's marked frames have returned, a template or a
# renderer failing (a project's template override, say) reported the context or the data.

class Unprintable:
    """What a template cannot show: a failure in the middle of the page."""

    def __str__(self):
        raise Failure("the template could not be rendered")


@pytest.fixture
def template_fails(monkeypatch):
    """The new-codes page fails as it is rendered, past its list of codes."""
    monkeypatch.setattr("mfa.views.codes_download_href", lambda codes: Unprintable())


@pytest.fixture
def renderer_fails():
    with failing("rest_framework.renderers.JSONRenderer.render"):
        yield


def test_a_page_of_new_recovery_codes_failing_to_render_hides_them(client, account, clock,
                                                                   made, template_fails):
    secret, _none = enroll(account, codes=False)
    sign_in_fully(client, account, PASSWORD, clock, secret)
    with reported(client) as report:
        client.post(reverse("mfa:recovery_codes"))
    assert made
    report.hides(*made)


def test_the_codes_of_an_activation_failing_to_render_are_hidden(signed_in, clock, made,
                                                                 monkeypatch, template_fails):
    monkeypatch.setattr(totp, "new_key", lambda: KEY)
    signed_in.post(reverse("mfa:totp_setup"), {"action": "begin"})
    with reported(signed_in) as report:
        signed_in.post(reverse("mfa:totp_setup"), {"code": clock.code(totp.base32(KEY))})
    assert made
    report.hides(*made, *key_forms(totp.base32(KEY)))


def test_a_setup_page_failing_to_render_hides_the_key(signed_in, monkeypatch):
    monkeypatch.setattr(totp, "new_key", lambda: KEY)
    signed_in.post(reverse("mfa:totp_setup"), {"action": "begin"})
    monkeypatch.setattr("mfa.flows.authenticator.Setup.svg", property(
        lambda setup: Unprintable()))
    with reported(signed_in) as report:
        signed_in.get(reverse("mfa:totp_setup"))
    report.hides(*key_forms(totp.base32(KEY)))


def test_an_api_setup_failing_to_render_hides_the_key(signed_in, monkeypatch, renderer_fails):
    monkeypatch.setattr(totp, "new_key", lambda: KEY)
    with reported(signed_in) as report:
        api_post(signed_in, "mfa/totp/setup/")
    report.hides(*key_forms(totp.base32(KEY)))


def test_new_api_recovery_codes_failing_to_render_are_hidden(client, account, clock, made,
                                                             renderer_fails):
    secret, _none = enroll(account, codes=False)
    sign_in_fully(client, account, PASSWORD, clock, secret)
    with reported(client) as report:
        api_post(client, "mfa/recovery-codes/")
    assert made
    report.hides(*made)


def test_an_api_activation_failing_to_render_hides_the_codes(signed_in, clock, made,
                                                              monkeypatch):
    monkeypatch.setattr(totp, "new_key", lambda: KEY)
    api_post(signed_in, "mfa/totp/setup/")
    code = clock.code(totp.base32(KEY))
    with reported(signed_in) as report, \
            failing("rest_framework.renderers.JSONRenderer.render"):  # not the setup's
        api_post(signed_in, "mfa/totp/activate/", {"code": code})
    assert made
    report.hides(repr(code), *made, *key_forms(totp.base32(KEY)))
