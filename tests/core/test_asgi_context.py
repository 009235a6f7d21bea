"""On PostgreSQL: concurrent requests served over ASGI each keep their own context: client IP, user agent
and request id reach what each records (tracked sessions, audit events, rate-limit
counts), never another request's.

The requests run on one event loop, each one's synchronous parts in a thread of its own,
as Django's ASGIHandler serves them under uvicorn or daphne; a project's middleware holds
each one, its context set, until all are there, so that each records what it does while
the others are mid-request.
"""

from __future__ import annotations

import json

import pytest

from accounts.models import UserSession
from audit.models import Event
from tests.accounts.support import API
from tests.core.asgi_support import AsgiBrowser, MeetingMiddleware, at_once
from tests.factories import UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
COUNT = 6


@pytest.fixture
def meeting(settings):
    """Requests served meanwhile wait for each other once their context is set."""
    settings.MIDDLEWARE = [settings.MIDDLEWARE[0], "tests.core.asgi_support.MeetingMiddleware",
                           *settings.MIDDLEWARE[1:]]
    yield MeetingMiddleware.expect
    MeetingMiddleware.expect(0)


def visitor(i: int) -> tuple[AsgiBrowser, dict]:
    """The i-th browser, and what it sends: its address, user agent and request id."""
    sent = {"ip": f"198.51.100.{10 + i}", "user_agent": f"Browser/{i}.0 (visitor {i})",
            "request_id": f"visitor-{i}-request-0001"}
    browser = AsgiBrowser(sent["ip"], HTTP_USER_AGENT=sent["user_agent"],
                          HTTP_X_REQUEST_ID=sent["request_id"])
    return browser, sent


def api_sign_in(browser: AsgiBrowser, email: str, password: str):
    return browser.client.post(API + "login/", json.dumps({"email": email, "password": password}),
                               content_type="application/json")


def test_concurrent_sign_ins_record_each_its_own_request(password, meeting):
    users = [UserFactory(password=password) for _ in range(COUNT)]
    visitors = [visitor(i) for i in range(COUNT)]
    meeting(COUNT)

    responses = at_once(*(api_sign_in(browser, user.email, password)
                          for (browser, _sent), user in zip(visitors, users, strict=True)))

    for response, (browser, sent), user in zip(responses, visitors, users, strict=True):
        assert response.status_code == 200, response.content
        assert response["X-Request-ID"] == sent["request_id"]
        row = UserSession.objects.get(pk=browser.session["_authsuite_sid"])
        assert (row.user_id, row.ip, row.user_agent) == (user.pk, sent["ip"], sent["user_agent"])
        event = Event.objects.get(action="accounts.login.succeeded", actor_id=str(user.pk))
        assert (event.ip, event.user_agent, event.request_id) == (
            sent["ip"], sent["user_agent"], sent["request_id"])


def test_concurrent_failures_are_counted_by_their_own_address(settings, user, meeting):
    settings.AUTHSUITE_ACCOUNTS_RATE_LIMITS = {"login": {"ip": "2/5m", "account": None}}
    settings.AUTHSUITE_ACCOUNTS_LOCKOUT_THRESHOLD = 100
    settings.AUTHSUITE_ACCOUNTS_LOCKOUT_ACCOUNT_THRESHOLD = 100
    settings.AUTHSUITE_ACCOUNTS_LOCKOUT_CONSECUTIVE_LIMIT = 100
    (noisy, noisy_sent), (quiet, quiet_sent) = visitor(0), visitor(1)
    meeting(6)

    responses = at_once(*(api_sign_in(noisy, user.email, f"wrong guess {i}") for i in range(4)),
                        api_sign_in(quiet, user.email, "wrong guess q1"),
                        api_sign_in(quiet, user.email, "wrong guess q2"))

    assert sorted(r.status_code for r in responses[:4]) == [400, 400, 429, 429]
    assert [r.status_code for r in responses[4:]] == [400, 400]
    limited = Event.objects.filter(action="authsuite.rate_limited")
    assert limited.count() == 2
    assert {(e.ip, e.request_id) for e in limited} == {
        (noisy_sent["ip"], noisy_sent["request_id"])}
    failed = Event.objects.filter(action="accounts.login.failed")
    assert sorted((e.ip, e.user_agent) for e in failed) == sorted(
        [(noisy_sent["ip"], noisy_sent["user_agent"])] * 2
        + [(quiet_sent["ip"], quiet_sent["user_agent"])] * 2)
