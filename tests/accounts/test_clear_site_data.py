"""``Clear-Site-Data`` on the answer to the request that ended this browser's session.

ASVS 5.0 14.3.1: authenticated data is cleared from the client once the session ends. Every
way a browser's own session ends says so, whatever page or endpoint ended it: a sign-out on
the page or the API, ending this session or every one, closing the account, a timeout, a
session ended elsewhere or an account disabled found at the next request, a sign-out by the
project's own code. Nothing else says it: a GET of the sign-out page signs nobody out, and
ending the other sessions leaves this browser's data alone.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core import checks
from django.test import Client, override_settings

from accounts.models import UserSession
from tests.accounts.support import (
    api_delete,
    api_get,
    api_post,
    freeze,
    is_signed_in,
    signed_in_api,
    signed_in_html,
)

pytestmark = pytest.mark.django_db
HEADER = "Clear-Site-Data"
DEFAULT = '"storage"'


@pytest.fixture
def browser(user, password) -> Client:
    client = Client()
    signed_in_html(client, user.email, password)
    return client


@pytest.fixture
def app(user, password) -> Client:
    client = Client()
    signed_in_api(client, user.email, password)
    return client


def recent(client, password) -> None:
    assert api_post(client, "reauthenticate/", {"password": password}).status_code == 200


def current_id(client) -> int:
    return client.session["_authsuite_sid"]


# --- every way this browser's session ends ------------------------------------------------------


def test_the_sign_out_page(browser):
    response = browser.post("/accounts/logout/")
    assert response.status_code == 302
    assert response[HEADER] == DEFAULT
    assert not is_signed_in(browser)


def test_the_sign_out_endpoint(app):
    response = api_post(app, "logout/")
    assert response.status_code == 204
    assert response[HEADER] == DEFAULT
    assert not is_signed_in(app)


def test_ending_every_session_on_the_page(browser, password):
    recent(browser, password)
    response = browser.post("/accounts/sessions/", {"session": "all"})
    assert response.status_code == 302
    assert response[HEADER] == DEFAULT


def test_ending_this_session_on_the_page(browser):
    response = browser.post("/accounts/sessions/", {"session": current_id(browser)})
    assert response["Location"] == "/accounts/login/"
    assert response[HEADER] == DEFAULT


def test_ending_every_session_over_the_api(app, password):
    recent(app, password)
    response = api_post(app, "sessions/end-all/")
    assert response.status_code == 204
    assert response[HEADER] == DEFAULT


def test_ending_this_session_over_the_api(app):
    response = api_delete(app, f"sessions/{current_id(app)}/")
    assert response.status_code == 204
    assert response[HEADER] == DEFAULT


def test_closing_the_account(browser, app, password):
    recent(browser, password)
    response = browser.post("/accounts/close/", {"confirm": "on"})
    assert response.status_code == 302
    assert response[HEADER] == DEFAULT
    # The other browser's session ended with the account: its next answer says it too.
    assert api_get(app, "session/")[HEADER] == DEFAULT


def test_closing_the_account_over_the_api(app, password):
    recent(app, password)
    response = api_post(app, "account/close/")
    assert response.status_code == 204
    assert response[HEADER] == DEFAULT


def test_a_timeout_found_at_the_next_request(browser, time_machine):
    freeze(time_machine)
    time_machine.shift(3601)
    response = browser.get("/accounts/")
    assert response["Location"].startswith("/accounts/login/")
    assert response[HEADER] == DEFAULT
    assert UserSession.objects.get().end_reason == "idle_timeout"
    # Once: the browser is signed out now, and its next answer has nothing to clear.
    assert HEADER not in browser.get("/accounts/login/")


def test_a_session_ended_from_another_browser(user, password, browser):
    other = Client()
    signed_in_html(other, user.email, password)
    recent(other, password)
    assert other.post("/accounts/sessions/", {"session": "others"}).status_code == 302
    response = browser.get("/accounts/")
    assert response[HEADER] == DEFAULT


def test_an_account_disabled_behind_the_suites_back(user, browser):
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    response = browser.get("/accounts/")
    assert response[HEADER] == DEFAULT
    assert not is_signed_in(browser)


@pytest.mark.urls("tests.core.urls_project_views")
def test_a_sign_out_by_the_projects_own_view(browser):
    response = browser.post("/project/sign-out/sync/")
    assert response.json() == {"authenticated": False, "id": None}
    assert response[HEADER] == DEFAULT


# --- and nothing else ---------------------------------------------------------------------------


def test_a_get_of_the_sign_out_page_signs_nobody_out(browser):
    """A link or an image pointing at the sign-out page (a forged sign-out) does nothing."""
    for method in ("get", "head", "options"):
        response = getattr(browser, method)("/accounts/logout/")
        assert response.status_code == 200, method
        assert HEADER not in response
    assert is_signed_in(browser)


def test_the_sign_out_endpoint_takes_a_post_only(app):
    for method in ("get", "head"):
        response = getattr(app, method)("/api/auth/v1/logout/")
        assert response.status_code == 405, method
        assert response["Allow"] == "POST, OPTIONS"
    assert HEADER not in app.options("/api/auth/v1/logout/")
    assert is_signed_in(app)


def test_a_forged_sign_out_is_refused(user):
    """The CSRF check guards the sign-out like any form: a cross-site POST signs nobody out."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    for response in (client.post("/accounts/logout/"), api_post(client, "logout/")):
        assert response.status_code == 403
        assert HEADER not in response
    assert is_signed_in(client)


def test_ending_the_other_sessions_leaves_this_browser_alone(browser, password):
    recent(browser, password)
    response = browser.post("/accounts/sessions/", {"session": "others"})
    assert response.status_code == 302
    assert HEADER not in response


def test_a_sign_in_and_an_ordinary_answer_clear_nothing(user, password):
    client = Client()
    assert HEADER not in signed_in_html(client, user.email, password)
    assert HEADER not in client.get("/accounts/")


def test_a_sign_out_without_a_session_clears_nothing(client):
    """A browser not signed in abandons the sign-in in progress: no session ended."""
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert HEADER not in response


# --- the setting --------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "header"), [
    (["cache", "storage"], '"cache", "storage"'),
    (("storage", "executionContexts"), '"storage", "executionContexts"'),
    ("cache", '"cache"'),
    (["*"], '"*"'),
])
def test_the_directives_are_configurable(browser, value, header):
    with override_settings(AUTHSUITE_ACCOUNTS_CLEAR_SITE_DATA=value):
        assert browser.post("/accounts/logout/")[HEADER] == header


@pytest.mark.parametrize("value", [[], (), None, ""])
def test_no_directives_send_no_header(browser, value):
    with override_settings(AUTHSUITE_ACCOUNTS_CLEAR_SITE_DATA=value):
        response = browser.post("/accounts/logout/")
    assert response.status_code == 302
    assert HEADER not in response
    assert not is_signed_in(browser)


def _check_ids() -> list[str]:
    return [e.id for e in checks.run_checks() if e.id == "authsuite_accounts.E019"]


@pytest.mark.parametrize("value", [
    ["storage", "cookie"], ['"storage"'], ["Storage"], [1], 1, True, {"storage": 1},
])
def test_a_directive_browsers_do_not_know_is_an_error(settings, browser, value):
    settings.AUTHSUITE_ACCOUNTS_CLEAR_SITE_DATA = value
    assert _check_ids() == ["authsuite_accounts.E019"]
    # The sign-out goes through all the same, with what can be sent of it.
    response = browser.post("/accounts/logout/")
    assert response.status_code == 302
    assert response.get(HEADER) in (None, DEFAULT)
    assert not is_signed_in(browser)


@pytest.mark.parametrize("value", [["storage"], ["cache", "storage", "cookies"], [], "cache"])
def test_known_directives_pass_the_check(settings, value):
    settings.AUTHSUITE_ACCOUNTS_CLEAR_SITE_DATA = value
    assert _check_ids() == []
