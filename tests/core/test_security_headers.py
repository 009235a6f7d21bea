"""Security headers and cookies, read off real responses; the production profile's settings.

Every auth page and every API answer carries the CSP (no inline script, no framing),
nosniff, a Referrer-Policy, X-Frame-Options and ``Cache-Control: no-store``. The production
profile (authsuite/settings_production.py) is read in a subprocess with the environment it
requires, then applied with override_settings; ``check --deploy`` runs on it unchanged.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client, RequestFactory, override_settings
from django.urls import URLPattern, reverse
from rest_framework.test import APIClient

from accounts import urls as accounts_urls
from authsuite import context
from tests.endpoints import api_endpoints

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
API = "/api/auth/v1/"


# --- what every response must carry -----------------------------------------------------------


def csp_directives(response) -> dict[str, list[str]]:
    header = response.get("Content-Security-Policy")
    assert header, "no Content-Security-Policy header"
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = words[1:]
    return directives


def assert_secure_headers(response) -> None:
    where = f"{response.request['PATH_INFO']} ({response.status_code})"
    csp = csp_directives(response)
    scripts = csp.get("script-src", csp.get("default-src"))
    assert scripts, where
    assert "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts, where
    assert "*" not in scripts and "data:" not in scripts, where
    assert csp.get("frame-ancestors") == ["'none'"], where
    assert csp.get("object-src") == ["'none'"], where
    assert csp.get("base-uri") in (["'none'"], ["'self'"]), where
    assert response.get("X-Content-Type-Options") == "nosniff", where
    assert response.get("Referrer-Policy") in ("same-origin", "strict-origin-when-cross-origin",
                                               "no-referrer", "strict-origin"), where
    assert response.get("X-Frame-Options") == "DENY", where
    # A 302 without freshness information is never stored (RFC 9111), so only answers with a
    # body must say no-store.
    if not 300 <= response.status_code < 400:
        assert "no-store" in response.get("Cache-Control", ""), where


class _Scripts(HTMLParser):
    """Collects inline scripts, inline event handlers and javascript: URLs of a page."""

    def __init__(self):
        super().__init__()
        self.inline: list[str] = []
        self.sources: list[str] = []
        self.links: list[str] = []
        self._in_inline_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name, value in attrs.items():
            if name.startswith("on"):
                self.inline.append(f"<{tag} {name}=...>")
            if value and value.strip().lower().startswith("javascript:"):
                self.inline.append(f"<{tag} {name}={value}>")
        if tag == "script":
            if attrs.get("src"):
                self.sources.append(attrs["src"])
            else:
                self._in_inline_script = True
        if tag == "link" and attrs.get("href"):
            self.links.append(attrs["href"])
        if tag == "img" and attrs.get("src"):
            self.sources.append(attrs["src"])

    def handle_endtag(self, tag):
        self._in_inline_script = False

    def handle_data(self, data):
        if self._in_inline_script and data.strip():
            self.inline.append(data.strip()[:80])


def scripts_of(response) -> _Scripts:
    parser = _Scripts()
    parser.feed(response.content.decode())
    return parser


# --- the pages and API answers to read ----------------------------------------------------------


@pytest.fixture
def recent_client(user, password):
    """Signed in with a fresh authentication record, so every page opens."""
    client = Client()
    client.force_login(user)
    assert client.post(reverse("accounts:reauthenticate"), {"password": password}).status_code == 302
    return client


def page_urls() -> list[str]:
    urls = []
    for pattern in accounts_urls.urlpatterns:
        if not isinstance(pattern, URLPattern):
            continue
        if "<" in str(pattern.pattern):
            urls.append(reverse(f"accounts:{pattern.name}", kwargs={"token": "bogus-token"}))
        else:
            urls.append(reverse(f"accounts:{pattern.name}"))
    return urls


PAGES = page_urls()
PUBLIC_PAGES = ["/accounts/login/", "/accounts/signup/", "/accounts/magic-link/",
                "/accounts/password/reset/", "/accounts/password/reset/sent/",
                "/accounts/signup/verify/", "/accounts/logout/"]


@pytest.mark.parametrize("url", PAGES)
def test_every_page_signed_in(recent_client, url):
    response = recent_client.get(url)
    assert response.status_code in (200, 302, 400), (url, response.status_code)
    assert_secure_headers(response)
    if response["Content-Type"].startswith("text/html"):
        assert scripts_of(response).inline == [], url


@pytest.mark.parametrize("url", PUBLIC_PAGES)
def test_public_pages_signed_out(client, url):
    response = client.get(url)
    assert response.status_code == 200
    assert_secure_headers(response)
    found = scripts_of(response)
    assert found.inline == []
    assert all(src.startswith("/") and not src.startswith("//") for src in found.sources + found.links)


def test_a_form_error_and_a_refused_csrf_are_not_cached(user):
    response = Client().post(reverse("accounts:login"), {"email": "x"})
    assert response.status_code == 200
    assert_secure_headers(response)
    response = Client(enforce_csrf_checks=True).post(reverse("accounts:login"), {"email": "x"})
    assert response.status_code == 403
    assert_secure_headers(response)


@pytest.fixture
def api_client(user, password):
    client = APIClient()
    client.force_login(user)
    assert client.post(API + "reauthenticate/", {"password": password}, format="json").status_code == 200
    return client


@pytest.mark.parametrize("endpoint", api_endpoints(), ids=str)
def test_every_api_endpoint(api_client, endpoint):
    # OPTIONS first, while the session stands: the endpoint's description, never a listing
    # of its serializer's fields
    response = api_client.options(endpoint.url())
    assert response.status_code == 200
    assert_secure_headers(response)
    assert set(response.json()) == {"name", "description", "renders", "parses"}
    for method in endpoint.methods:
        if method == "get":
            response = api_client.get(endpoint.url())
        else:  # an empty object: an error answer for most, which must carry the headers too
            response = api_client.generic(method.upper(), endpoint.url(pk=0), "{}",
                                          content_type="application/json")
        assert response.status_code < 500
        assert_secure_headers(response)
        assert response.status_code == 204 or response["Content-Type"].startswith("application/json")
    response = APIClient().put(endpoint.url(), {}, format="json")
    assert response.status_code in (403, 405)
    assert_secure_headers(response)


@pytest.mark.parametrize(("url", "status"), [
    (API + "schema/", 200), (API + "docs/", 200), (API + "docs/?script=", 200),
    (API + "no-such-endpoint/", 404), (API + "emails/not-a-number/", 404),
])
def test_api_schema_docs_and_not_found(client, url, status):
    response = client.get(url)
    assert response.status_code == status
    assert_secure_headers(response)


def _unreadable_requests(settings):
    """One request of each kind Django cannot read (``authsuite.context.unreadable``)."""
    body = b"email=someone%40example.com&password=x"
    form = "application/x-www-form-urlencoded"
    many = "&".join(f"next=/a{n}/" for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))
    return {
        "charset": lambda client, path: client.generic(
            "POST", path, body, content_type=f"{form}; charset=utf-7"),
        "length": lambda client, path: client.generic(
            "POST", path, body, content_type=form, CONTENT_LENGTH="1e3"),
        "query": lambda client, path: client.get(f"{path}?{many}"),
        # A query decoded as UTF-7: "+2AA-" is a lone surrogate.
        "charset-query": lambda client, path: client.get(
            f"{path}?next=/%2B2AA-", CONTENT_TYPE="text/plain; charset=utf-7"),
        "charset-multipart": lambda client, path: client.generic(
            "POST", f"{path}?next=/%2B2AA-", b"--x--\r\n",
            content_type="multipart/form-data; boundary=x; charset=utf-7"),
        # Django failed building these, before any middleware (content_type_guard).
        "charset-nul": lambda client, path: client.generic(
            "POST", path, body, content_type=f"{form}; charset=utf\x00-8"),
        "charset-nul-encoded": lambda client, path: client.generic(
            "POST", path, body, content_type=f"{form}; charset*=utf-8''%00"),
        "rfc2231-unknown-charset": lambda client, path: client.get(
            path, CONTENT_TYPE="text/plain; title*=no-such-charset''x"),
    }


CHARSET = "The request names a character set other than UTF-8."
CONTENT_TYPE = "The Content-Type header of the request cannot be parsed."
#: What the 400 says to each request of ``_unreadable_requests`` (``limit``:
#: ``DATA_UPLOAD_MAX_NUMBER_FIELDS``).
UNREADABLE_REASONS = {
    "charset": CHARSET,
    "length": "The Content-Length header of the request is not a number.",
    "query": "The query string has more than {limit} fields.",
    "charset-query": CHARSET,
    "charset-multipart": CHARSET,
    "charset-nul": CONTENT_TYPE,
    "charset-nul-encoded": CONTENT_TYPE,
    "rfc2231-unknown-charset": CONTENT_TYPE,
}


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("kind", list(UNREADABLE_REASONS))
@pytest.mark.parametrize("path", ["/accounts/login/", API + "login/", "/no/such/page/"])
def test_a_request_django_cannot_read_is_a_400_with_every_header(settings, user, path, kind,
                                                                  debug):
    # The 400 comes from the whole middleware stack, not from before it: it carries the CSP,
    # X-Frame-Options and the rest like any answer. Signed in, so the session and tracking
    # middleware run too; no CSRF token, and no CSRF refusal either: nothing reads the body.
    # It says why: it gave no reason, and a client could not tell what to change.
    settings.DEBUG = debug
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    client.force_login(user)
    response = _unreadable_requests(settings)[kind](client, path)
    reason = UNREADABLE_REASONS[kind].format(limit=settings.DATA_UPLOAD_MAX_NUMBER_FIELDS)
    assert response.status_code == 400
    assert_secure_headers(response)
    assert response.get("X-Request-ID")
    if path.startswith(API):
        assert response.json()["error"] == {
            "code": "malformed_request", "message": reason, "fields": {}}
    else:
        assert reverse("accounts:sessions").encode() in response.content  # links of the site
        assert reason.encode() in response.content
    # The next request is routed by the site's URLconf again.
    assert client.get(reverse("accounts:sessions")).status_code == 200


@pytest.mark.parametrize("method", ["options", "post", "put", "patch", "delete"])
@pytest.mark.parametrize("url", [API + "schema/", API + "docs/", API + "docs/?script="])
@pytest.mark.parametrize("signed_in", [False, True])
def test_api_schema_and_docs_answer_only_reads(user, url, method, signed_in):
    client = Client(enforce_csrf_checks=True, raise_request_exception=False)
    if signed_in:
        client.force_login(user)  # and no CSRF token: the session is not even consulted
    for accept in ("text/html", "application/json", "*/*", "image/png"):
        response = getattr(client, method)(url, HTTP_ACCEPT=accept)
        assert response.status_code in (405, 406), (accept, response.status_code)
        assert_secure_headers(response)
        # In the API's envelope, whatever the document itself is (YAML, JSON or HTML).
        assert response["Content-Type"] == "application/json"
        code = response.json()["error"]["code"]
        assert code == {405: "method_not_allowed", 406: "not_acceptable"}[response.status_code]


@pytest.mark.parametrize("url, accept, status, code", [
    (API + "schema/", "text/html", 406, "not_acceptable"),
    (API + "schema/", "image/png", 406, "not_acceptable"),
    # ?format= naming what the document has not: a 406, as on every endpoint (it was a 404,
    # for a path that exists).
    (API + "schema/?format=xml", "*/*", 406, "not_acceptable"),
    (API + "schema/?format=openapi", "*/*", 406, "not_acceptable"),
    (API + "docs/", "application/json", 406, "not_acceptable"),
    (API + "docs/?format=json", "*/*", 406, "not_acceptable"),
    (API + "docs/?format=%00", "*/*", 406, "not_acceptable"),
    (API + "session/", "text/html", 406, "not_acceptable"),
    (API + "session/", "image/png", 406, "not_acceptable"),
])
def test_api_documents_refuse_what_they_cannot_give_in_the_envelope(client, url, accept, status,
                                                                    code):
    response = client.get(url, HTTP_ACCEPT=accept)
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == code
    assert_secure_headers(response)


@pytest.mark.parametrize("url, accept, content_type", [
    (API + "schema/", "*/*", "application/vnd.oai.openapi"),
    (API + "schema/", "application/json", "application/json"),
    (API + "schema/?format=json", "*/*", "application/vnd.oai.openapi+json"),
    (API + "docs/", "text/html", "text/html"),
    (API + "docs/", "*/*", "text/html"),
])
def test_api_documents_are_still_served(client, url, accept, content_type):
    response = client.get(url, HTTP_ACCEPT=accept)
    assert response.status_code == 200
    assert response["Content-Type"].split(";")[0] == content_type


def test_api_docs_load_their_assets_locally(client):
    static_url = "/" + settings.STATIC_URL.lstrip("/")
    response = client.get(reverse("authsuite_api:docs"))
    assert response.status_code == 200
    html = response.content.decode()
    found = scripts_of(response)
    assert found.inline == []
    assert found.sources, "the docs page loads no script at all"
    for url in found.sources + found.links:
        assert url.startswith("/") and not url.startswith("//"), url
        if url.startswith(static_url):  # a file this installation serves, not a CDN's
            assert finders.find(urlsplit(url).path[len(static_url):]), url
        else:
            assert client.get(url).status_code == 200, url
    for cdn in ("http://", "https://", "cdn.jsdelivr", "unpkg.com", "cdnjs"):
        assert cdn not in html, cdn
    script = client.get(reverse("authsuite_api:docs") + "?script=")
    assert script["Content-Type"].startswith("application/javascript")


# --- cookies ----------------------------------------------------------------------------------


def test_session_and_csrf_cookies(user, password):
    client = Client()
    response = client.get(reverse("accounts:login"))
    csrf = response.cookies[settings.CSRF_COOKIE_NAME]
    assert csrf["samesite"] == "Lax"
    assert csrf["path"] == "/"
    response = client.post(reverse("accounts:login"), {"email": user.email, "password": password})
    assert response.status_code == 302
    session = response.cookies[settings.SESSION_COOKIE_NAME]
    assert session["httponly"] is True
    assert session["samesite"] == "Lax"
    assert session["path"] == "/"
    assert not session["domain"]


# --- the production profile -------------------------------------------------------------------


def production_env(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k in ("PATH", "HOME", "LANG", "LC_ALL", "PYTHONPATH", "VIRTUAL_ENV")}
    env.update({
        "DJANGO_SETTINGS_MODULE": "authsuite.settings_production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "AUTHSUITE_AUDIT_SIGNING_KEY": secrets.token_urlsafe(32),
        "AUTHSUITE_MFA_ENCRYPTION_KEY": secrets.token_urlsafe(32),
        "ALLOWED_HOSTS": "id.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'prod.sqlite3'}",
        "EMAIL_URL": "smtp+tls://mailer:secret@smtp.example.com:587",
        "AUTHSUITE_VAR_DIR": str(tmp_path / "var"),
        "CSRF_TRUSTED_ORIGINS": "https://id.example.com",
    })
    return env


PRODUCTION_NAMES = [
    "DEBUG", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SESSION_COOKIE_NAME", "CSRF_COOKIE_NAME",
    "SESSION_COOKIE_HTTPONLY", "CSRF_COOKIE_HTTPONLY", "SESSION_COOKIE_SAMESITE",
    "CSRF_COOKIE_SAMESITE", "SECURE_SSL_REDIRECT", "SECURE_PROXY_SSL_HEADER", "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD", "SECURE_CONTENT_TYPE_NOSNIFF",
    "SECURE_REFERRER_POLICY", "X_FRAME_OPTIONS", "CONTENT_SECURITY_POLICY",
    "AUTHSUITE_TRUSTED_PROXY_COUNT", "INSTALLED_APPS", "CSRF_TRUSTED_ORIGINS", "SESSION_ENGINE",
    "AUTHSUITE_ACCOUNTS_LOCKOUT_DEVICE_COOKIE_NAME", "AUTHSUITE_MFA_TRUST_COOKIE_NAME",
]


@pytest.fixture(scope="module")
def production(tmp_path_factory) -> dict:
    """The production profile's values, read by importing it in a clean interpreter."""
    code = (
        "import json, authsuite.settings_production as s\n"
        f"print(json.dumps({{n: getattr(s, n) for n in {PRODUCTION_NAMES!r}}}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=production_env(tmp_path_factory.mktemp("prod")),
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    values["SECURE_PROXY_SSL_HEADER"] = tuple(values["SECURE_PROXY_SSL_HEADER"])
    return values


def test_production_profile_values(production):
    assert production["DEBUG"] is False
    assert "authsuite.mailbox" not in production["INSTALLED_APPS"]
    assert production["SESSION_COOKIE_NAME"].startswith("__Host-")
    assert production["CSRF_COOKIE_NAME"].startswith("__Host-")
    assert production["AUTHSUITE_ACCOUNTS_LOCKOUT_DEVICE_COOKIE_NAME"].startswith("__Host-")
    assert production["AUTHSUITE_MFA_TRUST_COOKIE_NAME"].startswith("__Host-")
    assert production["SESSION_COOKIE_SECURE"] is production["CSRF_COOKIE_SECURE"] is True
    assert production["SECURE_HSTS_SECONDS"] >= 31536000
    assert production["SECURE_SSL_REDIRECT"] is True
    assert production["SESSION_ENGINE"] == "accounts.session_store"  # no REDIS_URL here


def test_production_keeps_sessions_in_redis_when_it_has_one(tmp_path):
    env = {**production_env(tmp_path), "REDIS_URL": "redis://redis.internal:6379/0"}
    code = "import authsuite.settings_production as s; print(s.SESSION_ENGINE, s.CACHES)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    engine, _, caches = result.stdout.strip().partition(" ")
    assert engine == "accounts.session_cache"
    assert "django_redis" in caches


@pytest.fixture
def in_production(production):
    values = {k: v for k, v in production.items() if k not in ("DEBUG", "INSTALLED_APPS")}
    with override_settings(**values, ALLOWED_HOSTS=["id.example.com"]):
        yield


def https_client() -> Client:
    return Client(HTTP_HOST="id.example.com", HTTP_X_FORWARDED_PROTO="https",
                  HTTP_X_FORWARDED_FOR="203.0.113.9")


def test_production_cookies_are_secure_host_cookies(in_production, user, password):
    client = https_client()
    response = client.get(reverse("accounts:login"))
    assert response.status_code == 200
    assert_secure_headers(response)
    hsts = response["Strict-Transport-Security"]
    assert "max-age=63072000" in hsts and "includeSubDomains" in hsts and "preload" in hsts

    response = client.post(reverse("accounts:login"), {"email": user.email, "password": password})
    assert response.status_code == 302
    assert "sessionid" not in response.cookies and "csrftoken" not in response.cookies
    assert "authsuite_device" not in response.cookies
    for name in ("__Host-sessionid", "__Host-csrftoken", "__Host-authsuite_device"):
        cookie = response.cookies[name]
        # The __Host- prefix: browsers accept it only Secure, with Path=/ and no Domain.
        assert cookie["secure"] is True, name
        assert cookie["path"] == "/", name
        assert not cookie["domain"], name
        assert cookie["httponly"] is True, name
        assert cookie["samesite"] == "Lax", name


def test_production_redirects_plain_http(in_production):
    response = Client(HTTP_HOST="id.example.com").get(reverse("accounts:login"))
    assert response.status_code == 301
    assert response["Location"] == "https://id.example.com/accounts/login/"


def test_production_api_answers_carry_hsts(in_production, user, password):
    client = APIClient(HTTP_HOST="id.example.com", HTTP_X_FORWARDED_PROTO="https")
    response = client.post(API + "login/", {"email": user.email, "password": password}, format="json")
    assert response.status_code == 200
    assert "max-age=" in response["Strict-Transport-Security"]
    assert response.cookies["__Host-sessionid"]["secure"] is True
    assert_secure_headers(response)


@pytest.mark.own_settings  # manage.py in a process of its own, on the settings named
def test_check_deploy_passes_on_the_production_profile(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        # REDIS_URL, which the profile requires: the local-memory cache it falls back to
        # without one is each process's own (authsuite.W006). The checks do not connect.
        cwd=ROOT, env={**production_env(tmp_path), "REDIS_URL": "redis://127.0.0.1:6379/0"},
        capture_output=True, text=True, timeout=300, check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in output, output


# --- request id and client IP -----------------------------------------------------------------


def test_every_response_has_a_request_id(client):
    first = client.get(reverse("accounts:login"))["X-Request-ID"]
    second = client.get(API + "session/")["X-Request-ID"]
    assert len(first) == 32 and int(first, 16) >= 0
    assert first != second
    assert client.get(API + "nope/")["X-Request-ID"]


def test_a_well_formed_request_id_is_kept(client):
    response = client.get(reverse("accounts:login"), HTTP_X_REQUEST_ID="trace-0123456789.abc_DEF")
    assert response["X-Request-ID"] == "trace-0123456789.abc_DEF"


@pytest.mark.parametrize("supplied", [
    "short", "x" * 65, "bad id with spaces", "evil\r\nSet-Cookie: a=b", "id;drop", "<script>",
    "\u00e9t\u00e9-12345678", "",
])
def test_a_malformed_request_id_is_replaced(client, supplied):
    response = client.get(reverse("accounts:login"), HTTP_X_REQUEST_ID=supplied)
    request_id = response["X-Request-ID"]
    assert request_id != supplied
    assert len(request_id) == 32 and int(request_id, 16) >= 0


def _ip(remote_addr: str, forwarded: str | None = None) -> str | None:
    meta = {"REMOTE_ADDR": remote_addr}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return context.client_ip(RequestFactory().get("/", **meta))


@pytest.mark.parametrize(("proxies", "remote", "forwarded", "expected"), [
    # No trusted proxy: X-Forwarded-For is the client's to forge, so it is ignored.
    (0, "198.51.100.7", None, "198.51.100.7"),
    (0, "198.51.100.7", "203.0.113.1", "198.51.100.7"),
    (0, "2001:db8::1", "203.0.113.1", "2001:db8::1"),
    (0, "not-an-ip", None, None),
    # One proxy: the right-most entry, the one it appended.
    (1, "10.0.0.2", "203.0.113.1", "203.0.113.1"),
    (1, "10.0.0.2", "1.2.3.4, 203.0.113.1", "203.0.113.1"),
    (1, "10.0.0.2", "203.0.113.1, 2001:db8::5", "2001:db8::5"),
    (1, "10.0.0.2", None, "10.0.0.2"),
    (1, "10.0.0.2", "", "10.0.0.2"),
    (1, "10.0.0.2", "garbage", "10.0.0.2"),
    (1, "10.0.0.2", "1.2.3.4, <script>", "10.0.0.2"),
    # Two proxies: the second from the right; anything further left is the client's claim.
    (2, "10.0.0.3", "6.6.6.6, 203.0.113.1, 10.0.0.2", "203.0.113.1"),
    (2, "10.0.0.3", "203.0.113.1", "10.0.0.3"),
    # A zone id names an interface of whoever wrote it: the client is the address alone.
    (0, "fe80::1%eth0", None, "fe80::1"),
    (0, "fe80::1%" + "z" * 5000, None, "fe80::1"),
    (0, "2001:db8::7%\x00\r\n\x1b[2J", None, "2001:db8::7"),
    (0, "fe80::1%", None, None),
    (0, "198.51.100.7%eth0", None, None),
    (1, "10.0.0.2", "2001:db8::5%" + "z" * 5000, "2001:db8::5"),
    (1, "10.0.0.2", "6.6.6.6, fe80::5%eth1", "fe80::5"),
    (1, "fe80::2%eth0", "garbage", "fe80::2"),
    (2, "10.0.0.3", "2001:db8::9%1, 10.0.0.2", "2001:db8::9"),
])
def test_client_ip(proxies, remote, forwarded, expected):
    with override_settings(AUTHSUITE_TRUSTED_PROXY_COUNT=proxies):
        assert _ip(remote, forwarded) == expected


def test_the_resolved_ip_is_what_a_session_records(client, user, password):
    from accounts.models import UserSession

    with override_settings(AUTHSUITE_TRUSTED_PROXY_COUNT=1):
        response = client.post(reverse("accounts:login"), {"email": user.email, "password": password},
                               REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.50")
    assert response.status_code == 302
    assert UserSession.objects.get(user=user).ip == "203.0.113.50"


def test_a_forged_forwarded_for_is_ignored_without_a_trusted_proxy(client, user, password):
    from accounts.models import UserSession

    response = client.post(reverse("accounts:login"), {"email": user.email, "password": password},
                           REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR="203.0.113.50")
    assert response.status_code == 302
    assert UserSession.objects.get(user=user).ip == "198.51.100.7"


@pytest.mark.parametrize("path", ["/accounts/login/", "/accounts/signup/", "/accounts/magic-link/",
                                  "/accounts/password/reset/"])
def test_a_query_in_another_charset_is_refused_before_anything_is_written(client, user, password,
                                                                          path):
    from accounts.models import UserSession
    from audit.models import Event

    events = Event.objects.count()
    body = f"email={user.email}&password={password}".replace("@", "%40").encode()
    response = client.generic("POST", f"{path}?next=/%2B2AA-", body,
                              content_type="application/x-www-form-urlencoded; charset=UTF-7")
    assert response.status_code == 400
    assert not UserSession.objects.exists()
    assert Event.objects.count() == events
    for charset in ("utf-8", "UTF-8", "utf8"):
        ok = client.get(f"{path}?next=/a/", CONTENT_TYPE=f"text/plain; charset={charset}")
        assert ok.status_code == 200
