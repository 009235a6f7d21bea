"""Sign-in link and password-reset requests: whatever the address (an active account's,
none, a disabled account's, another address of an account), the answer is the same and so
is the work behind it (one audit event, one queued message, the same rate limits); only
the address's own mailbox learns which case it was."""

from __future__ import annotations

import json
import re

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.flows.account import account_deactivate
from accounts.models import EmailAddress, OneTimeToken
from audit.models import Event
from authsuite.models import OutboxMessage
from tests.accounts.support import API, api_post, freeze, signed_in_api, without_csrf
from tests.factories import UserFactory
from tests.helpers import outbox_for

pytestmark = pytest.mark.django_db

LINK_TOKEN_RE = re.compile(r"/(magic-link|password/reset)/[A-Za-z0-9_-]{20,}")
PURPOSES = {"magic_link": ("magic-link/", "accounts:magic_link"),
            "password_reset": ("password/reset/", "accounts:password_reset")}
PURPOSES_ASKED = {"magic_link": "a sign-in link", "password_reset": "a password reset link"}
CASES = ["known", "unknown", "inactive", "not_login_address", "not_login_address_inactive"]


def address_for(case: str) -> tuple[str, object]:
    """The address to ask for in ``case``, and the account it belongs to (None: no account)."""
    if case == "unknown":
        return "nobody@example.com", None
    user = UserFactory(is_active=case in ("known", "not_login_address"))
    if case == "inactive":
        account_deactivate(user)  # as staff's deactivate action does
    if case.startswith("not_login_address"):
        email = f"second.{user.pk}@example.com"
        EmailAddress.objects.create(user=user, email=email, verified=True)
        return email, user
    return user.email, user


def account_events(after: int = 0) -> list[Event]:
    """The accounts events recorded after the event ``after`` (the trail is append-only:
    on PostgreSQL nothing may delete from it, so tests mark where they start)."""
    return list(Event.objects.filter(action__startswith="accounts.", pk__gt=after)
                .order_by("pk"))


def last_event() -> int:
    return Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def ask(client, purpose: str, email: str, via: str):
    api_path, url_name = PURPOSES[purpose]
    if via == "api":
        return api_post(client, api_path, {"email": email})
    return client.post(reverse(url_name), {"email": email})


def comparable(response, email: str):
    if response.status_code == 202:
        return response.status_code, json.dumps(response.json(), sort_keys=True)
    if response.status_code == 302:
        return response.status_code, response["Location"]
    return response.status_code, without_csrf(response.content).replace(email, "EMAIL")


@pytest.mark.parametrize("via", ["api", "html"])
@pytest.mark.parametrize("purpose", list(PURPOSES))
def test_every_case_answers_the_same_and_does_the_same_work(client, purpose, via):
    answers = set()
    for case in CASES:
        email, _account = address_for(case)
        start = last_event()
        OutboxMessage.objects.all().delete()

        answers.add(comparable(ask(client, purpose, email, via), email))

        # One event and one message, in every case: the timing has nothing to tell apart.
        assert len(account_events(after=start)) == 1, case
        [message] = OutboxMessage.objects.all()
        assert message.to == email, case  # only the address's own mailbox is told
    assert len(answers) == 1


@pytest.mark.parametrize("purpose", list(PURPOSES))
def test_the_cases_without_a_link_run_the_same_statements(client, purpose, no_inline_sealing):
    # Here delivery runs in the request (on commit, at once), so this counts the mail
    # worker's decision too: a disabled account's login address is looked up among the
    # held addresses, as an unknown address and another address are. (The request alone
    # runs the same statements for every case: test_link_request_worker.)
    ask(client, purpose, "first@example.com", "api")  # the session's and the caches' first
    counts = {}
    for case in CASES[1:]:
        email, _account = address_for(case)
        with CaptureQueriesContext(connection) as queries:
            ask(client, purpose, email, "api")
        counts[case] = len(queries)
    assert len(set(counts.values())) == 1, counts


@pytest.mark.parametrize("purpose", list(PURPOSES))
@pytest.mark.parametrize("case", ["inactive", "not_login_address_inactive"])
def test_a_disabled_account_is_told_it_is_disabled_and_sent_nothing_to_sign_in_with(
        client, purpose, case):
    email, account = address_for(case)
    start = last_event()  # after the deactivation's own

    ask(client, purpose, email, "api")

    [notice] = outbox_for(email)
    assert "disabled" in notice.subject
    assert "contact us" in notice.body
    assert PURPOSES_ASKED[purpose] in notice.body
    [html] = [body for body, kind in notice.alternatives if kind == "text/html"]
    assert "contact us" in html
    assert not LINK_TOKEN_RE.search(notice.body)
    assert "/signup/" not in notice.body
    assert not OneTimeToken.objects.exists()
    [event] = account_events(after=start)
    assert event.action == "accounts.link.withheld"
    assert event.outcome == "denied"
    assert event.actor_id == str(account.pk)
    assert json.loads(event.data) == {"email": email, "purpose": purpose, "reason": "inactive"}


@pytest.mark.parametrize("purpose", list(PURPOSES))
def test_another_address_is_told_it_is_not_the_one_the_account_signs_in_with(
        client, purpose):
    email, account = address_for("not_login_address")

    ask(client, purpose, email, "api")

    [notice] = outbox_for(email)
    assert "not a sign-in address" in notice.subject
    assert "Ask again with the address you sign in with." in notice.body
    # Its mailbox may no longer be the owner's: the login address is not given away.
    assert account.email not in notice.body
    [html] = [body for body, kind in notice.alternatives if kind == "text/html"]
    assert account.email not in html
    assert not LINK_TOKEN_RE.search(notice.body)
    assert "/signup/" not in notice.body  # signing up with it would be refused
    assert outbox_for(account.email) == []
    assert not OneTimeToken.objects.exists()
    [event] = account_events()
    assert (event.action, event.outcome, event.actor_id) == (
        "accounts.link.withheld", "denied", str(account.pk))
    assert json.loads(event.data) == {"email": email, "purpose": purpose,
                                      "reason": "not_login_address"}


def test_an_account_its_owner_closed_is_told_it_is_disabled(client, user, password, settings):
    settings.AUTHSUITE_ACCOUNTS_CLOSE_ACTION = "deactivate"
    signed_in_api(client, user.email, password)
    assert client.post(API + "account/close/", content_type="application/json").status_code == 204
    mail.outbox.clear()

    assert api_post(client, "password/reset/", {"email": user.email}).status_code == 202

    [notice] = outbox_for(user.email)
    assert "disabled" in notice.subject
    assert not LINK_TOKEN_RE.search(notice.body)


@pytest.mark.parametrize("purpose", list(PURPOSES))
def test_with_notices_turned_off_no_case_without_a_link_is_mailed(client, purpose, settings):
    # EMAIL_UNKNOWN_ACCOUNTS off: every address that gets no link is treated as an unknown
    # one is, recorded and not mailed, so the three cases still do the same work.
    settings.AUTHSUITE_ACCOUNTS_EMAIL_UNKNOWN_ACCOUNTS = False
    for case in CASES[1:]:
        email, _account = address_for(case)
        start = last_event()

        assert ask(client, purpose, email, "api").status_code == 202

        assert len(account_events(after=start)) == 1, case
    assert not OutboxMessage.objects.exists()
    assert mail.outbox == []


@pytest.mark.parametrize("purpose", list(PURPOSES))
@pytest.mark.parametrize("case", CASES)
def test_every_case_is_rate_limited_alike(client, purpose, case, time_machine):
    freeze(time_machine)  # rate-limit windows must not roll over mid-test
    email, _account = address_for(case)

    codes = [ask(client, purpose, email, "api").status_code for _ in range(4)]

    assert codes == [202] * 3 + [429]  # three per (address, IP) in 15 minutes
    assert OutboxMessage.objects.count() == 3

