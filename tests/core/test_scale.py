"""The admin, the users' own pages and the periodic clean-ups on a large PostgreSQL site.

The tables are filled once for the module (``tests.core.scale``: a twentieth of a site with
300,000 accounts, 2,000,000 audit events and a busy outbox, ANALYZEd): enough rows that
the planner reads a large table whole only when no index serves the query. Each page's
statements are captured and EXPLAINed: none reads a large table whole, none counts one
(the admin's paginator asks the planner instead, ``authsuite.admin_lists``), and the
number of statements does not grow with the rows listed.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import OneTimeToken
from authsuite.admin_lists import EstimatedCountPaginator, planned_rows
from authsuite.models import OutboxMessage
from tests.core import scale

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

SCALE = 1 / 20
SIZES = scale.Sizes().scaled(SCALE)
User = get_user_model()

#: Tables that grow with the site: a plan reading one of them whole is a defect. (Sign-in
#: throttles are forgotten once they count for nothing, ``accounts.lockout.throttles_prune``.)
LARGE = {User._meta.db_table, "accounts_emailaddress", "accounts_usersession", "audit_event",
         "authsuite_outboxmessage", "passkeys_passkey", "accounts_onetimetoken"}


@pytest.fixture(scope="module")
def site(django_db_setup, django_db_blocker):
    """The filled tables, for the whole module; emptied after it."""
    reason = scale.fillable()
    if reason:
        pytest.skip(reason)
    with django_db_blocker.unblock():
        scale.empty()
        first = scale.fill(SIZES)
        yield first
        scale.empty()


@pytest.fixture(autouse=True)
def _counted_exactly_below_as_many_rows_as_at_full_size(monkeypatch):
    """The paginator counts exactly below a number of rows meant for a full-size site: at
    this site's scale, below as many fewer."""
    monkeypatch.setattr(EstimatedCountPaginator, "exact_below",
                        int(EstimatedCountPaginator.exact_below * SCALE))


@pytest.fixture
def staff_client(site, staff):
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def member(site):
    return User._default_manager.get(pk=site + 6)  # member7@example.com


def admin_url(model, view: str = "changelist", *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def read(client, url: str) -> list[scale.Plan]:
    """The plans of the statements a page runs; the page answered 200."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200, url
    return scale.plans(captured)


#: More rows than this read and thrown away by one step of a plan is a table read whole.
FILTERED_OUT = 2_000


def whole_reads(plans: list[scale.Plan]) -> list[str]:
    return [f"{sorted(p.seq_scans(LARGE))} {p.rows_filtered_out(LARGE)}: {p.sql[:200]}"
            for p in plans
            if p.seq_scans(LARGE) or p.rows_filtered_out(LARGE) > FILTERED_OUT]


def counts_of_all(plans: list[scale.Plan]) -> list[str]:
    return [p.sql for p in plans if p.sql.startswith('SELECT COUNT(*) AS "__count" FROM')
            and " WHERE " not in p.sql]


# --- the admin ---------------------------------------------------------------------------------

#: The suite's migrations index its own user table; django.contrib.auth's has no index for
#: these filters of the few (they count by reading it: README, "Large sites"), so they are
#: not among that model's cases.
OWN_TABLE = User._meta.db_table == "accounts_user"

def pages() -> list[tuple[str, str]]:
    """Every list and search of the suite's admins over a large table, and its filters."""
    from audit.models import Event
    from passkeys.models import Passkey

    users, events, outbox, passkeys = (admin_url(m) for m in (User, Event, OutboxMessage,
                                                              Passkey))
    return [
        ("users", users), ("users, page 3", f"{users}?p=3"),
        ("users by address", f"{users}?q=MEMBER123@example.com"),
        ("users by another address", f"{users}?q=alt123@example.org"),
        ("users by name", f"{users}?q=person+123"),
        ("users verified", f"{users}?verified=yes"), ("users unverified", f"{users}?verified=no"),
        ("users locked", f"{users}?locked=yes"),
        *([("users inactive", f"{users}?is_active__exact=0"),
           ("staff", f"{users}?is_staff__exact=1")] if OWN_TABLE else []),
        ("events", events), ("events by address", f"{events}?q=member123@example.com"),
        ("events by actor id", f"{events}?q=123"), ("events by IP", f"{events}?q=10.1.2.1"),
        ("events by request", f"{events}?q=0123456789abcdef"),
        ("events denied", f"{events}?outcome__exact=denied"),
        ("events failed", f"{events}?outcome__exact=failure"),
        ("events by action", f"{events}?action=passkeys.added"),
        ("outbox", outbox), ("outbox, page 3", f"{outbox}?p=3"),
        ("outbox by address", f"{outbox}?q=member123@example.com"),
        ("outbox by template", f"{outbox}?template=audit%2Femail%2Falert"),
        ("outbox failed", f"{outbox}?status__exact=failed"),
        ("passkeys", passkeys), ("passkeys, page 3", f"{passkeys}?p=3"),
        ("passkeys by address", f"{passkeys}?q=member123@example.com"),
    ]


@pytest.mark.parametrize(("name", "url"), pages(),
                         ids=[getattr(p, "values", p)[0] for p in pages()])
def test_no_admin_list_reads_or_counts_a_large_table_whole(staff_client, name, url):
    plans = read(staff_client, url)
    assert whole_reads(plans) == []
    assert counts_of_all(plans) == []


#: Statements of a full page of each large list: the session, the staff member, the session's
#: row, whether they have a second factor, the planner's count (the audit trail pages by key
#: and counts nothing), the page's rows with what they show (the outbox: its templates, for
#: the filter). One more row on the page is no more statements.
LIST_STATEMENTS = {"users": 6, "events": 5, "outbox": 7, "passkeys": 6}


@pytest.mark.parametrize("name", LIST_STATEMENTS)
def test_a_full_page_of_a_large_list_runs_a_fixed_number_of_statements(staff_client, name):
    url = dict(getattr(p, "values", p) for p in pages())[name]
    staff_client.get(url)  # the first request after signing in writes the session
    with CaptureQueriesContext(connection) as captured:
        response = staff_client.get(url)
    assert len(response.context["cl"].result_list) == response.context["cl"].list_per_page
    assert len(captured.captured_queries) == LIST_STATEMENTS[name]


def test_every_admin_list_and_filter_answers(staff_client):
    """Each list of the admin's registry, and the first choices of each of its filters."""
    for model in admin.site._registry:
        url = admin_url(model)
        response = staff_client.get(url)
        assert response.status_code == 200, url
        for spec in response.context["cl"].filter_specs:
            for choice in list(spec.choices(response.context["cl"]))[1:3]:
                assert staff_client.get(url + choice["query_string"]).status_code == 200


def test_the_template_filter_offers_the_templates_without_a_distinct_scan(staff_client):
    plans = read(staff_client, admin_url(OutboxMessage))
    assert not [p.sql for p in plans if "DISTINCT" in p.sql]
    page = staff_client.get(admin_url(OutboxMessage)).content.decode()
    for template in scale.TEMPLATES:
        assert f"?template={template.replace('/', '%2F')}" in page


def test_the_user_and_event_pages_of_the_admin_read_no_large_table_whole(staff_client, member):
    from audit.models import Event

    event = Event.objects.filter(actor_id=str(member.pk)).order_by("-pk").first()
    for url in (admin_url(User, "change", member.pk), admin_url(Event, "change", event.pk)):
        assert whole_reads(read(staff_client, url)) == []


def test_a_large_list_is_counted_by_the_planner(staff_client):
    # The planner's count is close to the rows there are: the page numbers stay right.
    expected = OutboxMessage.objects.count()
    estimate = planned_rows(OutboxMessage.objects.all())
    assert abs(estimate - expected) < expected / 10
    response = staff_client.get(admin_url(OutboxMessage))
    assert response.context["cl"].result_count == estimate


# --- the users' own pages ----------------------------------------------------------------------

PAGES = ["accounts:email", "accounts:sessions", "accounts:export", "audit:security",
         "passkeys:manage", "mfa:index"]
API = ["emails/", "sessions/", "account/export/", "security/events/", "passkeys/"]


@pytest.mark.parametrize("url", [*(reverse(name) for name in PAGES),
                                 *(f"/api/auth/v1/{path}" for path in API)])
def test_no_page_of_a_users_own_reads_a_large_table_whole(member, url):
    client = Client()
    client.force_login(member)
    assert whole_reads(read(client, url)) == []


# --- the periodic clean-ups --------------------------------------------------------------------

def test_the_outbox_forgets_old_messages_in_batches_on_an_index(site, settings):
    from authsuite.outbox import sweep

    settings.AUTHSUITE_MAIL_KEEP_DAYS = 1
    kept_since = timezone.now() - timedelta(days=1)
    old = OutboxMessage.objects.filter(created_at__lt=kept_since).exclude(status="pending")
    before = old.count()
    assert before > sweep.FORGET_BATCH
    with CaptureQueriesContext(connection) as captured:
        deleted = sweep.forget_old(kept_since)
    deletes = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("DELETE")]
    assert deleted == min(before, sweep.FORGET_BATCH * sweep.FORGET_BATCHES)
    assert len(deletes) == -(-deleted // sweep.FORGET_BATCH)
    assert whole_reads(scale.plans(captured)) == []


def test_voiding_the_links_of_disabled_accounts_reads_only_live_links(site, monkeypatch):
    from accounts import sessions

    # The sessions past their timeouts are not what this is about (each ending is recorded).
    monkeypatch.setattr(sessions, "_end_rows", lambda rows, reason, now: 0)

    inactive = User._default_manager.filter(is_active=False).order_by("pk").first()
    live = OneTimeToken.objects.create(
        purpose="magic_link", user=inactive, email=inactive.email, digest="f" * 64,
        expires_at=timezone.now() + timedelta(minutes=15))
    with CaptureQueriesContext(connection) as captured:
        sessions.sessions_expire()
    live.refresh_from_db()
    assert live.voided_at is not None
    voiding = [q["sql"] for q in captured.captured_queries
               if q["sql"].startswith('UPDATE "accounts_onetimetoken"')]
    assert len(voiding) == 1
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + voiding[0])  # not ANALYZE: it would run the UPDATE
        plan = scale.Plan(voiding[0], "\n".join(row[0] for row in cursor.fetchall()))
    assert "accounts_onetimetoken" not in plan.seq_scans(LARGE)
