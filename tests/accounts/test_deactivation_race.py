"""A deactivation that commits while a sign-in completes: the sign-in is refused, whichever
way its first factor went, and leaves nothing behind (no session, no tracked session, no
record of a sign-in), so no session outlives the deactivation that did not see it."""

from __future__ import annotations

import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.db import connections
from django.test import Client
from django.urls import reverse

from accounts import pipeline, sessions
from accounts.flows.account import account_deactivate
from accounts.models import UserSession
from audit.models import Event
from tests.accounts.support import AUTH_KEY, api_login, error_code, html_login, is_signed_in
from tests.conftest import STRONG_PASSWORD
from tests.helpers import last_link

pytestmark = pytest.mark.django_db


@pytest.fixture
def disabled_once_checked(monkeypatch, user):
    """The account is disabled, by another request that commits it, right after the sign-in
    checked its first factor and before the sign-in's own writes."""
    decide = pipeline._next_stage

    def then_disabled(request, who, state):
        get_user_model()._default_manager.filter(pk=user.pk).update(is_active=False)
        return decide(request, who, state)

    monkeypatch.setattr(pipeline, "_next_stage", then_disabled)


def assert_nothing_kept(client, user) -> None:
    assert AUTH_KEY not in client.session
    assert not is_signed_in(client)
    assert not UserSession.objects.filter(user=user).exists()
    assert not Event.objects.filter(action="accounts.login.succeeded").exists()
    user.refresh_from_db()
    assert user.last_login is None


def test_a_password_sign_in_on_the_page_is_refused(client, user, disabled_once_checked):
    response = html_login(client, user.email, STRONG_PASSWORD)

    assert response.status_code == 403
    assert_nothing_kept(client, user)


def test_a_password_sign_in_through_the_api_is_refused(client, user, disabled_once_checked):
    response = api_login(client, user.email, STRONG_PASSWORD)

    assert response.status_code == 403
    assert error_code(response) == "permission_denied"
    assert_nothing_kept(client, user)


def test_a_magic_link_sign_in_is_refused(client, user, disabled_once_checked):
    client.post(reverse("accounts:magic_link"), {"email": user.email})  # asking signs nobody in
    link = last_link(user.email)

    response = client.post(link)

    assert response.status_code == 403
    assert_nothing_kept(client, user)


def test_a_sign_in_of_an_account_still_enabled_writes_its_last_login(client, user):
    response = html_login(client, user.email, STRONG_PASSWORD)

    assert response.status_code == 302
    user.refresh_from_db()
    assert user.last_login is not None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_sign_in_racing_a_deactivation_keeps_no_session_the_deactivation_missed(
        user, staff, monkeypatch):
    """Staff deactivate the account while its owner signs in: the deactivation has disabled
    the row and looks for sessions to end before the sign-in commits one. The sign-in,
    whose password was checked against the row as it was, then waits for the row's lock
    and is refused once the deactivation commits, instead of keeping a session nobody
    ended."""
    disabled = threading.Event()
    end_sessions = sessions.sessions_end

    def slow_end(*args, **kwargs):
        disabled.set()  # is_active is false in the deactivation's transaction
        time.sleep(1)  # the sign-in checks its password meanwhile, then waits for the lock
        return end_sessions(*args, **kwargs)

    monkeypatch.setattr("accounts.flows.account.sessions.sessions_end", slow_end)
    browser = Client()
    outcome: dict = {}

    def deactivate():
        try:
            outcome["deactivated"] = account_deactivate(
                get_user_model()._default_manager.get(pk=user.pk), by=staff)
        finally:
            connections.close_all()

    def sign_in():
        try:
            disabled.wait(5)
            outcome["status"] = html_login(browser, user.email, STRONG_PASSWORD).status_code
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deactivate), threading.Thread(target=sign_in)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert outcome == {"deactivated": True, "status": 403}
    assert not UserSession.objects.filter(user=user, ended_at__isnull=True).exists()
    assert AUTH_KEY not in browser.session
    assert not Event.objects.filter(action="accounts.login.succeeded", actor_id=str(user.pk)
                                    ).exists()
