"""One mailbox, one address: the spellings of an address that reach the same mailbox
(case, Unicode compatibility forms such as full-width letters, an internationalized domain
in punycode or in Unicode) are one account, one lockout and one rate-limit counter."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.mail.message import sanitize_address
from django.test import Client

from accounts.models import EmailAddress, normalize_email
from tests.accounts.support import api_post, error_code, is_signed_in
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

FULLWIDTH_E = "\uff45"  # ｅ


@pytest.mark.parametrize(("typed", "normal"), [
    ("Ann@X.org", "ann@x.org"),
    ("  ann@example.com\t", "ann@example.com"),
    (f"ann@{FULLWIDTH_E}xample.com", "ann@example.com"),
    ("\uff41\uff4e\uff4e\uff20example.com", "ann@example.com"),  # ａｎｎ＠
    ("ann@example\uff0ecom", "ann@example.com"),  # full-width full stop
    ("ann@xn--bcher-kva.de", "ann@bücher.de"),
    ("ann@BÜCHER.de", "ann@bücher.de"),
    ("ann@bu\u0308cher.de", "ann@bücher.de"),  # a combining diaeresis
    ("", ""),
    (None, ""),
])
def test_normal_form(typed, normal):
    assert normalize_email(typed) == normal


def test_the_normal_form_is_where_mail_goes():
    for typed in (f"ann@{FULLWIDTH_E}xample.com", "ann@xn--bcher-kva.de", "ann@BÜCHER.de"):
        assert sanitize_address(normalize_email(typed), "utf-8") == sanitize_address(typed, "utf-8")


def test_a_full_width_spelling_signs_up_no_second_account(user):
    variant = user.email.replace("example", f"{FULLWIDTH_E}xample")
    response = api_post(Client(), "signup/", {"email": variant,
                                              "password": "another long passphrase here"})
    # Mandatory verification answers as for any address, and creates nothing.
    assert response.status_code == 201
    assert get_user_model().objects.filter(email__iexact=user.email).count() == 1
    assert get_user_model().objects.count() == 1
    assert not EmailAddress.objects.exclude(user=user).exists()


def test_a_full_width_spelling_signs_in_to_the_same_account(user, password):
    client = Client()
    variant = user.email.replace("example", f"{FULLWIDTH_E}xample").upper()
    response = api_post(client, "login/", {"email": variant, "password": password})
    assert response.status_code == 200, response.content
    assert is_signed_in(client)
    assert client.session["_auth_user_id"] == str(user.pk)


def test_spellings_share_the_per_address_mail_limit(user):
    local = user.email.split("@")[0]
    for i in range(11):
        response = api_post(Client(REMOTE_ADDR=f"10.0.{i}.1"), "magic-link/", {"email": user.email})
    assert response.status_code == 429
    mail.outbox.clear()
    variants = [
        f"{local}@" + "example"[:j] + chr(ord("example"[j]) + 0xFEE0) + "example"[j + 1:] + ".com"
        for j in range(7)
    ]
    for i, variant in enumerate(variants):
        response = api_post(Client(REMOTE_ADDR=f"10.1.{i}.1"), "magic-link/", {"email": variant})
        assert response.status_code == 429
    assert mail.outbox == []


# An address whose normal form is no address: U+FDFA folds into 18 characters and a space.
SWOLLEN = "ann@" + "\ufdfa" * 14 + ".com"


def test_an_address_that_folds_into_no_address_is_refused_by_the_api():
    response = api_post(Client(), "signup/", {"email": SWOLLEN, "password": "a long passphrase 2026"})
    assert response.status_code == 400
    assert error_code(response) == "invalid"
    assert "email" in response.json()["error"]["fields"]
    assert not get_user_model().objects.exists()


def test_an_address_that_folds_into_no_address_is_refused_by_the_page():
    response = Client().post("/accounts/signup/", {"email": SWOLLEN, "password": "a long passphrase 2026"})
    assert response.status_code == 200
    assert response.context["form"].errors["email"]
    assert not get_user_model().objects.exists()


UNSENDABLE = [
    "ann@\ufffd\ufffd\ufffd.com",  # what a lone surrogate (%ED%A0%80) in a form decodes to
    "ann@\ue000.com",  # a private-use character
    "ann@" + "\u00e9" * 60 + ".com",  # a label too long once encoded for mail
    # Mail to these would be delivered to the server's own network, not to a person.
    *(PRIVATE := ["ann@localhost", "ann@intranet.", "ann@[127.0.0.1]", "ann@[IPv6:::1]"]),
]


@pytest.mark.parametrize("address", UNSENDABLE)
def test_an_address_mail_could_never_reach_is_refused(address):
    page = Client().post("/accounts/signup/", {"email": address,
                                               "password": "correct horse battery staple"})
    assert page.status_code == 200
    assert "Enter a valid email address." in page.content.decode()
    response = api_post(Client(), "signup/", {"email": address,
                                              "password": "correct horse battery staple"})
    assert (response.status_code, error_code(response)) == (400, "invalid")
    assert not get_user_model().objects.exists()
    assert mail.outbox == []


@pytest.mark.parametrize("address", ["ann", "ann example", "' OR 1=1 --", "ann@exa mple",
                                     "ann@" + "\ufdfa" * 20 + ".com"])
def test_what_is_no_address_is_told_so_once(user, address):
    # Django's validator and the suite's domain checks refused it each in the same words:
    # "Enter a valid email address." two or three times over.
    signup = Client().post("/accounts/signup/", {"email": address,
                                                 "password": "correct horse battery staple"})
    assert signup.content.decode().count("Enter a valid email address.") == 1
    response = api_post(Client(), "signup/", {"email": address,
                                              "password": "correct horse battery staple"})
    assert response.json()["error"]["fields"]["email"].count("Enter a valid email address.") == 1
    login = Client().post("/accounts/login/", {"email": address, "password": "x"})
    assert login.content.decode().count("Enter a valid email address.") == 1
    assert get_user_model().objects.count() == 1


def test_a_lone_surrogate_in_the_form_body_is_a_field_error():
    body = b"email=ann%40%ED%A0%80.com&password=correct+horse+battery+staple"
    page = Client().generic("POST", "/accounts/signup/", body,
                            content_type="application/x-www-form-urlencoded")
    assert page.status_code == 200
    assert "Enter a valid email address." in page.content.decode()
    assert not get_user_model().objects.exists()


@pytest.mark.parametrize("address", UNSENDABLE)
def test_such_an_address_cannot_be_added_either(user, password, address):
    client = Client()
    client.force_login(user)
    page = client.post("/accounts/email/", {"action": "add", "email": address})
    assert "Enter a valid email address." in page.content.decode()
    response = api_post(client, "emails/", {"email": address})
    assert (response.status_code, error_code(response)) == (400, "invalid")
    assert not EmailAddress.objects.filter(user=user).exclude(email=user.email).exists()
    assert mail.outbox == []


def test_an_internationalized_domain_mail_can_reach_is_still_welcome():
    response = api_post(Client(), "signup/", {"email": "ann@bücher.example",
                                              "password": "correct horse battery staple"})
    assert response.status_code == 201
    assert get_user_model().objects.filter(email="ann@bücher.example").exists()


@pytest.mark.parametrize("address", PRIVATE)
def test_such_an_address_cannot_start_a_passkey_sign_up(settings, address):
    settings.AUTHSUITE_PASSKEYS_SIGNUP = True
    page = Client().post("/passkeys/signup/", {"email": address})
    assert "Enter a valid email address." in page.content.decode()
    response = api_post(Client(), "passkeys/signup/", {"email": address})
    assert (response.status_code, error_code(response)) == (400, "invalid")
    assert not get_user_model().objects.exists()
    assert mail.outbox == []


@pytest.mark.parametrize("address", ["ops@localhost", "ops@[127.0.0.1]"])
def test_an_account_that_has_such_an_address_already_still_signs_in_and_resets(address):
    # createsuperuser accepts one: its account is not shut out.
    user = UserFactory(email=address)
    user.set_password("correct horse battery staple")
    user.save()
    client = Client()
    signed_in = client.post("/accounts/login/", {"email": address,
                                                 "password": "correct horse battery staple"})
    assert signed_in.status_code == 302
    assert api_post(Client(), "login/", {"email": address,
                                         "password": "correct horse battery staple"}
                    ).status_code == 200
    mail.outbox.clear()
    assert Client().post("/accounts/password/reset/", {"email": address}).status_code == 302
    assert api_post(Client(), "magic-link/", {"email": address}).status_code == 202
    assert [m.to for m in mail.outbox] == [[address], [address]]
