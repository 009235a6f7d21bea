"""The suite in a project that includes it under a prefix of its own (``auth/``), under
language prefixes (``i18n_patterns`` with LocaleMiddleware) or served under a sub-path
(``FORCE_SCRIPT_NAME``, the server's SCRIPT_NAME): redirects, links in mails and the API's
error answers follow wherever its URLs are."""

from __future__ import annotations

import io
import json
from urllib.parse import urlsplit
from wsgiref.util import setup_testing_defaults

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.core.wsgi import get_wsgi_application
from django.urls import get_script_prefix, set_script_prefix

from tests.accounts.support import freeze
from tests.conftest import STRONG_PASSWORD
from tests.helpers import LINK_RE

pytestmark = pytest.mark.django_db

LOCALE = "django.middleware.locale.LocaleMiddleware"
SESSION = "django.contrib.sessions.middleware.SessionMiddleware"


@pytest.fixture
def mounted(settings):
    settings.ROOT_URLCONF = "tests.core.urls_mounted"
    # The demo's are paths (/accounts/): a project's names follow the include.
    settings.LOGIN_REDIRECT_URL = "accounts:profile"
    settings.LOGOUT_REDIRECT_URL = "accounts:login"


@pytest.fixture
def served_under_app(settings, mounted):
    """The site served under /app, as a WSGI server sets it for each request (the test
    client, unlike the WSGI handler, leaves the script prefix as it is)."""
    settings.FORCE_SCRIPT_NAME = "/app"
    before = get_script_prefix()
    set_script_prefix("/app/")
    yield
    set_script_prefix(before)


@pytest.fixture(params=["tests.core.urls_i18n", "tests.core.urls_i18n_default_bare"])
def i18n(request, settings):
    settings.ROOT_URLCONF = request.param
    settings.LOGIN_REDIRECT_URL = "accounts:profile"
    settings.LANGUAGES = [("en", "English"), ("fr", "French")]
    settings.LANGUAGE_CODE = "en"
    middleware = list(django_settings.MIDDLEWARE)
    middleware.insert(middleware.index(SESSION) + 1, LOCALE)
    settings.MIDDLEWARE = middleware
    return request.param


def wsgi(method: str, path: str, *, script_name: str, content_type: str = "") -> tuple[str, bytes]:
    """The answer of the WSGI application every project's wsgi.py makes, served under
    ``script_name``."""
    environ = {"REQUEST_METHOD": method, "SCRIPT_NAME": script_name, "PATH_INFO": path,
               "CONTENT_TYPE": content_type, "CONTENT_LENGTH": "2", "wsgi.input": io.BytesIO(b"{}")}
    setup_testing_defaults(environ)
    answered = {}

    def start_response(status, headers, exc_info=None):
        answered["status"] = status

    before = get_script_prefix()
    try:
        body = b"".join(get_wsgi_application()(environ, start_response))
    finally:
        set_script_prefix(before)  # the handler sets it for the thread and leaves it
    return answered["status"], body


# --- the API's errors ------------------------------------------------------------------------


def test_a_method_the_api_does_not_answer_is_refused_in_its_envelope_under_a_prefix(client, mounted):
    response = client.put("/auth/api/auth/v1/login/")

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_a_method_the_api_does_not_answer_is_refused_in_its_envelope_under_a_language(client, i18n):
    for path in ["/fr/auth/api/auth/v1/login/", "/en/auth/api/auth/v1/login/"
                 if i18n.endswith("urls_i18n") else "/auth/api/auth/v1/login/"]:
        response = client.put(path)

        assert response.status_code == 405, path
        assert response.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.usefixtures("mounted")
@pytest.mark.parametrize("script_name", ["/app", ""])
def test_a_site_served_under_a_sub_path_answers_the_api_in_its_envelope(script_name):
    status, body = wsgi("PUT", "/auth/api/auth/v1/login/", script_name=script_name)
    assert status.startswith("405 ")
    assert json.loads(body)["error"]["code"] == "method_not_allowed"

    status, body = wsgi("POST", "/auth/api/auth/v1/login/", script_name=script_name,
                        content_type="application/json; charset*=utf-8''%00")
    assert status.startswith("400 ")
    assert json.loads(body)["error"]["code"] == "malformed_request"


@pytest.mark.usefixtures("mounted")
def test_a_page_of_the_site_keeps_its_html_error_page():
    status, body = wsgi("PUT", "/auth/accounts/login/", script_name="/app")

    assert status.startswith("405 ")
    assert b"<html" in body


# --- redirects and links ---------------------------------------------------------------------


@pytest.mark.usefixtures("served_under_app")
def test_sign_in_redirects_and_mailed_links_keep_the_sub_path_and_the_prefix(client, user):
    response = client.get("/auth/accounts/sessions/")
    assert response["Location"] == "/app/auth/accounts/login/?next=/app/auth/accounts/sessions/"

    response = client.post("/auth/accounts/login/?next=/app/auth/accounts/sessions/",
                           {"email": user.email, "password": STRONG_PASSWORD})
    assert response["Location"] == "/app/auth/accounts/sessions/"
    client.post("/auth/accounts/logout/")
    response = client.post("/auth/accounts/login/", {"email": user.email,
                                                     "password": STRONG_PASSWORD})
    assert response["Location"] == "/app/auth/accounts/"
    response = client.post("/auth/accounts/logout/")
    assert response["Location"] == "/app/auth/accounts/login/"

    client.post("/auth/accounts/password/reset/", {"email": user.email})
    link = urlsplit(LINK_RE.findall(mail.outbox[-1].body)[0])
    assert link.path.startswith("/app/auth/accounts/password/reset/")


def test_sign_in_redirects_and_mailed_links_keep_the_language(client, user, i18n):
    response = client.get("/fr/auth/accounts/sessions/")
    assert response["Location"] == "/fr/auth/accounts/login/?next=/fr/auth/accounts/sessions/"

    response = client.post("/fr/auth/accounts/login/", {"email": user.email,
                                                        "password": STRONG_PASSWORD})
    assert response["Location"] == "/fr/auth/accounts/"
    assert client.get("/fr/auth/accounts/sessions/").status_code == 200

    client.post("/fr/auth/accounts/password/reset/", {"email": user.email})
    link = urlsplit(LINK_RE.findall(mail.outbox[-1].body)[0])
    assert link.path.startswith("/fr/auth/accounts/password/reset/")


@pytest.mark.usefixtures("served_under_app")
def test_the_pages_link_home_to_the_sites_root(client):
    for path in ["/auth/accounts/login/", "/auth/no-such-page/"]:
        page = client.get(path).content.decode()

        assert 'href="/app/"' in page, path
        assert 'href="/"' not in page, path


@pytest.mark.usefixtures("served_under_app")
def test_the_passkey_script_posts_to_the_api_where_it_is(client):
    page = client.get("/auth/accounts/login/").content.decode()

    assert 'data-options-url="/app/auth/api/auth/v1/passkeys/login/options/"' in page
    assert 'data-verify-url="/app/auth/api/auth/v1/passkeys/login/"' in page


def test_the_passkey_script_posts_to_the_api_in_the_pages_language(client, i18n):
    page = client.get("/fr/auth/accounts/login/").content.decode()

    assert 'data-options-url="/fr/auth/api/auth/v1/passkeys/login/options/"' in page


# --- texts that name an endpoint -------------------------------------------------------------


def test_the_schema_names_the_csrf_endpoint_where_it_is(client, mounted):
    schema = client.get("/auth/api/auth/v1/schema/", {"format": "json"}).json()

    login = schema["paths"]["/auth/api/auth/v1/login/"]["post"]
    header = next(p for p in login["parameters"] if p["in"] == "header")
    assert "`GET /auth/api/auth/v1/csrf/`" in header["description"]


def test_a_refused_sensitive_action_names_the_reauthentication_endpoint_where_it_is(
        client, mounted, user, time_machine):
    freeze(time_machine)
    response = client.post("/auth/api/auth/v1/login/", {"email": user.email,
                                                        "password": STRONG_PASSWORD},
                           content_type="application/json")
    assert response.status_code == 200
    time_machine.shift(301)

    response = client.post("/auth/api/auth/v1/account/close/", {},
                           content_type="application/json")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "reauthentication_required"
    assert "POST /auth/api/auth/v1/reauthenticate/" in response.json()["error"]["message"]
