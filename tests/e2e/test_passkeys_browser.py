"""Passkeys in Chromium with its virtual authenticator (Chrome DevTools Protocol, WebAuthn
domain): add a passkey on /passkeys/, sign in with the button and through autofill, and the
page script's messages when WebAuthn is missing or the request is cancelled.

WebAuthn needs a secure context: the live server is reached as http://localhost:<port>, the
one plain-HTTP origin browsers accept, and the relying party is configured for it.

The virtual authenticator answers a conditional-mediation request (the login page's autofill
request) by itself, as soon as the page starts it: automatic presence simulation stands in
for the person picking the passkey from the autofill list. Tests of the button therefore
tell the page that conditional mediation is unavailable, so the button is what signs in.
"""

from __future__ import annotations

import re

import pytest

from accounts.models import UserSession
from passkeys.models import Passkey

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIRTUAL_AUTHENTICATOR = {
    "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
    "hasUserVerification": True, "isUserVerified": True, "automaticPresenceSimulation": True,
}


@pytest.fixture
def origin(live_server, settings):
    origin = f"http://localhost:{live_server.thread.port}"
    settings.AUTHSUITE_PASSKEYS_RP_ID = "localhost"
    settings.AUTHSUITE_PASSKEYS_ORIGINS = [origin]
    return origin


@pytest.fixture
def page(browser, origin, console, mailbox_settings):
    context = browser.new_context(base_url=origin, viewport={"width": 1024, "height": 768})
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.on("console", lambda message: console.messages.append(message.text))
    page.on("pageerror", lambda error: console.messages.append(str(error)))
    yield page
    context.close()


class VirtualAuthenticator:
    """Chromium's virtual authenticator, driven over the DevTools protocol."""

    def __init__(self, page):
        self.cdp = page.context.new_cdp_session(page)
        self.cdp.send("WebAuthn.enable", {"enableUI": False})
        self.id = self.cdp.send("WebAuthn.addVirtualAuthenticator",
                                {"options": VIRTUAL_AUTHENTICATOR})["authenticatorId"]

    def credentials(self) -> list[dict]:
        return self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.id})["credentials"]

    def remove(self) -> None:
        self.cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": self.id})


# Logs every navigator.credentials.get() with its mediation, so a test can tell which path
# (the button or the autofill request) signed in.
RECORD_MEDIATION = """
(() => {
  if (!window.navigator.credentials) { return; }
  const get = navigator.credentials.get.bind(navigator.credentials);
  navigator.credentials.get = (options) => {
    console.log("webauthn-get:" + ((options && options.mediation) || "modal"));
    return get(options);
  };
})();
"""
NO_AUTOFILL = """
if (window.PublicKeyCredential) {
  PublicKeyCredential.isConditionalMediationAvailable = () => Promise.resolve(false);
}
"""


def mediations(console) -> list[str]:
    return [m.split(":", 1)[1] for m in console.messages if m.startswith("webauthn-get:")]


def sign_in_with_password(page, user, password) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url("**/accounts/")


def sign_out(page) -> None:
    page.locator("header.site").get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/accounts/login/")


def session_state(page) -> dict:
    return page.request.get("/api/auth/v1/session/").json()


def add_passkey(page, name: str) -> None:
    page.goto("/passkeys/")
    page.get_by_label("Name (optional)").fill(name)
    page.get_by_role("button", name="Add a passkey").click()
    page.locator("tr.passkey").first.wait_for()


def test_add_a_passkey_then_sign_in_with_it(page, console, user, password):
    page.add_init_script(NO_AUTOFILL)
    page.add_init_script(RECORD_MEDIATION)
    authenticator = VirtualAuthenticator(page)
    sign_in_with_password(page, user, password)

    add_passkey(page, "Virtual key")
    row = page.locator("tr.passkey")
    assert row.count() == 1
    assert row.locator("input[name=name]").input_value() == "Virtual key"
    assert "This device only" in row.inner_text() and "never" in row.inner_text()
    passkey = Passkey.objects.get(user=user)
    assert passkey.user_verified and passkey.transports == ["internal"]
    stored = authenticator.credentials()
    assert len(stored) == 1 and stored[0]["isResidentCredential"]

    sign_out(page)
    assert session_state(page)["authenticated"] is False
    page.get_by_role("button", name="Sign in with a passkey").click()
    page.wait_for_url("**/accounts/")

    state = session_state(page)
    assert state["authenticated"] is True and state["user"]["email"] == user.email
    assert state["auth"]["acr"] == "urn:authsuite:acr:phr"
    assert state["auth"]["amr"] == ["hwk", "mfa", "user"]
    assert mediations(console) == ["modal"]
    passkey.refresh_from_db()
    assert passkey.last_used_at is not None and passkey.sign_count >= 1
    assert UserSession.objects.filter(user=user, ended_at__isnull=True).count() == 1
    assert console.csp_violations() == []


def test_sign_in_through_autofill(page, console, user, password):
    """Conditional UI: the login page asks for a passkey with mediation "conditional" as it
    loads. A person would focus the email field and pick the passkey from the autofill list;
    headless Chromium draws no such list, and its virtual authenticator answers the pending
    request by itself, so the sign-in happens without focusing anything."""
    page.add_init_script(RECORD_MEDIATION)
    VirtualAuthenticator(page)
    page.goto("/accounts/login/")
    # Checked while there is no passkey yet, so the page's request stays pending.
    assert page.get_by_label("Email address").get_attribute("autocomplete") == "username webauthn"
    if not page.evaluate("PublicKeyCredential.isConditionalMediationAvailable()"):
        pytest.skip("this Chromium reports isConditionalMediationAvailable() == false")
    sign_in_with_password(page, user, password)
    add_passkey(page, "Virtual key")
    page.context.clear_cookies()  # signed out, without landing on the login page yet
    before = len(mediations(console))

    with page.expect_response("**/api/auth/v1/passkeys/login/") as verified:
        page.goto("/accounts/login/")
    assert verified.value.status == 200
    page.wait_for_url("**/accounts/")

    assert mediations(console)[before:] == ["conditional"]  # not the button
    state = session_state(page)
    assert state["authenticated"] is True
    assert state["auth"]["acr"] == "urn:authsuite:acr:phr"
    assert console.csp_violations() == []


def test_cancelled_request_shows_a_clear_message(page, console, user, password, settings):
    settings.AUTHSUITE_PASSKEYS_TIMEOUT = 2_000
    page.add_init_script(NO_AUTOFILL)
    authenticator = VirtualAuthenticator(page)
    sign_in_with_password(page, user, password)
    add_passkey(page, "Virtual key")
    sign_out(page)

    authenticator.remove()  # nothing left to answer: the browser gives up (NotAllowedError)
    page.get_by_role("button", name="Sign in with a passkey").click()
    status = page.locator(".passkey-login .passkey-status")
    status.filter(has_text="cancelled or timed out").wait_for(timeout=15_000)
    assert "error" in (status.get_attribute("class") or "")
    assert page.get_by_role("button", name="Sign in with a passkey").is_enabled()
    assert session_state(page)["authenticated"] is False


def test_a_browser_without_webauthn_is_told(page, console, user):
    page.add_init_script("delete window.PublicKeyCredential;")
    page.goto("/accounts/login/")
    page.get_by_role("button", name="Sign in with a passkey").click()
    status = page.locator(".passkey-login .passkey-status")
    assert status.inner_text() == "This browser does not support passkeys."
    assert console.csp_violations() == []


def test_a_refused_passkey_shows_the_servers_message(page, console, user, password):
    page.add_init_script(NO_AUTOFILL)
    authenticator = VirtualAuthenticator(page)
    sign_in_with_password(page, user, password)
    add_passkey(page, "Virtual key")
    sign_out(page)
    Passkey.objects.all().delete()  # the server no longer knows the credential

    page.get_by_role("button", name="Sign in with a passkey").click()
    status = page.locator(".passkey-login .passkey-status")
    status.filter(has_text="not registered here").wait_for()
    assert session_state(page)["authenticated"] is False
    assert len(authenticator.credentials()) == 1


def test_passkey_as_the_second_factor_of_a_password_sign_in(page, console, user, password):
    page.add_init_script(NO_AUTOFILL)
    VirtualAuthenticator(page)
    sign_in_with_password(page, user, password)
    add_passkey(page, "Virtual key")
    sign_out(page)

    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url("**/mfa/challenge/")
    assert session_state(page)["pending_stage"] == "mfa"
    page.get_by_role("button", name="Use a passkey").click()
    page.wait_for_url("**/accounts/")

    state = session_state(page)
    assert state["authenticated"] is True
    assert state["auth"]["amr"] == ["hwk", "mfa", "pwd", "user"]
    assert state["auth"]["acr"] == "urn:authsuite:acr:phr"
    assert console.csp_violations() == []


def test_sign_up_with_a_passkey_only(page, console, settings):
    """The mailed link's token leaves the address bar and the history at once; the page's
    script creates the passkey from the link the session keeps."""
    settings.AUTHSUITE_PASSKEYS_SIGNUP = True
    page.add_init_script(NO_AUTOFILL)
    authenticator = VirtualAuthenticator(page)
    email = "newcomer@example.com"
    page.goto("/passkeys/signup/")
    page.get_by_label("Email address").fill(email)
    page.get_by_role("button", name="Email me the link").click()
    page.wait_for_url("**/accounts/signup/verify/")

    page.goto(f"/mailbox/?to={email}")
    mail_link = page.locator("li.mail").first.locator("a.mail-link").first
    token = mail_link.get_attribute("href").rstrip("/").rsplit("/", 1)[-1]
    mail_link.click()
    page.wait_for_url(re.compile(r"/passkeys/signup/confirm/$"))
    assert token not in page.content()
    assert email in page.locator("main").inner_text()

    page.get_by_role("button", name="Create passkey").click()
    page.wait_for_url(lambda url: "/passkeys/signup/" not in url)
    state = session_state(page)
    assert state["authenticated"] is True and state["user"]["email"] == email
    assert len(authenticator.credentials()) == 1
    assert Passkey.objects.filter(user__email=email).count() == 1
    # Back goes to the mailbox, past the page, never to a URL holding the token.
    page.go_back()
    assert token not in page.url
    page.go_back()
    assert "/mailbox/" in page.url
    assert console.csp_violations() == []
