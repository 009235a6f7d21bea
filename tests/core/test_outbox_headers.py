"""The outbox's mail as mail servers and clients read it: the bytes Django's backend would
put on the wire, parsed back with the email package."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.utils import parseaddr
from smtplib import SMTPServerDisconnected

import pytest
from django.core import mail

from authsuite import outbox
from authsuite.models import OutboxMessage
from tests.core.test_outbox import FlakyBackend

Status = OutboxMessage.Status
GREETING = "outbox_test/greeting"

pytestmark = pytest.mark.usefixtures("eager_celery", "outbox_templates")


def new_message(**fields) -> OutboxMessage:
    values = {"template": GREETING, "to": "ann@example.com", "context": {"name": "Ann"}}
    values.update(fields)
    return OutboxMessage.objects.create(**values)


def wire(email):
    """``email`` as its bytes on the wire, parsed back."""
    return message_from_bytes(email.message().as_bytes(linesep="\r\n"), policy=policy.default)


def delivered(**fields):
    message = new_message(**fields)
    assert outbox.mail_deliver(message.pk) == Status.SENT
    [sent] = mail.outbox
    return message, wire(sent)


def test_a_retry_of_a_message_carries_the_message_id_of_the_first_attempt(db, settings):
    # The first attempt reached the server, which accepted the message, but the reply was
    # lost: the retry must be recognisable as the same message.
    settings.EMAIL_BACKEND = "tests.core.test_outbox.FlakyBackend"
    FlakyBackend.sent, FlakyBackend.failures = [], 0
    message = new_message()
    assert outbox.mail_deliver(message.pk) == Status.SENT
    OutboxMessage.objects.filter(pk=message.pk).update(status=Status.PENDING)
    assert outbox.mail_deliver(message.pk) == Status.SENT
    first, second = (wire(email) for email in FlakyBackend.sent)
    assert first["Message-ID"] == second["Message-ID"]
    assert first["Message-ID"].startswith("<") and first["Message-ID"].endswith("@example.com>")
    assert len(first.get_all("Message-ID")) == 1
    assert str(message.pk) in first["Message-ID"]

    other = new_message()
    outbox.mail_deliver(other.pk)
    assert wire(FlakyBackend.sent[-1])["Message-ID"] != first["Message-ID"]


def test_the_message_id_survives_a_failed_attempt_and_rendering_again(db, settings):
    settings.EMAIL_BACKEND = "tests.core.test_outbox.FlakyBackend"
    FlakyBackend.sent, FlakyBackend.failures = [], 0
    message = new_message()
    expected = wire(outbox.render(message))["Message-ID"]
    FlakyBackend.failures, FlakyBackend.error = 1, SMTPServerDisconnected("timed out")
    with pytest.raises(outbox.DeliveryDeferred):
        outbox.mail_deliver(message.pk)
    OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=message.created_at)
    assert outbox.mail_deliver(message.pk) == Status.SENT
    assert wire(FlakyBackend.sent[0])["Message-ID"] == expected


@pytest.mark.parametrize(("sender", "domain"), [
    ("id@example.com", "example.com"),
    ("Exämple <id@bücher.example>", "xn--bcher-kva.example"),
])
def test_the_message_id_is_at_the_senders_domain(db, settings, sender, domain):
    settings.AUTHSUITE_DEFAULT_FROM_EMAIL = sender
    _message, parsed = delivered()
    assert parsed["Message-ID"].endswith(f"@{domain}>")
    assert parsed["Message-ID"].isascii()


def test_a_sender_without_a_domain_gives_the_message_id_the_hosts(db, settings):
    from django.core.mail.message import DNS_NAME

    settings.AUTHSUITE_DEFAULT_FROM_EMAIL = "webmaster"
    message = new_message()
    parsed = wire(outbox.render(message))
    assert parsed["Message-ID"].endswith(f"@{DNS_NAME}>")


def test_mail_is_marked_automated_and_dated(db):
    _message, parsed = delivered()
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert parsed["X-Auto-Response-Suppress"] == "OOF, AutoReply"
    assert parsed["Date"].datetime is not None  # RFC 5322 date, parsed back
    assert len(parsed.get_all("Date")) == 1
    assert parsed["Precedence"] is None and parsed["List-Unsubscribe"] is None


def test_a_sender_without_a_name_is_shown_as_the_site(db, settings):
    settings.AUTHSUITE_DEFAULT_FROM_EMAIL = "id@example.com"
    settings.AUTHSUITE_SITE_NAME = "Example, Inc. ID"
    _message, parsed = delivered()
    assert parseaddr(str(parsed["From"])) == ("Example, Inc. ID", "id@example.com")


def test_a_sender_with_a_name_keeps_it(db, settings):
    settings.AUTHSUITE_DEFAULT_FROM_EMAIL = "Security <security@example.com>"
    _message, parsed = delivered()
    assert parseaddr(str(parsed["From"])) == ("Security", "security@example.com")


@pytest.mark.parametrize("separator", ["\n", "\r\n", "\u2028"])
def test_a_site_name_with_a_line_break_adds_no_header_to_the_sender(db, settings, separator):
    settings.AUTHSUITE_DEFAULT_FROM_EMAIL = "id@example.com"
    settings.AUTHSUITE_SITE_NAME = f"Example{separator}Bcc: eve@example.com"
    _message, parsed = delivered()
    assert parsed["Bcc"] is None
    assert parsed["From"].addresses[0].addr_spec == "id@example.com"
    assert parsed["From"].addresses[0].display_name == "Example Bcc: eve@example.com"


def test_non_ascii_names_and_subjects_are_encoded_words(db, settings):
    settings.AUTHSUITE_DEFAULT_FROM_EMAIL = "id@example.com"
    settings.AUTHSUITE_SITE_NAME = "Société Générale ID"
    message = new_message(context={"name": "Zoë"})
    outbox.mail_deliver(message.pk)
    raw = mail.outbox[0].message().as_bytes(linesep="\r\n")
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()  # RFC 2047: every header on the wire is ASCII
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["Subject"] == "Hello Zoë from Société Générale ID"
    assert parsed["From"].addresses[0].display_name == "Société Générale ID"


def test_an_internationalised_domain_is_sent_in_its_idna_spelling(db):
    _message, parsed = delivered(to="ann@bücher.example")
    assert parsed["To"].addresses[0].addr_spec == "ann@xn--bcher-kva.example"
    assert mail.outbox[0].recipients() == ["ann@bücher.example"]


def test_a_non_ascii_local_part_fails_at_once_rather_than_reaching_another_mailbox(db):
    message = new_message(to="zoë@example.com")
    assert outbox.mail_deliver(message.pk) == Status.FAILED
    assert mail.outbox == []
    stored = OutboxMessage.objects.get(pk=message.pk)
    assert stored.attempts == 1
    assert "SMTPUTF8" in stored.last_error


def test_a_line_break_in_the_recipient_fails_at_once(db):
    message = new_message(to="ann@example.com\r\nBcc: eve@example.com")
    assert outbox.mail_deliver(message.pk) == Status.FAILED
    assert mail.outbox == []
    assert OutboxMessage.objects.get(pk=message.pk).attempts == 1


def test_two_recipients_in_one_address_fail_at_once(db):
    message = new_message(to="ann@example.com, eve@example.com")
    assert outbox.mail_deliver(message.pk) == Status.FAILED
    assert mail.outbox == []


def test_the_message_keeps_its_own_header_for_staff(db):
    message, parsed = delivered()
    assert parsed["X-Authsuite-Message"] == str(message.pk)
    assert str(make_header(decode_header(parsed["Subject"]))) == "Hello Ann from Example ID"


# --- the suite's own mails, as rendered ----------------------------------------------------------


def suite_message(template: str, url: str, **fields) -> OutboxMessage:
    import json

    from authsuite import crypto

    context = {"email": "ann@example.com", "when": "2026-11-22 10:00 UTC",
               "device": "Firefox on Linux", "ip": "203.0.113.5"}
    return new_message(template=template, context=context,
                       sealed_context=crypto.seal(json.dumps({"url": url})), **fields)


def parts(parsed) -> dict:
    return {part.get_content_type(): part for part in parsed.walk()
            if not part.is_multipart()}


def test_a_long_link_keeps_every_line_on_the_wire_within_998_characters(db, settings):
    url = "https://id.example.com/accounts/magic-link/" + "t" * 2500 + "/"
    message = suite_message("accounts/email/magic_link", url)
    raw = outbox.render(message).message().as_bytes(linesep="\r\n")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998  # RFC 5322, 2.1.1
    found = parts(message_from_bytes(raw, policy=policy.default))
    text, html = (found[kind].get_content().replace("\r\n", "\n")
                  for kind in ("text/plain", "text/html"))
    assert f"\n{url}\n" in text  # whole once decoded: the reader's client can open it
    assert f'href="{url}"' in html


@pytest.mark.parametrize("language", ["en-us", "de", "fr"])
def test_the_html_part_says_the_messages_language_and_both_parts_their_charset(
        db, settings, language):
    settings.LANGUAGES = [("en-us", "English"), ("de", "Deutsch"), ("fr", "Français")]
    message = suite_message("accounts/email/magic_link", "https://id.example.com/x/",
                            language=language)
    found = parts(wire(outbox.render(message)))
    html = found["text/html"].get_content()
    assert f'<html lang="{language}"' in html
    assert '<meta charset="utf-8">' in html
    for part in found.values():
        assert part.get_content_charset() == "utf-8"
