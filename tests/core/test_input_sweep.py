"""A sweep of bad input over every route the suite serves: pages, the JSON API, the admin's
own views and the DEBUG mailbox.

The modules next to each app test their forms and endpoints in depth; this one is the
net under them. Every route read from the URLconf, every method it answers, each way a
visitor can come (signed out, signed in, signed in moments ago, with a sign-in waiting at a
stage; staff for the admin) gets the same junk: bodies that are no JSON object, fields of
the wrong type, text with NUL, controls, lone surrogates, bidi and combining marks, emoji,
SQL and HTML, values far too long, keys given twice, a charset that does not exist or a
Content-Type Django cannot parse, and the same junk in the query string. Whatever arrives,
the answer is never a 5xx; the API answers a 4xx in its envelope with a documented code;
and a refused request leaves the database as it was.

A visitor turned away for who they are (a 403 ``not_authenticated``, a redirect to the
sign-in page) gets a few cases only: nothing they send is read.

The headers get their own junk, as a server hands it over (ISO-8859-1 text of whatever
bytes came, UTF-8 or not): in User-Agent, Accept-Language, X-Forwarded-For (read behind a
trusted proxy; an IPv6 zone id of any length and content), the cookies Django and the suite
read, and Host. None is a 5xx; a Host not in ``ALLOWED_HOSTS``, or no host at all, is a 400.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from types import SimpleNamespace
from urllib.parse import quote

import pytest
from django.apps import apps
from django.db import connection
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from accounts import authrecord
from accounts.models import EmailAddress, PasswordChangeRequired
from authsuite.api.schema import error_codes
from mfa.models import TrustedBrowser
from passkeys.models import Passkey
from tests.factories import UserFactory
from tests.mfa.support import enroll

pytestmark = pytest.mark.django_db

API = "/api/auth/v1/"
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"

# --- the routes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    template: str  # "api/auth/v1/emails/<int:pk>/", as the URLconf spells it
    methods: tuple[str, ...]
    #: By method, the fields its form or serializer reads: none when it reads no body.
    fields: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.template

    @property
    def kind(self) -> str:
        if self.template.startswith(API[1:]):
            return "api"
        return "admin" if self.template.startswith("admin/") else "page"


def _walk(patterns, prefix=""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route, pattern


def _suite_admin(pattern: URLPattern) -> bool:
    """An admin view the suite wrote (its own views, the views it overrides), or the list of
    one of its models (with the suite's filters and actions)."""
    callback = pattern.callback
    if not callback.__module__.startswith("django."):
        return True
    model_admin = getattr(callback, "model_admin", None)
    return (model_admin is not None and not type(model_admin).__module__.startswith("django.")
            and (pattern.name or "").endswith("_changelist"))


def _methods(view) -> tuple[str, ...]:
    names = getattr(view, "http_method_names", ["get", "post"])
    return tuple(m for m in ("get", "post", "put", "patch", "delete")
                 if m in names and hasattr(view, m))


def _api_fields() -> dict[tuple[str, str], tuple[str, ...]]:
    """(path with ``{}`` for each parameter, method) -> the fields of its request body, as
    the OpenAPI schema documents them."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    found = {}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            body = (operation.get("requestBody", {}).get("content", {})
                    .get(JSON, {}).get("schema", {}))
            if "$ref" in body:
                body = components[body["$ref"].rsplit("/", 1)[-1]]
            found[re.sub(r"{[^}]+}", "{}", path), method] = tuple(body.get("properties", ()))
    return found


def routes() -> list[Route]:
    """Every route of the URLconf but Django's own catch-alls, and of the admin the suite's
    views only."""
    api_fields = _api_fields()
    found = []
    for template, pattern in _walk(get_resolver().url_patterns):
        if template.startswith("^") or "(?P" in template:
            continue  # Django's own catch-alls
        view = getattr(pattern.callback, "view_class", None)
        if template.startswith("admin/"):
            if _suite_admin(pattern):
                found.append(Route(template, ("get", "post")))
        elif template.startswith(API[1:]):
            path = "/" + re.sub(r"<[^>]+>", "{}", template)
            methods = _methods(view)
            found.append(Route(template, methods,
                               {m: api_fields.get((path, m), ()) for m in methods}))
        elif view is not None:
            form = getattr(view, "form_class", None)
            fields = tuple(form().fields) if form else ()
            found.append(Route(template, _methods(view), {"post": fields}))
        else:
            found.append(Route(template, ("get", "post")))
    return found


ROUTES = routes()


def test_the_sweep_sees_every_app():
    templates = {r.template for r in ROUTES}
    for expected in ("accounts/login/", "mfa/challenge/", "passkeys/", "accounts/security/alerts/",
                     "api/auth/v1/passkeys/<int:pk>/", "api/auth/v1/security/events/",
                     "admin/audit/event/export/<str:fmt>/", "mailbox/<int:pk>/", ""):
        assert expected in templates, expected
    assert len(ROUTES) > 80


# --- who is asking ----------------------------------------------------------------------------


@pytest.fixture
def rows(user):
    """By path: one row of the user's behind each path with an id, so that a route reaches
    its row (and reads what it was sent) rather than answering 404 first."""
    second = EmailAddress.objects.create(user=user, email="second@example.com", verified=True)
    passkey = Passkey.objects.create(user=user, credential_id="sweep-credential",
                                     public_key=b"\x00", name="Key")
    browser = TrustedBrowser.objects.create(user=user, digest="1" * 64,
                                            expires_at=timezone.now() + timedelta(days=30))
    return {
        "api/auth/v1/emails/": second.pk,
        "api/auth/v1/mfa/trusted-browsers/": browser.pk,
        "api/auth/v1/passkeys/": passkey.pk,
        "admin/passkeys/passkey/": passkey.pk,
        "admin/accounts/user/": user.pk,
    }


def url_of(route: Route, rows: dict) -> str:
    """The route's path, its parameters filled: the user's row, a token no link carried."""

    def fill(match: re.Match) -> str:
        converter, name = match.groups()
        if name == "fmt":
            return "csv"
        if converter == "str":
            return "x"
        prefix = route.template[:match.start()]
        return str(rows.get(prefix, 999_999))

    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", fill, route.template)


@pytest.fixture
def unlimited(settings):
    """No rate limits: a 429 would hide how the routes answer the junk after it (the limits
    are tested on their own)."""
    from accounts.app_settings import DEFAULT_RATE_LIMITS as ACCOUNTS
    from passkeys.app_settings import DEFAULT_RATE_LIMITS as PASSKEYS

    def off(limits):
        return {group: dict.fromkeys(scopes) for group, scopes in limits.items()}

    settings.AUTHSUITE_ACCOUNTS_RATE_LIMITS = off(ACCOUNTS)
    settings.AUTHSUITE_PASSKEYS_RATE_LIMITS = off(PASSKEYS)
    settings.AUTHSUITE_MFA_RATE_LIMITS = {"ip": None, "account": None}


#: Routes that read what they are sent only while a sign-in waits at a stage, and that stage.
STAGES = {"challenge/": "second-factor", "second-factor/": "second-factor",
          "password/required/": "password-required"}


@pytest.fixture
def visitors(user, staff, password, unlimited):
    """``visitors(route)``: for each way the route can be reached, by name, what makes a
    client that comes that way (None once a request closed the account)."""

    def signed_in(who, recent: bool) -> Client | None:
        if not type(who).objects.filter(pk=who.pk, is_active=True).exists():
            return None  # a case closed the account
        client = Client()
        client.force_login(who)
        client.get(API + "session/")  # the session's first request records it
        if recent:
            # The password and a passkey just now: the user has a passkey (``rows``), and a
            # sensitive action asks for every factor the account has.
            session = client.session
            authrecord.record_set(SimpleNamespace(session=session), ["pwd", "hwk"])
            session.save()
        return client

    def at_stage(stage: str) -> Client:
        # Another account, so that the user's own sign-ins stay one factor.
        other = UserFactory(password=password)
        if stage == "second-factor":
            enroll(other)
        else:
            PasswordChangeRequired.objects.create(user=other)
        client = Client()
        response = client.post("/accounts/login/", {"email": other.email, "password": password})
        assert response.status_code == 302, response.status_code
        return client

    makers = {
        "anonymous": Client,
        "signed-in": lambda: signed_in(user, recent=False),
        "recent": lambda: signed_in(user, recent=True),
        "staff": lambda: signed_in(staff, recent=True),
    }

    def for_route(route: Route) -> dict:
        if route.kind == "admin":
            return {name: makers[name] for name in ("anonymous", "staff")}
        chosen = {name: makers[name] for name in ("anonymous", "signed-in", "recent")}
        for ending, stage in STAGES.items():
            if route.template.endswith(ending):
                chosen[stage] = lambda stage=stage: at_stage(stage)
        return chosen

    return for_route


# --- what the database holds ------------------------------------------------------------------

SUITE_APPS = {"accounts", "mfa", "passkeys", "audit", "authsuite", "auth", "sessions"}
#: Written by a refusal on purpose: a failed sign-in counts against its address, a denial is
#: audited, repeated failures alert the account's owner. A request refused for its shape (a
#: 400 ``invalid``, 413, 415...) writes none of them.
RECORDS = {"LoginThrottle", "Event", "PendingSeal", "EventSeal", "ChainHead", "Checkpoint",
           "OutboxMessage", "AlertSent"}
#: Columns a wrong code writes on purpose: django-otp's throttling of the device tried.
FAILURE_COLUMNS = {"throttling_failure_count", "throttling_failure_timestamp"}
#: Written by migrations only.
FIXED = {"Permission"}
#: Columns every request may touch: when a session was last seen, its expiry and data.
VOLATILE = {"last_seen_at", "expire_date", "session_data", "last_login"}
SHAPE_CODES = {"invalid", "malformed_request", "unsupported_media_type", "request_too_large",
               "not_acceptable", "method_not_allowed", "not_found"}


@cache
def _statements() -> list[tuple[str, str, tuple]]:
    """The SQL that reads each table, by name: built once, since the ORM takes far longer to
    build a query than SQLite takes to run it, and the sweep reads the tables after every
    request. Records are counted; a device's failure counters are read apart from it."""
    statements = []
    for model in apps.get_models():
        name, manager = model.__name__, model._default_manager
        if model._meta.app_label not in SUITE_APPS or name in FIXED:
            continue
        if name in RECORDS:
            statements.append((name, f"SELECT COUNT(*) FROM {model._meta.db_table}", ()))
            continue
        columns = [f.attname for f in model._meta.concrete_fields]
        kept = [c for c in columns if c not in VOLATILE | FAILURE_COLUMNS]
        statements.append((name, *manager.order_by("pk").values_list(*kept).query
                           .sql_with_params()))
        if counters := [c for c in columns if c in FAILURE_COLUMNS]:
            statements.append((f"{name} failures", *manager.order_by("pk").values_list(
                "pk", *counters).query.sql_with_params()))
    return statements


def database() -> dict[str, list]:
    """Every row of the suite's tables (but the columns every request may touch), and how
    many records there are."""
    state = {}
    with connection.cursor() as cursor:
        for name, sql, params in _statements():
            cursor.execute(sql, params)
            state[name] = cursor.fetchall()
    return state


def without_records(state: dict) -> dict:
    """What no refusal may change, not even one the flow records."""
    return {name: rows for name, rows in state.items()
            if name not in RECORDS and not name.endswith(" failures")}


# --- the junk ---------------------------------------------------------------------------------

TEXT = {
    "nul": "a\x00b",
    "controls": "\x01\x08\x1b[2J\x7f\x85\x9b",
    "lone-surrogates": "\ud800x\udfff",
    "overlong": "a" * 10_000,
    "unicode": "\u202eevil\u200f\u2066 e" + "\u0301" * 50 + " \U0001f469\u200d\U0001f4bb\U0001f4a9",
    "metacharacters": "' OR '1'='1' --; DROP TABLE accounts_user; <script>alert(1)</script>"
                      "\"'><img src=x onerror=alert(1)> {0} %s %(x)s {{x}}",
    "blank": " \t\r\n ",
}
WRONG_TYPES = {"list": ["a"], "object": {"a": "b"}, "number": 12345, "float": 1e308,
               "boolean": True, "null": None, "huge-int": 2**70}
#: What pages and the admin read besides their forms' fields: their buttons and links.
BUTTONS = ("email", "password", "new_password", "token", "name", "code", "credential",
         "next", "action", "address", "session", "trusted", "rule", "enabled", "link",
         "max_age", "_selected_action", "index")
QUERY_KEYS = ("next", "max_age", "before", "to", "lang", "q", "o", "p", "e", "email", "token")


def encoded(text: str) -> str:
    """``text`` percent-encoded as a careless client would: lone surrogates as the UTF-8
    bytes no valid UTF-8 holds (ED A0 80)."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def form(fields, value: str) -> str:
    return "&".join(f"{name}={encoded(value)}" for name in fields)


@dataclass(frozen=True)
class Case:
    name: str
    body: bytes | str = b""
    content_type: str = JSON
    query: str = ""


def body_cases(route: Route, method: str) -> list[Case]:
    """Bodies no route should take: the API's reads only JSON objects of its fields' types;
    a page reads its form's fields and what else its buttons post."""
    fields = route.fields.get(method, ())
    named = (tuple(dict.fromkeys((*fields, *BUTTONS))) if route.kind != "api"
             else fields or ("email",))
    cases = [
        Case("body-truncated", '{"email": '),
        Case("charset-unknown", "{}", f"{JSON}; charset=no-such-charset"),
        Case("form-charset-unknown", form(named, "a"), f"{FORM}; charset=no-such-charset"),
        Case("charset-nul", "{}", f"{JSON}; charset=utf-\x008"),
        Case("charset-nul-encoded", "{}", f"{JSON}; charset*=utf-8''%00"),
        Case("parameter-in-unknown-charset", "{}", f"{JSON}; title*=no-such-charset''x"),
        Case("form-repeated-keys", form(named, "a") + "&" + form(named, "b"), FORM),
        Case("multipart-without-boundary", "--x\r\n\r\n", "multipart/form-data"),
        Case("text-plain", "{}", "text/plain"),
    ]
    if route.kind != "api":
        return cases + [Case(f"form-{name}", form(named, value), FORM)
                        for name, value in TEXT.items()]
    cases += [
        Case("body-list", "[]"), Case("body-string", '"ann@example.com"'),
        Case("body-number", "42"), Case("body-null", "null"),
        Case("body-invalid-utf8", b'{"email": "\xff\xfe"}'),
        Case("body-bom", '\ufeff{"email": "a"}'.encode()),
        Case("body-duplicate-key", f'{{"{named[0]}": "a", "{named[0]}": "b"}}'),
    ]
    # An endpoint that reads no body parses it all the same: one object of junk for it.
    values = {**TEXT, **WRONG_TYPES} if fields else {"lone-surrogates": TEXT["lone-surrogates"]}
    # json.dumps writes lone surrogates as "\ud800", the way a careless client sends them.
    return cases + [Case(f"json-{name}", json.dumps(dict.fromkeys(named, value)))
                    for name, value in values.items()]


def query_cases() -> list[Case]:
    cases = [Case(f"query-{name}", query="&".join(f"{k}={encoded(v[:2000])}" for k in QUERY_KEYS))
             for name, v in TEXT.items()]
    return cases + [
        Case("query-repeated-keys", query="next=/a/&next=//evil.example/&before=1&before=x"),
        Case("query-not-utf8", query="next=%FF%FE&before=%C0%80"),
        Case("query-content-type-unparsable", query="next=/",
             content_type="text/plain; title*=no-such-charset''x"),
    ]


QUERIES = query_cases()


def cases_for(route: Route, method: str, short: bool) -> list[Case]:
    """The junk for one method of a route. Every query case for a GET; for the others
    every body, and the query's worst (a POST reads ``next`` from it too). Three when the
    visitor is turned away for who they are, before anything sent is read."""
    if method == "get":
        return QUERIES[:3] if short else QUERIES
    bodies = body_cases(route, method)
    if short:
        return [QUERIES[0], bodies[0], bodies[1]]
    return [QUERIES[0], QUERIES[-1], *bodies]


# --- the sweep --------------------------------------------------------------------------------


def problems_with(route: Route, response) -> list[str]:
    """What is wrong with an answer, whatever the request: a 5xx; from the API, a 4xx
    outside its envelope or with a code it does not document."""
    if response.status_code >= 500:
        return [f"{response.status_code}: {response.content[:200]!r}"]
    if route.kind != "api" or response.status_code < 400:
        return []
    if not response["Content-Type"].startswith(JSON):
        return [f"{response.status_code} not in JSON: {response['Content-Type']}"]
    body = response.json()
    if set(body) != {"error"} or set(body["error"]) != {"code", "message", "fields"}:
        return [f"{response.status_code} outside the envelope: {body}"]
    if body["error"]["code"] not in error_codes() or not body["error"]["message"]:
        return [f"{response.status_code} with an undocumented code: {body}"]
    return []


def refusal(route: Route, response) -> str | None:
    """How the request was refused (its API code, ``"page"``), or None when it was taken."""
    if response.status_code >= 400:
        return response.json()["error"]["code"] if route.kind == "api" else "page"
    form = (response.context or {}).get("form") if response.status_code == 200 else None
    return "page" if form is not None and form.errors else None


#: Answers that turn a visitor away for who they are, before anything they sent is read.
TURNED_AWAY_CODES = {"not_authenticated", "reauthentication_required", "permission_denied"}
TURNED_AWAY_PAGES = ("/accounts/login/", "/accounts/reauthenticate/", "/admin/login/")


def turned_away(route: Route, response) -> bool:
    if route.kind == "api":
        return response.status_code == 403 and refusal(route, response) in TURNED_AWAY_CODES
    return response.status_code == 302 and response["Location"].startswith(TURNED_AWAY_PAGES)


#: What a well-meaning client sends when it has nothing to say: it learns who the route turns
#: away (and the sweep spares them all but a few cases).
PROBE = {"api": Case("probe", "{}"), "page": Case("probe", "", FORM),
         "admin": Case("probe", "", FORM)}


def send(client, method: str, url: str, case: Case):
    target = f"{url}?{case.query}" if case.query else url
    body = case.body if method != "get" else b""
    return client.generic(method.upper(), target, body, content_type=case.content_type)


def sweep(route: Route, method: str, url: str, client, make, cases: list[Case]) -> list[str]:
    """Send each case with ``client`` (one from ``make`` again after a request that was
    taken); what went wrong, one line per case."""
    found = []
    before = database()
    for case in cases:
        response = send(client, method, url, case)
        if problems := problems_with(route, response):
            found += [f"{case.name}: {problem}" for problem in problems]
            continue
        if method == "get" and case is not cases[-1]:
            continue  # a GET writes nothing: the database is compared after the last one
        after = database()
        code = refusal(route, response)
        if method == "get" or code is not None:
            strict = code in SHAPE_CODES
            if (after if strict else without_records(after)) != (
                    before if strict else without_records(before)):
                found.append(f"{case.name}: refused ({code}), yet the database changed")
        else:
            client = make()  # it may have acted (signed out, closed...): start again
            if client is None:
                break  # it closed the account: nothing is left to send as it
            after = database()
        before = after
    return found


@pytest.mark.parametrize(("route", "method"), [
    pytest.param(route, method, id=f"{route}-{method}")
    for route in ROUTES for method in route.methods
])
def test_no_junk_gets_a_server_error_or_writes(visitors, rows, route, method):
    url = url_of(route, rows)
    found = []
    for who, make in visitors(route).items():
        client = make()
        probe = send(client, method, url, PROBE[route.kind])
        if problems := problems_with(route, probe):
            found += [f"{who} probe: {problem}" for problem in problems]
            continue
        short = turned_away(route, probe)
        if who == "signed-in" and not short:
            continue  # served as if the sign-in were recent: the next visitor's sweep
        if method != "get" and refusal(route, probe) is None:
            client = make()
        if client is None:
            continue
        found += [f"{who} {line}" for line in sweep(route, method, url, client, make,
                                                    cases_for(route, method, short))]
    assert not found, "\n".join(found)


@pytest.mark.parametrize(("template", "method", "who", "case", "name"), [
    ("api/auth/v1/password/change/", "post", "recent", "json-nul", "new_password"),
    ("api/auth/v1/passkeys/<int:pk>/", "patch", "recent", "json-list", "name"),
    ("api/auth/v1/mfa/challenge/", "post", "second-factor", "json-controls", "code"),
    ("api/auth/v1/password/required/", "post", "password-required", "json-number",
     "new_password"),
    ("accounts/password/change/", "post", "recent", "form-nul", "new_password"),
    ("mfa/challenge/", "post", "second-factor", "form-controls", "code"),
    ("accounts/password/required/", "post", "password-required", "form-overlong",
     "new_password"),
])
def test_the_sweep_reaches_what_routes_read(visitors, rows, template, method, who, case, name):
    """Each visitor gets as far as the fields: a sweep answered at the door would pass
    whatever the routes do with what they read."""
    route = next(r for r in ROUTES if r.template == template)
    junk = next(c for c in cases_for(route, method, short=False) if c.name == case)
    response = send(visitors(route)[who](), method, url_of(route, rows), junk)
    if route.kind == "api":
        assert response.status_code == 400, response.content
        assert name in response.json()["error"]["fields"], response.json()
    else:
        assert response.status_code == 200, response.status_code
        assert name in response.context["form"].errors


# --- the headers ------------------------------------------------------------------------------


def as_served(text: str) -> str:
    """``text`` as a WSGI server hands a header over: its bytes (UTF-8, lone surrogates as
    the bytes no valid UTF-8 holds) one character each, ISO-8859-1 (PEP 3333)."""
    return text.encode("utf-8", "surrogatepass").decode("latin-1")


HEADER_TEXT = {name: as_served(text) for name, text in TEXT.items()} | {
    "not-utf8": "\xff\xfe\xc0\x80\xed\xa0\x80 \x81",
    "huge": "a, " * 20_000,
}
#: Hosts Django must turn away (``ALLOWED_HOSTS`` is testserver, localhost, 127.0.0.1).
BAD_HOSTS = {**HEADER_TEXT, "not-allowed": "evil.example", "suffix": "testserver.evil.example",
             "port-not-a-number": "testserver:x", "unclosed-ipv6": "[::1", "empty": "",
             "two-hosts": "testserver, evil.example", "userinfo": "evil.example@testserver"}


@dataclass(frozen=True)
class HeaderCase:
    name: str
    meta: dict[str, str] = field(default_factory=dict)
    #: Cookies sent after the client's own (the last of a name is the one Django reads).
    cookies: str = ""
    #: Django refuses the request whatever the route: a 400.
    refused: bool = False
    #: Read alike whoever sends it (before anyone is known; a Cookie header that drops the
    #: client's own cookies): the first visitor of a route gets it, not every one.
    once: bool = False


def cookie_junk(value: str) -> str:
    """``value`` under every cookie the suite or Django reads but the session's, and as a
    cookie's name."""
    from django.conf import settings

    from accounts.app_settings import app_settings as accounts_settings
    from mfa.app_settings import app_settings as mfa_settings

    names = (settings.CSRF_COOKIE_NAME, accounts_settings.LOCKOUT_DEVICE_COOKIE_NAME,
             mfa_settings.TRUST_COOKIE_NAME, "messages")
    return "; ".join([*(f"{name}={value}" for name in names), f"{value}=1"])


def header_cases() -> list[HeaderCase]:
    from django.conf import settings

    cases = []
    for name, value in HEADER_TEXT.items():
        # The request's context reads these headers before the session or the route, the
        # same way for everyone, and what a visitor does with them (a tracked session, an
        # audit event) takes the hardest text as it takes the rest: every visitor gets that,
        # the first one all of it.
        once = name not in ("nul", "not-utf8", "huge")
        cases += [
            HeaderCase(f"user-agent-{name}", {"HTTP_USER_AGENT": value}, once=once),
            HeaderCase(f"accept-language-{name}", {"HTTP_ACCEPT_LANGUAGE": value}, once=once),
            HeaderCase(f"forwarded-for-{name}", {"HTTP_X_FORWARDED_FOR": value}, once=once),
            HeaderCase(f"forwarded-for-zone-{name}", {"HTTP_X_FORWARDED_FOR": f"fe80::1%{value}"},
                       once=once),
            HeaderCase(f"cookie-{name}", cookies=cookie_junk(value)),
            # Long enough for a session key: the session store looks it up.
            HeaderCase(f"cookie-session-{name}",
                       cookies=f"{settings.SESSION_COOKIE_NAME}=abcdefgh{value}"),
            HeaderCase(f"cookie-raw-{name}", {"HTTP_COOKIE": value}, once=True),
        ]
    cases.append(HeaderCase("cookie-syntax", cookies='a="b; =c; ;;; d=""; "=\\"; e=\\'))
    cases += [HeaderCase(f"host-{name}", {"HTTP_HOST": value}, refused=True, once=True)
              for name, value in BAD_HOSTS.items()]
    return cases


HEADERS = header_cases()


def send_headers(client, method: str, url: str, route: Route, case: HeaderCase):
    meta = dict(case.meta)
    if case.cookies:
        own = "; ".join(f"{m.key}={m.coded_value}" for m in client.cookies.values())
        meta["HTTP_COOKIE"] = f"{own}; {case.cookies}" if own else case.cookies
    probe = PROBE[route.kind]
    body = probe.body if method != "get" else b""
    return client.generic(method.upper(), url, body, content_type=probe.content_type, **meta)


@pytest.fixture
def behind_a_proxy(settings):
    """One trusted proxy: X-Forwarded-For is read (the client's entry, junk or not)."""
    settings.AUTHSUITE_TRUSTED_PROXY_COUNT = 1


@pytest.mark.parametrize(("route", "method"), [
    pytest.param(route, method, id=f"{route}-{method}")
    for route in ROUTES for method in route.methods
])
def test_no_junk_header_gets_a_server_error(visitors, rows, behind_a_proxy, route, method):
    url = url_of(route, rows)
    found = []
    chosen = [(who, make) for who, make in visitors(route).items() if who != "signed-in"]
    for who, make in chosen:  # "signed-in" left out: "recent" gets as far, and further
        client = make()
        for case in HEADERS:
            if case.once and who != chosen[0][0]:
                continue
            if client is None:
                break  # a request closed the account: nothing is left to send as it
            response = send_headers(client, method, url, route, case)
            problems = problems_with(route, response)
            if case.refused and response.status_code != 400:
                problems.append(f"{response.status_code}, not 400")
            found += [f"{who} {case.name}: {problem}" for problem in problems]
            if method != "get" and response.status_code < 400:
                client = make()  # it may have acted (signed out, closed...): start again
    assert not found, "\n".join(found)


@pytest.mark.parametrize("via", ["api", "page"])
def test_junk_headers_leave_a_sign_in_as_it_was(user, password, behind_a_proxy, via):
    """The sweep's junk in every header a sign-in reads, at once, but the Host: it signs in
    from the address the proxy saw, its zone id dropped, and records printable text."""
    from accounts.models import UserSession

    junk = HEADER_TEXT["nul"] + HEADER_TEXT["controls"] + HEADER_TEXT["not-utf8"]
    meta = {"REMOTE_ADDR": "10.0.0.1", "HTTP_USER_AGENT": junk, "HTTP_ACCEPT_LANGUAGE": junk,
            "HTTP_X_FORWARDED_FOR": f"{junk}, fe80::1%{junk * 10}"}
    client = Client()
    credentials = {"email": user.email, "password": password}
    if via == "api":
        response = client.post(API + "login/", credentials, content_type=JSON, **meta)
        assert response.status_code == 200, response.content
    else:
        response = client.post("/accounts/login/", credentials, **meta)
        assert response.status_code == 302, response.status_code
    session = UserSession.objects.get(user=user)
    assert session.ip == "fe80::1"
    assert session.user_agent.isprintable() and session.device.isprintable()


# DEBUG's technical 400 page, not the API's envelope: no answer the schema describes.
@pytest.mark.schema_unchecked
@pytest.mark.parametrize("path", ["/accounts/login/", API + "session/", "/no-such-page/"])
def test_a_host_turned_away_is_a_400_with_debug_on_too(settings, client, path):
    """DEBUG's own error page reads the request again: it must not fail on the Host."""
    settings.DEBUG = True
    for name, host in BAD_HOSTS.items():
        assert client.get(path, HTTP_HOST=host).status_code == 400, name
