"""Every email the suite sends has a subject, a text part and an HTML part, and the HTML part
carries the same link as the text and escapes what it shows."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.template.loader import render_to_string

ROOT = Path(__file__).resolve().parents[2]
APPS = ["accounts", "mfa", "passkeys", "audit"]
HOSTILE = '<script>alert("x")</script>'


def suite_emails() -> list[str]:
    """``<app>/email/<name>`` for every ``*_subject.txt`` the suite's apps ship."""
    found = []
    for app in APPS:
        for subject in sorted((ROOT / app / "templates").glob("*/email/*_subject.txt")):
            relative = subject.relative_to(ROOT / app / "templates").as_posix()
            found.append(relative.removesuffix("_subject.txt"))
    return found


def test_the_list_is_the_suites():
    emails = suite_emails()
    assert "accounts/email/magic_link" in emails
    assert "accounts/email/passkey_signup" in emails
    assert "audit/email/alert" in emails
    assert len(emails) >= 11


@pytest.mark.parametrize("base", suite_emails())
def test_every_email_has_a_text_and_an_html_part(base):
    context = {
        "email": "ann@example.com", "old_email": "old@example.com",
        "new_email": "new@example.com", "url": "https://id.example.com/accounts/x/abc123/",
        "site_name": "Example ID", "when": "2026-11-22 10:00 UTC", "device": HOSTILE,
        "ip": "203.0.113.5", "summary": "Something happened.", "advice": "Look into it.",
    }
    text = render_to_string(f"{base}_message.txt", context)
    html = render_to_string(f"{base}_message.html", context)
    assert render_to_string(f"{base}_subject.txt", context).strip()

    assert html.lstrip().startswith("<!doctype html>")
    assert "Example ID" in html
    assert "<script>" not in html
    if HOSTILE in text:
        assert "&lt;script&gt;" in html  # shown, escaped
    if context["url"] in text:
        assert f'href="{context["url"]}"' in html
