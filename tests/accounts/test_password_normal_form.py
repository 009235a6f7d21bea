"""One password, however it is typed: passwords are hashed, checked and judged in their NFKC
form (NIST SP 800-63B-4), and the hashes stored before, of the password as typed, still sign
in and are stored again in the normal form."""

from __future__ import annotations

import hashlib
import unicodedata

import argon2
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AdminPasswordChangeForm, PasswordChangeForm
from django.contrib.auth.hashers import check_password, identify_hasher, make_password
from django.test import Client

from accounts.models import PasswordRehash
from accounts.users import new_user
from tests.accounts.support import (
    api_login,
    api_post,
    error_code,
    html_login,
    is_signed_in,
    signed_in_api,
    signed_in_html,
)
from tests.accounts.test_password_policy import errors_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
NORMALIZING = "accounts.hashers.NormalizingArgon2idPasswordHasher"
AS_TYPED = "accounts.hashers.Argon2idPasswordHasher"
PBKDF2 = "django.contrib.auth.hashers.PBKDF2PasswordHasher"

# An accented letter or two, a ligature and full-width letters: each form below is the
# same password to a person, and a different string to a computer.
TYPED = "crème brûlée, ﬁve ｓｕｎｄａｙｓ"
NFC = unicodedata.normalize("NFC", TYPED)
NFD = unicodedata.normalize("NFD", TYPED)
NFKC = unicodedata.normalize("NFKC", TYPED)  # "crème brûlée, five sundays"
FORMS = {"nfc": NFC, "nfd": NFD, "nfkc": NFKC}
ASCII = "correct horse battery staple 9"


@pytest.fixture(autouse=True)
def argon2_first(settings):
    """The suite's hashers as the demo settings list them, at parameters cheap enough for
    tests."""
    settings.PASSWORD_HASHERS = [NORMALIZING, AS_TYPED, PBKDF2]
    settings.AUTHSUITE_ACCOUNTS_ARGON2_MEMORY_COST = 1024
    settings.AUTHSUITE_ACCOUNTS_ARGON2_TIME_COST = 1


@pytest.fixture
def hashes(monkeypatch):
    """Counts the Argon2 computations: every hash made and every hash checked."""
    counted = {"made": 0, "checked": 0}
    hash_secret, verify = argon2.low_level.hash_secret, argon2.PasswordHasher.verify

    def made(*args, **kwargs):
        counted["made"] += 1
        return hash_secret(*args, **kwargs)

    def checked(self, *args, **kwargs):
        counted["checked"] += 1
        return verify(self, *args, **kwargs)

    # What Django's Argon2 hasher calls to make a hash and to check one.
    monkeypatch.setattr(argon2.low_level, "hash_secret", made)
    monkeypatch.setattr(argon2.PasswordHasher, "verify", checked)

    def total() -> int:
        done = counted["made"] + counted["checked"]
        counted.update(made=0, checked=0)
        return done

    return total


def stored(user) -> str:
    return type(user).objects.values_list("password", flat=True).get(pk=user.pk)


def store_as_typed(user, password: str) -> str:
    """The hash a version before normalisation stored: Argon2id of the password as typed."""
    encoded = make_password(password, hasher="argon2")
    type(user).objects.filter(pk=user.pk).update(password=encoded)
    return encoded


def sign_in(via: str, email: str, password: str):
    client = Client()
    if via == "html":
        signed_in_html(client, email, password)
    else:
        signed_in_api(client, email, password)
    return client


def refused(via: str, email: str, password: str) -> None:
    client = Client()
    if via == "html":
        response = html_login(client, email, password)
        assert response.status_code == 200
        assert b"The email address or password is incorrect." in response.content
    else:
        response = api_login(client, email, password)
        assert response.status_code == 400 and error_code(response) == "invalid_credentials"
    assert not is_signed_in(client)


# --- one password, any form -----------------------------------------------------------------

def test_the_forms_differ_as_strings():
    assert len({NFC, NFD, NFKC}) == 3


@pytest.mark.parametrize("via", ["html", "api"])
@pytest.mark.parametrize("chosen", FORMS)
@pytest.mark.parametrize("typed", FORMS)
def test_every_form_of_the_password_signs_in(via, chosen, typed):
    user = UserFactory(password=FORMS[chosen])
    assert identify_hasher(stored(user)).algorithm == "argon2_nfkc"

    sign_in(via, user.email, FORMS[typed])


@pytest.mark.parametrize("via", ["html", "api"])
@pytest.mark.parametrize("wrong", [
    NFKC.replace("five", "four"),
    unicodedata.normalize("NFD", NFKC.replace("sundays", "mondays")),
    "crème brûlée, ﬁve ｓｕｎｄａｙ",  # one letter short
    "creme brulee, five sundays",  # no accents: another password
])
def test_a_wrong_password_is_still_refused(via, wrong):
    user = UserFactory(password=NFC)
    refused(via, user.email, wrong)
    assert identify_hasher(stored(user)).algorithm == "argon2_nfkc"


def test_the_hash_is_of_the_normal_form():
    encoded = make_password(NFD)

    assert encoded.startswith("argon2_nfkc$argon2id$v=19$m=1024,t=1,p=1$")
    # Past its name, a standard Argon2id string of the NFKC form.
    assert argon2.PasswordHasher().verify(encoded.removeprefix("argon2_nfkc"), NFKC)


def test_signup_then_sign_in_in_another_form(settings):
    settings.AUTHSUITE_ACCOUNTS_EMAIL_VERIFICATION = "optional"
    client = Client()
    response = api_post(client, "signup/", {"email": "zoe@example.com", "password": NFD})
    assert response.status_code == 201, response.content

    sign_in("html", "zoe@example.com", NFC)
    sign_in("api", "zoe@example.com", NFKC)


def test_reauthentication_takes_any_form(user):
    type(user).objects.filter(pk=user.pk).update(password=make_password(NFD))
    client = sign_in("api", user.email, NFD)

    response = api_post(client, "reauthenticate/", {"password": NFC})

    assert response.status_code == 200, response.content


def test_a_new_password_confirmed_in_another_form_is_the_same_password(user):
    type(user).objects.filter(pk=user.pk).update(password=make_password(ASCII))
    client = sign_in("html", user.email, ASCII)

    response = client.post("/accounts/password/change/", {
        "current_password": ASCII, "new_password": NFC, "new_password_confirm": NFD})

    assert response.status_code == 302, response.content
    sign_in("api", user.email, NFKC)


def test_djangos_own_password_forms_take_any_form(user):
    """Django's paths (``check_password``, ``PasswordChangeForm``, the admin's form) hash
    and check through the hasher too."""
    user.set_password(NFD)
    user.save()
    assert user.check_password(NFC) and user.check_password(NFKC)

    new = "a brand-new passphrase, ﬁnally"
    form = PasswordChangeForm(user, {"old_password": NFKC, "new_password1": new,
                                     "new_password2": new})
    assert form.is_valid(), form.errors
    form.save()
    assert check_password("a brand-new passphrase, finally", stored(user))

    form = AdminPasswordChangeForm(user, {"password1": NFD, "password2": NFD})
    assert form.is_valid(), form.errors
    form.save()
    assert check_password(NFC, stored(user))


# --- hashes stored before -------------------------------------------------------------------

@pytest.mark.parametrize("via", ["html", "api"])
def test_a_hash_of_the_password_as_typed_signs_in_and_is_stored_normalised(user, via):
    store_as_typed(user, NFD)  # set on a Mac before passwords were normalised
    other = sign_in(via, user.email, NFD)
    # Before its first sign-in since, it only knows the string it was made from.
    assert identify_hasher(stored(user)).algorithm == "argon2_nfkc"

    for typed in (NFC, NFKC, NFD):
        sign_in(via, user.email, typed)
    assert identify_hasher(stored(user)).algorithm == "argon2_nfkc"
    # Stored again, it signed nobody out (see test_rehash).
    assert is_signed_in(other)


@pytest.mark.parametrize("via", ["html", "api"])
def test_a_hash_of_the_password_as_typed_refuses_a_wrong_password(user, via):
    encoded = store_as_typed(user, NFD)

    refused(via, user.email, unicodedata.normalize("NFD", NFKC.replace("five", "four")))

    assert stored(user) == encoded


@pytest.mark.parametrize("hasher", [AS_TYPED, "django.contrib.auth.hashers.Argon2PasswordHasher"])
def test_either_hasher_as_typed_checks_the_hashes_stored_before(settings, user, hasher):
    settings.PASSWORD_HASHERS = [NORMALIZING, hasher]
    store_as_typed(user, NFC)

    sign_in("api", user.email, NFC)

    assert identify_hasher(stored(user)).algorithm == "argon2_nfkc"


def test_a_password_already_in_normal_form_keeps_its_hash_under_the_new_name(user, hashes):
    encoded = store_as_typed(user, ASCII)
    other = sign_in("html", user.email, ASCII)
    hashes()

    sign_in("api", user.email, ASCII)

    # One Argon2 computation: the check. The hash, already one of the normal form, is taken
    # over as it is.
    assert hashes() == 1
    assert stored(user) == "argon2_nfkc" + encoded.removeprefix("argon2")
    assert PasswordRehash.objects.filter(user=user).count() == 1
    assert is_signed_in(other)


def test_a_password_not_in_normal_form_is_hashed_again_once(user, hashes):
    store_as_typed(user, NFD)
    hashes()

    sign_in("api", user.email, NFD)
    assert hashes() == 2  # the check, then the normal form hashed

    sign_in("api", user.email, NFD)
    assert hashes() == 1


def test_a_hash_under_old_parameters_is_hashed_again(settings, user):
    settings.AUTHSUITE_ACCOUNTS_ARGON2_TIME_COST = 2
    store_as_typed(user, ASCII)
    settings.AUTHSUITE_ACCOUNTS_ARGON2_TIME_COST = 1

    sign_in("api", user.email, ASCII)

    assert stored(user).startswith("argon2_nfkc$argon2id$v=19$m=1024,t=1,p=1$")


# --- one hash a check -----------------------------------------------------------------------

@pytest.mark.parametrize("via", ["html", "api"])
def test_an_ascii_password_costs_one_hash_at_every_sign_in(via, hashes):
    user = UserFactory(password=ASCII)
    hashes()

    sign_in(via, user.email, ASCII)
    assert hashes() == 1
    refused(via, user.email, ASCII + "0")
    assert hashes() == 1
    refused(via, "nobody@example.com", ASCII)  # an unknown address costs the same
    assert hashes() == 1


@pytest.mark.parametrize("via", ["html", "api"])
@pytest.mark.parametrize("typed", [NFD, NFC])
def test_any_form_costs_one_hash_known_account_or_not(via, typed, hashes):
    user = UserFactory(password=NFC)
    store_as_typed(UserFactory(email="before@example.com"), NFC)
    hashes()

    for email in (user.email, "before@example.com", "nobody@example.com"):
        refused(via, email, typed + "!")
        assert hashes() == 1, email


# --- the policy judges the normal form ------------------------------------------------------


def test_the_policy_counts_code_points_of_the_normal_form():
    thirteen = unicodedata.normalize("NFD", "brûlée-étés-ô")  # 18 code points decomposed
    assert len(thirteen) == 18
    assert errors_for(thirteen) == ["password_too_short"]
    assert errors_for(thirteen + "xy") == []
    # A ligature is the two letters it stands for: 14 characters typed, 15 counted.
    assert errors_for("brûlée-étés-ôﬁ") == []
    assert errors_for("brûlée-étés-ôx") == ["password_too_short"]


@pytest.mark.parametrize("length", [128, 300])
@pytest.mark.parametrize("form", ["NFC", "NFD"])
def test_long_passwords_in_any_form_are_accepted(settings, client, length, form):
    settings.AUTHSUITE_ACCOUNTS_EMAIL_VERIFICATION = "optional"
    long_password = unicodedata.normalize(form, ("crème brûlée ﬁve sundays " * 20)[:length])
    assert len(unicodedata.normalize("NFKC", long_password)) >= length

    response = api_post(client, "signup/", {"email": "long@example.com",
                                            "password": long_password})
    assert response.status_code == 201, response.content
    sign_in("html", "long@example.com", unicodedata.normalize("NFC", long_password))


def test_the_longest_accepted_counts_the_normal_form(client):
    # 512 ligatures are 512 characters as typed and 1024 once normalised: accepted; one
    # more is over.
    assert api_post(client, "signup/", {"email": "a@example.com",
                                        "password": "kx" + "ﬁ" * 511}).status_code == 201
    response = api_post(client, "signup/", {"email": "b@example.com",
                                            "password": "kxy" + "ﬁ" * 511})
    assert response.status_code == 400 and error_code(response) == "password_invalid"
    assert not get_user_model().objects.filter(email="b@example.com").exists()


def test_a_common_password_in_full_width_letters_is_common():
    assert errors_for("ｐａｓｓｗｏｒｄ１２３４５６７８") == ["password_too_common"]
    assert errors_for("ｑｗｅｒｔｙｕｉｏｐａｓｄｆｇ") == ["password_too_common"]


def test_context_words_match_in_any_form():
    user = new_user("zk@example.com", name=unicodedata.normalize("NFD", "Zoë Kravitz"))
    assert errors_for("ｚｏëｋｒａｖｉｔｚ2026!", user) == ["password_context_word"]
    assert errors_for(unicodedata.normalize("NFD", "zoëkravitz2026!!"), user) == [
        "password_context_word"]


def test_the_breach_check_is_given_the_normal_form(settings, tmp_path):
    leaked = tmp_path / "leaked.txt"
    leaked.write_text(hashlib.sha1(NFKC.encode()).hexdigest().upper() + ":3\n", encoding="ascii")
    settings.AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_CHECKER = "accounts.passwords.LocalListChecker"
    settings.AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_FILE = str(leaked)

    for typed in FORMS.values():
        assert errors_for(typed) == ["password_breached"]


SIMILARITY = {
    "NAME": "accounts.passwords.NormalFormValidator",
    "OPTIONS": {
        "validator": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        # The suite's user has a name, django.contrib.auth's a first and last name.
        "options": {"user_attributes": ["email", "name", "first_name", "last_name"]},
    },
}


def name_of(user) -> str:
    """The name ``new_user`` gave ``user``: its ``name``, or django.contrib.auth's
    ``first_name``."""
    return user.name if hasattr(user, "name") else user.first_name


@pytest.mark.parametrize(("name", "password"), [
    # A name typed in full-width letters (an input method left in that mode).
    ("ｊｏｓｅｐｈｉｎｅ ｂａｋｅｒ", "josephinebaker"),
    # A name stored decomposed (a letter, then its accents), the password typed composed.
    (unicodedata.normalize("NFD", "Nguyễn Thị Phượng"), "nguyễnthịphượng"),
    # The address, in full-width letters in the password.
    ("", "ｓｏｍｅｏｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ"),
])
def test_a_wrapped_validator_sees_the_users_attributes_in_normal_form(settings, name,
                                                                       password):
    # Given the normal form of the password only, Django's similarity check compared it with
    # the name as stored, another string: "josephinebaker" was nothing like
    # "ｊｏｓｅｐｈｉｎｅ ｂａｋｅｒ".
    settings.AUTH_PASSWORD_VALIDATORS = [SIMILARITY]
    user = new_user("someone@example.com", name=name)

    assert errors_for(password, user) == ["password_too_similar"]
    assert name_of(user) == name  # the user itself is left as it was


def test_a_wrapped_validator_is_given_a_saved_user_as_it_is_stored(settings):
    settings.AUTH_PASSWORD_VALIDATORS = [SIMILARITY]
    user = new_user("someone@example.com", name="ｊｏｓｅｐｈｉｎｅ ｂａｋｅｒ")
    user.save()

    assert errors_for("josephinebaker", user) == ["password_too_similar"]
    user.refresh_from_db()
    assert name_of(user) == "ｊｏｓｅｐｈｉｎｅ ｂａｋｅｒ"
    assert errors_for("a walk along the river at dusk", user) == []
