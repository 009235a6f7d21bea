"""Every route the suite installs, as caches, proxies and browsers read its answers.

The routes are read from the URLconf (``test_input_sweep.ROUTES``: the pages, the JSON API,
the suite's own admin views, the demo's pages), so a new one is walked as soon as it is
routed. Each is asked by every kind of visitor (signed out, signed in, signed in moments
ago, staff for the admin; a sign-in waiting at a stage where it reads one) with every method
(GET, HEAD, OPTIONS, an empty POST, PUT, PATCH, DELETE, TRACE), and each answer is held to:

- **storage** (RFC 9111, ASVS 5.0 14.2): every answer with a body says ``no-store``, whatever
  its status (a 200, a form error, a 4xx, a 405, a 429); a redirect says it or gives no
  freshness at all (a 302 without it is never stored), and none is ``public``. Every answer
  says ``Vary: Cookie``: it depends on the session.
- **Referer**: an answer at a URL that holds a token asks for a policy that sends no path;
  every other says the site's (``same-origin``).
- **methods**: no answer is a 5xx; a method the route does not take is a 405 whose ``Allow``
  names what it does take, never the page's GET; HEAD answers as GET does without a body, and
  HEAD and OPTIONS write nothing.
- **content**: a page answers HTML (its JSON download aside), the API JSON, and an API error
  is its envelope with a documented code, whatever the request's ``Accept`` asks and
  whatever its ``Content-Type`` (none, the wrong one, a charset other than UTF-8).
- **sign-out**: ``Clear-Site-Data`` comes on the answer to the request that signed the
  visitor out, and on no other.

``test_method_sweep`` and ``test_input_sweep`` go deeper into the methods and the bodies; this
module is about the headers the answers carry, on every route at once.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client

from authsuite.api.schema import error_codes
from tests.core import test_input_sweep as sweep

pytestmark = pytest.mark.django_db

# The input sweep's routes and fixtures: the user's rows behind the paths with an id, the
# visitors of each route, no rate limits.
ROUTES, Route, url_of = sweep.ROUTES, sweep.Route, sweep.url_of
rows, unlimited, visitors = sweep.rows, sweep.unlimited, sweep.visitors
API = sweep.API

METHODS = ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE", "TRACE")
#: Policies that never send a page's path as Referer.
PATHLESS = {"no-referrer", "origin", "strict-origin"}
SITE_POLICY = "same-origin"
TOKEN_PARAMETER = re.compile(r"<(?:\w+:)?token>")


def test_the_walk_sees_every_kind_of_route():
    templates = {r.template for r in ROUTES}
    for expected in ("accounts/logout/", "accounts/password/reset/<str:token>/",
                     "passkeys/signup/<str:token>/", "accounts/reauthenticate/<str:token>/",
                     "mfa/recovery-codes/", "api/auth/v1/logout/", "api/auth/v1/schema/",
                     "admin/login/", "admin/audit/event/export/<str:fmt>/", ""):
        assert expected in templates, expected
    assert sum(bool(TOKEN_PARAMETER.search(t)) for t in templates) >= 5


def holds_token(route: Route) -> bool:
    return bool(TOKEN_PARAMETER.search(route.template))


def takes(route: Route, method: str) -> bool:
    """Whether the route answers ``method`` itself (HEAD wherever GET; OPTIONS on the API and
    the suite's pages, whose views answer it)."""
    if method == "HEAD":
        return "get" in route.methods
    if method == "OPTIONS":
        return route.kind == "api" and not route.template.endswith(("schema/", "docs/")) or (
            route.kind == "page" and route.template.startswith(("accounts/", "mfa/", "passkeys/")))
    return method.lower() in route.methods


def send(client: Client, route: Route, method: str, url: str, **extra):
    if route.kind == "api":
        return client.generic(method, url, b"{}", content_type="application/json", **extra)
    return client.generic(method, url, b"", content_type="application/x-www-form-urlencoded",
                          **extra)


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def cache_problems(response) -> list[str]:
    cache_control = response.get("Cache-Control", "")
    directives = {d.strip().split("=")[0].lower() for d in cache_control.split(",") if d.strip()}
    found = []
    if "public" in directives:
        found.append(f"Cache-Control: {cache_control}")
    if 300 <= response.status_code < 400 and response.status_code not in (301, 308):
        # Never stored without freshness information (RFC 9111 4.2.2: not heuristically
        # cacheable), unless it is given one.
        if "no-store" not in directives and ({"max-age", "s-maxage"} & directives
                                             or response.has_header("Expires")):
            found.append(f"a {response.status_code} given freshness: {cache_control}")
    elif "no-store" not in directives:
        found.append(f"no no-store: {cache_control!r}")
    if "cookie" not in response.get("Vary", "").lower():
        found.append(f"Vary: {response.get('Vary')!r}")
    return found


def referrer_problems(route: Route, response) -> list[str]:
    policy = response.get("Referrer-Policy", "")
    names = {name.strip() for name in policy.split(",")}
    if holds_token(route):
        return [] if names <= PATHLESS else [f"Referrer-Policy {policy!r} at a token's URL"]
    return [] if policy == SITE_POLICY else [f"Referrer-Policy {policy!r}"]


def method_problems(route: Route, method: str, response) -> list[str]:
    found = []
    if response.status_code >= 500:
        return [f"a {response.status_code}"]
    allow = response.get("Allow", "")
    if response.status_code == 405:
        if not allow or method in [m.strip() for m in allow.split(",")]:
            found.append(f"405 with Allow {allow!r}")
    elif not takes(route, method) and method != "OPTIONS":
        found.append(f"a {response.status_code} for a method it does not take")
    if method == "HEAD" and response.content:
        found.append("HEAD with a body")
    return found


def content_problems(route: Route, method: str, response) -> list[str]:
    if method == "HEAD" or response.status_code in (204, 304) or 300 <= response.status_code < 400:
        return []
    content_type = response.get("Content-Type", "")
    if route.kind == "api":
        if route.template.endswith("docs/") and response.status_code < 400:
            return []  # the Swagger UI page, and its script
        if not content_type.startswith(("application/json", "application/vnd.oai.openapi")):
            return [f"Content-Type {content_type!r}"]
        if response.status_code >= 400:
            code = response.json().get("error", {}).get("code")
            if code not in error_codes():
                return [f"error code {code!r}"]
        return []
    if "attachment" in response.get("Content-Disposition", ""):
        return []  # a download: the account's data, the audit trail
    if route.kind == "page" and method == "OPTIONS" and response.status_code == 200:
        return []  # Django's answer: the Allow header, no body
    return [] if content_type.startswith("text/html") else [f"Content-Type {content_type!r}"]


def sign_out_problems(before: bool, client: Client, response) -> list[str]:
    after = signed_in(client) if before else False
    header = response.get("Clear-Site-Data")
    if before and not after and not header:
        return ["signed out without Clear-Site-Data"]
    if header and not (before and not after):
        return [f"Clear-Site-Data {header!r} without a sign-out"]
    return []


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_every_answer(visitors, rows, route):
    """Every visitor, every method: storage, Referer, methods, content, sign-out."""
    url = url_of(route, rows)
    found = []
    for who, make in visitors(route).items():
        for method in METHODS:
            client = make()
            if client is None:
                continue  # the account was closed by a request before
            before = signed_in(client)
            response = send(client, route, method, url)
            where = f"{who} {method} {url} ({response.status_code})"
            found += [f"{where}: {problem}" for problem in (
                cache_problems(response) + referrer_problems(route, response)
                + method_problems(route, method, response)
                + content_problems(route, method, response)
                + sign_out_problems(before, client, response))]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("route", [r for r in ROUTES if "get" in r.methods], ids=str)
def test_head_and_options_change_nothing_and_head_answers_as_get(visitors, rows, route):
    url = url_of(route, rows)
    found = []
    for who, make in visitors(route).items():
        if (client := make()) is None:
            continue
        get = client.get(url)
        state = sweep.database()
        for method in ("HEAD", "OPTIONS"):
            response = client.generic(method, url)
            now = sweep.database()
            if response.status_code == 403:
                # A denial is audited, for a HEAD as for the GET: the record alone.
                now, state = sweep.without_records(now), sweep.without_records(state)
            if now != state:
                found.append(f"{who} {method} {url}: wrote "
                             f"{[name for name in now if now[name] != state[name]]}")
            state = sweep.database()
            if method == "HEAD" and response.status_code != get.status_code:
                found.append(f"{who} HEAD {url}: {response.status_code}, GET {get.status_code}")
    assert not found, "\n".join(found)


#: Accept headers an API client might send, none of which names JSON.
ACCEPTS = ("text/html", "text/plain",
           "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
#: Bodies with a Content-Type that is missing, wrong, or in another charset.
BODIES = (
    (b'{"email": "a@example.com"}', None),
    (b'{"email": "a@example.com"}', "text/plain"),
    (b"email=a%40example.com", "application/x-www-form-urlencoded"),
    (b'{"email": "a@example.com"}', "application/json; charset=latin-1"),
    (b'{"email": "a@example.com"}', "application/json; charset=utf-16"),
    (b"<email/>", "application/xml"),
)


def assert_enveloped(response, where: str) -> None:
    assert response.status_code < 500, where
    assert response["Content-Type"].startswith("application/json"), (where, response["Content-Type"])
    assert response.json()["error"]["code"] in error_codes(), (where, response.content[:200])


@pytest.mark.parametrize("route", [r for r in ROUTES if r.kind == "api"
                                   and not r.template.endswith(("schema/", "docs/"))], ids=str)
def test_an_api_error_is_its_envelope_whatever_the_request_asks_or_sends(visitors, rows, route):
    url = url_of(route, rows)
    makers = visitors(route)
    for who in ("anonymous", "signed-in"):
        for method in [m.upper() for m in route.methods if m != "get"]:
            for body, content_type in BODIES:
                # No Content-Type at all: a WSGI server's CONTENT_TYPE is then empty.
                extra = {"content_type": content_type} if content_type else {"CONTENT_TYPE": ""}
                if (client := makers[who]()) is None:
                    continue
                response = client.generic(method, url, body, **extra)
                where = f"{who} {method} {url} {content_type}"
                if response.status_code >= 400:
                    assert_enveloped(response, where)
        for accept in ACCEPTS:
            if (client := makers[who]()) is None:
                continue
            for method in [m.upper() for m in route.methods] + ["TRACE"]:
                response = client.generic(method, url, b"{}", content_type="application/json",
                                          HTTP_ACCEPT=accept)
                if response.status_code >= 400:
                    assert_enveloped(response, f"{who} {method} {url} Accept {accept}")


@pytest.mark.parametrize("accept", ["application/json", "text/plain", "image/png"])
def test_a_page_answers_html_whatever_the_request_asks(client, accept):
    for url in ("/accounts/login/", "/accounts/password/reset/" + "A" * 43 + "/", "/mfa/"):
        response = client.get(url, HTTP_ACCEPT=accept, follow=True)
        assert response["Content-Type"].startswith("text/html"), (url, accept)


# --- the answers a rate limit gives -------------------------------------------------------------


def test_a_rate_limits_answers_are_never_stored(settings, user, time_machine):
    """A 429, on a page and on the API, says ``no-store`` and when to retry."""
    from tests.accounts.support import freeze

    freeze(time_machine)
    settings.AUTHSUITE_ACCOUNTS_RATE_LIMITS = {"login": {"ip": "1/5m", "account": None}}
    page, api = Client(), Client()
    for _ in range(2):
        answered = page.post("/accounts/login/", {"email": user.email, "password": "wrong"})
    assert answered.status_code == 429
    assert "no-store" in answered["Cache-Control"] and int(answered["Retry-After"]) > 0
    assert answered["Content-Type"].startswith("text/html")
    for _ in range(2):
        answered = api.post(API + "login/", {"email": user.email, "password": "wrong"},
                            content_type="application/json")
    assert answered.status_code == 429
    assert "no-store" in answered["Cache-Control"] and int(answered["Retry-After"]) > 0
    assert answered.json()["error"]["code"] == "rate_limited"
