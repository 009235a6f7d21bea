"""Password policy (length, blocklist, context words, breach check, no composition rules) and
the Argon2id hasher with its upgrade on sign-in."""

from __future__ import annotations

import hashlib

import pytest
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.hashers import identify_hasher, make_password
from django.core.exceptions import ValidationError
from django.test import Client, override_settings

from accounts.hashers import NormalizingArgon2idPasswordHasher
from accounts.passwords import LocalListChecker
from tests.accounts.support import api_post, error_code, html_login
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
User = get_user_model()
REAL_HASHERS = [
    "accounts.hashers.NormalizingArgon2idPasswordHasher",
    "accounts.hashers.Argon2idPasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.MD5PasswordHasher",
]
VALIDATORS = [
    {"NAME": "accounts.passwords.LengthValidator", "OPTIONS": {"min_length": 15}},
    {"NAME": "accounts.passwords.BlocklistValidator"},
    {"NAME": "accounts.passwords.BreachedPasswordValidator"},
    {"NAME": "accounts.passwords.StableStringValidator"},
]


@pytest.fixture
def eight_characters_allowed(settings):
    """The floor a project that requires a second factor of everyone may configure: the
    blocklist and the context words must stand on their own there."""
    settings.AUTH_PASSWORD_VALIDATORS = [{**VALIDATORS[0], "OPTIONS": {"min_length": 8}},
                                         *VALIDATORS[1:]]


def errors_for(password: str, user=None) -> list[str]:
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        return [e.code for e in exc.error_list]
    return []


def api_signup(client, email, password):
    return api_post(client, "signup/", {"email": email, "password": password})


def html_signup(client, email, password):
    return client.post("/accounts/signup/", {"email": email, "password": password})


# --- length ---------------------------------------------------------------------------------

def test_fourteen_characters_are_refused_fifteen_accepted():
    # NIST SP 800-63B-4 3.1.1.2: 15 at least for a password that may be the only factor.
    assert errors_for("kx8#vq2!mz7pw4r") == []
    assert errors_for("kx8#vq2!mz7pw4") == ["password_too_short"]
    assert errors_for("kx8#vq2!mz7pw4ſ") == []  # 15 characters, not 15 bytes
    assert errors_for("ÅÅ🔑") == ["password_too_short"]


def test_the_validator_defaults_to_fifteen():
    from accounts.passwords import LengthValidator

    assert LengthValidator().min_length == 15
    assert "at least 15 characters" in LengthValidator().get_help_text()


@pytest.mark.parametrize("via", ["html", "api"])
def test_short_password_is_refused_at_signup(client, via):
    if via == "html":
        page = html_signup(client, "ann@example.com", "kx8#vq2!mz7pw4")
        assert b"Use at least 15 characters." in page.content
    else:
        response = api_signup(client, "ann@example.com", "kx8#vq2!mz7pw4")
        assert error_code(response) == "password_invalid"
        assert response.json()["error"]["fields"]["password"] == ["Use at least 15 characters."]
    assert not User.objects.exists()


def test_minimum_length_is_configurable(client):
    validators = [{**VALIDATORS[0], "OPTIONS": {"min_length": 20}}, *VALIDATORS[1:]]
    with override_settings(AUTH_PASSWORD_VALIDATORS=validators):
        assert errors_for("kx8#vq2!mz7p-19chars") == []
        assert errors_for("kx8#vq2!mz7p-19char") == ["password_too_short"]
        response = api_signup(client, "ann@example.com", "fifteen chars!!")
        assert response.json()["error"]["fields"]["password"] == ["Use at least 20 characters."]


@pytest.mark.parametrize("length", [128, 200, 1024])
def test_long_passwords_are_accepted(client, length):
    long_password = ("lorem ipsum dolor sit amet " * 40)[:length]
    assert errors_for(long_password) == []

    response = api_signup(client, f"api{length}@example.com", long_password)
    assert response.status_code == 201
    html_signup(client, f"html{length}@example.com", long_password)
    user = User.objects.get(email=f"html{length}@example.com")
    assert user.check_password(long_password)


def test_absurdly_long_password_is_refused_without_a_500(client):
    response = api_signup(client, "ann@example.com", "x" * 1025)
    assert response.status_code == 400
    assert not User.objects.exists()


# --- blocklist and context words ------------------------------------------------------------

@pytest.mark.usefixtures("eight_characters_allowed")
@pytest.mark.parametrize("common", ["password1234", "123456789abc", "1q2w3e4r5t6y", "PASSWORD1234"])
def test_common_passwords_are_refused(client, common):
    assert errors_for(common) == ["password_too_common"]
    response = api_signup(client, "ann@example.com", common)
    assert response.json()["error"]["fields"]["password"] == ["This password is too common."]


@pytest.mark.parametrize("guessable", [
    "Password123456!!", "passwordpassword", "aaaaaaaaaaaaaaa", "123456789012345",
    "qwertyuiopasdfg", "abcdefghijklmnop", "!!!iloveyou2024!!",
])
def test_guessable_passwords_of_the_default_length_are_refused(guessable):
    assert errors_for(guessable) == ["password_too_common"]


@pytest.mark.usefixtures("eight_characters_allowed")
@pytest.mark.parametrize("guessable", [
    "Password123!", "!!!monkey2024", "iloveyou1234",  # a common one, dressed up
    "passwordpassword", "aaaaaaaaaaaa", "abcabcabcabc", "ab12ab12ab12",  # repeated
    "123456789012", "9012345678901", "abcdefghijkl", "zyxwvutsrqpo", "qwertyuiop[]",  # runs
    "ÉÉÉÉÉÉÉÉÉÉÉÉ",
])
def test_common_passwords_in_disguise_are_refused(guessable):
    assert errors_for(guessable) == ["password_too_common"]


@pytest.mark.usefixtures("eight_characters_allowed")
@pytest.mark.parametrize("fine", [
    "correct horse battery staple", "x7#kP9!qL2@m", "monkeys are fine 42 times",
    "passwordisnotmypassword", "Tr0ub4dor&3 horse", "ångström ñandú 42",
    "Zebra-lantern-²³-quartz", "٣٤٥٦٧٨٩٠١٢٣٤",  # digits of other scripts, never a 500
])
def test_passwords_that_merely_contain_a_common_word_are_accepted(fine):
    assert errors_for(fine) == []


@pytest.mark.usefixtures("eight_characters_allowed")
def test_email_local_part_is_refused():
    user = User(email="marguerite.dupont@example.com")
    assert errors_for("marguerite2024!", user) == ["password_context_word"]
    assert errors_for("Dupont-Dupont-1", user) == ["password_context_word"]
    # A word that is only a small part of a long passphrase is fine.
    assert errors_for("marguerite likes long walks at dawn", user) == []


@pytest.mark.usefixtures("eight_characters_allowed")
def test_context_words_are_checked_at_signup(client):
    response = api_signup(client, "marguerite.dupont@example.com", "marguerite2024!")
    assert error_code(response) == "password_invalid"
    assert "too close to your email" in response.json()["error"]["message"]


@pytest.mark.usefixtures("eight_characters_allowed")
@pytest.mark.own_user_model
def test_name_is_a_context_word():
    user = User(email="x@example.com", name="Bartholomew")
    assert errors_for("bartholomew!!!", user) == ["password_context_word"]


@override_settings(AUTHSUITE_SITE_NAME="Fabrikam")
@pytest.mark.usefixtures("eight_characters_allowed")
def test_site_name_is_refused():
    assert errors_for("fabrikam2024!") == ["password_context_word"]
    assert errors_for("FABRIKAM-FABRIKAM") == ["password_context_word"]


@override_settings(AUTHSUITE_SITE_NAME="Fabrikam Identity")
@pytest.mark.usefixtures("eight_characters_allowed")
def test_each_word_of_a_site_name_is_refused():
    assert errors_for("fabrikam2024!") == ["password_context_word"]
    assert errors_for("identity2024!") == ["password_context_word"]


@override_settings(AUTHSUITE_SITE_NAME="Fabrikam Identity")
@pytest.mark.usefixtures("eight_characters_allowed")
def test_a_site_name_of_several_words_is_refused_whole():
    """Each word alone is less than half of these; together they are nearly all."""
    assert errors_for("FabrikamIdentity2024") == ["password_context_word"]
    assert errors_for("fabrikam-identity-22") == ["password_context_word"]
    assert errors_for("identity@fabrikam.io") == ["password_context_word"]
    assert errors_for("my fabrikam identity is a quiet orange kettle") == []


@pytest.mark.usefixtures("eight_characters_allowed")
def test_the_whole_email_address_is_refused():
    user = User(email="ann.archer@example.com")
    assert errors_for("ann.archer@example.com", user) == ["password_context_word"]
    assert errors_for("Ann.Archer@Example.com!", user) == ["password_context_word"]
    assert errors_for("annarcherexamplecom", user) == ["password_context_word"]
    assert errors_for("ann.archer2024!!", user) == ["password_context_word"]  # the local part
    assert errors_for("ann archer wrote this quiet passphrase", user) == []


@override_settings(AUTHSUITE_SITE_NAME="authsuite demo")
@pytest.mark.usefixtures("eight_characters_allowed")
def test_demo_site_name_is_refused():
    assert errors_for("authsuite2024") == ["password_context_word"]
    assert errors_for("authsuite demo 1") == ["password_context_word"]


@pytest.mark.usefixtures("eight_characters_allowed")
def test_a_projects_own_context_words_are_refused(settings):
    """ASVS 5.0 6.1.2 and 6.2.11: the organisation's and product's names, codenames."""
    settings.AUTH_PASSWORD_VALIDATORS = [
        settings.AUTH_PASSWORD_VALIDATORS[0],
        {"NAME": "accounts.passwords.BlocklistValidator",
         "OPTIONS": {"extra_words": ["Contoso Pharma", "Bluefin"]}},
    ]
    assert errors_for("contoso2024!") == ["password_context_word"]
    assert errors_for("ContosoPharma99") == ["password_context_word"]
    assert errors_for("BLUEFIN-bluefin") == ["password_context_word"]
    assert errors_for("a bluefin swims past the quiet orange kettle") == []


@pytest.mark.usefixtures("eight_characters_allowed")
def test_one_context_word_given_as_text_is_one_word(settings):
    """``"extra_words": "Contoso"`` is the word Contoso, not seven letters too short to count."""
    settings.AUTH_PASSWORD_VALIDATORS = [
        settings.AUTH_PASSWORD_VALIDATORS[0],
        {"NAME": "accounts.passwords.BlocklistValidator", "OPTIONS": {"extra_words": "Contoso"}},
    ]
    assert errors_for("contoso2024!") == ["password_context_word"]
    assert errors_for("ContosoContoso#1") == ["password_context_word"]


# --- breach check ---------------------------------------------------------------------------

@pytest.fixture
def breached_file(tmp_path):
    path = tmp_path / "pwned.txt"
    breached = ["quiet orange kettle", "Tr0ub4dor&3 tr0ub4dor"]
    lines = [hashlib.sha1(p.encode()).hexdigest().upper() + ":42" for p in breached]
    lines.append(hashlib.sha1(b"lowercase hash line ok").hexdigest())  # no count, lower case
    path.write_text("\n".join(lines) + "\n", encoding="ascii")
    return path


@pytest.fixture
def breach_check(breached_file):
    with override_settings(
        AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_CHECKER="accounts.passwords.LocalListChecker",
        AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_FILE=str(breached_file),
    ):
        yield breached_file


def test_breached_passwords_are_refused(client, breach_check):
    assert errors_for("quiet orange kettle") == ["password_breached"]
    assert errors_for("Tr0ub4dor&3 tr0ub4dor") == ["password_breached"]
    assert errors_for("lowercase hash line ok") == ["password_breached"]
    assert errors_for("quiet orange kettles") == []

    response = api_signup(client, "ann@example.com", "quiet orange kettle")
    assert error_code(response) == "password_invalid"
    assert "data breach" in response.json()["error"]["message"]
    page = html_signup(client, "ann@example.com", "quiet orange kettle")
    assert b"appeared in a data breach" in page.content
    assert not User.objects.exists()


def test_breached_password_is_refused_on_change(client, user, password, breach_check):
    html_login(client, user.email, password)
    response = api_post(client, "password/change/", {"current_password": password,
                                                     "new_password": "quiet orange kettle"})
    assert error_code(response) == "password_invalid"
    user.refresh_from_db()
    assert user.check_password(password)


def test_no_breach_check_unless_configured(breached_file):
    assert errors_for("quiet orange kettle") == []
    assert LocalListChecker(str(breached_file)).is_breached("quiet orange kettle")


def test_a_list_file_gone_is_a_check_not_made_never_a_500(client, breach_check, settings,
                                                          caplog):
    """The file moved away after start-up: every sign-up was a 500 (FileNotFoundError). It is
    a check that could not be made, as a range API that does not answer: accepted and
    logged by default, refused with its own code when the site says so; the log holds no
    path."""
    breach_check.unlink()
    with caplog.at_level("WARNING", logger="authsuite.accounts"):
        assert errors_for("quiet orange kettle") == []
    assert "cannot be read (FileNotFoundError)" in caplog.text
    assert str(breach_check) not in caplog.text

    settings.AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_WHEN_UNAVAILABLE = "refuse"
    response = api_signup(client, "ann@example.com", "quiet orange kettle")
    assert response.status_code == 503
    assert error_code(response) == "password_check_unavailable"
    assert not User.objects.exists()


def breach_check_ids(**overrides) -> list[str]:
    from django.core import checks

    with override_settings(**overrides):
        return sorted(m.id for m in checks.run_checks()
                      if m.id in ("authsuite_accounts.E018", "authsuite_accounts.W009"))


def test_the_shipped_checkers_pass_the_check(breached_file):
    assert breach_check_ids(
        AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_CHECKER="accounts.passwords.LocalListChecker",
        AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_FILE=str(breached_file)) == []
    assert breach_check_ids(
        AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_CHECKER="accounts.passwords.PwnedPasswordsChecker",
    ) == []


@pytest.mark.parametrize("checker", [
    "accounts.passwords.NoSuchChecker", "no.such.module.Checker", "not a path",
    "accounts.passwords.BlocklistValidator",  # a class, but no checker
])
def test_a_checker_that_cannot_be_used_is_an_error(checker):
    """Each was found by the first sign-up: an ImportError, a 500."""
    assert breach_check_ids(AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_CHECKER=checker) == [
        "authsuite_accounts.E018"]


@pytest.mark.parametrize("file", [None, "", "/nonexistent/pwned.txt"])
def test_the_local_list_without_a_readable_file_is_an_error(file):
    assert breach_check_ids(
        AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_CHECKER="accounts.passwords.LocalListChecker",
        AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_FILE=file) == ["authsuite_accounts.E018"]


def test_a_checker_no_validator_asks_is_warned_of(settings):
    """The checker set and BreachedPasswordValidator left out: no password was ever checked,
    and nothing said so. Wrapped in NormalFormValidator it is asked, and no warning."""
    checker = "accounts.passwords.PwnedPasswordsChecker"
    settings.AUTH_PASSWORD_VALIDATORS = [
        entry for entry in settings.AUTH_PASSWORD_VALIDATORS
        if entry["NAME"] != "accounts.passwords.BreachedPasswordValidator"]
    assert breach_check_ids(AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_CHECKER=checker) == [
        "authsuite_accounts.W009"]
    settings.AUTH_PASSWORD_VALIDATORS = [*settings.AUTH_PASSWORD_VALIDATORS, {
        "NAME": "accounts.passwords.NormalFormValidator",
        "OPTIONS": {"validator": "accounts.passwords.BreachedPasswordValidator"}}]
    assert breach_check_ids(AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_CHECKER=checker) == []
    assert breach_check_ids() == []  # no checker, nothing to ask


def test_changing_the_file_setting_takes_effect(tmp_path, breach_check):
    other = tmp_path / "other.txt"
    other.write_text(hashlib.sha1(b"another leaked phrase").hexdigest() + "\n", encoding="ascii")
    assert errors_for("quiet orange kettle") == ["password_breached"]
    with override_settings(AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_FILE=str(other)):
        assert errors_for("quiet orange kettle") == []
        assert errors_for("another leaked phrase") == ["password_breached"]


# --- no composition rules -------------------------------------------------------------------

@pytest.mark.parametrize("passphrase", [
    "correct horse battery staple",
    "thelongestlowercasephrase",
    "ünïcödé pässphräse wörks",
])
def test_no_composition_rules(client, passphrase):
    assert errors_for(passphrase) == []
    response = api_signup(client, "ann@example.com", passphrase)
    assert response.status_code == 201


# --- Argon2id -------------------------------------------------------------------------------

@override_settings(PASSWORD_HASHERS=REAL_HASHERS)
def test_argon2id_default_parameters():
    encoded = make_password("correct horse battery staple")

    assert encoded.startswith("argon2_nfkc$argon2id$")
    decoded = NormalizingArgon2idPasswordHasher().decode(encoded)
    assert decoded["memory_cost"] == 19456
    assert decoded["time_cost"] == 2
    assert decoded["parallelism"] == 1
    assert "m=19456,t=2,p=1" in encoded


@override_settings(PASSWORD_HASHERS=REAL_HASHERS, AUTHSUITE_ACCOUNTS_ARGON2_MEMORY_COST=32768,
                   AUTHSUITE_ACCOUNTS_ARGON2_TIME_COST=3)
def test_argon2id_parameters_are_configurable():
    decoded = NormalizingArgon2idPasswordHasher().decode(
        make_password("correct horse battery staple"))
    assert (decoded["memory_cost"], decoded["time_cost"]) == (32768, 3)


@override_settings(PASSWORD_HASHERS=REAL_HASHERS)
@pytest.mark.parametrize("old_algorithm", ["pbkdf2_sha256", "md5", "argon2"])
@pytest.mark.parametrize("via", ["html", "api"])
def test_old_hash_is_upgraded_to_argon2id_on_login(old_algorithm, via):
    user = UserFactory()
    user.password = make_password("an old but long passphrase", hasher=old_algorithm)
    user.save()
    assert identify_hasher(user.password).algorithm == old_algorithm

    client = Client()
    if via == "html":
        assert html_login(client, user.email, "an old but long passphrase").status_code == 302
    else:
        response = api_post(client, "login/", {"email": user.email,
                                               "password": "an old but long passphrase"})
        assert response.json() == {"status": "authenticated"}

    user.refresh_from_db()
    assert user.password.startswith("argon2_nfkc$argon2id$v=19$m=19456,t=2,p=1$")
    assert user.check_password("an old but long passphrase")


@override_settings(PASSWORD_HASHERS=REAL_HASHERS)
def test_failed_login_does_not_upgrade():
    user = UserFactory()
    user.password = make_password("an old but long passphrase", hasher="pbkdf2_sha256")
    user.save()
    html_login(Client(), user.email, "not the password at all")
    user.refresh_from_db()
    assert user.password.startswith("pbkdf2_sha256$")


def test_weaker_argon2_parameters_are_upgraded_on_login():
    with override_settings(PASSWORD_HASHERS=REAL_HASHERS,
                           AUTHSUITE_ACCOUNTS_ARGON2_MEMORY_COST=8192,
                           AUTHSUITE_ACCOUNTS_ARGON2_TIME_COST=1):
        user = UserFactory(password="an old but long passphrase")
        assert "m=8192,t=1,p=1" in user.password
    with override_settings(PASSWORD_HASHERS=REAL_HASHERS):
        html_login(Client(), user.email, "an old but long passphrase")
    user.refresh_from_db()
    assert "m=19456,t=2,p=1" in user.password


@pytest.mark.parametrize("module", ["settings", "settings_production"])
def test_demo_settings_put_the_normalizing_argon2id_first(module):
    import ast
    from pathlib import Path

    import authsuite

    # Read, not imported: the production profile needs its environment.
    tree = ast.parse((Path(authsuite.__file__).parent / f"{module}.py").read_text())
    hashers = next(ast.literal_eval(node.value) for node in ast.walk(tree)
                   if isinstance(node, ast.Assign)
                   and any(getattr(t, "id", "") == "PASSWORD_HASHERS" for t in node.targets))
    # Then the hasher of the hashes stored before passwords were normalised.
    assert hashers[:2] == ["accounts.hashers.NormalizingArgon2idPasswordHasher",
                           "accounts.hashers.Argon2idPasswordHasher"]


def test_demo_settings_validators():
    from authsuite import settings as demo

    assert demo.AUTH_PASSWORD_VALIDATORS == VALIDATORS
