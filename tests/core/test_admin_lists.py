"""The admin's lists of large tables on every database: searched by whole terms, each on an
index (``authsuite.admin_lists.WholeTermSearchMixin``), counted exactly where the database
has no planner to ask, and the outbox's template filter read without a DISTINCT. Their
plans on a large PostgreSQL site are in ``tests/core/test_scale.py``."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import EmailAddress, LoginThrottle
from authsuite.admin import templates_in_use
from authsuite.admin_lists import EstimatedCountPaginator, planned_rows
from authsuite.models import OutboxMessage
from passkeys.models import Passkey, PendingSignup
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

User = get_user_model()
OUTBOX = "/admin/authsuite/outboxmessage/"


@pytest.fixture
def admin_client(staff):
    client = Client()
    client.force_login(staff)
    return client


def listed(client, url: str, **params) -> list:
    response = client.get(url, params)
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


# --- counting ----------------------------------------------------------------------------------

def test_a_database_without_a_planner_to_ask_counts_exactly():
    OutboxMessage.objects.create(template="t", to="ann@example.com")
    if connection.vendor != "postgresql":
        assert planned_rows(OutboxMessage.objects.all()) is None
    assert EstimatedCountPaginator(OutboxMessage.objects.all(), 10).count == 1
    assert EstimatedCountPaginator(OutboxMessage.objects.none(), 10).count == 0
    assert EstimatedCountPaginator([1, 2, 3], 10).count == 3  # a list: counted as Django does


def test_a_small_list_is_counted_exactly_and_once(admin_client):
    for n in range(3):
        OutboxMessage.objects.create(template="t", to=f"p{n}@example.com")
    response = admin_client.get(OUTBOX)
    assert response.context["cl"].result_count == 3
    assert response.context["cl"].full_result_count is None  # no second COUNT for "N total"


# --- whole-term searches -----------------------------------------------------------------------

def test_the_outbox_is_searched_by_a_whole_address_in_any_case_or_a_template(admin_client):
    ann = OutboxMessage.objects.create(template="accounts/email/magic_link", to="ann@example.com")
    bob = OutboxMessage.objects.create(template="audit/email/alert", to="bob@example.com")
    assert listed(admin_client, OUTBOX, q=" ANN@Example.com ") == [ann]
    assert listed(admin_client, OUTBOX, q="audit/email/alert") == [bob]
    assert listed(admin_client, OUTBOX, q="ann") == []
    assert listed(admin_client, OUTBOX, q="alert") == []


def test_the_outbox_offers_the_templates_it_holds_without_reading_every_row(admin_client):
    for template in ("b/second", "a/first", "b/second", "c/third"):
        OutboxMessage.objects.create(template=template, to="ann@example.com")
    assert templates_in_use() == ["a/first", "b/second", "c/third"]
    cl = admin_client.get(OUTBOX).context["cl"]
    spec = next(s for s in cl.filter_specs if getattr(s, "parameter_name", "") == "template")
    assert [c["display"] for c in spec.choices(cl)][1:] == ["a/first", "b/second", "c/third"]
    assert {m.template for m in listed(admin_client, OUTBOX, template="b/second")} == {
        "b/second"}
    with CaptureQueriesContext(connection) as captured:
        admin_client.get(OUTBOX)
    assert not [q["sql"] for q in captured.captured_queries if "DISTINCT" in q["sql"]]


def test_passkeys_are_searched_by_a_whole_address_of_their_account(admin_client):
    ann, bob = UserFactory(email="ann@example.com"), UserFactory(email="bob@example.com")
    EmailAddress.objects.create(user=ann, email="ann.work@example.org", verified=True)
    mine = Passkey.objects.create(user=ann, credential_id="c1", public_key=b"k", name="Phone")
    Passkey.objects.create(user=bob, credential_id="c2", public_key=b"k", name="Laptop")
    url = "/admin/passkeys/passkey/"
    assert listed(admin_client, url, q="ANN@example.com") == [mine]
    assert listed(admin_client, url, q="ann.work@example.org") == [mine]
    assert listed(admin_client, url, q="ann") == []
    assert listed(admin_client, url, q="Phone") == []  # a passkey's name is not searched


def test_sign_in_throttles_are_searched_by_a_whole_address_or_an_ip(admin_client):
    by_address = LoginThrottle.objects.create(identifier="ann@example.com", ip="", failures=1)
    by_ip = LoginThrottle.objects.create(identifier="bob@example.com", ip="203.0.113.7",
                                         failures=1)
    url = "/admin/accounts/loginthrottle/"
    assert listed(admin_client, url, q="Ann@Example.com") == [by_address]
    assert listed(admin_client, url, q="203.0.113.7") == [by_ip]
    assert listed(admin_client, url, q="203.0.113") == []


def test_passkey_sign_ups_are_searched_by_a_whole_address(admin_client):
    waiting = PendingSignup.objects.create(email="ann@example.com", handle="h", digest="d",
                                           expires_at=timezone.now() + timedelta(hours=1))
    url = "/admin/passkeys/pendingsignup/"
    assert listed(admin_client, url, q="ANN@EXAMPLE.COM") == [waiting]
    assert listed(admin_client, url, q="example.com") == []


@pytest.mark.parametrize("url", ["/admin/passkeys/passkey/", "/admin/accounts/loginthrottle/",
                                 "/admin/passkeys/pendingsignup/", OUTBOX])
def test_a_search_too_long_is_still_the_admins_invalid_lookup(admin_client, url):
    response = admin_client.get(url, {"q": "a" * 60_000})
    assert response.status_code == 302 and "e=1" in response["Location"]
