"""The account pages in Chromium: sign-up to sign-out, magic links, errors and the keyboard."""

from __future__ import annotations

import re

import pytest

from accounts.flows.login import GENERIC_FAILURE
from accounts.models import EmailAddress, UserSession
from accounts.sessions import device_name

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def open_mail_link(page, to: str) -> None:
    """Open the mailbox filtered on ``to`` and follow the link of the newest message."""
    page.goto(f"/mailbox/?to={to}")
    page.locator("li.mail").first.locator("a.mail-link").first.click()


def assert_csp_enforced(response) -> None:
    # Without the header a clean console would prove nothing.
    policy = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in policy


def test_signup_verify_login_sessions_logout(page, console, password):
    email = "ann@example.com"
    assert_csp_enforced(page.goto("/accounts/signup/"))
    page.get_by_label("Name").fill("Ann")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/accounts/signup/verify/")
    assert page.get_by_role("heading", name="Check your inbox").is_visible()

    open_mail_link(page, email)
    # The token has left the address bar: the session holds it, sealed.
    page.wait_for_url(re.compile(r"/accounts/email/verify/confirm/$"))
    assert email in page.locator("main").inner_text()
    assert not EmailAddress.objects.get(email=email).verified  # opening the link uses nothing
    # Not signed in: the password shows that whoever confirms also chose the account.
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Verify address").click()
    page.wait_for_url("**/accounts/login/")
    assert "Your email address is verified." in page.locator(".messages").inner_text()
    assert EmailAddress.objects.get(email=email).verified

    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url("**/accounts/")
    assert f"Signed in as {email}" in page.locator("main").inner_text()

    page.goto("/accounts/sessions/")
    current = page.locator("tr.session", has_text="This browser")
    assert current.count() == 1
    user_agent = page.evaluate("navigator.userAgent")
    assert device_name(user_agent) in current.inner_text()

    page.locator("header.site").get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/accounts/login/")
    assert "You have signed out." in page.locator(".messages").inner_text()
    assert UserSession.objects.get(user__email=email).end_reason == "logout"

    page.goto("/accounts/sessions/")
    page.wait_for_url("**/accounts/login/?next=/accounts/sessions/")
    assert page.locator("header.site").get_by_role("link", name="Sign in", exact=True).is_visible()
    assert console.csp_violations() == []


def test_magic_link_sign_in(page, console, user):
    assert_csp_enforced(page.goto("/accounts/magic-link/"))
    page.get_by_label("Email address").fill(user.email)
    page.get_by_role("button", name="Email me a link").click()
    assert "a sign-in link is on its way" in page.get_by_role("status").inner_text()

    open_mail_link(page, user.email)
    page.wait_for_url(re.compile(r"/accounts/magic-link/confirm/$"))
    assert f"Sign in as {user.email}" in page.locator("main").inner_text()
    assert page.locator("header.site").get_by_role("button", name="Sign out").count() == 0

    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url("**/accounts/")
    assert f"Signed in as {user.email}" in page.locator("main").inner_text()
    assert "email" in page.locator("main .hint").inner_text()  # amr of a magic link
    assert console.csp_violations() == []


def test_wrong_password_shows_the_generic_error(page, console, user):
    assert_csp_enforced(page.goto("/accounts/login/"))
    for email in (user.email, "nobody@example.com"):
        page.get_by_label("Email address").fill(email)
        page.get_by_label("Password").fill("not the password at all")
        page.get_by_role("button", name="Sign in", exact=True).click()
        page.wait_for_load_state()
        # The same words whether the account exists or not.
        assert page.get_by_role("alert").inner_text().strip() == GENERIC_FAILURE
        assert page.get_by_label("Password").input_value() == ""
    assert console.csp_violations() == []


def test_fields_have_labels_and_autocomplete(page, console):
    page.goto("/accounts/login/")
    # "username", optionally followed by "webauthn" when passkey autofill is offered.
    email_tokens = page.get_by_label("Email address").get_attribute("autocomplete").split()
    assert email_tokens[0] == "username"
    assert set(email_tokens[1:]) <= {"webauthn"}
    assert page.get_by_label("Password").get_attribute("autocomplete") == "current-password"
    assert page.get_by_label("Password").get_attribute("type") == "password"

    page.goto("/accounts/signup/")
    assert page.get_by_label("Name").get_attribute("autocomplete") == "name"
    assert page.get_by_label("Email address").get_attribute("autocomplete") == "username"
    assert page.get_by_label("Password").get_attribute("autocomplete") == "new-password"
    # The honeypot is out of sight and out of the tab order.
    honeypot = page.get_by_label("Leave this field empty")
    assert honeypot.get_attribute("tabindex") == "-1"
    assert not honeypot.is_visible() or honeypot.bounding_box()["x"] < 0
    assert console.csp_violations() == []


def focused(page) -> str:
    return page.evaluate("document.activeElement.name || document.activeElement.tagName")


def test_keyboard_only_sign_in(page, console, user, password):
    page.goto("/accounts/login/")
    assert focused(page) == "email"  # autofocus: typing starts at once
    page.keyboard.type(user.email)
    page.keyboard.press("Tab")
    assert focused(page) == "password"
    page.keyboard.type(password)
    page.keyboard.press("Tab")
    assert focused(page) == "remember"
    page.keyboard.press("Space")
    assert page.get_by_label("Keep me signed in").is_checked()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Sign in"
    page.keyboard.press("Enter")
    page.wait_for_url("**/accounts/")
    assert f"Signed in as {user.email}" in page.locator("main").inner_text()
    assert UserSession.objects.get(user=user, ended_at__isnull=True).remember
    assert console.csp_violations() == []


def test_login_page_screenshot(page, console, tmp_path_factory):
    """A picture of the sign-in page for a human to look at; it must render styled."""
    page.goto("/accounts/login/")
    button = page.get_by_role("button", name="Sign in", exact=True)
    # The stylesheet loaded (it is the only source of the accent background).
    assert button.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(11, 92, 173)"
    path = tmp_path_factory.getbasetemp() / "login.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 0
    assert console.csp_violations() == []


def test_the_keyboard_skips_the_navigation_and_errors_take_the_focus(page, console, user):
    page.goto("/accounts/password/reset/sent/")
    page.keyboard.press("Tab")
    skip = page.locator(":focus")
    assert skip.inner_text() == "Skip to main content"
    assert skip.bounding_box()["width"] > 50  # seen once it has the focus
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.tagName") == "MAIN"

    page.goto("/accounts/login/")
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password").fill("not the password at all")
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_load_state()
    # The page comes back with the form's error focused, read as an alert.
    assert page.title().startswith("Error: ")
    assert page.evaluate("document.activeElement.getAttribute('role')") == "alert"
    assert page.locator(":focus").inner_text().strip() == GENERIC_FAILURE

    page.get_by_label("Password").fill("")
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_load_state()
    # A field's own error: the focus on the field, the error read as its description.
    assert focused(page) == "password"
    described = page.evaluate("""() => document.activeElement.getAttribute('aria-describedby')
        .split(' ').map(id => document.getElementById(id).textContent).join(' ')""")
    assert "This field is required." in described
    assert console.csp_violations() == []
