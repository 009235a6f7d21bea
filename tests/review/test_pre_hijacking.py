"""Account pre-hijacking: a password set by whoever signed up with an unverified address
must not survive the real owner proving the mailbox with a magic link."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.models import EmailAddress
from tests.helpers import last_link

pytestmark = pytest.mark.django_db
ATTACKER_PASSWORD = "attacker chose this long password"


def test_magic_link_verification_drops_a_password_nobody_proved(client, django_user_model):
    client.post(reverse("accounts:signup"), {"email": "victim@example.com",
                                             "password": ATTACKER_PASSWORD})
    user = django_user_model.objects.get(email="victim@example.com")
    assert user.has_usable_password()

    client_class = type(client)
    owner = client_class()
    owner.post(reverse("accounts:magic_link"), {"email": "victim@example.com"})
    owner.post(last_link("victim@example.com"))
    assert EmailAddress.objects.get(email="victim@example.com").verified
    assert "_auth_user_id" in owner.session

    user.refresh_from_db()
    assert not user.has_usable_password()
    attacker = client_class()
    response = attacker.post(reverse("accounts:login"), {"email": "victim@example.com",
                                                         "password": ATTACKER_PASSWORD})
    assert "_auth_user_id" not in attacker.session
    assert response.status_code == 200


def test_a_verified_account_keeps_its_password_after_a_magic_link(client, user, password):
    client.post(reverse("accounts:magic_link"), {"email": user.email})
    client.post(last_link(user.email))
    user.refresh_from_db()
    assert user.check_password(password)
