"""HTTP methods and request shapes over every page and every JSON endpoint of the suite.

``test_input_sweep`` sends junk in the bodies and queries of the methods each route answers;
this one sends the methods no route answers and the requests Django will not read:

- HEAD answers as GET does, without a body (405 where GET is not answered);
- OPTIONS: the API's short description (or 405 on the schema and docs), Django's own answer
  on the pages;
- TRACE, an unknown method (``PROPFIND``) and any other method a route does not answer: 405
  with an ``Allow`` header, before anything else is checked (the sign-in, CSRF, the body),
  the API's in its envelope;
- a form with more fields than ``DATA_UPLOAD_MAX_NUMBER_FIELDS``, more files than
  ``DATA_UPLOAD_MAX_NUMBER_FILES`` or a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE``: a 413 on
  the suite's error page that says why, and nothing written;
- an ``Accept`` header with non-ASCII or control characters, or far too long: a 406
  ``not_acceptable`` or the normal answer, never a 5xx.

Signed out and signed in, with the CSRF check on as a browser meets it.
"""

from __future__ import annotations

import html
import io
import re

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from audit.models import Event
from authsuite.api.schema import error_codes
from authsuite.models import OutboxMessage
from tests.core import test_input_sweep as sweep
from tests.core.test_security_headers import assert_secure_headers
from tests.endpoints import API, api_endpoints

pytestmark = pytest.mark.django_db

# The input sweep's routes, and its fixtures: the user's rows behind the paths with an id,
# no rate limits.
ROUTES, url_of = sweep.ROUTES, sweep.url_of
rows, unlimited = sweep.rows, sweep.unlimited

#: The pages of the suite's apps (the audit's are under accounts/security/).
PAGE_PREFIXES = ("accounts/", "mfa/", "passkeys/", "audit/")
PAGES = [r for r in ROUTES if r.kind == "page" and r.template.startswith(PAGE_PREFIXES)]
ENDPOINTS = api_endpoints()
#: The schema and the docs: read-only documents, GET and HEAD only.
DOCUMENTS = [API + "schema/", API + "docs/"]
WHO = ("anonymous", "signed-in")


def test_the_sweep_sees_every_page_and_endpoint():
    templates = {r.template for r in PAGES}
    for expected in ("accounts/login/", "accounts/logout/", "mfa/challenge/", "passkeys/",
                     "accounts/security/", "accounts/security/alerts/"):
        assert expected in templates, expected
    assert {str(e) for e in ENDPOINTS} >= {"session/", "login/", "security/alerts/",
                                            "passkeys/<int:pk>/"}


@pytest.fixture
def client_for(user):
    """``client_for(who)``: a browser as the CSRF check meets it, signed in or not."""

    def make(who: str) -> Client:
        client = Client(enforce_csrf_checks=True)
        if who == "signed-in":
            client.force_login(user)
        return client

    return make


def api_url(endpoint, rows) -> str:
    """The endpoint's URL, its id the user's row where it has one (``rows``)."""
    return url_of(next(r for r in ROUTES if r.template == API[1:] + endpoint.route), rows)


def page_urls(rows) -> list[str]:
    return [url_of(route, rows) for route in PAGES]


def assert_enveloped(response, code: str) -> None:
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert body["error"]["code"] == code, body
    assert code in error_codes()
    assert body["error"]["message"]


def writes() -> tuple[int, int, int]:
    """What a refused request must not add to: audit events, sessions, queued mail."""
    return Event.objects.count(), Session.objects.count(), OutboxMessage.objects.count()


# --- HEAD and OPTIONS -------------------------------------------------------------------------


@pytest.mark.parametrize("who", WHO)
def test_head_answers_as_get_does_without_a_body(client_for, rows, unlimited, who):
    found = []
    urls = page_urls(rows) + [api_url(e, rows) for e in ENDPOINTS] + DOCUMENTS
    for url in urls:
        get = client_for(who).get(url)
        head = client_for(who).head(url)
        if head.status_code != get.status_code or head.status_code >= 500:
            found.append(f"{url}: GET {get.status_code}, HEAD {head.status_code}")
        elif head.content:
            found.append(f"{url}: HEAD has a body")
    assert not found, "\n".join(found)


@pytest.mark.parametrize("who", WHO)
def test_head_is_405_where_get_is_not_answered(client_for, rows, who):
    """Whoever asks: the method comes first, as for every method an endpoint lacks."""
    found = []
    for endpoint in ENDPOINTS:
        if "get" in endpoint.methods:
            continue
        url = api_url(endpoint, rows)
        for method in ("GET", "HEAD"):
            response = client_for(who).generic(method, url)
            if response.status_code != 405 or "GET" in response.get("Allow", "GET"):
                found.append(f"{method} {url}: {response.status_code} "
                             f"Allow={response.get('Allow')}")
    assert not found, "\n".join(found)


def test_head_of_the_alerts_is_get_without_a_body(client_for):
    """A GET of the alerts needs a session only; HEAD asked for a recent sign-in too."""
    client = client_for("signed-in")
    assert client.get(API + "security/alerts/").status_code == 200
    head = client.head(API + "security/alerts/")
    assert head.status_code == 200, head.status_code
    assert head.content == b""


@pytest.mark.parametrize("who", WHO)
def test_options(client_for, rows, who):
    found = []
    for endpoint in ENDPOINTS:
        url = api_url(endpoint, rows)
        response = client_for(who).options(url)
        if response.status_code == 200:
            body = response.json()
            if set(body) != {"name", "description", "renders", "parses"}:
                found.append(f"{url}: {body}")
            allowed = response["Allow"].split(", ")
            if not {m.upper() for m in endpoint.methods} <= set(allowed):
                found.append(f"{url}: Allow={response['Allow']}")
        elif response.status_code == 403:
            # After the checks of the endpoint's other methods: a session, a recent sign-in.
            code = response.json()["error"]["code"]
            if code != ("not_authenticated" if who == "anonymous" else
                        "reauthentication_required"):
                found.append(f"OPTIONS {url}: 403 {code}")
        else:
            found.append(f"OPTIONS {url}: {response.status_code}")
    for url in DOCUMENTS:
        response = client_for(who).options(url)
        assert response.status_code == 405
        assert_enveloped(response, "method_not_allowed")
        assert response["Allow"] == "GET, HEAD"
    for url in page_urls(rows):
        response = client_for(who).options(url)
        if response.status_code >= 500:
            found.append(f"OPTIONS {url}: {response.status_code}")
        elif response.status_code == 200 and "OPTIONS" not in response.get("Allow", ""):
            found.append(f"OPTIONS {url}: no Allow header")
    assert not found, "\n".join(found)


# --- methods nobody answers -------------------------------------------------------------------

UNANSWERED = ("TRACE", "PROPFIND", "CONNECT", "BREW")


@pytest.mark.parametrize("method", UNANSWERED)
@pytest.mark.parametrize("who", WHO)
def test_a_method_no_route_answers_is_405_with_allow(client_for, rows, unlimited, method, who):
    """405 with the methods the route does answer, before the sign-in, the recent
    authentication, the CSRF check (a PROPFIND was a 403 ``csrf_failed``, audited) or the
    body is looked at; the API's in its envelope. Nothing is written."""
    found = []
    urls = page_urls(rows) + [api_url(e, rows) for e in ENDPOINTS] + DOCUMENTS
    for url in urls:
        client = client_for(who)
        before = writes()
        response = client.generic(method, url, b"<propfind/>",
                                           content_type="application/xml")
        allow = response.get("Allow", "")
        if response.status_code != 405 or not allow or method in allow:
            found.append(f"{url}: {response.status_code} Allow={allow!r}")
            continue
        if url.startswith(API):
            body = response.json()
            if body["error"]["code"] != "method_not_allowed" or set(body) != {"error"}:
                found.append(f"{url}: {body}")
        assert_secure_headers(response)
        if writes() != before:
            found.append(f"{url}: wrote {before} -> {writes()}")
    assert not found, "\n".join(found)


#: The demo's own pages: the home page and the DEBUG-only mailbox, GET and HEAD only.
DEMO_PAGES = ["/", "/mailbox/", "/mailbox/1/"]


def method_page_problems(response, method: str) -> list[str]:
    """What a page's 405 lacks: the suite's error page that names the method refused."""
    found = []
    if not response["Content-Type"].startswith("text/html"):
        found.append(f"a {response['Content-Type']} answer")
    if b"<h1>Method not allowed</h1>" not in response.content:
        found.append(f"no page: {response.content[:200]!r}")
    elif f'Method "{method}" not allowed.' not in html.unescape(response.content.decode()):
        found.append("the method is not named")
    return found


@pytest.mark.parametrize("who", WHO)
def test_a_page_asked_with_a_method_it_does_not_take_says_so(settings, client_for, rows,
                                                             unlimited, who):
    """A browser extension's PUT, a stale form's POST to a page that takes none: the suite's
    error page saying the method is not allowed (Django's 405 is empty), with the ``Allow``
    header and every security header, before the sign-in or the CSRF check (a 403 "Form
    expired" on the demo's pages) are looked at. Nothing is written."""
    settings.DEBUG = True  # the mailbox is there
    targets = [(url_of(route, rows), route.methods) for route in PAGES]
    targets += [(url, ("get",)) for url in DEMO_PAGES]
    found = []
    for url, methods in targets:
        for method in ("PUT", "DELETE", "PATCH", "POST"):
            if method.lower() in methods:
                continue
            client = client_for(who)
            before = writes()
            response = client.generic(method, url, "email=a%40example.com",
                                      content_type="application/x-www-form-urlencoded")
            where = f"{method} {url}"
            allow = response.get("Allow", "")
            if response.status_code != 405 or "GET" not in allow or method in allow:
                found.append(f"{where}: {response.status_code} Allow={allow!r}")
                continue
            found += [f"{where}: {problem}" for problem in method_page_problems(response, method)]
            assert_secure_headers(response)
            if writes() != before:
                found.append(f"{where}: wrote {before} -> {writes()}")
    assert not found, "\n".join(found)


@pytest.mark.urls("tests.core.urls_elsewhere")
def test_a_page_routed_outside_the_suites_namespaces_says_so_too(client_for):
    """The middleware refuses a method first under the suite's namespaces only; a page routed
    elsewhere (the admin's sign-out is the suite's) refuses it itself, with the same page."""
    from tests.core.urls_elsewhere import urlpatterns

    elsewhere = [str(p.pattern) for p in urlpatterns if str(p.pattern).startswith("elsewhere/")]
    assert "elsewhere/accounts/logout/" in elsewhere
    assert "elsewhere/accounts/security/" in elsewhere
    found, refused = [], 0
    client = client_for("signed-in")
    client.get("/accounts/login/")
    token = client.cookies["csrftoken"].value
    for route in elsewhere:
        url = "/" + re.sub(r"<(?:(\w+):)?(\w+)>", "1", route)
        response = client.generic("PATCH", url, HTTP_X_CSRFTOKEN=token)
        if response.status_code != 405:
            continue  # turned away before (a reauthentication first), or a 404 for the row
        refused += 1
        found += [f"{url}: {problem}" for problem in method_page_problems(response, "PATCH")]
    assert not found, "\n".join(found)
    assert refused >= 20, refused


def test_the_api_keeps_its_envelope_for_a_method_it_does_not_take(client_for):
    response = client_for("signed-in").put(API + "session/")
    assert response.status_code == 405
    assert response.json() == {"error": {"code": "method_not_allowed", "fields": {},
                                         "message": 'Method "PUT" not allowed.'}}
    assert response["Allow"] == "GET, HEAD, OPTIONS"


def test_the_allow_header_names_what_the_route_answers(client_for):
    assert client_for("anonymous").generic("TRACE", "/accounts/login/")["Allow"] == (
        "GET, HEAD, OPTIONS, POST")
    assert client_for("anonymous").generic("PROPFIND", API + "emails/")["Allow"] == (
        "GET, POST, HEAD, OPTIONS")
    assert client_for("signed-in").generic("TRACE", "/accounts/email/")["Allow"] == (
        "GET, HEAD, OPTIONS, POST")
    assert client_for("anonymous").generic("BREW", API + "schema/")["Allow"] == "GET, HEAD"


# --- bodies Django will not read --------------------------------------------------------------


def _files(count: int) -> dict:
    files = {}
    for i in range(count):
        upload = io.BytesIO(b"x")
        upload.name = f"f{i}.txt"
        files[f"f{i}"] = upload
    return files


def oversized(settings) -> dict[str, tuple[bytes | str, str, str]]:
    """By name: a body Django refuses to read, its Content-Type, and what the answer says."""
    fields, files = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS, settings.DATA_UPLOAD_MAX_NUMBER_FILES
    size = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    form = "application/x-www-form-urlencoded"
    return {
        "form-fields": ("&".join(f"f{i}=x" for i in range(fields + 1)), form,
                        f"The request body has more than {fields} fields."),
        "multipart-fields": (encode_multipart(BOUNDARY, {f"f{i}": "x" for i in range(fields + 1)}),
                             MULTIPART_CONTENT, f"The request body has more than {fields} fields."),
        "multipart-files": (encode_multipart(BOUNDARY, _files(files + 1)), MULTIPART_CONTENT,
                            f"The request body has more than {files} files."),
        "form-too-large": ("email=" + "a" * size, form,
                           f"The request body is larger than {size} bytes."),
        "multipart-too-large": (encode_multipart(BOUNDARY, {"email": "a" * size}),
                                MULTIPART_CONTENT, f"The request body is larger than {size} bytes."),
    }


@pytest.mark.parametrize("who", WHO)
def test_a_form_django_will_not_read_is_a_413_that_says_why(settings, client_for, rows,
                                                            unlimited, who):
    """Every page that takes a POST, whoever posts: the suite's page with every security
    header and the reason (Django's 400 said nothing), before a sign-in redirect or a flow
    that reads no field (the sign-out) acts on a request it never read."""
    found = []
    for route in PAGES:
        if "post" not in route.methods:
            continue
        url = url_of(route, rows)
        for name, (body, content_type, reason) in oversized(settings).items():
            client = client_for(who)
            client.get("/accounts/login/")  # the CSRF cookie
            token = client.cookies["csrftoken"].value
            before = writes()
            response = client.generic("POST", url, body, content_type=content_type,
                                      HTTP_X_CSRFTOKEN=token)
            where = f"{route} {name}"
            if response.status_code != 413:
                found.append(f"{where}: {response.status_code}")
                continue
            assert_secure_headers(response)
            assert response["Content-Type"].startswith("text/html")
            if reason.encode() not in response.content:
                found.append(f"{where}: no reason in {response.content[:300]!r}")
            if writes() != before:
                found.append(f"{where}: wrote {before} -> {writes()}")
    assert not found, "\n".join(found)


def test_a_sign_out_with_a_body_django_will_not_read_signs_nobody_out(settings, client_for):
    client = client_for("signed-in")
    client.get("/accounts/logout/")
    body, content_type, _reason = oversized(settings)["form-fields"]
    response = client.generic("POST", "/accounts/logout/", body, content_type=content_type,
                              HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    assert response.status_code == 413
    assert client.get(API + "session/").json()["authenticated"] is True


def test_the_csrf_check_reading_the_form_gives_the_same_answer(settings, client_for):
    """A form that carries its token in a field: the CSRF check reads the body too."""
    client = client_for("anonymous")
    client.get("/accounts/login/")
    token = client.cookies["csrftoken"].value
    size = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
    body = f"csrfmiddlewaretoken={token}&" + "&".join(f"f{i}=x" for i in range(size))
    before = writes()
    response = client.generic("POST", "/accounts/login/", body,
                              content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413
    assert f"more than {size} fields".encode() in response.content
    assert writes() == before


#: A form of one field, as multipart with the boundary ``x``.
PART = b'--x\r\nContent-Disposition: form-data; name="email"\r\n\r\na@example.com\r\n--x--\r\n'
NO_BOUNDARY = "The Content-Type header of the request names no valid multipart boundary."
NOT_MULTIPART = "The request body is not valid multipart form data."

#: By name: a multipart body Django cannot parse, its Content-Type, and what the answer says.
MALFORMED_MULTIPART = {
    "no-boundary": (PART, "multipart/form-data", NO_BOUNDARY),
    "empty-boundary": (PART, "multipart/form-data; boundary=", NO_BOUNDARY),
    "boundary-too-long": (PART.replace(b"--x", b"--" + b"x" * 300),
                          "multipart/form-data; boundary=" + "x" * 300, NO_BOUNDARY),
    "boundary-ending-in-a-space": (PART, 'multipart/form-data; boundary="x "', NO_BOUNDARY),
    "non-ascii-header": (PART, "multipart/form-data; boundary=x; name=\u00e9",
                         "The Content-Type header of the request cannot be parsed."),
    "truncated-base64-file": (
        b'--x\r\nContent-Disposition: form-data; name="f"; filename="a.txt"\r\n'
        b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\nQUJD"
        b"RA\r\n--x--\r\n", "multipart/form-data; boundary=x", NOT_MULTIPART),
    "part-headers-too-large": (
        b'--x\r\nContent-Disposition: form-data; name="email"\r\nX-Pad: ' + b"a" * 20_000
        + b"\r\n\r\nv\r\n--x--\r\n", "multipart/form-data; boundary=x", NOT_MULTIPART),
}


@pytest.mark.parametrize("who", WHO)
def test_a_form_django_cannot_parse_is_a_400_that_says_why(client_for, rows, unlimited, who):
    """A bad boundary, a broken part: Django's 400 on the suite's page said only "Bad
    request". Every page that takes a POST, whoever posts, nothing written."""
    found = []
    for route in PAGES:
        if "post" not in route.methods:
            continue
        url = url_of(route, rows)
        for name, (body, content_type, reason) in MALFORMED_MULTIPART.items():
            client = client_for(who)
            client.get("/accounts/login/")  # the CSRF cookie
            before = writes()
            response = client.generic("POST", url, body, content_type=content_type,
                                      HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
            where = f"{route} {name}"
            if response.status_code != 400:
                found.append(f"{where}: {response.status_code}")
                continue
            assert_secure_headers(response)
            assert response["Content-Type"].startswith("text/html")
            if reason not in html.unescape(response.content.decode()):
                found.append(f"{where}: no reason in {response.content[-300:]!r}")
            if writes() != before:
                found.append(f"{where}: wrote {before} -> {writes()}")
    assert not found, "\n".join(found)


def test_a_form_cut_short_between_parts_is_read_as_far_as_it_goes(client_for):
    """Not a 400: Django reads the parts it got, and the form names the fields missing."""
    client = client_for("anonymous")
    client.get("/accounts/login/")
    cut = PART[:PART.index(b"--x--")] + b"--x\r\nContent-Disp"  # a second part, cut short
    before = writes()
    response = client.generic("POST", "/accounts/login/", cut,
                              content_type="multipart/form-data; boundary=x",
                              HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    assert response.status_code == 200
    form = response.context["form"]
    assert form.data["email"] == "a@example.com"
    assert "password" in form.errors
    assert writes() == before


def test_the_api_says_why_its_body_is_too_large(settings):
    """In the words of the pages: it said only "The request body is too large."."""
    size = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    response = Client().post(API + "login/", '{"email": "' + "a" * size + '"}',
                           content_type="application/json")
    assert response.status_code == 413
    assert_enveloped(response, "request_too_large")
    assert response.json()["error"]["message"] == f"The request body is larger than {size} bytes."


# --- Accept -----------------------------------------------------------------------------------

#: By name: an Accept header, and what a JSON endpoint answers to it ("ok": as without one).
ACCEPTS = {
    "absent": (None, "ok"),
    "empty": ("", "ok"),
    "blank-and-commas": (" , ,, ", "ok"),
    "non-ascii-type": ("application/jsön", 406),
    "non-ascii-among-others": ("text/html, é/*, application/json", "ok"),
    "non-ascii-parameter": ("application/json; x=ÿé", "ok"),
    "nul": ("application/json\x00", 406),
    "escape": ("application/json\x1b[2J", 406),
    "line-break": ("application/json\r\nX-Injected: 1", 406),
    "lone-surrogate": ("application/json\udc80", 406),
    "wildcard-junk-weight": ("*/*; q=junk", "ok"),
    "many-ranges-json-first": ("application/json, " + ", ".join(
        f"x{i}/y{i}" for i in range(20_000)), "ok"),
    "many-ranges-json-late": (", ".join(f"x{i}/y{i}" for i in range(100))
                              + ", application/json", 406),
    "one-huge-range": ("application/json; a=" + "b" * 100_000, 406),
    "only-separators": (";" * 10_000, 406),
}


def _get(client, url, accept):
    extra = {} if accept is None else {"HTTP_ACCEPT": accept}
    return client.get(url, **extra)


@pytest.mark.parametrize("name", ACCEPTS)
def test_accept_headers_on_the_api(client_for, rows, name):
    accept, expected = ACCEPTS[name]
    found = []
    for endpoint in ENDPOINTS:
        if "get" not in endpoint.methods:
            continue
        url = api_url(endpoint, rows)
        plain = client_for("signed-in").get(url)
        response = _get(client_for("signed-in"), url, accept)
        want = plain.status_code if expected == "ok" else expected
        if response.status_code != want:
            found.append(f"{url}: {response.status_code}, not {want}")
        elif expected == 406:
            assert_enveloped(response, "not_acceptable")
            # The header is never repeated back.
            if accept and accept[:20].encode("utf-8", "surrogatepass") in response.content:
                found.append(f"{url}: echoes the header")
    assert not found, "\n".join(found)


@pytest.mark.parametrize("name", ACCEPTS)
def test_accept_headers_on_the_schema_and_docs(client_for, name):
    accept, expected = ACCEPTS[name]
    schema = _get(client_for("anonymous"), API + "schema/", accept)
    if expected == "ok":
        assert schema.status_code == 200
        assert schema["Content-Type"].startswith(("application/vnd.oai.openapi",
                                                  "application/json"))
    else:
        assert schema.status_code == 406
        assert_enveloped(schema, "not_acceptable")
    docs = _get(client_for("anonymous"), API + "docs/", accept)
    # The docs are HTML only: an Accept that names no text/html nor a wildcard is a 406.
    assert docs.status_code in (200, 406), docs.status_code
    if docs.status_code == 406:
        assert_enveloped(docs, "not_acceptable")
    if name in ("absent", "empty", "blank-and-commas", "wildcard-junk-weight",
                "non-ascii-among-others"):
        assert docs.status_code == 200, docs.status_code


def test_accept_on_the_pages_is_not_read(client_for, rows):
    for accept, _expected in ACCEPTS.values():
        response = _get(client_for("anonymous"), "/accounts/login/", accept)
        assert response.status_code == 200
