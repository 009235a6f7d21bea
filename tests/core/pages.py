"""Every HTML page the suite serves to end users, rendered in the states a person meets it
in: empty, with field errors, with an error of the whole form, signed in or not, with and
without the factors that change what it shows. Used by the tests that judge the pages as a
whole (``tests/core/test_accessibility.py``)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from html.parser import HTMLParser

from django.conf import settings
from django.core import mail
from django.core.cache import caches
from django.test import Client, RequestFactory, override_settings
from django.urls import reverse

from authsuite import views as core_views
from authsuite.mailbox.models import Message
from mfa.models import TOTPDevice
from tests.factories import UserFactory
from tests.helpers import last_link, open_link
from tests.mfa.support import Clock, begin_setup, enroll
from tests.passkeys.support import add_passkey, password_client

PASSWORD = "correct horse battery staple"
FIREFOX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
WRONG = "not the password at all"


@dataclass
class Page:
    """One page in one state: ``name`` says which (``login: wrong password``)."""

    name: str
    status: int
    html: str
    url: str = ""

    def __str__(self) -> str:
        return self.name

    @functools.cached_property
    def dom(self) -> Node:
        return parse(self.html)


def _page(name: str, response) -> Page:
    assert response["Content-Type"].startswith("text/html"), (name, response["Content-Type"])
    url = response.wsgi_request.path if hasattr(response, "wsgi_request") else "/"
    return Page(name, response.status_code, response.content.decode(), url)


def rendered_pages(monkeypatch) -> list[Page]:
    """Render every page in its states; ``monkeypatch`` drives the TOTP clock."""
    pages: list[Page] = []

    def get(name: str, client: Client, url: str, **kwargs) -> None:
        response = client.get(url, **kwargs)
        assert response.status_code < 300 or response.status_code >= 400, (name, response)
        pages.append(_page(name, response))

    def post(name: str, client: Client, url: str, data: dict, **kwargs) -> None:
        response = client.post(url, data, **kwargs)
        assert response.status_code < 300 or response.status_code >= 400, (name, response)
        pages.append(_page(name, response))

    user = UserFactory(password=PASSWORD)

    # --- not signed in ---------------------------------------------------------------------
    anon = Client()
    get("home", anon, "/")
    login = reverse("accounts:login")
    get("login", anon, login)
    post("login: empty", anon, login, {})
    post("login: wrong password", anon, login, {"email": user.email, "password": WRONG})
    signup = reverse("accounts:signup")
    get("signup", anon, signup)
    post("signup: invalid", anon, signup, {"email": "not an address", "password": "x"})
    get("signup: sent", anon, reverse("accounts:verification_sent"))
    with override_settings(AUTHSUITE_ACCOUNTS_SIGNUP_OPEN=False):
        get("signup: closed", Client(), signup)
    magic = reverse("accounts:magic_link")
    get("magic link", anon, magic)
    post("magic link: invalid", anon, magic, {"email": "not an address"})
    post("magic link: sent", anon, magic, {"email": user.email})
    page, _url = open_link(Client(), last_link(user.email))
    pages.append(_page("magic link: confirm", page))
    reset = reverse("accounts:password_reset")
    get("password reset", anon, reset)
    post("password reset: invalid", anon, reset, {"email": "not an address"})
    get("password reset: sent", anon, reverse("accounts:password_reset_done"))
    anon.post(reset, {"email": user.email})
    resetting = Client()
    page, url = open_link(resetting, last_link(user.email))
    pages.append(_page("password reset: confirm", page))
    link = _link_reference(page)
    post("password reset: passwords differ", resetting, url,
         {"link": link, "new_password": PASSWORD + "1", "new_password_confirm": PASSWORD + "2"})
    get("link: not valid", anon, reverse("accounts:magic_link_confirm", args=["x" * 40]),
        follow=True)

    newcomer = "newcomer@example.com"
    Client().post(signup, {"email": newcomer, "password": PASSWORD})
    verifying = Client()
    page, url = open_link(verifying, last_link(newcomer))
    pages.append(_page("email verify: confirm", page))
    post("email verify: wrong password", verifying, url,
         {"link": _link_reference(page), "password": WRONG})

    with override_settings(AUTHSUITE_PASSKEYS_SIGNUP=True):
        passkey_signup = reverse("passkeys:signup")
        get("passkey signup", anon, passkey_signup)
        post("passkey signup: invalid", anon, passkey_signup, {"email": "not an address"})
        pioneer = "pioneer@example.com"
        Client().post(passkey_signup, {"email": pioneer})
        page, _url = open_link(Client(), last_link(pioneer))
        pages.append(_page("passkey signup: create the passkey", page))

    # --- the site's error pages -----------------------------------------------------------
    get("error: not found", anon, "/accounts/no-such-page/")
    post("error: method not allowed", anon, reverse("accounts:password_reset_done"), {})
    post("error: form expired", Client(enforce_csrf_checks=True), login, {})
    request = RequestFactory().get("/")
    request.user = user
    pages.append(_page("error: server error", core_views.server_error(request)))

    # --- the demo mailbox (DEBUG only) ----------------------------------------------------
    with override_settings(DEBUG=True, EMAIL_BACKEND="authsuite.mailbox.backends.MailboxBackend"):
        mail.send_mail("Hello", "A link: https://example.com/x", None, ["ann@example.com"])
        get("mailbox", anon, "/mailbox/")
        get("mailbox: message", anon, f"/mailbox/{Message.objects.last().pk}/")

    # --- signed in with a password ---------------------------------------------------------
    signed = password_client(user, PASSWORD)
    # Rows of tables to tell apart: another session, addresses, passkeys.
    Client().post(login, {"email": user.email, "password": PASSWORD}, HTTP_USER_AGENT=FIREFOX)
    get("account", signed, reverse("accounts:profile"))
    email = reverse("accounts:email")
    signed.post(email, {"action": "add", "email": "second@example.com"})
    signed.post(email, {"action": "add", "email": "third@example.com"})
    get("email addresses", signed, email)
    post("email addresses: invalid", signed, email, {"action": "add", "email": "not an address"})
    change = reverse("accounts:password_change")
    get("password change", signed, change)
    post("password change: errors", signed, change,
         {"current_password": WRONG, "new_password": "a", "new_password_confirm": "b"})
    get("sessions", signed, reverse("accounts:sessions"))
    close = reverse("accounts:close")
    get("close account", signed, close)
    post("close account: not confirmed", signed, close, {})
    reauth = reverse("accounts:reauthenticate")
    get("reauthenticate", signed, reauth)
    post("reauthenticate: wrong password", signed, reauth, {"password": WRONG})
    get("sign out", signed, reverse("accounts:logout"))
    get("security activity", signed, reverse("audit:security"))
    get("two-step verification", signed, reverse("mfa:index"))
    setup = reverse("mfa:totp_setup")
    get("authenticator setup", signed, setup)
    pages.append(_page("authenticator setup: scan", begin_setup(signed)))
    post("authenticator setup: wrong code", signed, setup, {"code": "000000"})
    post("authenticator setup: letters", signed, setup, {"code": "abc"})
    get("recovery codes: no app", signed, reverse("mfa:recovery_codes"))
    add_passkey(signed, name="Work laptop")
    add_passkey(signed, name="Phone")
    get("passkeys", signed, reverse("passkeys:manage"))

    # --- an account with an authenticator app ---------------------------------------------
    _forget_limits()  # the wrong passwords and codes above count against the account
    clock = Clock(monkeypatch)
    TOTPDevice.objects.filter(user=user).delete()
    secret, _codes = enroll(user)
    challenge = reverse("mfa:challenge")
    challenger = Client()
    challenger.post(login, {"email": user.email, "password": PASSWORD})
    get("challenge", challenger, challenge)
    clock.step()
    done = challenger.post(challenge, {"code": clock.code(secret), "trust_browser": "on"})
    assert done.status_code == 302, done
    wrong = UserFactory(password=PASSWORD)
    enroll(wrong)
    mistaken = Client()
    mistaken.post(login, {"email": wrong.email, "password": PASSWORD})
    post("challenge: wrong code", mistaken, challenge, {"code": "000000"})
    post("challenge: wrong recovery code", mistaken, challenge,
         {"kind": "recovery", "code": "aaaa-bbbb-cccc-dddd-eeee-ffff"})
    get("two-step verification: app on", challenger, reverse("mfa:index"))
    get("recovery codes", challenger, reverse("mfa:recovery_codes"))
    post("recovery codes: new", challenger, reverse("mfa:recovery_codes"), {})
    get("remove the app", challenger, reverse("mfa:totp_remove"))
    get("passkeys: not recent", Client(), reverse("passkeys:manage"), follow=True)

    # --- a sign-in that must set up the app first -----------------------------------------
    with override_settings(AUTHSUITE_MFA_REQUIRED="everyone"):
        other = UserFactory(password=PASSWORD)
        enrolling = Client()
        enrolling.post(login, {"email": other.email, "password": PASSWORD})
        enroll_url = reverse("mfa:enroll")
        get("enroll", enrolling, enroll_url)
        pages.append(_page("enroll: scan", begin_setup(enrolling, enroll_url)))
    return pages


def _forget_limits() -> None:
    for alias in settings.CACHES:
        caches[alias].clear()


def _link_reference(page) -> str:
    from tests.helpers import link_form

    return link_form(page)["link"]


# --- a small DOM of a rendered page --------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


@dataclass(eq=False)
class Node:
    tag: str
    attrs: dict
    parent: Node | None = None

    def __post_init__(self):
        self.children: list[Node | str] = []

    def __repr__(self) -> str:
        shown = " ".join(f'{k}="{v}"' for k, v in self.attrs.items() if k != "d")
        return f"<{self.tag} {shown}>"[:200]

    def get(self, name: str, default=None):
        return self.attrs.get(name, default)

    @property
    def classes(self) -> set[str]:
        return set((self.get("class") or "").split())

    def walk(self):
        for child in self.children:
            if isinstance(child, Node):
                yield child
                yield from child.walk()

    def find_all(self, *tags: str) -> list[Node]:
        return [node for node in self.walk() if node.tag in tags]

    def ancestors(self):
        node = self.parent
        while node is not None:
            yield node
            node = node.parent

    def text(self) -> str:
        """The text content, as a screen reader reads it: not what is aria-hidden."""
        parts = []
        for child in self.children:
            if isinstance(child, str):
                parts.append(child)
            elif child.get("aria-hidden") != "true" and child.tag not in ("script", "style"):
                parts.append(child.text() if child.tag != "img" else child.get("alt", ""))
        return " ".join(" ".join(parts).split())


class _Builder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.current = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: ("" if v is None else v) for k, v in attrs}, self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.current = self.current.parent

    def handle_endtag(self, tag):
        node = self.current
        while node is not self.root and node.tag != tag:
            node = node.parent
        if node is not self.root:  # a stray end tag closes nothing
            self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)


def parse(html: str) -> Node:
    builder = _Builder()
    builder.feed(html)
    builder.close()
    return builder.root
