"""A new address may not mix scripts so that it passes for another: ``exаmple.com`` with a
Cyrillic ``а`` is valid IDNA and looks exactly like ``example.com``. Refused where an address
is registered (sign-up, adding one, a passkey sign-up, staff in the admin), on pages with a
field error and in the API with ``email_mixed_script``; accounts that have such an address
already still sign in and get their links."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client

from accounts.models import EmailAddress, normalize_email
from accounts.scripts import is_allowed_mix, mixed, mixed_label, validate_scripts
from tests.accounts.support import api_post, error_code
from tests.accounts.test_admin import (
    addresses,
    change_form,
    change_url,
    inline_errors,
    with_new_rows,
)
from tests.audit.support import form_data
from tests.factories import UserFactory
from tests.helpers import user_admin_url

pytestmark = pytest.mark.django_db

User = get_user_model()
PASSPHRASE = "correct horse battery staple"
CYRILLIC_A = "\u0430"
LOOKALIKE = f"ann@ex{CYRILLIC_A}mple.com"  # shows as ann@example.com
MESSAGE = (f"“ex{CYRILLIC_A}mple” mixes Latin and Cyrillic letters, so the address could pass for "
           "another one. U+0430 (CYRILLIC SMALL LETTER A) is not Latin. Type the domain in one "
           "script.")

MIXED = [
    LOOKALIKE,
    "ann@xn--exmple-4nf.com",  # the same domain in punycode
    "ann@ex\u03b1mple.com",  # Greek alpha
    "ann@\u13aaBC.example",  # Cherokee A: Latin may join no script outside common use
    f"ann@example.{CYRILLIC_A}pp",  # any label, the top-level one too
    "ann@\u043f\u0440\u0438\u043c\u0435\u0440\u03b1.example",  # Cyrillic and Greek
    "ann@\u4f8b\u304ea\ud55c.example",  # Han, Hiragana and Hangul: no one language's mix
]
WELCOME = [
    "ann@example.com",
    "ann@пример.рф",
    "ann@例え.jp",
    "ann@مثال.إختبار",
    "ann@東京tokyoとうきょうトーキョー.jp",  # Japanese: Han, kana and Latin, with U+30FC
    "ann@서울seoul.kr",  # Korean with Latin
    "ann@中文abcㄅ.cn",  # Chinese with Bopomofo and Latin
    "ann@bangkokไทย.th",  # Latin with one other script in common use, not Cyrillic or Greek
    "ann@bücher-2026.example",  # digits, hyphens and accents go with any script
    "ann@ελληνικά.gr",
]


# --- the rule ----------------------------------------------------------------------------

@pytest.mark.parametrize("address", MIXED)
def test_a_mix_that_lets_an_address_pass_for_another_is_found(address):
    assert mixed_label(normalize_email(address)) is not None


@pytest.mark.parametrize("address", WELCOME)
def test_one_script_or_a_mix_of_one_language_is_welcome(address):
    assert mixed_label(normalize_email(address)) is None


@pytest.mark.parametrize(("label", "allowed"), [
    ("\u30fc", True),  # KATAKANA-HIRAGANA PROLONGED SOUND MARK alone: Japanese
    ("a\u30fc", True),
    (f"{CYRILLIC_A}\u30fc", False),  # used with kana only, not with Cyrillic
    ("ab\u00b7c", True),  # MIDDLE DOT: used with Latin
    ("1-2", True),
    ("日本서울", True),  # Han and Hangul: Korean
    ("日本서울ひ", False),
    ("armenianհայ", True),  # UTS #39's Moderately Restrictive level allows it
])
def test_labels(label, allowed):
    assert is_allowed_mix(label) is allowed


@pytest.mark.parametrize("address", [f"{CYRILLIC_A}nn@example.com", f"{CYRILLIC_A}nn@ex{CYRILLIC_A}mple.com",
                                     f"ann@ex{CYRILLIC_A}mple\ue000.com"])
def test_an_address_refused_for_another_reason_is_told_that_reason_alone(address):
    # A local part outside ASCII (no mail could reach it without SMTPUTF8), or a domain with
    # no IDNA spelling: "not a valid address", not a word about its scripts.
    page = signup_page(address)
    assert field_error(page) == ("invalid", "Enter a valid email address.")
    response = signup_api(address)
    assert (response.status_code, error_code(response)) == (400, "invalid")
    assert not User.objects.exists()


def test_the_message_names_the_part_its_scripts_and_the_letters_that_stand_out():
    with pytest.raises(ValidationError) as raised:
        validate_scripts(LOOKALIKE)
    assert raised.value.code == "email_mixed_script"
    assert raised.value.messages == [MESSAGE]
    assert mixed("日本서울ひら") == (["Han", "Hangul", "Hiragana"], [])
    with pytest.raises(ValidationError) as raised:
        validate_scripts("ann@日本서울ひら.example")
    assert raised.value.messages == ["“日本서울ひら” mixes Han, Hangul and Hiragana letters, so the "
                                     "address could pass for another one. Type the domain in one "
                                     "script."]
    cyrillic = "\u0435\u0445\u0430\u0440\u04cf\u0435\u0455"  # ехарӏеѕ: "exapies"
    with pytest.raises(ValidationError) as raised:
        validate_scripts(f"ann@{cyrillic}m.example")  # and a Latin m
    assert raised.value.messages == [f"“{cyrillic}m” mixes Cyrillic and Latin letters, so the "
                                     "address could pass for another one. U+006D (LATIN SMALL "
                                     "LETTER M) is not Cyrillic. Type the domain in one script."]
    with pytest.raises(ValidationError) as raised:
        validate_scripts(f"ann@{cyrillic}me.example")
    assert ("U+006D (LATIN SMALL LETTER M) and U+0065 (LATIN SMALL LETTER E) are not Cyrillic."
            in raised.value.messages[0])
    with pytest.raises(ValidationError) as raised:
        validate_scripts(f"ann@{cyrillic}mnop.example")
    assert ("U+006D (LATIN SMALL LETTER M), U+006E (LATIN SMALL LETTER N), U+006F (LATIN "
            "SMALL LETTER O) and 1 other are not Cyrillic.") in raised.value.messages[0]


# --- where an address is registered: pages and API ------------------------------------------

def signup_page(address):
    return Client().post("/accounts/signup/", {"email": address, "password": PASSPHRASE})


def signup_api(address, **data):
    return api_post(Client(), "signup/", {"email": address, "password": PASSPHRASE, **data})


def field_error(response, field="email"):
    assert response.status_code == 200
    [error] = response.context["form"].errors.as_data()[field]
    return error.code, error.messages[0]


def assert_refused_by_api(response):
    assert response.status_code == 400, response.content
    assert error_code(response) == "email_mixed_script"
    assert response.json()["error"]["fields"] == {"email": [MESSAGE]}
    assert response.json()["error"]["message"] == MESSAGE


@pytest.mark.parametrize("address", MIXED)
def test_sign_up_refuses_such_an_address(address):
    code, _message = field_error(signup_page(address))
    assert code == "email_mixed_script"
    response = signup_api(address)
    assert (response.status_code, error_code(response)) == (400, "email_mixed_script")
    assert not User.objects.exists()
    assert mail.outbox == []


def test_the_page_and_the_api_say_what_is_wrong():
    page = signup_page(LOOKALIKE)
    assert field_error(page) == ("email_mixed_script", MESSAGE)
    assert "U+0430 (CYRILLIC SMALL LETTER A)" in page.content.decode()
    assert_refused_by_api(signup_api(LOOKALIKE))


def test_the_api_keeps_its_code_beside_other_fields_errors():
    response = api_post(Client(), "signup/", {"email": LOOKALIKE})
    assert error_code(response) == "email_mixed_script"
    assert set(response.json()["error"]["fields"]) == {"email", "password"}


@pytest.mark.parametrize("address", WELCOME)
def test_sign_up_welcomes_one_script_and_the_mixes_of_one_language(address):
    response = signup_api(address)
    assert response.status_code == 201, response.content
    assert User.objects.count() == 1


@pytest.fixture
def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def test_adding_such_an_address_is_refused(user, signed_in):
    page = signed_in.post("/accounts/email/", {"action": "add", "email": LOOKALIKE})
    assert field_error(page) == ("email_mixed_script", MESSAGE)
    assert_refused_by_api(api_post(signed_in, "emails/", {"email": LOOKALIKE}))
    assert list(EmailAddress.objects.filter(user=user).values_list("email", flat=True)) == [
        user.email]
    assert mail.outbox == []


def test_adding_an_address_in_one_script_still_works(user, signed_in):
    response = api_post(signed_in, "emails/", {"email": "ann@пример.рф"})
    assert response.status_code == 202, response.content
    assert EmailAddress.objects.filter(user=user, email="ann@пример.рф").exists()


def test_a_passkey_sign_up_refuses_such_an_address(settings):
    settings.AUTHSUITE_PASSKEYS_SIGNUP = True
    page = Client().post("/passkeys/signup/", {"email": LOOKALIKE})
    assert field_error(page) == ("email_mixed_script", MESSAGE)
    assert_refused_by_api(api_post(Client(), "passkeys/signup/", {"email": LOOKALIKE}))
    assert not User.objects.exists()
    assert mail.outbox == []


# --- staff in the admin -------------------------------------------------------------------

@pytest.fixture
def admin_client(staff):
    client = Client()
    client.force_login(staff)
    return client


def admin_field_error(response):
    assert response.status_code == 200
    [error] = response.context["adminform"].form.errors.as_data()["email"]
    return error.code, error.messages[0]


def test_staff_cannot_add_an_account_with_such_an_address(admin_client):
    form = form_data(admin_client.get(user_admin_url("add")).content.decode(), "user_form")
    form.update({"email": [LOOKALIKE], "name": ["New Person"],
                 "date_joined_0": ["2024-01-01"], "date_joined_1": ["00:00:00"]})
    if "username" in form:  # django.contrib.auth's User
        form["username"] = ["new.person"]

    response = admin_client.post(user_admin_url("add"), form)

    assert admin_field_error(response) == ("email_mixed_script", MESSAGE)
    assert not User.objects.filter(email=LOOKALIKE).exists()


def test_staff_cannot_change_an_accounts_address_to_such_an_address(admin_client):
    ann = UserFactory(email="ann@example.org")
    form = change_form(admin_client, ann)
    form["email"] = [LOOKALIKE]

    response = admin_client.post(change_url(ann), form)

    assert admin_field_error(response) == ("email_mixed_script", MESSAGE)
    ann.refresh_from_db()
    assert ann.email == "ann@example.org"


def test_staff_cannot_add_such_an_address_as_a_row(admin_client):
    ann = UserFactory(email="ann@example.org")
    form = with_new_rows(change_form(admin_client, ann), {"email": LOOKALIKE})

    response = admin_client.post(change_url(ann), form)

    assert inline_errors(response) == [MESSAGE]
    assert list(addresses(ann)) == ["ann@example.org"]


# --- accounts that have such an address already -----------------------------------------------

@pytest.fixture
def holder():
    """An account from before the rule, signing in with a look-alike address."""
    holder = UserFactory(email=LOOKALIKE)
    EmailAddress.objects.create(user=holder, email=f"ann.work@ex{CYRILLIC_A}mple.com")
    mail.outbox.clear()
    return holder


def test_such_an_account_still_signs_in(holder):
    page = Client().post("/accounts/login/", {"email": LOOKALIKE, "password": PASSPHRASE})
    assert page.status_code == 302
    response = api_post(Client(), "login/", {"email": LOOKALIKE, "password": PASSPHRASE})
    assert response.status_code == 200, response.content


def test_such_an_account_still_gets_its_links(holder):
    assert Client().post("/accounts/password/reset/", {"email": LOOKALIKE}).status_code == 302
    assert api_post(Client(), "password/reset/", {"email": LOOKALIKE}).status_code == 202
    page = Client().post("/accounts/magic-link/", {"email": LOOKALIKE})
    assert page.context["sent_to"] == LOOKALIKE
    assert api_post(Client(), "magic-link/", {"email": LOOKALIKE}).status_code == 202
    assert [m.to for m in mail.outbox] == [[LOOKALIKE]] * 4


def test_a_link_asked_for_such_an_address_no_account_has_is_answered_as_any_other():
    # The rule is about the address's letters, not about an account: a request for a link
    # answers alike whether or not an account has the address, mixed scripts or not.
    for address in (LOOKALIKE, "nobody@example.com"):
        page = Client().post("/accounts/password/reset/", {"email": address})
        assert page.status_code == 302
        assert api_post(Client(), "password/reset/", {"email": address}).status_code == 202
        assert api_post(Client(), "magic-link/", {"email": address}).status_code == 202
        page = Client().post("/accounts/magic-link/", {"email": address})
        assert page.context["sent_to"] == address


def test_staff_still_save_such_an_account_as_it_is(admin_client, holder):
    form = change_form(admin_client, holder)
    form["name"] = ["Ann Archer"]

    response = admin_client.post(change_url(holder), form)

    assert response.status_code == 302, response.context["adminform"].form.errors
    holder.refresh_from_db()
    assert holder.email == LOOKALIKE
    assert set(addresses(holder)) == {LOOKALIKE, f"ann.work@ex{CYRILLIC_A}mple.com"}


def test_such_an_account_cannot_add_another_such_address(holder):
    client = Client()
    client.force_login(holder)
    response = api_post(client, "emails/", {"email": f"ann.home@ex{CYRILLIC_A}mple.com"})
    assert (response.status_code, error_code(response)) == (400, "email_mixed_script")
