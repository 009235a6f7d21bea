"""After a change to the account's factors, the page offers to end its other sessions
(ASVS 5.0 7.4.3): a factor added or removed because someone else may have had the account
does not sign that someone out by itself."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from tests.mfa.support import sign_in_fully, signed_in

pytestmark = pytest.mark.django_db

END_OTHERS = re.compile(
    r'<form method="post" action="' + re.escape(reverse("accounts:sessions")) + r'">'
    r'.*?<input type="hidden" name="session" value="others">', re.S)


def test_removing_the_app_offers_to_end_the_other_sessions(two_factor_session, user,
                                                            password, clock):
    client, secret, _codes = two_factor_session
    elsewhere = Client()
    sign_in_fully(elsewhere, user, password, clock, secret)

    page = client.post(reverse("mfa:totp_remove"), follow=True)

    assert page.redirect_chain[-1][0] == reverse("mfa:index")
    html = page.content.decode()
    assert END_OTHERS.search(html)
    assert "signed in on 1 other session." in html
    client.post(reverse("accounts:sessions"), {"session": "others"})
    assert not signed_in(elsewhere)
    assert signed_in(client)
    # Nothing left to end: the offer is gone.
    assert not END_OTHERS.search(client.get(reverse("mfa:index")).content.decode())


def test_no_offer_without_other_sessions(two_factor_session):
    client, _secret, _codes = two_factor_session

    html = client.get(reverse("mfa:index")).content.decode()

    assert not END_OTHERS.search(html)
