"""Bad input to every HTML form page under /accounts/.

A bad submission shows the form again with an error on the field at fault (or a 400 page for
a body Django refuses to parse), never a 500, and writes nothing. The pages are read from the
URLconf: a new form page fails ``test_every_form_page_is_covered`` until it has a setup here.
"""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

import pytest
from django import forms
from django.test import Client
from django.test.client import MULTIPART_CONTENT
from django.urls import URLPattern, reverse
from django.utils.html import escape
from django.views.generic.edit import FormView

from accounts import links, tokens
from accounts import urls as accounts_urls
from accounts.app_settings import app_settings
from accounts.flows.magic_link import REAUTH_SESSION_KEY
from accounts.forms import CleanTextMixin
from accounts.models import EmailAddress, PasswordChangeRequired, UserSession
from tests.accounts.db_state import snapshot
from tests.conftest import STRONG_PASSWORD
from tests.helpers import link_form, open_link

pytestmark = pytest.mark.django_db

FORM_URLENCODED = "application/x-www-form-urlencoded"
NEW_PASSWORD = "another quite long passphrase 2024"

# How each form page is reached: who is signed in, and which token its URL carries.
SETUP = {
    "login": "anonymous",
    "signup": "anonymous",
    "magic_link": "anonymous",
    "password_reset": "anonymous",
    "reauthenticate": "signed_in",
    "email": "signed_in",
    "password_change": "recent",
    "close": "recent",
    "password_change_required": "pending",
    "password_reset_confirm": "reset_token",
    "magic_link_confirm": "magic_token",
    "email_verify": "verify_token",
    "reauthenticate_confirm": "reauth_token",
}

PAGES = {
    p.name: p.callback.view_class
    for p in accounts_urls.urlpatterns
    if isinstance(p, URLPattern) and hasattr(p.callback, "view_class")
}
FORM_PAGES = sorted(name for name, view in PAGES.items() if issubclass(view, FormView))


def test_every_form_page_is_covered():
    assert set(FORM_PAGES) == set(SETUP)


class LinkPageClient(Client):
    """A browser on an emailed link's confirmation page: what it posts carries the page's
    reference to its link, as the page's form does."""

    link_reference = ""

    def post(self, path, data=None, content_type=MULTIPART_CONTENT, *args, **kwargs):
        if isinstance(data, dict):
            data = {"link": self.link_reference, **data}
        elif isinstance(data, str) and content_type == FORM_URLENCODED:
            data = f"link={self.link_reference}&{data}"
        return super().post(path, data, content_type, *args, **kwargs)


@pytest.fixture
def open_page(user, password):
    """``open_page(name)`` -> (client, url) of that page, set up as a real visitor reaches it."""

    def open_(name: str):
        client = Client()
        how = SETUP[name]
        kwargs = {}
        if how in ("signed_in", "recent"):
            client.force_login(user)
            assert client.get(reverse("accounts:profile")).status_code == 200
        if how == "recent":
            response = client.post(reverse("accounts:reauthenticate"), {"password": password})
            assert response.status_code == 302
        if how == "pending":
            PasswordChangeRequired.objects.create(user=user)
            response = client.post(reverse("accounts:login"),
                                   {"email": user.email, "password": password})
            assert response["Location"] == reverse("accounts:password_change_required")
        if how == "reauth_token":
            # Asked for in this browser, signed in as its account, as the flow requires.
            client = LinkPageClient()
            client.force_login(user)
            token = tokens.token_issue(user=user, purpose=tokens.Purpose.REAUTHENTICATE,
                                       email=user.email, lifetime=600)
            session = client.session
            session[REAUTH_SESSION_KEY] = links.reference(token)
            session.save()
            page, url = open_link(client, reverse(f"accounts:{name}", kwargs={"token": token}))
            client.link_reference = link_form(page)["link"]
            return client, url
        purpose = {"reset_token": tokens.Purpose.PASSWORD_RESET,
                   "magic_token": tokens.Purpose.MAGIC_LINK,
                   "verify_token": tokens.Purpose.VERIFY_EMAIL}.get(how)
        if purpose:
            token = tokens.token_issue(user=user, purpose=purpose, email=user.email,
                                       lifetime=600)
            # As a browser opens the link: the token moves into the session, and the form
            # is posted to the confirm URL that stands for it, with the page's reference.
            client = LinkPageClient()
            page, url = open_link(client, reverse(f"accounts:{name}", kwargs={"token": token}))
            client.link_reference = link_form(page)["link"]
            return client, url
        return client, reverse(f"accounts:{name}", kwargs=kwargs)

    return open_


def form_fields(name: str) -> dict[str, forms.Field]:
    return dict(PAGES[name].form_class().fields)


def base_values(name: str) -> dict[str, str]:
    values = {}
    for field_name, field in form_fields(name).items():
        if field_name == app_settings.SIGNUP_HONEYPOT_FIELD:
            values[field_name] = ""
        elif isinstance(field, forms.EmailField):
            values[field_name] = "new.address@example.com"
        elif isinstance(field, forms.BooleanField):
            values[field_name] = "on"
        elif field_name.startswith("new_password"):
            values[field_name] = NEW_PASSWORD
        elif "password" in field_name:
            values[field_name] = STRONG_PASSWORD
        else:
            values[field_name] = "Ann"
    return values


def assert_shows_field_error(response, field: str | None) -> None:
    assert response.status_code == 200, response.status_code
    form = response.context["form"]
    key = field or "__all__"
    assert key in form.errors, (field, form.errors)
    html = response.content.decode()
    for message in form.errors[key]:
        assert escape(message) in html


# --- one bad field at a time ----------------------------------------------------------------

NOT_AN_EMAIL = [
    "ann", "ann@", "@example.com", "ann@@example.com", "ann example@example.com",
    "\U0001f469\u200d\U0001f4bb@example.com", "\u202eann@example.com", "a\u0301nn@example.com",
    "ann@example.com\r\nBcc: eve@example.com", "' OR '1'='1' --@example.com",
    "ann'; DROP TABLE accounts_user;--", '"><script>alert(1)</script>', "../../etc/passwd",
]


def _field_cases(name: str):
    text_form = issubclass(PAGES[name].form_class, CleanTextMixin)
    for field_name, field in form_fields(name).items():
        if field.required:
            yield field_name, "missing", None
        if isinstance(field, forms.BooleanField):
            continue
        yield field_name, "nul", "abc\x00def"
        if field.max_length:
            yield field_name, "overlong", "a" * (field.max_length + 1)
        if isinstance(field, forms.EmailField):
            for value in NOT_AN_EMAIL:
                yield field_name, "not-an-email", value
            yield field_name, "several-values", ["ann", "eve@"]
        elif text_form and "password" not in field_name:
            for value in ["\x01", "Ann\nAnn", "Ann\x1b[31m", "Ann\x7f"]:
                yield field_name, "control-character", value


@pytest.mark.parametrize(("page", "field", "kind", "value"), [
    pytest.param(page, field, kind, value, id=f"{page}-{field}-{kind}-{i}")
    for page in FORM_PAGES for i, (field, kind, value) in enumerate(_field_cases(page))
])
def test_one_bad_field(open_page, page, field, kind, value):
    client, url = open_page(page)
    data = base_values(page)
    if kind == "missing":
        del data[field]
    else:
        data[field] = value
    before = snapshot()
    response = client.post(url, data)
    assert_shows_field_error(response, field)
    assert "<script>" not in response.content.decode()
    assert snapshot() == before


# --- bodies that are not a well-formed form -------------------------------------------------


def _raw(page: str, field: str, raw_value: str) -> str:
    data = base_values(page)
    data.pop(field)
    return urlencode(data) + f"&{field}={raw_value}"


def _email_field(page: str) -> str | None:
    return next((n for n, f in form_fields(page).items() if isinstance(f, forms.EmailField)), None)


EMAIL_PAGES = [p for p in FORM_PAGES if _email_field(p)]
FIELD_PAGES = [p for p in FORM_PAGES if form_fields(p)]


@pytest.mark.parametrize("page", EMAIL_PAGES)
@pytest.mark.parametrize("raw_value", [
    "%FF%FE%FD",  # not UTF-8
    "%ED%A0%80%40example.com",  # a lone surrogate, UTF-8-encoded the forbidden way
    "ann%00%40example.com",
    "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
])
def test_undecodable_text(open_page, page, raw_value):
    client, url = open_page(page)
    field = _email_field(page)
    before = snapshot()
    response = client.post(url, _raw(page, field, raw_value), content_type=FORM_URLENCODED)
    assert_shows_field_error(response, field)
    assert snapshot() == before


@pytest.mark.parametrize("page", FIELD_PAGES)
def test_json_body_is_an_empty_form(open_page, page):
    client, url = open_page(page)
    before = snapshot()
    response = client.post(url, json.dumps(base_values(page)), content_type="application/json")
    if isinstance(client, LinkPageClient):
        # Not even the page's reference to its link arrives: refused before the form.
        assert response.status_code == 400
        assert b"Another link was opened in this browser" in response.content
    else:
        required = [n for n, f in form_fields(page).items() if f.required]
        assert_shows_field_error(response, required[0])
    assert snapshot() == before


@pytest.mark.parametrize("page", FORM_PAGES)
@pytest.mark.parametrize(("case", "body"), [
    ("ten-megabytes", "email=" + "a" * (10 * 1024 * 1024)),
    ("too-many-fields", "&".join(f"f{i}=1" for i in range(1000))),
])
def test_body_django_refuses_to_parse(open_page, page, case, body):
    client, url = open_page(page)
    before = snapshot()
    response = client.post(url, body, content_type=FORM_URLENCODED)
    # As the API answers it: too large, and why (tests/core/test_method_sweep.py).
    assert response.status_code == 413
    assert b"Request too large" in response.content
    assert snapshot() == before


# --- wrong methods, bogus tokens, bogus choices ---------------------------------------------

ALL_PAGES = sorted(PAGES)


@pytest.mark.parametrize("page", ALL_PAGES)
@pytest.mark.parametrize("method", ["put", "patch", "delete", "trace"])
def test_wrong_method(open_page, page, method):
    if page in SETUP:
        client, url = open_page(page)
        body = urlencode(base_values(page))
    else:  # the pages without a form, as a signed-in user with a fresh authentication
        client, _ = open_page("close")
        url, body = reverse(f"accounts:{page}"), ""
    before = snapshot()
    response = client.generic(method.upper(), url, body, content_type=FORM_URLENCODED)
    assert response.status_code == 405, response.status_code
    assert snapshot() == before


TOKEN_PAGES = ["magic_link_confirm", "email_verify", "password_reset_confirm"]
BOGUS_TOKENS = [
    "x", "x" * 10_000, quote("\u00e9t\u00e9"), quote("\U0001f4a9"), "%00", "%ED%A0%80", "%FF",
    "....", "%2e%2e", "..%2F..%2Fetc%2Fpasswd", quote("' OR 1=1 --"), quote("<script>"),
    quote("\u202e\u0301"),
]


@pytest.mark.parametrize("page", TOKEN_PAGES)
@pytest.mark.parametrize("bogus", BOGUS_TOKENS)
@pytest.mark.parametrize("method", ["get", "post"])
def test_bogus_token_in_path(client, user, page, bogus, method):
    url = reverse(f"accounts:{page}", kwargs={"token": "TOKEN"}).replace("TOKEN", bogus)
    before = snapshot()
    response = getattr(client, method)(url, {"new_password": NEW_PASSWORD,
                                             "new_password_confirm": NEW_PASSWORD})
    if "%2F" in bogus:  # a slash: no route matches
        assert response.status_code == 404
    else:
        assert response.status_code == 400
        assert "accounts/token_invalid.html" in [t.name for t in response.templates]
    assert snapshot() == before


@pytest.mark.parametrize(("action", "address"), [
    ("remove", ""), ("remove", "abc"), ("remove", "99999999999999999999999999"),
    ("remove", "9" * 5000), ("remove", "-1"), ("resend", "1.5"), ("primary", "0"),
    ("explode", "1"), ("", "1"), ("\x00", "1"), ("remove", "\x00"),
])
def test_email_page_bogus_choices(open_page, action, address):
    client, url = open_page("close")  # signed in with a fresh authentication record
    before = snapshot()
    response = client.post(reverse("accounts:email"), {"action": action, "address": address})
    assert response.status_code in (200, 302)
    assert snapshot() == before


ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def spelled_otherwise(pk: int) -> list[str]:
    """Spellings of ``pk`` that ``int()`` reads as ``pk`` and no page writes."""
    return [str(pk).translate(ARABIC_INDIC), f" {pk} ", f"+{pk}", f"{pk}\n", f"0_{pk}"]


@pytest.mark.parametrize("action", ["remove", "resend", "primary"])
def test_email_page_refuses_an_address_id_spelled_otherwise(open_page, user, action):
    # Ids are ASCII digits, as every other page takes them: one spelled otherwise is no
    # choice, not the address of that number.
    client, _ = open_page("close")
    other = EmailAddress.objects.create(user=user, email="second@example.com",
                                        verified=action == "primary")
    before = snapshot()
    for spelled in spelled_otherwise(other.pk):
        response = client.post(reverse("accounts:email"), {"action": action, "address": spelled})
        assert response.status_code == 302, spelled
        assert [str(m) for m in response.wsgi_request._messages][-1] == "Choose an address."
    assert snapshot() == before


def test_sessions_page_refuses_a_session_id_spelled_otherwise(open_page, user, password):
    client, _ = open_page("close")
    other = Client()
    other.post(reverse("accounts:login"), {"email": user.email, "password": password})
    row = UserSession.objects.filter(user=user, ended_at__isnull=True).order_by("-pk").first()
    before = snapshot()
    for spelled in spelled_otherwise(row.pk):
        response = client.post(reverse("accounts:sessions"), {"session": spelled})
        assert response["Location"] == reverse("accounts:sessions")
        assert [str(m) for m in response.wsgi_request._messages][-1] == "Choose a session."
    assert snapshot() == before
    assert UserSession.objects.filter(user=user, ended_at__isnull=True).count() == 2


@pytest.mark.parametrize("session", [
    "", "abc", "99999999999999999999999999", "9" * 5000, "-1", "1.5", "\x00", "Others", "ALL",
    "1 OR 1=1",
])
def test_sessions_page_bogus_choice(open_page, user, session):
    client, _ = open_page("close")  # recent: ending another session needs it
    before = snapshot()
    response = client.post(reverse("accounts:sessions"), {"session": session})
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:sessions")
    assert snapshot() == before
    assert UserSession.objects.filter(user=user, ended_at__isnull=True).count() == 1


# --- CSRF --------------------------------------------------------------------------------------


def test_csrf_is_enforced_on_the_sign_in_form(user, password):
    client = Client(enforce_csrf_checks=True)
    before = snapshot()
    response = client.post(reverse("accounts:login"), {"email": user.email, "password": password})
    assert response.status_code == 403
    assert b"Form expired" in response.content
    assert snapshot() == before  # no session either (reading client.session would create one)

    page = client.get(reverse("accounts:login"))
    token = page.context["csrf_token"]
    response = client.post(reverse("accounts:login"), {
        "email": user.email, "password": password, "csrfmiddlewaretoken": str(token),
    })
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


def test_csrf_is_enforced_for_signed_in_forms(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.get(reverse("accounts:sessions")).status_code == 200
    before = snapshot()
    for name, data in [("sessions", {"session": "all"}), ("logout", {}),
                       ("email", {"email": "new.address@example.com"})]:
        response = client.post(reverse(f"accounts:{name}"), data)
        assert response.status_code == 403, name
    assert snapshot() == before
    assert client.get(reverse("accounts:sessions")).status_code == 200


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("charset", ["utf-7", "latin-1", "no-such-charset"])
@pytest.mark.parametrize("path", ["/accounts/login/", "/accounts/signup/",
                                  "/api/auth/v1/login/"])
def test_a_form_body_in_another_charset_is_a_400(settings, user, path, charset, debug):
    # Django reads urlencoded bodies as UTF-8 only; its DEBUG error page used to fail on
    # such a body in turn (a 500 in the demo).
    settings.DEBUG = debug
    before = snapshot()
    response = Client(raise_request_exception=False).generic(
        "POST", path, f"email={user.email}&password={STRONG_PASSWORD}".encode(),
        content_type=f"application/x-www-form-urlencoded; charset={charset}")
    assert response.status_code == 400
    if path.startswith("/api/"):
        assert response.json()["error"]["code"] == "malformed_request"
    assert snapshot() == before


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("path", ["/accounts/login/", "/api/auth/v1/login/"])
@pytest.mark.parametrize("length", ["abc", "1e3", "-5", "١٢"])
def test_a_content_length_that_is_no_number_is_a_400(settings, user, path, length, debug):
    settings.DEBUG = debug
    response = Client(raise_request_exception=False).generic(
        "POST", path, f"email={user.email}&password=x".encode(),
        content_type="application/x-www-form-urlencoded", CONTENT_LENGTH=length)
    assert response.status_code == 400


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("path", ["/accounts/login/", "/accounts/magic-link/",
                                  "/api/auth/v1/session/"])
def test_more_query_fields_than_allowed_is_a_400(settings, path, debug):
    settings.DEBUG = debug
    query = "&".join(f"next=/a{n}/" for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))
    response = Client(raise_request_exception=False).get(f"{path}?{query}")
    assert response.status_code == 400
