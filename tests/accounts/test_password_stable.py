"""Passwords are stabilized strings (NIST SP 800-63B-4 §3.1.1.2): a new password holding a
code point Unicode has not assigned yet, whose normal form a later Unicode version may change,
is refused on every path that sets one, while a password stored with one still signs in; and
every configured validator, Django's own included, judges the normal form that is hashed."""

from __future__ import annotations

import io
import unicodedata

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AdminPasswordChangeForm, SetPasswordForm
from django.contrib.auth.management.commands import changepassword
from django.contrib.auth.password_validation import password_validators_help_texts
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import path

from accounts.models import PasswordChangeRequired
from accounts.passwords import NormalFormValidator
from authsuite.urls import urlpatterns as project_urls
from tests.accounts.support import (
    api_login,
    api_post,
    error_code,
    html_login,
    signed_in_api,
    signed_in_html,
)
from tests.accounts.test_password import change_form, new_password_form, request_reset
from tests.accounts.test_password_policy import errors_for
from tests.conftest import STRONG_PASSWORD
from tests.factories import UserFactory
from tests.helpers import last_link, link_form, open_link, token_from

django_admin = admin.AdminSite(name="django_admin")
urlpatterns = [path("django-admin/", django_admin.urls), *project_urls]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]
User = get_user_model()

UNASSIGNED = "\u0378"  # in the Greek block, unassigned in every Unicode version so far
WITH_UNASSIGNED = f"quiet orange kettle {UNASSIGNED}"
REFUSED = "This password contains a character this site does not know yet"
FINE = "quiet orange kettle on the hob"
COMMON_FULL_WIDTH = "ｐａｓｓｗｏｒｄ"  # hashed as "password"
DJANGO_COMMON = "django.contrib.auth.password_validation.CommonPasswordValidator"


def wrapped(name: str, **options) -> dict:
    return {"NAME": "accounts.passwords.NormalFormValidator",
            "OPTIONS": {"validator": name, "options": options}}


def api_refused(response) -> None:
    assert response.status_code == 400, response.content
    assert error_code(response) == "password_invalid"
    assert REFUSED in response.json()["error"]["message"]


# --- what is refused ------------------------------------------------------------------------

@pytest.mark.parametrize("unassigned", [
    UNASSIGNED,
    "\U000e0080",  # past the tag characters
    "\ufdd0",  # a noncharacter: unassigned for ever, and no interchanged text holds one
    "\U0010fffe",
])
def test_a_code_point_unicode_has_not_assigned_is_refused(unassigned):
    assert unicodedata.category(unassigned) == "Cn"
    assert errors_for(f"quiet orange kettle{unassigned}") == ["password_unassigned_character"]
    # Normalisation keeps it: the check sees it in either form.
    assert errors_for(f"ｑｕｉｅｔ orange kettle{unassigned}") == ["password_unassigned_character"]


@pytest.mark.skipif(unicodedata.category("\U0001fae9") != "Cn",
                    reason="this Python's Unicode data has the emoji (Unicode 16.0)")
def test_an_emoji_newer_than_the_unicode_data_is_refused():
    # FACE WITH BAGS UNDER EYES, from Unicode 16.0: what a phone offers before the server's
    # Python knows it.
    assert errors_for("quiet orange kettle \U0001fae9") == ["password_unassigned_character"]


@pytest.mark.parametrize("password", [
    "quiet orange kettle \ue000\U000f0000",  # private use: assigned, and NFKC keeps it
    "crème brûlée, ﬁve ｓｕｎｄａｙｓ",
    "тихий оранжевый чайник 🫖",
    "静かなオレンジ色のやかんと青いお茶碗",
])
def test_assigned_characters_are_accepted(password):
    assert errors_for(password) == []


def test_a_lone_surrogate_is_refused_not_a_crash(settings, tmp_path):
    # No page or API call can send one (see test_bad_input), but a management command
    # reading a terminal that is not UTF-8 can. The breach check, which hashes the password's
    # UTF-8 form, answers too instead of failing every validator's answer with it.
    leaked = tmp_path / "leaked.txt"
    leaked.write_text("0000000000000000000000000000000000000000\n", encoding="ascii")
    settings.AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_CHECKER = "accounts.passwords.LocalListChecker"
    settings.AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_FILE = str(leaked)

    assert errors_for("quiet orange kettle \ud800") == ["password_surrogate"]
    assert errors_for(f"quiet orange \udfff kettle {UNASSIGNED}") == ["password_surrogate"]


def test_the_help_text_says_what_cannot_be_used():
    assert ("Characters newer than this site's version of Unicode cannot be used."
            in password_validators_help_texts())


# --- every path that sets a password refuses it ---------------------------------------------

def test_signup_page(client):
    response = client.post("/accounts/signup/", {"email": "zoe@example.com",
                                                 "password": WITH_UNASSIGNED})

    assert response.status_code == 200
    assert REFUSED in response.content.decode()
    assert not User.objects.filter(email="zoe@example.com").exists()


def test_api_signup(client):
    api_refused(api_post(client, "signup/", {"email": "zoe@example.com",
                                             "password": WITH_UNASSIGNED}))
    assert not User.objects.filter(email="zoe@example.com").exists()


def test_password_change_page_and_api(client, user, password):
    signed_in_html(client, user.email, password)

    page = client.post("/accounts/password/change/", change_form(password, WITH_UNASSIGNED))
    assert page.status_code == 200
    assert REFUSED in page.content.decode()
    api_refused(api_post(client, "password/change/", {"current_password": password,
                                                      "new_password": WITH_UNASSIGNED}))

    user.refresh_from_db()
    assert user.check_password(password)


def test_reset_confirm_page(client, user, password):
    request_reset(client, user.email)
    page, confirm = open_link(client, last_link(user.email))

    response = client.post(confirm, link_form(page, **new_password_form(WITH_UNASSIGNED)))

    assert response.status_code == 200
    assert REFUSED in response.content.decode()
    user.refresh_from_db()
    assert user.check_password(password)
    # The link is still good for a password that can be stored.
    assert client.post(confirm, link_form(page, **new_password_form(FINE))).status_code == 302


def test_reset_confirm_api(client, user, password):
    api_post(client, "password/reset/", {"email": user.email})
    token = token_from(last_link(user.email))

    api_refused(api_post(client, "password/reset/confirm/",
                         {"token": token, "new_password": WITH_UNASSIGNED}))

    user.refresh_from_db()
    assert user.check_password(password)


def test_the_required_change_at_sign_in(client, user, password):
    PasswordChangeRequired.objects.create(user=user)
    assert api_login(client, user.email, password).json()["stage"] == "password_change_required"

    api_refused(api_post(client, "password/required/", {"new_password": WITH_UNASSIGNED}))

    user.refresh_from_db()
    assert user.check_password(password)


def test_djangos_admin_password_change_page(staff):
    """Django's own admin site (a project without ``SuiteAdminConfig``) changes the password
    with Django's form, which calls ``validate_password`` itself."""
    client = Client()
    signed_in_html(client, staff.email, STRONG_PASSWORD)

    response = client.post("/django-admin/password_change/", {
        "old_password": STRONG_PASSWORD, "new_password1": WITH_UNASSIGNED,
        "new_password2": WITH_UNASSIGNED})

    assert response.status_code == 200
    assert REFUSED in response.content.decode()
    staff.refresh_from_db()
    assert staff.check_password(STRONG_PASSWORD)


@pytest.mark.parametrize("form_class", [AdminPasswordChangeForm, SetPasswordForm])
def test_djangos_set_password_forms(user, form_class):
    """The admin's set-password form (the suite's user admins have no such page) and the one
    Django's reset views use."""
    names = (("password1", "password2") if form_class is AdminPasswordChangeForm
             else ("new_password1", "new_password2"))
    form = form_class(user, dict.fromkeys(names, WITH_UNASSIGNED))

    assert not form.is_valid()
    assert [e.code for e in form.errors.as_data()[names[1]]] == ["password_unassigned_character"]


@pytest.fixture
def typed_at_the_prompt(monkeypatch):
    """What ``changepassword`` reads at its password prompts, in order."""
    answers = []
    monkeypatch.setattr(changepassword.getpass, "getpass",
                        lambda prompt="": answers.pop(0))
    return answers


@pytest.mark.parametrize("refused", [WITH_UNASSIGNED, "quiet orange kettle \udcff"])
def test_the_changepassword_command(user, password, typed_at_the_prompt, refused):
    # "\udcff": the byte 0xFF read from a terminal that is not UTF-8 (surrogateescape).
    typed_at_the_prompt.extend([refused, refused, FINE, FINE])
    err = io.StringIO()

    call_command("changepassword", user.get_username(), stdout=io.StringIO(), stderr=err)

    assert "This password contains a character" in err.getvalue()
    user.refresh_from_db()
    assert user.check_password(FINE)


def test_the_changepassword_command_gives_up_after_three_refusals(user, password,
                                                                  typed_at_the_prompt):
    typed_at_the_prompt.extend([WITH_UNASSIGNED] * 6)

    with pytest.raises(CommandError, match="after 3 attempts"):
        call_command("changepassword", user.get_username(), stdout=io.StringIO(),
                     stderr=io.StringIO())

    user.refresh_from_db()
    assert user.check_password(password)


# --- a password stored before still signs in ------------------------------------------------

@pytest.mark.parametrize("hasher", ["accounts.hashers.NormalizingArgon2idPasswordHasher",
                                    "django.contrib.auth.hashers.MD5PasswordHasher"])
def test_a_password_stored_with_an_unassigned_code_point_still_signs_in(settings, hasher):
    settings.PASSWORD_HASHERS = [hasher]
    settings.AUTHSUITE_ACCOUNTS_ARGON2_MEMORY_COST = 1024
    settings.AUTHSUITE_ACCOUNTS_ARGON2_TIME_COST = 1
    user = UserFactory(password=WITH_UNASSIGNED)  # set before the policy refused it

    signed_in_html(Client(), user.email, WITH_UNASSIGNED)
    client = Client()
    signed_in_api(client, user.email, WITH_UNASSIGNED)
    reauthenticated = api_post(client, "reauthenticate/", {"password": WITH_UNASSIGNED})
    assert reauthenticated.status_code == 200, reauthenticated.content
    # Only the password it was set with: the code point is part of it.
    assert html_login(Client(), user.email, "quiet orange kettle ").status_code == 200


# --- Django's own validators judge the normal form ------------------------------------------

def test_djangos_common_password_list_sees_full_width_letters_as_typed(settings):
    """What the wrapper is for: unwrapped, Django's list judges the string as typed."""
    settings.AUTH_PASSWORD_VALIDATORS = [{"NAME": DJANGO_COMMON}]
    assert errors_for("password") == ["password_too_common"]
    assert errors_for(COMMON_FULL_WIDTH) == []


def test_djangos_common_password_list_wrapped_refuses_the_full_width_form(settings, client,
                                                                          user, password):
    settings.AUTH_PASSWORD_VALIDATORS = [wrapped(DJANGO_COMMON)]

    assert errors_for(COMMON_FULL_WIDTH) == ["password_too_common"]
    response = api_post(client, "signup/", {"email": "zoe@example.com",
                                            "password": COMMON_FULL_WIDTH})
    assert response.status_code == 400 and error_code(response) == "password_invalid"
    form = SetPasswordForm(user, {"new_password1": COMMON_FULL_WIDTH,
                                  "new_password2": COMMON_FULL_WIDTH})
    assert not form.is_valid()
    user.refresh_from_db()
    assert user.check_password(password)


def test_a_wrapped_validator_takes_its_options_and_counts_the_normal_form(settings):
    settings.AUTH_PASSWORD_VALIDATORS = [wrapped(
        "django.contrib.auth.password_validation.MinimumLengthValidator", min_length=15)]

    # 14 ligatures typed, 28 letters hashed; 18 code points typed, 13 letters hashed.
    assert errors_for("ﬁ" * 14) == []
    assert errors_for(unicodedata.normalize("NFD", "brûlée-étés-ô")) == ["password_too_short"]
    assert password_validators_help_texts() == [
        "Your password must contain at least 15 characters."]


def test_djangos_similarity_check_compares_the_normal_form(settings):
    settings.AUTH_PASSWORD_VALIDATORS = [wrapped(
        "django.contrib.auth.password_validation.UserAttributeSimilarityValidator")]
    user = User(email="archibald@example.com")

    assert errors_for("ａｒｃｈｉｂａｌｄ", user) == ["password_too_similar"]


class Remembering:
    """A validator that keeps what it was told of a new password (as a history check would)."""

    changed: list = []

    def validate(self, password, user=None):
        return None

    def password_changed(self, password, user=None):
        self.changed.append(password)

    def get_help_text(self):
        return ""


def test_a_wrapped_validator_is_told_of_the_change_in_the_normal_form(settings, user):
    settings.AUTH_PASSWORD_VALIDATORS = [
        wrapped(f"{__name__}.Remembering"),
        wrapped(DJANGO_COMMON),  # has no password_changed: nothing to pass on
    ]
    Remembering.changed.clear()

    user.set_password("ｑｕｉｅｔ orange kettle")
    user.save()

    assert Remembering.changed == ["quiet orange kettle"]


def test_an_unknown_wrapped_validator_is_djangos_configuration_error():
    with pytest.raises(ImproperlyConfigured, match="accounts.passwords.NoSuch"):
        NormalFormValidator("accounts.passwords.NoSuch")
