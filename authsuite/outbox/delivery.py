"""Delivering one message: claim it, decide it if it is still a request, ask its guard,
render and send it, and record the outcome (sent, retried with backoff, or failed)."""

from __future__ import annotations

import contextlib
import json
import logging
import smtplib
from datetime import timedelta

from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.utils import timezone, translation

from authsuite import context as request_context
from authsuite import crypto, logs, notices
from authsuite.app_settings import app_settings
from authsuite.models import OutboxMessage
from authsuite.outbox import headers, registry
from authsuite.outbox.claims import claim, give_up, ours
from authsuite.outbox.enqueue import row

logger = logging.getLogger("authsuite.outbox")

_MAX_BACKOFF = 3600

#: What :func:`mail_deliver` returns for a request decided to need no message.
NOTHING_TO_SEND = "nothing_to_send"


class Unresolvable(Exception):
    """A row names a resolver or a guard nobody registered (its app was removed): retrying
    cannot help."""


class _ClaimLost(Exception):
    """The claim on a row being decided was taken over: undo the decision."""


class DeliveryDeferred(Exception):
    """Raised by :func:`mail_deliver` when a send failed and a retry is scheduled."""

    def __init__(self, countdown: int):
        super().__init__(f"retry in {countdown}s")
        self.countdown = countdown


def mail_deliver(message_id: int) -> str:
    """Send one outbox message if it is due and nobody else is sending it.

    Returns the resulting status, or ``"skipped"`` when the message is not ours to send
    (already sent, failed for good, or claimed by another worker).
    """
    message = claim(message_id)
    if message is None:
        return "skipped"
    if message == OutboxMessage.Status.FAILED:
        return message
    if message.expires_at is not None and message.expires_at <= timezone.now():
        return _expire(message)
    if message.resolver:
        try:
            decided = resolve(message)
        except Exception as exc:  # noqa: BLE001
            # Nothing the resolver wrote stays (its transaction rolled back): the row is
            # decided again at the next attempt, with the backoff of a failed send.
            return record_failure(message, exc)
        if decided != "resolved":
            return decided
        # The message decided, unless another worker took the claim over meanwhile: it
        # sends it then.
        message = ours(message).first()
        if message is None:
            return "skipped"
    try:
        unwanted = _unwanted(message)
    except Exception as exc:  # noqa: BLE001 - retried as a failed send
        return record_failure(message, exc)
    if unwanted:
        if not give_up(message, unwanted):
            return "skipped"
        logger.warning("outbox: message %s is no longer worth sending: %s", message.pk,
                       unwanted)
        return OutboxMessage.Status.FAILED
    try:
        email = render(message)
        email.send(fail_silently=False)
    except Exception as exc:  # noqa: BLE001
        # Any failure, even a backend's bug, or the task's soft time limit: the row must
        # leave "sending" with a backoff and an attempt count, or the sweeper would take it
        # over and retry it forever.
        return record_failure(message, exc)
    # Recorded whether or not the claim is still ours: the mail did go out.
    OutboxMessage.objects.filter(pk=message.pk).update(
        status=OutboxMessage.Status.SENT, sent_at=timezone.now(), sealed_context="",
        claimed_at=None, last_error="",
    )
    return OutboxMessage.Status.SENT


def resolve(message: OutboxMessage) -> str:
    """Decide an unresolved row, once: rewrite it into its message (``"resolved"``), or
    remove it when there is nothing to send (:data:`NOTHING_TO_SEND`); ``"skipped"`` when
    this worker's claim was taken over meanwhile (a send that outlived
    ``MAIL_CLAIM_TIMEOUT``), so that only one worker ever decides it."""
    resolver = registry.resolvers.get(message.resolver)
    if resolver is None:
        raise Unresolvable(f"no resolver is registered as {message.resolver!r}")
    mine = ours(message).filter(resolver=message.resolver)
    try:
        with transaction.atomic():
            # Under a row lock (PostgreSQL; SQLite runs one writer at a time): a worker that
            # took the claim over waits here, and then finds the row no longer its own.
            if not list(mine.select_for_update().values_list("pk", flat=True)):
                return "skipped"
            with request_context.restored(message.context.get("request") or {}), \
                    in_language(message):
                decided = resolver(message)
            done = (mine.delete()[0] if decided is None
                    else mine.update(resolver="", **row(**decided)))
            if not done:
                raise _ClaimLost
    except _ClaimLost:
        return "skipped"
    return NOTHING_TO_SEND if decided is None else "resolved"


def opened(message: OutboxMessage) -> dict:
    """The secrets sealed in ``message``; {} when it carries none."""
    if not message.sealed_context:
        return {}
    secrets = crypto.unseal(message.sealed_context)
    if secrets is None:
        # Retried as any failed send: listing the key that sealed it among the
        # fallbacks before the attempts run out still gets it delivered.
        raise ValueError("sealed context cannot be opened: tampered with, or "
                         "AUTHSUITE_SECRET_BOX_KEY (SECRET_KEY when unset) changed without "
                         "the old key in its fallbacks")
    return json.loads(secrets)


def in_language(message: OutboxMessage):
    """Translation into the language of the request that queued ``message``, while the site
    still offers it (``LANGUAGES``); otherwise the worker's own, ``LANGUAGE_CODE``. A mail
    is then one language throughout: its templates' words and those its context was given
    when queued (an alert's summary), whether a worker renders it or the request itself
    (eager Celery)."""
    if message.language:
        try:
            return translation.override(
                translation.get_supported_language_variant(message.language))
        except LookupError:
            pass
    return contextlib.nullcontext()


def render(message: OutboxMessage) -> EmailMultiAlternatives:
    """The email of ``message``: its templates rendered with its context and secrets, in
    its language (:func:`in_language`), with the headers of :mod:`authsuite.outbox.headers`
    (:class:`~authsuite.outbox.headers.Undeliverable` for a recipient it cannot reach)."""
    to = headers.recipient(message.to)
    # A link's mail says until when it works (the row's expiry, which its link's token
    # shares): in UTC, as mails write times, so that it holds whenever the mail is read.
    expires = notices.utc_text(message.expires_at) if message.expires_at is not None else ""
    context = {"site_name": app_settings.SITE_NAME, "expires": expires, **message.context,
               **opened(message)}
    base = f"{message.template}"
    with in_language(message):
        subject = render_to_string(f"{base}_subject.txt", context).strip()
        subject = " ".join(subject.splitlines())  # a header cannot carry a newline
        body = render_to_string(f"{base}_message.txt", context)
        try:
            html = render_to_string(f"{base}_message.html", context)
        except TemplateDoesNotExist:
            html = None
    email = EmailMultiAlternatives(
        subject=subject, body=body, from_email=headers.sender(), to=[to],
        headers={"Message-ID": headers.message_id(message), **headers.AUTOMATED,
                 "X-Authsuite-Message": str(message.pk)},
    )
    if html is not None:
        email.attach_alternative(html, "text/html")
    return email


def _expire(message: OutboxMessage) -> str:
    """Fail ``message``, which expired before it could be sent or, still a request, before
    it could be decided."""
    if message.resolver:
        # Not decided at all: the broker or the workers were down for longer than an
        # answer is of use. Deciding it now would issue a link nobody is waiting for (and
        # look the account up, record the request, void the links it has) long after it
        # was asked for; the person has asked again, or will.
        error = "The request expired before it could be answered."
    else:
        # Its link no longer works (the broker or the mail server was down until now): the
        # person asks for a new one rather than receiving a dead one, late.
        error = "Its link expired before it could be sent."
    if not give_up(message, error):
        return "skipped"
    logger.warning("outbox: %s %s: %s", "request" if message.resolver else "message",
                   message.pk, error)
    return OutboxMessage.Status.FAILED


def _unwanted(message: OutboxMessage) -> str:
    """Why ``message`` is no longer worth sending, by its guard; "" when it still is."""
    if not message.guard:
        return ""
    check = registry.guards.get(message.guard)
    if check is None:
        raise Unresolvable(f"no guard is registered as {message.guard!r}")
    return check(message, opened(message)) or ""


def permanent(exc: Exception) -> bool:
    """Whether retrying cannot help: the message itself was refused for good.

    SMTP 5xx replies are permanent (RFC 5321, 4.2.1) when they are about this message:
    every recipient refused (no such mailbox), or the content refused at DATA (too large,
    rejected as spam). A 5xx to authentication or to the sender address is about the
    server's configuration, which its operators fix: those messages keep their retries.
    """
    if isinstance(exc, TemplateDoesNotExist | Unresolvable | headers.Undeliverable):
        return True
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _reply in exc.recipients.values()]
        return bool(codes) and all(500 <= code < 600 for code in codes)
    if isinstance(exc, smtplib.SMTPDataError):
        return 500 <= exc.smtp_code < 600
    return False


def error_text(message: OutboxMessage, exc: Exception) -> str:
    """What a failed attempt is logged and kept as (``last_error``, shown to staff): one
    line, without the message's secrets. A server's reply may quote what it refused (a
    spam filter's "URL blocked" names the sign-in link), and any exception text may hold
    a CR/LF that would forge a log line of its own."""
    try:
        secrets = list(opened(message).values())
    except Exception:  # noqa: BLE001 - a row that cannot be opened holds nothing to blank
        secrets = []
    return logs.one_line(logs.scrubbed(f"{type(exc).__name__}: {exc}", secrets), 500)


def record_failure(message: OutboxMessage, exc: Exception) -> str:
    """Record a failed attempt: retried later with backoff (:class:`DeliveryDeferred`), or
    failed for good once the attempts run out or retrying cannot help."""
    error = error_text(message, exc)
    if message.attempts >= app_settings.MAIL_MAX_ATTEMPTS or permanent(exc):
        if not give_up(message, error):
            return "skipped"
        logger.error("outbox: message %s failed for good: %s", message.pk, error)
        return OutboxMessage.Status.FAILED
    countdown = min(app_settings.MAIL_RETRY_BACKOFF * 2 ** (message.attempts - 1), _MAX_BACKOFF)
    if not ours(message).update(
        status=OutboxMessage.Status.PENDING, claimed_at=None, last_error=error,
        next_attempt_at=timezone.now() + timedelta(seconds=countdown),
    ):
        return "skipped"
    logger.warning("outbox: message %s attempt %s failed: %s", message.pk, message.attempts, error)
    raise DeliveryDeferred(countdown)
