"""A view may demand a more recent authentication than the default
(``reauthentication_required(max_age=...)``, ``reauthentication_max_age`` on a view with
``ReauthenticationRequiredMixin`` or on an API view with ``IsRecentlyAuthenticated``). The
reauthentication page and the API's 403 then ask for what that age needs, so the user gets
through, instead of being sent back to the page for the factor it did not offer."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.http import HttpResponse
from django.urls import path, reverse
from django.views import View
from rest_framework.response import Response

from accounts.api.views import IsRecentlyAuthenticated
from accounts.decorators import ReauthenticationRequiredMixin, reauthentication_required
from authsuite.api.views import SuiteAPIView
from authsuite.urls import urlpatterns as project_urls
from tests.mfa.support import api_post, error_code


class StrictView(ReauthenticationRequiredMixin, View):
    reauthentication_max_age = 60

    def get(self, request):
        return HttpResponse("strict page")


@reauthentication_required(max_age=60)
def strict_function(request):
    return HttpResponse("strict page")


class StrictAPIView(SuiteAPIView):
    permission_classes = [IsRecentlyAuthenticated]
    reauthentication_max_age = 60

    def post(self, request):
        return Response({"done": True})


urlpatterns = [
    path("strict/", StrictView.as_view()),
    path("strict-function/", strict_function),
    path("strict-api/", StrictAPIView.as_view()),
    *project_urls,
]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

REAUTH = "/accounts/reauthenticate/"


def strict_api(client):
    return client.post("/strict-api/", {}, content_type="application/json")


@pytest.mark.parametrize("view", ["/strict/", "/strict-function/"])
def test_the_view_tells_the_page_the_age_it_demands(two_factor_session, later, view):
    client, _secret, _codes = two_factor_session
    later(120)  # recent for the default (300 s), not for this view

    response = client.get(view)

    assert response["Location"] == f"{REAUTH}?next={quote(view, safe='')}&max_age=60"


def test_the_page_asks_for_each_factor_the_view_needs_and_lets_the_user_through(
        two_factor_session, password, clock, later):
    """Signed in with two factors 120 s ago; the view wants both within 60 s. The page
    asks for the password, then for the code (the default age would still count the code
    of the sign-in as recent, and ask for the password again and again)."""
    client, secret, _codes = two_factor_session
    later(120)

    page_url = client.get("/strict/")["Location"]
    page = client.get(page_url).content.decode()
    assert 'name="password"' in page
    assert '<input type="hidden" name="max_age" value="60">' in page
    response = client.post(page_url, {"password": password, "next": "/strict/",
                                      "max_age": "60"})
    assert response["Location"] == "/strict/"

    response = client.get("/strict/")
    assert response["Location"] == page_url
    page = client.get(page_url).content.decode()
    assert "confirm your second step too" in page
    assert 'name="password"' not in page
    challenge = f'{reverse("mfa:challenge")}?next=/strict/'
    assert f'href="{challenge}"' in page

    clock.step()
    assert client.post(challenge, {"code": clock.code(secret)})["Location"] == "/strict/"
    response = client.get("/strict/")
    assert response.status_code == 200 and response.content == b"strict page"


def test_a_single_factor_session_gets_through_with_the_password(client, user, password,
                                                                later):
    assert api_post(client, "login/", {"email": user.email,
                                       "password": password}).status_code == 200
    later(120)

    page_url = client.get("/strict/")["Location"]
    assert client.post(page_url, {"password": password, "next": "/strict/"}
                       )["Location"] == "/strict/"

    assert client.get("/strict/").status_code == 200


@pytest.mark.parametrize("max_age", ["100000", "300", "-5", "abc", "6e1", "٦٠", "9" * 40, ""])
def test_the_page_never_asks_for_less_than_the_default(two_factor_session, password, later,
                                                       max_age):
    """The query can only shorten the age: an older code than the default allows is never
    counted as recent because a link said so, and a value that is not a whole number of
    seconds is ignored."""
    client, _secret, _codes = two_factor_session
    url = f"{REAUTH}?next=/strict/&max_age={quote(max_age)}"
    later(301)

    page = client.get(url).content.decode()
    assert 'name="password"' in page and 'name="max_age"' not in page
    client.post(url, {"password": password, "next": "/strict/", "max_age": max_age})

    response = client.get(url)  # the password is recent, the code 301 s old
    assert response.status_code == 200
    assert "confirm your second step too" in response.content.decode()


def test_the_api_names_the_factor_the_view_needs(two_factor_session, password, clock, later):
    client, secret, _codes = two_factor_session
    later(120)

    response = strict_api(client)
    assert response.status_code == 403 and error_code(response) == "reauthentication_required"
    assert "password" in response.json()["error"]["message"]
    assert api_post(client, "reauthenticate/", {"password": password}).status_code == 200

    response = strict_api(client)
    assert response.status_code == 403 and error_code(response) == "second_factor_required"
    assert "second factor" in response.json()["error"]["message"]
    clock.step()
    assert api_post(client, "mfa/challenge/", {"code": clock.code(secret)}).status_code == 200

    assert strict_api(client).json() == {"done": True}
