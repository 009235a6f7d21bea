"""``SuiteAdminSite`` (``accounts.apps.SuiteAdminConfig``): a project without the MFA app still
signs its staff in, out and through a password change on the suite's own pages, so the
admin's login form is no way around the rate limits, the lockout or the login stages."""

from __future__ import annotations

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.urls import path, reverse

from accounts.admin_site import SuiteAdminSite
from accounts.models import UserSession
from authsuite.urls import urlpatterns as project_urls
from tests.conftest import STRONG_PASSWORD
from tests.factories import UserFactory

site = SuiteAdminSite(name="plain_admin")
urlpatterns = [path("plain-admin/", site.urls), *project_urls]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


def signed_in(user) -> Client:
    client = Client()
    response = client.post(reverse("accounts:login"),
                           {"email": user.email, "password": STRONG_PASSWORD})
    assert response.status_code == 302, response.content
    return client


def test_the_admin_sends_a_visitor_to_the_suites_sign_in():
    client = Client()

    response = client.get("/plain-admin/", follow=True)

    assert response.redirect_chain[-1][0] == "/accounts/login/?next=/plain-admin/"


def test_the_admins_login_form_signs_nobody_in(staff):
    client = Client()

    for password in (STRONG_PASSWORD, "a wrong guess"):
        response = client.post("/plain-admin/login/?next=/plain-admin/",
                               {"username": staff.email, "password": password})
        assert response.status_code == 302
        assert response["Location"] == "/accounts/login/?next=/plain-admin/"

    assert SESSION_KEY not in client.session


def test_the_admins_login_page_takes_signed_in_staff_where_they_were_going(staff):
    client = signed_in(staff)

    assert client.get("/plain-admin/").status_code == 200
    response = client.get("/plain-admin/login/?next=/plain-admin/accounts/")
    assert response["Location"] == "/plain-admin/accounts/"
    response = client.get("/plain-admin/login/?next=https://evil.example/")
    assert response["Location"] == "/plain-admin/"


@pytest.mark.parametrize(("next_url", "location"), [
    ("accounts", "accounts"),  # a relative path, as the browser resolves it
    ("<b>", "%3Cb%3E"),
    ("%FF", "%EF%BF%BD"),  # not UTF-8: U+FFFD
    ("home", "home"),  # a URL pattern's name is a path here too, never looked up
])
def test_a_next_without_a_slash_is_a_relative_path_not_a_500(staff, next_url, location):
    # django.shortcuts.redirect() takes a value without "/" or "." for a URL pattern's name
    # and raised NoReverseMatch for any other: a 500 for a signed-in staff member.
    client = signed_in(staff)

    response = client.get(f"/plain-admin/login/?next={next_url}")

    assert response.status_code == 302
    assert response["Location"] == location


def test_someone_who_is_not_staff_is_asked_to_sign_in_as_someone_who_is():
    client = signed_in(UserFactory(password=STRONG_PASSWORD))

    response = client.get("/plain-admin/login/?next=/plain-admin/")

    assert response["Location"] == "/accounts/login/?next=/plain-admin/"


def test_the_admins_sign_out_and_password_change_are_the_suites(staff):
    client = signed_in(staff)

    response = client.post("/plain-admin/password_change/", {
        "old_password": STRONG_PASSWORD, "new_password1": "a brand new passphrase 42",
        "new_password2": "a brand new passphrase 42"})
    assert response["Location"] == reverse("accounts:password_change")
    staff.refresh_from_db()
    assert staff.check_password(STRONG_PASSWORD)

    response = client.post("/plain-admin/logout/")
    assert response["Location"] == reverse("accounts:login")
    assert not UserSession.objects.filter(user=staff, ended_at__isnull=True).exists()


# --- methods and caching ----------------------------------------------------------------------

ADMIN_PAGES = ["/plain-admin/", "/plain-admin/login/", "/plain-admin/password_change/",
               "/admin/accounts/user/", "/admin/audit/event/", "/admin/no/such/page/"]


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "TRACE", "OPTIONS", "PROPFIND"])
@pytest.mark.parametrize("who", ["anonymous", "staff"])
def test_a_method_the_admin_does_not_take_is_a_405_before_the_sign_in(staff, method, who):
    """Django's admin views answer any method as a GET (a TRACE listed the accounts); the
    suite's site answers a 405 with the methods its pages take, before the sign-in redirect,
    the CSRF check (a "Form expired" 403, recorded as a forgery) or the view."""
    client = Client(enforce_csrf_checks=True)
    if who == "staff":
        client.force_login(staff)
    for url in ADMIN_PAGES:
        response = client.generic(method, url)
        assert response.status_code == 405, (url, response.status_code)
        assert response["Allow"] == "GET, HEAD, POST", url
        assert b"<h1>Method not allowed</h1>" in response.content, url
        assert "no-store" in response["Cache-Control"], url
    if who == "staff":
        assert client.get("/plain-admin/").status_code == 200


def test_the_admins_sign_out_takes_what_the_suites_sign_out_page_takes(staff):
    client = Client()
    client.force_login(staff)
    assert client.generic("TRACE", "/plain-admin/logout/")["Allow"] == "GET, HEAD, OPTIONS, POST"
    assert client.options("/plain-admin/logout/").status_code == 200
    assert client.get("/plain-admin/").status_code == 200  # still signed in


def test_a_view_that_says_which_methods_it_takes_keeps_them():
    from django.http import HttpResponse

    from authsuite.context import allowed_methods
    from authsuite.views import require_methods

    view = site.admin_view(require_methods("GET", "DELETE")(lambda request: HttpResponse()))
    assert allowed_methods(view) == ["GET", "DELETE"]
    assert allowed_methods(site.admin_view(lambda request: HttpResponse())) == [
        "GET", "HEAD", "POST"]


def test_where_the_admins_sign_in_sends_the_browser_is_never_stored(staff):
    """Django's own admin login is never_cache; the suite's, which answers by who is signed
    in, lost it, and so did its password change."""
    staff_browser = signed_in(staff)
    for client, url in [(Client(), "/plain-admin/login/?next=/plain-admin/"),
                        (staff_browser, "/plain-admin/login/?next=/plain-admin/"),
                        (staff_browser, "/plain-admin/password_change/")]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert "no-store" in response["Cache-Control"], url
