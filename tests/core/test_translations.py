"""The suite's pages and emails in another language: every text they show is translatable.

A pseudo-language catalogue is built at test time from the messages a project's
``makemessages`` finds in the suite's apps: in the templates through Django's own template
lexer (``templatize``, what makemessages hands to xgettext), in the Python code through the
gettext keywords makemessages gives xgettext. Each translation is its message between
marks, and the catalogue is written as the ``django.mo`` of a language in ``LOCALE_PATHS``.
A site in that language then shows text outside marks only where a template or the code
left it out of translation (or where it shows data: an address, a date, a link).
"""

from __future__ import annotations

import ast
import io
import re
import struct
import tokenize
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.template.loader import render_to_string
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation.template import templatize

from accounts.models import UserSession
from authsuite.app_settings import app_settings as core_settings
from authsuite.useragent import row_device_label
from mfa.models import TrustedBrowser
from tests.helpers import last_link, open_link, outbox_for
from tests.mfa.support import Clock, enroll
from tests.mfa.support import api_post as mfa_api_post
from tests.passkeys.support import add_passkey, password_client

ROOT = Path(__file__).resolve().parents[2]
APPS = ["authsuite", "accounts", "mfa", "passkeys", "audit"]
LANGUAGE = "xx"
OPEN, CLOSE = "\u27e6", "\u27e7"  # ⟦ ⟧: in no message of the suite

#: The gettext functions makemessages extracts, with the position of the message's
#: context ("c"), singular ("s") and plural ("p") among the arguments (xgettext's
#: defaults for Python plus Django's ``--keyword`` list).
KEYWORDS = {
    "_": "s", "gettext": "s", "gettext_lazy": "s", "gettext_noop": "s",
    "ngettext": "sp", "ngettext_lazy": "sp",
    "pgettext": "cs", "pgettext_lazy": "cs",
    "npgettext": "csp", "npgettext_lazy": "csp",
}


def _entry(kind: str, args: list[str]) -> tuple[str, str] | None:
    """The .mo key and marked translation of one call's string arguments."""
    if len(args) < len(kind):
        return None  # not a literal message (a variable): nothing to extract
    parts = dict(zip(kind, args, strict=False))
    key = parts["s"] if "p" not in parts else f"{parts['s']}\0{parts['p']}"
    if "c" in parts:
        key = f"{parts['c']}\x04{key}"
    forms = [parts["s"], parts["p"]] if "p" in parts else [parts["s"]]
    return key, "\0".join(f"{OPEN}{form}{CLOSE}" for form in forms)


def template_messages(source: str, origin: str) -> dict[str, str]:
    """The messages of one template, as makemessages reads them: Django turns the template
    into gettext calls (the rest blanked out), which are read here as xgettext reads them."""
    code = "\n".join(line.lstrip() for line in templatize(source, origin=origin).splitlines())
    tokens = [t for t in tokenize.generate_tokens(io.StringIO(code).readline)
              if t.type in (tokenize.NAME, tokenize.OP, tokenize.STRING)]
    found = {}
    for i, token in enumerate(tokens[:-1]):
        if token.type != tokenize.NAME or token.string not in KEYWORDS or tokens[i + 1].string != "(":
            continue
        args, j = [], i + 2
        while tokens[j].string != ")":
            if tokens[j].type == tokenize.STRING:
                args.append(ast.literal_eval(tokens[j].string))
            j += 1
        if entry := _entry(KEYWORDS[token.string], args):
            found[entry[0]] = entry[1]
    return found


def python_messages(source: str) -> dict[str, str]:
    found = {}
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        if name not in KEYWORDS:
            continue
        args = []
        for arg in node.args[:len(KEYWORDS[name])]:
            if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
                break
            args.append(arg.value)
        if entry := _entry(KEYWORDS[name], args):
            found[entry[0]] = entry[1]
    return found


def suite_catalogue() -> dict[str, str]:
    catalogue = {}
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*")):
            if "templates" in path.parts and path.suffix in (".html", ".txt"):
                catalogue.update(template_messages(path.read_text(), str(path)))
            elif path.suffix == ".py" and "migrations" not in path.parts:
                catalogue.update(python_messages(path.read_text()))
    return catalogue


def write_mo(path: Path, catalogue: dict[str, str]) -> None:
    """``catalogue`` as a GNU gettext .mo file (the format msgfmt writes and Python's
    ``gettext`` reads): a header, then the key and translation tables, then the strings."""
    header = ("Content-Type: text/plain; charset=UTF-8\n"
              "Plural-Forms: nplurals=2; plural=(n != 1);\n")
    entries = sorted((k.encode(), v.encode()) for k, v in {**catalogue, "": header}.items())
    count = len(entries)
    keys_at = 7 * 4
    values_at = keys_at + count * 8
    data_at = values_at + count * 8
    keys, values, data = [], [], b""
    for key, _value in entries:
        keys.append((len(key), data_at + len(data)))
        data += key + b"\0"
    for _key, value in entries:
        values.append((len(value), data_at + len(data)))
        data += value + b"\0"
    table = b"".join(struct.pack("<II", *pair) for pair in keys + values)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(struct.pack("<7I", 0x950412DE, 0, count, keys_at, values_at, 0, data_at)
                     + table + data)


class VisibleText(HTMLParser):
    """The text a person reads on a page: text nodes (not scripts or styles) and the
    attributes read out or shown in place of text."""

    ATTRIBUTES = {"alt", "aria-label", "placeholder", "title"}

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._hidden += 1
        self.parts += [value for name, value in attrs if name in self.ATTRIBUTES and value]

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden:
            self.parts.append(data)


MARKED = re.compile(f"{OPEN}[^{OPEN}{CLOSE}]*{CLOSE}")
URL = re.compile(r"https?://\S+")
WORD = re.compile(r"[A-Za-z]{2,}")


def unmarked(text: str, data: list[str]) -> list[str]:
    """The lines of ``text`` that still hold words once the translated parts (marked, the
    innermost first), the links and then the ``data`` shown are taken out."""
    while (stripped := MARKED.sub(" ", text)) != text:
        text = stripped
    # The links first: a token may hold a datum's letters ("UTC"), which taken out first
    # would cut the link in two, its tail left as an untranslated word.
    text = URL.sub(" ", text)
    for value in sorted(data, key=len, reverse=True):
        text = text.replace(value, " ")
    return [line.strip() for line in text.splitlines() if WORD.search(line)]


def visible(html: str) -> str:
    parser = VisibleText()
    parser.feed(html)
    return "\n".join(parser.parts)


@pytest.fixture(scope="module")
def catalogue():
    return suite_catalogue()


@pytest.fixture
def pseudo(tmp_path, catalogue):
    """The site in the pseudo-language: its ``LANGUAGE_CODE``, the catalogue in
    ``LOCALE_PATHS``, as a project sets up its own language."""
    write_mo(tmp_path / LANGUAGE / "LC_MESSAGES" / "django.mo", catalogue)
    with override_settings(LANGUAGE_CODE=LANGUAGE, LANGUAGES=[(LANGUAGE, "Pseudo")],
                           LOCALE_PATHS=[str(tmp_path)]):
        translation.activate(LANGUAGE)
        yield
        translation.deactivate()


def test_the_catalogue_holds_the_suites_messages(catalogue):
    # Templates, with their plural and context forms, and the Python code.
    assert "Sign in" in catalogue
    assert any(key.startswith("Your account is also signed in on %(counter)s other session. ")
               and "\0" in key for key in catalogue)
    assert "authenticator app status\x04On" in catalogue
    assert "Hello," in catalogue
    assert "Signed in" in catalogue  # the security page's labels (audit.views)
    assert "a sign-in link" in catalogue  # accounts.flows.link_request
    assert len(catalogue) > 300


def test_the_pseudo_language_is_in_use(pseudo, client):
    page = client.get(reverse("accounts:login"))
    html = page.content.decode()
    assert f'<html lang="{LANGUAGE}"' in html
    assert f"{OPEN}Sign in{CLOSE}" in html


def assert_translated(html_or_text: str, *data: str, html: bool = True) -> None:
    text = visible(html_or_text) if html else html_or_text
    assert OPEN in text
    assert unmarked(text, [core_settings.SITE_NAME, *data]) == []


PUBLIC_PAGES = [
    ("accounts:login", {}), ("accounts:signup", {}), ("accounts:magic_link", {}),
    ("accounts:password_reset", {}), ("accounts:password_reset_done", {}),
    ("passkeys:signup", {}),
]


@pytest.mark.django_db
def test_public_pages_are_translated(pseudo, client, settings):
    settings.AUTHSUITE_PASSKEYS_SIGNUP = True  # its link on the sign-up page, and its page
    for name, kwargs in PUBLIC_PAGES:
        page = client.get(reverse(name, kwargs=kwargs))
        assert page.status_code == 200, name
        assert_translated(page.content.decode())
    # A page of the site's own (the 404), with its title from the code.
    assert_translated(client.get("/accounts/no-such-page/").content.decode())


@pytest.mark.django_db
def test_signed_in_pages_are_translated(pseudo, user, password):
    client = password_client(user, password)
    add_passkey(client)
    enroll(user)
    for name in ("accounts:profile", "accounts:sessions", "accounts:email", "mfa:index",
                 "mfa:recovery_codes", "passkeys:manage", "audit:security"):
        page = client.get(reverse(name))
        assert page.status_code == 200, name
        assert_translated(page.content.decode(), user.email)
    # The passkey's name is the user's; its alert is a mail of the audit trail.
    alert = outbox_for(user.email)[-1]
    assert_translated(alert.subject, html=False)
    assert_translated(alert.body, user.email, "UTC", html=False)
    assert_translated(alert.alternatives[0][0], user.email, "UTC")


FIREFOX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


@pytest.mark.django_db
def test_device_names_are_shown_translated_and_stored_in_english(pseudo, user, password,
                                                                 monkeypatch):
    clock = Clock(monkeypatch)
    secret, _codes = enroll(user)
    client = Client(HTTP_USER_AGENT=FIREFOX)
    mfa_api_post(client, "login/", {"email": user.email, "password": password})
    mfa_api_post(client, "mfa/challenge/", {"code": clock.code(secret), "trust_browser": True})
    shown = f"{OPEN}Firefox 128 on Ubuntu{CLOSE}"

    assert shown in client.get(reverse("accounts:sessions")).content.decode()
    assert shown in client.get(reverse("mfa:index")).content.decode()
    assert [s["device"] for s in client.get("/api/auth/v1/sessions/").json()] == [shown]
    assert shown in client.get(reverse("audit:security")).content.decode()
    # Stored as the header names it, in no one's language: staff, exports and the trail
    # read the same words whoever signed in.
    assert UserSession.objects.get(user=user).device == "Firefox 128 on Ubuntu"
    assert TrustedBrowser.objects.get(user=user).device == "Firefox 128 on Ubuntu"


def test_a_row_without_its_header_shows_the_name_it_stored(pseudo):
    assert row_device_label("", "Firefox 115 on Windows 10") == "Firefox 115 on Windows 10"
    assert row_device_label("", "Unknown device") == f"{OPEN}Unknown device{CLOSE}"
    assert row_device_label("", "") == f"{OPEN}Unknown device{CLOSE}"
    assert row_device_label("curl/8.5.0", "") == "curl 8"


@pytest.mark.django_db
def test_emails_are_translated(pseudo, user, password):
    client = Client()
    page = client.post(reverse("accounts:magic_link"), {"email": user.email})
    assert_translated(page.content.decode(), user.email)
    client.post(reverse("accounts:password_reset"), {"email": user.email})
    client.post(reverse("accounts:signup"), {"email": "new@example.com", "password": password,
                                             "password2": password})
    sent = [*outbox_for(user.email), *outbox_for("new@example.com")]
    assert len(sent) >= 2
    for message in sent:
        data = [user.email, "new@example.com", "UTC"]
        assert_translated(message.subject, *data, html=False)
        assert_translated(message.body, *data, html=False)
        assert_translated(message.alternatives[0][0], *data)
    # The link's page, too.
    page, _confirm = open_link(client, last_link(user.email))
    assert_translated(page.content.decode(), user.email)


@pytest.fixture
def two_languages(tmp_path, catalogue, settings):
    """A site in English that also offers the pseudo-language, each request's language
    picked by ``LocaleMiddleware`` (its ``Accept-Language``), as the README sets it up."""
    write_mo(tmp_path / LANGUAGE / "LC_MESSAGES" / "django.mo", catalogue)
    middleware = list(settings.MIDDLEWARE)
    middleware.insert(middleware.index("django.contrib.sessions.middleware.SessionMiddleware")
                      + 1, "django.middleware.locale.LocaleMiddleware")
    with override_settings(LANGUAGE_CODE="en", LANGUAGES=[("en", "English"),
                                                          (LANGUAGE, "Pseudo")],
                           LOCALE_PATHS=[str(tmp_path)], MIDDLEWARE=middleware):
        yield
    translation.deactivate()


def deliver_as_a_worker(queued: list[int]) -> None:
    """Deliver the rows ``queued`` as a Celery worker does: in the site's language."""
    from authsuite.outbox import mail_deliver

    with translation.override("en"):
        for pk in queued:
            mail_deliver(pk)


@pytest.mark.django_db
def test_emails_are_in_the_language_of_the_request_that_queued_them(two_languages, user,
                                                                    password, held):
    # They were rendered by the worker in LANGUAGE_CODE: the templates' words in English
    # around a summary given in the requester's language.
    client = Client(HTTP_ACCEPT_LANGUAGE=LANGUAGE)
    client.post(reverse("accounts:magic_link"), {"email": user.email})  # decided by the worker
    client.post(reverse("accounts:password_reset"), {"email": user.email})
    client.post(reverse("accounts:signup"), {"email": "new@example.com", "password": password,
                                             "password2": password})
    english = Client(HTTP_ACCEPT_LANGUAGE="en")
    english.post(reverse("accounts:password_reset"), {"email": user.email})
    assert len(held) == 4

    deliver_as_a_worker(held)

    link, reset, english_reset = outbox_for(user.email)
    (verification,) = outbox_for("new@example.com")
    for message in (link, reset, verification):
        data = [user.email, "new@example.com", "UTC"]
        assert_translated(message.subject, *data, html=False)
        assert_translated(message.body, *data, html=False)
        assert_translated(message.alternatives[0][0], *data)
    for text in (english_reset.subject, english_reset.body, english_reset.alternatives[0][0]):
        assert OPEN not in text


@pytest.mark.django_db
def test_an_email_in_a_language_the_site_no_longer_offers_is_in_its_own(two_languages, user,
                                                                        held):
    Client(HTTP_ACCEPT_LANGUAGE=LANGUAGE).post(reverse("accounts:password_reset"),
                                               {"email": user.email})
    with override_settings(LANGUAGES=[("en", "English")]):
        deliver_as_a_worker(held)

    (message,) = outbox_for(user.email)
    assert OPEN not in message.subject + message.body
    assert "password" in message.subject


def email_templates() -> list[str]:
    return sorted(str(p.relative_to(p.parents[2])).removesuffix("_message.txt")
                  for app in APPS for p in (ROOT / app / "templates").glob("*/email/*_message.txt"))


EMAIL_CONTEXTS = [
    {"by_staff": False, "signs_in": True, "signup_url": "https://id.example.com/signup/"},
    {"by_staff": True, "signs_in": False, "signup_url": ""},
]


@pytest.mark.parametrize("context", EMAIL_CONTEXTS)
def test_text_emails_keep_their_lines_in_another_language(pseudo, context):
    """A translated text mail has the lines and paragraphs of the English one: each of
    its sentences is translated where it stands, none joined to the next."""
    context = {
        **context, "email": "ann@example.com", "old_email": "old@example.com",
        "new_email": "new@example.com", "url": "https://id.example.com/x/abc/",
        "site_name": "Example ID", "when": "2026-11-22 10:00 UTC", "device": "Firefox on Linux",
        "ip": "203.0.113.5", "summary": "S.", "advice": "A.", "asked": "a link", "subject": "S",
        "title": "T",
    }
    bases = email_templates()
    assert "accounts/email/magic_link" in bases and "audit/email/alert" in bases
    for base in bases:
        translated = render_to_string(f"{base}_message.txt", context)
        with translation.override("en"):
            english = render_to_string(f"{base}_message.txt", context)
        assert translated != english, base
        assert ([bool(line.strip()) for line in translated.splitlines()]
                == [bool(line.strip()) for line in english.splitlines()]), base
        assert unmarked(translated, list(map(str, context.values())) + ["UTC"]) == [], base


class PasskeyMessages(HTMLParser):
    """The words passkeys.js shows, as a page hands them to it: the data attributes of
    the elements marked ``data-passkey-messages``, by the name the script reads them by."""

    def __init__(self):
        super().__init__()
        self.found: list[dict[str, str]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "data-passkey-messages" in attrs:
            self.found.append({
                re.sub(r"-(\w)", lambda m: m.group(1).upper(), name.removeprefix("data-")): value
                for name, value in attrs.items()
                if name.startswith("data-") and name != "data-passkey-messages"})


def passkey_messages(html: str) -> list[dict[str, str]]:
    parser = PasskeyMessages()
    parser.feed(html)
    return parser.found


def script_messages() -> dict[str, str]:
    """The script's own words (its English, for a page that hands it none), and that it
    reads no other."""
    source = (ROOT / "passkeys" / "static" / "passkeys" / "passkeys.js").read_text()
    block = re.search(r"var ENGLISH = \{(.*?)\};", source, re.S).group(1)
    english = {key: value.encode().decode("unicode_escape")
               for key, value in re.findall(r'(\w+): "((?:[^"\\]|\\.)*)"', block)}
    read = set(re.findall(r'text\("(\w+)"\)', source))
    read |= {key for pair in re.findall(r'text\(\w+ \? "(\w+)" : "(\w+)"\)', source)
             for key in pair}
    assert read == set(english)
    return english


@pytest.mark.django_db
def test_the_passkey_script_speaks_the_pages_language(pseudo, user, password, settings):
    """What passkeys.js shows (its prompts, its errors) comes from the page, translated,
    on every page that loads it; in English the page hands it the script's own words."""
    settings.AUTHSUITE_PASSKEYS_SIGNUP = True
    english = script_messages()
    client = password_client(user, password)
    pages = [client.get(reverse("passkeys:manage")), Client().get(reverse("accounts:login"))]
    for page in pages:
        found = passkey_messages(page.content.decode())
        assert found, page.request["PATH_INFO"]
        for messages in found:
            assert set(messages) == set(english)
            assert all(value.startswith(OPEN) and value.endswith(CLOSE)
                       for value in messages.values()), messages
    with translation.override("en"):
        page = Client().get(reverse("accounts:login"), HTTP_ACCEPT_LANGUAGE="en")
    (messages,) = passkey_messages(page.content.decode())
    assert messages == english


#: The calls that hand a client a message: (the callable's name, the message's position).
MESSAGE_CALLS = {"FlowError": 1, "api_error": 1, "APIError": 0, "RateLimited": 1, "_detail": 0}


def untranslated_messages(source: str) -> list[str]:
    """The messages of API answers that ``source`` writes as plain string literals (or
    f-strings): text no catalogue holds, shown in English whatever the language."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        given = []
        if name in MESSAGE_CALLS and len(node.args) > MESSAGE_CALLS[name]:
            given.append(node.args[MESSAGE_CALLS[name]])
        if name in MESSAGE_CALLS:
            given += [kw.value for kw in node.keywords if kw.arg in ("detail", "message")]
        if name == "Response" and node.args and isinstance(node.args[0], ast.Dict):
            body = node.args[0]
            given += [value for key, value in zip(body.keys, body.values, strict=True)
                      if isinstance(key, ast.Constant) and key.value in ("detail", "message")]
        given = [arg.left if isinstance(arg, ast.BinOp) else arg for arg in given]  # "" % {}
        found += [f"line {node.lineno}: {ast.unparse(arg)[:80]}" for arg in given
                  if isinstance(arg, ast.Constant | ast.JoinedStr)]
    return found


def test_api_messages_are_never_plain_literals():
    """A message an API answer carries is given to gettext where it is written (or marked
    with gettext_noop where a constant holds it): a literal passed as it is would be
    English in every language, as "No such address." and each 202's detail were."""
    assert untranslated_messages('FlowError(Code.X, "No such address.")') == [
        'line 1: \'No such address.\'']
    found = {}
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts and (lines := untranslated_messages(
                    path.read_text())):
                found[str(path.relative_to(ROOT))] = lines
    assert found == {}


@pytest.mark.django_db
def test_a_null_body_is_refused_in_the_clients_language(settings):
    """Said in DRF's words for a wrong shape, which DRF's own catalogues translate."""
    middleware = list(settings.MIDDLEWARE)
    middleware.insert(middleware.index("django.contrib.sessions.middleware.SessionMiddleware")
                      + 1, "django.middleware.locale.LocaleMiddleware")
    settings.MIDDLEWARE = middleware
    settings.LANGUAGES = [("en", "English"), ("fr", "French")]
    answers = {}
    for language in ("en", "fr"):
        response = Client(HTTP_ACCEPT_LANGUAGE=language).post(
            "/api/auth/v1/login/", "null", content_type="application/json")
        assert response.status_code == 400
        answers[language] = response.json()["error"]
    translation.deactivate()

    assert answers["en"]["code"] == answers["fr"]["code"] == "invalid"
    assert answers["en"]["message"] == "Invalid data. Expected a dictionary, but got null."
    assert answers["fr"]["message"] != answers["en"]["message"]
    assert "null" in answers["fr"]["message"]
