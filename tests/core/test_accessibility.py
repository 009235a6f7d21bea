"""The pages people use, as a screen reader or a keyboard meets them (WCAG 2.2 AA): every
page of the suite in its states (``tests/core/pages.py``), judged on the properties a
project overriding the templates must keep too (README, "Accessibility")."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.db import transaction
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import translation

from tests.core.pages import Node, Page, parse, rendered_pages
from tests.factories import UserFactory

CSS = Path(__file__).resolve().parents[2] / "authsuite" / "static" / "authsuite" / "authsuite.css"
LABELLED = ("input", "select", "textarea")
NOT_LABELLED = {"hidden", "submit", "button", "reset", "image"}

# The module's pages are rendered once (``pages``); the marker has the test database made
# even where only tests of them are selected.
pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def pages(django_db_setup, django_db_blocker) -> list[Page]:
    """Every page in every state, rendered once for the module, in a transaction rolled
    back at its end (mail is queued on commit: run at once here, as in the other tests)."""
    with django_db_blocker.unblock(), pytest.MonkeyPatch.context() as patch:
        patch.setattr("django.db.transaction.on_commit",
                      lambda func, using=None, robust=False: func())
        with transaction.atomic():
            rendered = rendered_pages(patch)
            transaction.set_rollback(True)
    return rendered


def each(pages: list[Page], check) -> None:
    """Run ``check(page)`` (a list of what is wrong) on every page; fail with all of it."""
    problems = [f"{page}: {problem}" for page in pages for problem in check(page)]
    assert not problems, "\n".join(problems)


def by_id(page: Page) -> dict[str, list[Node]]:
    found: dict[str, list[Node]] = {}
    for node in page.dom.walk():
        if node.get("id"):
            found.setdefault(node.get("id"), []).append(node)
    return found


def body(page: Page) -> Node:
    return page.dom.find_all("body")[0]


def labelled_controls(page: Page) -> list[Node]:
    """The controls a person meets: not those of type hidden, nor those the ``hidden``
    attribute takes out of the page (a password form's username for password managers)."""
    return [node for node in page.dom.find_all(*LABELLED)
            if (node.tag != "input" or node.get("type", "text") not in NOT_LABELLED)
            and "hidden" not in node.attrs]


def accessible_name(page: Page, node: Node) -> str:
    """The name a screen reader gives ``node`` (the parts of the computation the suite's
    pages use: aria-labelledby, aria-label, a label, alt, the content)."""
    if node.get("aria-labelledby"):
        ids = by_id(page)
        return " ".join(ids[i][0].text() for i in node.get("aria-labelledby").split() if i in ids)
    if node.get("aria-label"):
        return node.get("aria-label").strip()
    if node.tag in LABELLED:
        names = [label.text() for label in page.dom.find_all("label")
                 if node.get("id") and label.get("for") == node.get("id")]
        names += [a.text() for a in node.ancestors() if a.tag == "label"]
        return " ".join(names).strip()
    if node.tag == "img":
        return node.get("alt", "").strip()
    return node.text()


def has_errors(page: Page) -> bool:
    return any(node.get("aria-invalid") == "true" for node in page.dom.walk()) or any(
        "errors" in node.classes for node in page.dom.walk())


# --- the page as a whole -----------------------------------------------------------------------


def test_every_state_is_rendered(pages):
    # The checks below judge these; a state that stopped rendering would pass them unseen.
    assert len(pages) >= 55
    assert {page.status for page in pages} >= {200, 400, 403, 404, 405, 500}
    assert sum(has_errors(page) for page in pages) >= 15


def test_a_page_is_in_its_language_with_a_title_one_h1_and_one_main(pages):
    language = translation.get_language()

    def check(page):
        html = page.dom.find_all("html")[0]
        if html.get("lang", "").lower() != language.lower():
            yield f"<html lang> is {html.get('lang')!r}, the page is in {language!r}"
        titles = page.dom.find_all("title")
        title = titles[0].text() if titles else ""
        h1 = page.dom.find_all("h1")
        if len(h1) != 1:
            yield f"{len(h1)} h1"
        # The title names the page before the site; the h1 is never blank.
        site = title.rsplit(" · ", 1)[-1]
        if not title or title.startswith(" · ") or title.split(" · ")[0] in ("", site):
            yield f"title {title!r} does not name the page"
        if h1 and not h1[0].text():
            yield "an empty h1"
        if len(page.dom.find_all("main")) != 1:
            yield "not one main landmark"

    each(pages, check)


def test_the_titles_of_pages_with_errors_say_so(pages):
    def check(page):
        title = page.dom.find_all("title")[0].text()
        if has_errors(page) != title.startswith("Error: "):
            yield f"title {title!r}, errors on the page: {has_errors(page)}"

    each(pages, check)


def test_headings_go_down_one_level_at_a_time(pages):
    def check(page):
        level = 0
        for node in page.dom.walk():
            if re.fullmatch(r"h[1-6]", node.tag):
                if int(node.tag[1]) > level + 1:
                    yield f"{node.tag} {node.text()!r} after h{level}"
                level = int(node.tag[1])

    each(pages, check)


def test_the_navigation_can_be_skipped(pages):
    def check(page):
        if not page.dom.find_all("nav"):
            return
        focusable = [n for n in body(page).walk() if n.tag in ("a", "button", "input", "select",
                                                               "textarea")
                     and n.get("type") != "hidden"]
        first = focusable[0]
        target = (first.get("href") or "")[1:]
        main = page.dom.find_all("main")[0]
        if not (first.tag == "a" and first.get("href", "").startswith("#")
                and main.get("id") == target):
            yield f"the first thing a keyboard reaches is {first!r}, not a link to main"
        if main.get("tabindex") != "-1":
            yield "main cannot take the focus the skip link moves"

    each(pages, check)


def test_ids_are_unique_and_references_land(pages):
    def check(page):
        ids = by_id(page)
        for name, nodes in ids.items():
            if len(nodes) > 1:
                yield f"id {name!r} {len(nodes)} times"
        for node in page.dom.walk():
            refs = []
            for attribute in ("aria-describedby", "aria-labelledby", "aria-controls"):
                refs += (node.get(attribute) or "").split()
            if node.tag == "label" and node.get("for"):
                refs.append(node.get("for"))
            if node.tag == "a" and (node.get("href") or "").startswith("#") and node.get("href") != "#":
                refs.append(node.get("href")[1:])
            for ref in refs:
                if ref not in ids:
                    yield f"{node!r} refers to #{ref}, which is not on the page"

    each(pages, check)


def test_the_navigation_marks_the_page_it_is_on(pages):
    def check(page):
        for nav in page.dom.find_all("nav"):
            for link in nav.find_all("a"):
                here = link.get("href") == page.url
                if here != (link.get("aria-current") == "page"):
                    yield f"{link!r} on {page.url}: aria-current {link.get('aria-current')!r}"

    each(pages, check)
    assert any(link.get("aria-current") == "page" for page in pages
               for nav in page.dom.find_all("nav") for link in nav.find_all("a"))


# --- forms -------------------------------------------------------------------------------------


def test_every_field_has_a_label(pages):
    def check(page):
        for control in labelled_controls(page):
            if not accessible_name(page, control):
                yield f"{control!r} has no label"

    each(pages, check)


def test_field_errors_and_hints_are_tied_to_their_field(pages):
    def check(page):
        ids = by_id(page)
        for field in page.dom.walk():
            if "field" not in field.classes:
                continue
            controls = [c for c in field.walk() if c in labelled_controls(page)]
            described = {i for c in controls for i in (c.get("aria-describedby") or "").split()}
            for note in field.walk():
                if {"error", "hint"} & note.classes and note.get("id") not in described:
                    yield f"{note.text()!r} is not read with its field"
            for control in controls:
                invalid = control.get("aria-invalid") == "true"
                if invalid != ("has-error" in field.classes):
                    yield f"{control!r}: aria-invalid does not say whether it has an error"
                if invalid and not any("error" in ids[i][0].classes for i in described if i in ids):
                    yield f"{control!r} is invalid without its error as a description"

    each(pages, check)


def test_errors_of_a_whole_form_are_announced_and_the_focus_goes_to_the_first_error(pages):
    def check(page):
        for summary in page.dom.walk():
            if "errors" in summary.classes and summary.get("role") != "alert":
                yield f"{summary.text()!r} is not announced"
        if not has_errors(page):
            return
        focused = [n for n in body(page).walk() if "autofocus" in n.attrs]
        first = focused[0] if focused else None
        errors = [n for n in body(page).walk()
                  if "errors" in n.classes or n.get("aria-invalid") == "true"]
        if first is not errors[0]:
            yield f"the focus goes to {first!r}, not to the first error {errors[0]!r}"
        elif first.tag not in LABELLED and first.get("tabindex") != "-1":
            yield f"{first!r} cannot take the focus"

    each(pages, check)


def test_fields_say_what_they_hold(pages):
    """autocomplete (WCAG 1.3.5) and the keyboard a code needs."""

    def check(page):
        autofill = any("data-passkey-autofill" in n.attrs for n in page.dom.walk())
        for control in labelled_controls(page):
            kind, tokens = control.get("type", "text"), (control.get("autocomplete") or "").split()
            if kind == "password" and tokens not in (["current-password"], ["new-password"]):
                yield f"{control!r}: a password field autocompletes {tokens}"
            if kind == "email" and tokens[:1] not in (["email"], ["username"]):
                yield f"{control!r}: an address field autocompletes {tokens}"
            if autofill and kind == "email" and tokens != ["username", "webauthn"]:
                yield f"{control!r}: no passkey in the autofill of the sign-in's address"
            if control.get("inputmode") == "numeric":
                if tokens != ["one-time-code"]:
                    yield f"{control!r}: a code field autocompletes {tokens}"
                if control.get("autocapitalize") != "off" or control.get("spellcheck") != "false":
                    yield f"{control!r}: a code is corrected as words are"
                # Codes are accepted in any script's digits (mfa.codes): never ASCII only.
                pattern = control.get("pattern") or ""
                if re.search(r"0-9|\\d", pattern):
                    yield f"{control!r}: its pattern refuses the digits of other scripts"

    each(pages, check)


def test_password_fields_say_which_password(pages):
    new = {p.name for p in pages for c in labelled_controls(p)
           if (c.get("autocomplete") or "") == "new-password"}
    current = {p.name for p in pages for c in labelled_controls(p)
               if (c.get("autocomplete") or "") == "current-password"}
    assert {"signup", "password change", "password reset: confirm"} <= new
    assert {"login", "reauthenticate", "password change", "email verify: confirm"} <= current


def test_every_password_form_names_its_account_for_password_managers(pages):
    """A password field's form holds the account's username (its address): the sign-in's
    and sign-up's own field, else a hidden one, so a password manager fills, or saves, the
    password under that account instead of offering it as one of no account."""

    def check(page):
        for form in page.dom.find_all("form"):
            fields = form.find_all("input")
            if not any(f.get("type") == "password" for f in fields):
                continue
            named = [f for f in fields if (f.get("autocomplete") or "").split()[:1] == ["username"]]
            if len(named) != 1:
                yield f"a password form with {len(named)} username fields"
            elif "hidden" in named[0].attrs and "@" not in named[0].get("value", ""):
                yield f"{named[0]!r}: a hidden username field naming no account"

    each(pages, check)


# --- tables, graphics, controls ----------------------------------------------------------------


def test_tables_have_a_caption_and_named_headers(pages):
    def check(page):
        for table in page.dom.find_all("table"):
            captions = [n for n in table.children if isinstance(n, Node) and n.tag == "caption"]
            if not (captions and captions[0].text()) and not table.get("aria-labelledby"):
                yield "a table without a caption"
            for header in table.find_all("th"):
                if not header.text():
                    yield "a column header without words"
                if header.get("scope") not in ("col", "row"):
                    yield f"header {header.text()!r} without a scope"

    each(pages, check)


def test_graphics_have_a_text_alternative(pages):
    def check(page):
        for graphic in page.dom.find_all("img", "svg"):
            if graphic.get("aria-hidden") == "true":
                continue
            if graphic.tag == "img" and "alt" in graphic.attrs:
                continue
            holder = next((n for n in [graphic, *graphic.ancestors()] if n.get("role") == "img"),
                          None)
            if holder is None or not accessible_name(page, holder):
                yield f"{graphic!r} has no text alternative"

    each(pages, check)


def _what_it_does(page: Page, control: Node) -> tuple:
    """What pressing a button or following a link does: where it goes, with what."""
    if control.tag == "a":
        return ("get", control.get("href"))
    form = next((a for a in control.ancestors() if a.tag == "form"), None)
    if form is None:
        return ("script", tuple(sorted((k, v) for k, v in control.attrs.items()
                                       if k.startswith("data-"))))
    sent = tuple(sorted((i.get("name"), i.get("value")) for i in form.find_all("input")
                        if i.get("type") == "hidden" and i.get("name") != "csrfmiddlewaretoken"))
    action = form.get("action") or page.url  # no action: the page's own address
    return (form.get("method"), action, sent, control.get("name"), control.get("value"))


def test_controls_of_one_name_do_one_thing(pages):
    """A list of a page's buttons or links (a screen reader's) tells them apart: "End",
    "Remove" in each row of a table would not say which."""

    def check(page):
        seen: dict[tuple, tuple] = {}
        for control in body(page).walk():
            if control.tag not in ("a", "button") or (control.tag == "a" and "href" not in
                                                      control.attrs):
                continue
            name = accessible_name(page, control)
            if not name:
                yield f"{control!r} has no name"
                continue
            key, does = (control.tag, name), _what_it_does(page, control)
            if seen.setdefault(key, does) != does:
                yield f"two {control.tag}s named {name!r} do different things"

    each(pages, check)


# --- status messages, time limits --------------------------------------------------------------


def test_messages_are_in_a_live_region(password):
    user = UserFactory(password=password)
    client = Client()
    client.post(reverse("accounts:login"), {"email": user.email, "password": password})
    response = client.post(reverse("accounts:logout"), follow=True)
    dom = parse(response.content.decode())

    messages = [n for n in dom.find_all("li") if "You have signed out." in n.text()]
    assert messages
    region = next((a for a in messages[0].ancestors() if a.get("role") in ("status", "alert")),
                  None)
    assert region is not None
    # A live-region role on the list itself would take its list semantics away (and is not
    # allowed there); "list" restores what its style took (no bullets).
    assert all(n.get("role") in (None, "list") for n in dom.find_all("ul", "ol"))


@pytest.mark.parametrize(("seconds", "said"), [(600, "10 minutes"), (1200, "20 minutes"),
                                               (60, "1 minute"), (45, "45 seconds")])
def test_the_sign_in_link_lifetime_is_said(user, seconds, said):
    with override_settings(AUTHSUITE_ACCOUNTS_MAGIC_LINK_TIMEOUT=seconds):
        response = Client().post(reverse("accounts:magic_link"), {"email": user.email})
    status = [n for n in parse(response.content.decode()).walk() if n.get("role") == "status"]
    assert any(f"expires in {said}." in n.text() for n in status), [n.text() for n in status]


@pytest.mark.parametrize(("setting", "page", "seconds", "said"), [
    ("PASSWORD_RESET_TIMEOUT", "accounts:password_reset_done", 3600, "1 hour"),
    ("PASSWORD_RESET_TIMEOUT", "accounts:password_reset_done", 1800, "30 minutes"),
    ("EMAIL_VERIFICATION_TIMEOUT", "accounts:verification_sent", 86400, "24 hours"),
    ("EMAIL_VERIFICATION_TIMEOUT", "accounts:verification_sent", 7200, "2 hours"),
])
def test_the_lifetime_of_a_mailed_link_is_said(setting, page, seconds, said):
    with override_settings(**{f"AUTHSUITE_ACCOUNTS_{setting}": seconds}):
        text = parse(Client().get(reverse(page)).content.decode()).find_all("main")[0].text()
    assert f"{said}." in text, text


# --- the style sheet ---------------------------------------------------------------------------


def _rules() -> list[tuple[str, dict[str, str]]]:
    css = re.sub(r"/\*.*?\*/", "", CSS.read_text(), flags=re.S)
    css = re.sub(r"@media[^{]*\{((?:[^{}]*\{[^}]*\})*)\s*\}", r"\1", css)
    rules = []
    for selector, block in re.findall(r"([^{}]+)\{([^}]*)\}", css):
        declarations = dict(
            (name.strip(), value.strip()) for name, _, value in
            (d.partition(":") for d in block.split(";") if ":" in d))
        rules.append((" ".join(selector.split()), declarations))
    return rules


def _colour(value: str, variables: dict[str, str]) -> tuple[float, float, float] | None:
    value = re.sub(r"var\((--[\w-]+)\)", lambda m: variables[m.group(1)], value)
    found = re.search(r"#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b", value)
    if value.strip() in ("none", "transparent") or not found:
        return None
    digits = found.group(1)
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return tuple(int(digits[i:i + 2], 16) / 255 for i in (0, 2, 4))


def _contrast(a, b) -> float:
    def luminance(rgb):
        linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_text_and_field_borders_have_enough_contrast():
    rules = _rules()
    variables = {k: v for selector, d in rules if selector == ":root"
                 for k, v in d.items() if k.startswith("--")}
    white = (1.0, 1.0, 1.0)
    page_backgrounds = [white, _colour("#f6f8fa", {})]  # main, and the body around it
    problems = []
    for selector, declarations in rules:
        colour = _colour(declarations.get("color", ""), variables)
        background = _colour(declarations.get("background", ""), variables)
        if colour is None:
            continue
        against = [background] if background else page_backgrounds
        for back in against:
            if _contrast(colour, back) < 4.5:
                problems.append(f"{selector}: text at {_contrast(colour, back):.2f}:1")
    for selector, declarations in rules:
        border = declarations.get("border") or declarations.get("border-color") or ""
        if "input" in selector and border:
            colour = _colour(border, variables)
            if colour and _contrast(colour, white) < 3:
                problems.append(f"{selector}: a field's edge at {_contrast(colour, white):.2f}:1")
    assert not problems, problems


def test_the_focus_is_always_visible():
    rules = _rules()
    # Every control shows its focus, by a rule of the suite's own, not the browser's default
    # that a background colour may hide.
    shown = [d for selector, d in rules if selector == ":focus-visible"]
    assert shown and shown[0].get("outline", "none").split()[0] not in ("none", "0")
    # Only main, which the skip link focuses and no one operates, goes without.
    hidden = [selector for selector, d in rules if d.get("outline") in ("none", "0")]
    assert hidden == ["main:focus"], hidden
    # The skip link, out of sight, comes into it with the focus.
    skip = [d for selector, d in rules if selector == ".skip-link:focus"]
    assert skip and skip[0].get("position") == "static" and skip[0].get("width") == "auto"


def test_live_regions_are_never_hidden_from_assistive_technology(pages):
    hidden = [selector for selector, d in _rules()
              if d.get("display") == "none" or d.get("visibility") == "hidden"]
    hidden_classes = {m for s in hidden for m in re.findall(r"\.([\w-]+)", s)}

    def check(page):
        for node in page.dom.walk():
            live = node.get("role") in ("status", "alert") or node.get("aria-live")
            if live and node.classes & hidden_classes:
                yield (f"{node!r}: its class is hidden by {hidden}: a region out of the "
                       "accessibility tree when its words come is not read")

    each(pages, check)


def test_lists_without_bullets_keep_their_role(pages):
    """A list the style sheet takes the bullets from (``list-style: none``) is no list to
    VoiceOver on Safari unless it says so (``role="list"``): the recovery codes, messages and
    the mailbox's mail would be read as loose lines, with no count."""
    unbulleted = [selector for selector, declarations in _rules()
                  if declarations.get("list-style", "").startswith("none")]
    classes = {s.split()[0].lstrip(".") for s in unbulleted}
    assert {"messages", "mail-list", "codes"} <= classes, unbulleted
    seen = set()

    def check(page):
        for ul in page.dom.find_all("ul"):
            styled = ul.classes & classes or any(a.classes & classes for a in ul.ancestors())
            if styled:
                seen.update(ul.classes & classes or {"messages"})
                if ul.get("role") != "list":
                    yield f"{ul!r}: no bullets and no list role"

    each(pages, check)
    assert seen == {"messages", "mail-list", "codes"}
