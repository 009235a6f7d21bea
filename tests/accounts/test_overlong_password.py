"""A password longer than any the suite sets (``PASSWORD_MAX``), typed where the account's
password is checked: signing in, reauthenticating, the current password of a change.

It can never be right, so it is answered as a wrong password is, in the same words for a
known address as for an unknown one, and counted like one by the lockout and the signals;
it is never hashed (hashing whatever size a request carries is free work for an attacker).
It was a field error (400 ``invalid`` on the API): another answer than a wrong password's,
for a guess that is merely wrong.
"""

from __future__ import annotations

import unicodedata

import pytest
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import ValidationError
from django.test import Client, override_settings
from django.urls import reverse

from accounts import signals
from accounts.credentials import PASSWORD_MAX
from accounts.models import LoginThrottle
from tests.accounts.support import (
    CountingHasher,
    api_login,
    api_post,
    error_code,
    html_login,
    signed_in_api,
    signed_in_html,
)
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

OVERLONG = "x" * (PASSWORD_MAX + 1)
WRONG = "not the right passphrase"
PASSWORD = "the right passphrase"
NEW_PASSWORD = "another quite long passphrase 2024"
UNKNOWN = "nobody@example.com"


@pytest.fixture
def user():
    """An account whose password checks are counted (``CountingHasher``)."""
    with override_settings(PASSWORD_HASHERS=["tests.accounts.support.CountingHasher"]):
        yield UserFactory(password=PASSWORD)


@pytest.fixture
def failures():
    """The failure signals sent, in order: the suite's ``login_failed`` with its method and
    reason, and Django's ``user_login_failed``."""
    sent = []

    def suite(sender, method, reason, **kwargs):
        sent.append(("login_failed", method, reason))

    def django(sender, **kwargs):
        sent.append(("user_login_failed",))

    signals.login_failed.connect(suite, dispatch_uid="test_overlong_suite")
    user_login_failed.connect(django, dispatch_uid="test_overlong_django")
    yield sent
    signals.login_failed.disconnect(dispatch_uid="test_overlong_suite")
    user_login_failed.disconnect(dispatch_uid="test_overlong_django")


def answer(via: str, response) -> tuple:
    """What the person sees: the status and the error envelope, or the page's form errors."""
    if via == "api":
        return response.status_code, response.json()
    return response.status_code, response.context["form"].errors.get_json_data()


def failures_of(identifier: str) -> int:
    """The failures the lockout counts for ``identifier`` from this browser (its IP's row,
    or the row of a browser the account signed in with)."""
    rows = LoginThrottle.objects.filter(identifier=identifier).exclude(
        ip=LoginThrottle.ACCOUNT_WIDE)
    return sum(rows.values_list("failures", flat=True))


def observed(failures: list, action) -> tuple:
    """``action()``'s answer, the failure signals it sent and the hashes it computed."""
    failures.clear()
    CountingHasher.calls = 0
    return action(), list(failures), CountingHasher.calls


@pytest.mark.parametrize("via", ["api", "html"])
def test_signing_in_with_an_overlong_password_is_a_wrong_password(user, failures, via):
    login = api_login if via == "api" else html_login

    wrong, wrong_signals, hashed = observed(
        failures, lambda: answer(via, login(Client(), user.email, WRONG)))
    known, known_signals, known_hashed = observed(
        failures, lambda: answer(via, login(Client(), user.email, OVERLONG)))
    unknown, unknown_signals, unknown_hashed = observed(
        failures, lambda: answer(via, login(Client(), UNKNOWN, OVERLONG)))

    assert known == unknown == wrong
    assert wrong[0] == (400 if via == "api" else 200)
    assert known_signals == unknown_signals == wrong_signals == [
        ("user_login_failed",), ("login_failed", "password", "credentials")]
    assert hashed >= 1
    assert known_hashed == unknown_hashed == 0
    assert (failures_of(user.email), failures_of(UNKNOWN)) == (2, 1)


def test_overlong_passwords_lock_the_address_like_wrong_ones(user):
    client = Client()

    codes = [error_code(api_login(client, user.email, OVERLONG)) for _ in range(6)]

    assert codes == ["invalid_credentials"] * 5 + ["account_locked"]


#: The checks of a signed-in account's password: API path, page, field, what goes with it
#: (on the API; the page asks for a new password twice).
CHECKS = {
    "reauthenticate": ("reauthenticate/", "accounts:reauthenticate", "password", {}),
    "password_change": ("password/change/", "accounts:password_change", "current_password",
                        {"new_password": NEW_PASSWORD}),
}


@pytest.mark.parametrize("via", ["api", "html"])
@pytest.mark.parametrize("check", CHECKS)
def test_confirming_with_an_overlong_password_is_a_wrong_password(user, failures, via, check):
    path, page, field, extra = CHECKS[check]
    client = Client()
    (signed_in_api if via == "api" else signed_in_html)(client, user.email, PASSWORD)

    def confirm(password: str) -> tuple:
        if via == "api":
            return answer(via, api_post(client, path, {field: password, **extra}))
        again = {"new_password_confirm": NEW_PASSWORD} if extra else {}
        return answer(via, client.post(reverse(page), {field: password, **extra, **again}))

    wrong, wrong_signals, hashed = observed(failures, lambda: confirm(WRONG))
    overlong, overlong_signals, overlong_hashed = observed(failures, lambda: confirm(OVERLONG))

    assert overlong == wrong
    if via == "api":
        assert (wrong[0], wrong[1]["error"]["code"]) == (400, "password_incorrect")
    assert list(wrong[1]["error"]["fields"] if via == "api" else wrong[1]) == [field]
    assert overlong_signals == wrong_signals == [("login_failed", check, "credentials")]
    assert hashed >= 1
    assert overlong_hashed == 0
    assert failures_of(user.email) == 2
    user.refresh_from_db()
    assert user.check_password(PASSWORD)  # unchanged


#: Longer than ``PASSWORD_MAX`` as typed (each accented letter a letter and an accent), not
#: in the normal form it is judged and hashed in (each one code point).
DECOMPOSED = " ".join(f"cr\u00e8me br\u00fbl\u00e9e {i}" for i in range(60))
DECOMPOSED_TYPED = unicodedata.normalize("NFD", DECOMPOSED)


def test_a_password_longer_than_any_set_as_typed_is_refused_where_django_sets_one(user):
    # Django's set-password form (the admin's, changepassword's list) has no length of its
    # own: the validators judged the normal form only, took it, and the account could then
    # never sign in with it, a check refusing it unhashed as longer than any set.
    assert len(DECOMPOSED) <= PASSWORD_MAX < len(DECOMPOSED_TYPED)
    form = SetPasswordForm(user, {"new_password1": DECOMPOSED_TYPED,
                                  "new_password2": DECOMPOSED_TYPED})

    assert not form.is_valid()
    assert [e["code"] for e in form.errors.get_json_data()["new_password2"]] == [
        "password_too_long"]
    with pytest.raises(ValidationError) as refused:
        validate_password(DECOMPOSED_TYPED, user)
    assert [e.code for e in refused.value.error_list] == ["password_too_long"]


def test_a_password_within_the_limit_as_typed_is_judged_in_its_normal_form(user):
    # The normal form may be longer than the password typed (a ligature is two letters):
    # the limit applies to it too, as before.
    typed = "\ufb01" * 600  # "ﬁ": 600 typed, 1200 in the normal form

    with pytest.raises(ValidationError) as refused:
        validate_password(typed, user)
    assert "password_too_long" in [e.code for e in refused.value.error_list]
