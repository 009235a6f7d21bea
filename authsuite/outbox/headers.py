"""The headers of a message as mail servers and clients read them: who it is from, an
identity that stays the same across retries, the marks of automated mail, and a recipient
Django's mail can really reach."""

from __future__ import annotations

from email.errors import HeaderParseError
from email.headerregistry import Address
from email.utils import parseaddr

from django.core.mail.message import DNS_NAME
from django.utils.encoding import punycode

from authsuite.app_settings import app_settings
from authsuite.models import OutboxMessage

#: Automated mail (RFC 3834, 2): vacation responders, mailing lists and ticket systems do
#: not answer it; Exchange and Outlook read X-Auto-Response-Suppress instead. Only their
#: automatic replies are suppressed: delivery and non-delivery reports still come back.
AUTOMATED = {"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "OOF, AutoReply"}


class Undeliverable(ValueError):
    """A recipient address no message from Django's mail can reach: retrying cannot help."""


def sender() -> str:
    """``DEFAULT_FROM_EMAIL`` (the suite's, else Django's), with ``SITE_NAME`` as its display
    name when it names none: mail clients then show the site rather than ``no-reply``."""
    configured = app_settings.DEFAULT_FROM_EMAIL
    name, address = parseaddr(configured)
    if name or not address or "@" not in address:
        return configured  # a name of its own, or something Django reports when sending
    # One line: a header cannot carry a newline, whatever the setting holds.
    site = " ".join(app_settings.SITE_NAME.split())
    if not site:
        return configured
    try:
        # Quoted as the name needs (a comma, a dot), encoded (RFC 2047) by Django when it
        # is not ASCII.
        return str(Address(display_name=site, addr_spec=address))
    except (HeaderParseError, ValueError, IndexError):
        return configured


def message_id(message: OutboxMessage) -> str:
    """The Message-ID of ``message``: the same at every attempt to send it, so that a retry
    after a send the server did accept (its reply lost to a timeout) is recognised by
    receivers as the same message rather than a second one. Made of the row's creation time
    and id, at the sender's domain (``DNS_NAME``, the host's name, when it has none)."""
    _local, at, domain = parseaddr(app_settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")
    try:
        domain = punycode(domain) if at and domain else ""
    except UnicodeError:
        domain = ""
    if not domain or not domain.isascii() or not all(
            c.isalnum() or c in "-." for c in domain):
        domain = str(DNS_NAME)
    stamp = message.created_at.strftime("%Y%m%d%H%M%S%f")
    return f"<{stamp}.{message.pk}.authsuite@{domain}>"


def recipient(address: str) -> str:
    """``address`` if Django's mail can deliver to it, else :class:`Undeliverable`.

    A local part that is not ASCII needs SMTPUTF8 (RFC 6531), which Django's mail does not
    speak: it would send the local part RFC 2047-encoded, an address of another mailbox,
    which the server accepts and nobody reads. (An internationalised domain is fine:
    Django sends it in its IDNA spelling.) A line break or a second address would add
    headers or recipients; Django refuses those at every attempt."""
    name, parsed = parseaddr(address)
    local, at, _domain = address.rpartition("@")
    if any(c in address for c in "\r\n") or not at or name or parsed != address:
        raise Undeliverable(f"{address!r} is not a single email address.")
    if not local.isascii():
        raise Undeliverable(
            f"{address!r} has a local part that is not ASCII: delivering it needs SMTPUTF8, "
            f"which Django's mail does not use.")
    return address
