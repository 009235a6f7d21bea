"""A whole account life through the HTML pages: the paths a person follows."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import EmailAddress, UserSession
from tests.helpers import last_link, link_form, open_link

pytestmark = pytest.mark.django_db


def test_signup_verify_login_sessions_logout(client, password):
    response = client.post(reverse("accounts:signup"), {
        "email": "Ann@Example.com", "password": password, "name": "Ann",
    })
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:verification_sent")
    address = EmailAddress.objects.get(email="ann@example.com")
    assert not address.verified

    # Mandatory verification: the password alone does not sign in yet.
    response = client.post(reverse("accounts:login"), {"email": "ann@example.com",
                                                       "password": password})
    assert response["Location"] == reverse("accounts:verification_sent")
    assert "_auth_user_id" not in client.session

    link = last_link("ann@example.com")
    page, confirm = open_link(client, link)
    assert page.status_code == 200  # the GET consumes nothing
    address.refresh_from_db()
    assert not address.verified
    assert b'name="password"' in page.content  # not signed in: the password proves the account
    assert client.post(confirm, link_form(page, password=password)).status_code == 302
    address.refresh_from_db()
    assert address.verified

    response = client.post(reverse("accounts:login"), {"email": "ANN@example.com",
                                                       "password": password})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/"
    assert client.session["_authsuite_auth"]["amr"] == ["pwd"]

    page = client.get(reverse("accounts:sessions"))
    assert page.status_code == 200
    assert UserSession.objects.filter(user=address.user, ended_at__isnull=True).count() == 1

    client.post(reverse("accounts:logout"))
    assert "_auth_user_id" not in client.session
    assert UserSession.objects.get(user=address.user).end_reason == "logout"


def test_magic_link_sign_in(client, user):
    client.post(reverse("accounts:magic_link"), {"email": user.email})
    link = last_link(user.email)
    page, confirm = open_link(client, link)
    assert page.status_code == 200
    assert "_auth_user_id" not in client.session
    response = client.post(confirm, link_form(page))
    assert response.status_code == 302
    assert client.session["_authsuite_auth"]["amr"] == ["email"]
    # Single use.
    client.logout()
    assert client.post(link).status_code == 400
    assert len(mail.outbox) == 1
