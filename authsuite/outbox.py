"""The mail outbox: email is never sent inside a request.

``mail_enqueue`` writes a row in the caller's transaction and queues delivery on commit.
``mail_deliver`` claims a row atomically, renders and sends it, and records the outcome; it is
safe to call any number of times for one row (a retried task, the sweeper, a second worker)
because only the caller that wins the claim sends. ``outbox_sweep`` re-queues rows that a
lost task or an unreachable broker left behind, so a broker outage delays mail and loses none.

``mail_enqueue_unresolved`` writes a request whose message is decided at delivery instead
(what a sign-in link asked for an address gets): the request does the same work whatever
the answer, and the first delivery decides it, once, in one transaction with whatever the
decision writes, then sends the result as any other message. A request still undecided when
it expires is dropped without being decided: its answer would come too late to be of use.

A message written with a guard (``guard_register``) is checked before each attempt to send
it: one whose link stopped working meanwhile (a newer link voided it) fails instead of
mailing a dead link.

A send must end before ``MAIL_CLAIM_TIMEOUT`` lets another worker take the message over:
``delivery_time_limits`` gives the Celery task a soft and a hard time limit below it.
"""

from __future__ import annotations

import json
import logging
import smtplib
from collections.abc import Callable
from datetime import timedelta

from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F, Q
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.utils import timezone

from authsuite import context as request_context
from authsuite import crypto
from authsuite.app_settings import app_settings
from authsuite.models import OutboxMessage

logger = logging.getLogger("authsuite.outbox")

_MAX_BACKOFF = 3600

#: What :func:`mail_deliver` returns for a request decided to need no message.
NOTHING_TO_SEND = "nothing_to_send"

_resolvers: dict[str, Callable[[OutboxMessage], dict | None]] = {}
_guards: dict[str, Callable[[OutboxMessage, dict], str]] = {}


def _row(*, template: str, to: str, context: dict | None = None, secrets: dict | None = None,
         user=None, expires_at=None, guard: str = "") -> dict:
    return {"template": template, "to": to, "user": user, "context": context or {},
            "sealed_context": crypto.seal(json.dumps(secrets)) if secrets else "",
            "expires_at": expires_at, "guard": guard}


def mail_enqueue(
    *, template: str, to: str, context: dict | None = None, secrets: dict | None = None,
    user=None, expires_at=None, guard: str = "",
) -> OutboxMessage:
    """Record an email to send once the surrounding transaction commits.

    ``context`` must be JSON-serialisable and holds no secret; ``secrets`` (tokens, links
    that sign someone in) is encrypted at rest and erased after delivery. ``expires_at``:
    when the secrets stop working; a message still unsent then is never sent. ``guard``:
    the name of the check (:func:`guard_register`) that tells, before each attempt to send
    it, whether the message is still worth sending.
    """
    message = OutboxMessage.objects.create(
        **_row(template=template, to=to, context=context, secrets=secrets, user=user,
               expires_at=expires_at, guard=guard))
    transaction.on_commit(lambda: _queue(message.pk))
    return message


def resolver_register(name: str, resolve: Callable[[OutboxMessage], dict | None]) -> None:
    """Make ``resolve(message)`` the resolver ``name`` (from ``AppConfig.ready``).

    It decides what a row written by :func:`mail_enqueue_unresolved` becomes: the keyword
    arguments of :func:`mail_enqueue` (``template``, ``to``, ``context``, ``secrets``,
    ``user``, ``expires_at``, ``guard``) of the message to send, or None when nothing is to
    be sent. It runs at the row's first delivery, once (never for a request that expired
    first), in the transaction that rewrites the row and under the request's restored
    context (``authsuite.context.restored``: its IP, user agent and request id, no request
    object), so whatever it writes (a token, an audit event) commits with the decision or
    not at all, and a retried send never runs it again.
    """
    _resolvers[name] = resolve


def guard_register(name: str, check: Callable[[OutboxMessage, dict], str]) -> None:
    """Make ``check(message, secrets)`` the guard ``name`` (from ``AppConfig.ready``).

    A message written with ``guard=name`` is checked before each attempt to send it, the
    first and every retry: ``check`` gets the row and its opened secrets and returns ""
    while the message is still worth sending, else why it no longer is (a sentence for
    staff, kept as its ``last_error``). Such a message fails, its secret erased, and nothing
    is sent: a retry after an SMTP failure would otherwise mail a link that a newer one
    voided meanwhile. ``check`` only reads; an exception it raises is a failed attempt,
    retried with the send's backoff.
    """
    _guards[name] = check


def mail_enqueue_unresolved(*, resolver: str, to: str, context: dict, request,
                            expires_at=None) -> OutboxMessage:
    """Record, in the caller's transaction, a request whose message the resolver
    ``resolver`` decides at delivery (:func:`resolver_register`), and queue its delivery
    on commit as any message's.

    The row is the same whatever the decision will be, so the request's own work tells
    nothing of it. ``context`` (JSON, no secret) is what the resolver reads; the request's
    context (``authsuite.context.snapshot``) is kept beside it under ``"request"``.
    ``to`` is shown to staff until the row is decided. ``expires_at``: when an answer
    stops being of use (a link asked for would have expired by then); a request still
    undecided then fails without being decided.
    """
    message = OutboxMessage.objects.create(
        template=resolver, resolver=resolver, to=to, expires_at=expires_at,
        context={**context, "request": request_context.snapshot(request)},
    )
    transaction.on_commit(lambda: _queue(message.pk))
    return message


def delivery_time_limits() -> tuple[int | None, int | None]:
    """The soft and hard time limits, in seconds, of one delivery task: both within
    ``MAIL_CLAIM_TIMEOUT``, so that a send still under way when the claim runs out (a
    server that answers each exchange within EMAIL_TIMEOUT, slowly) is given up, and
    recorded as a failed attempt, before another worker may take the message over and send
    it too. The hard limit, a tenth of the claim later, ends a worker the soft one could not
    interrupt (stuck in C code); the message is then taken over as any lost one. That tenth
    is also what Django's SMTP backend has to close the connection after the soft limit (its
    QUIT waits up to EMAIL_TIMEOUT for an answer). (None, None) when the claim is too short
    to leave room for both."""
    claim = app_settings.MAIL_CLAIM_TIMEOUT
    margin = max(claim // 10, 1)
    soft = claim - 2 * margin
    if soft < 1:
        return None, None
    return soft, claim - margin


def _queue(message_id: int) -> None:
    from authsuite.tasks import deliver_mail

    # The limits are read as each task is queued (settings are read when used), and a
    # retry of the task keeps those it was queued with.
    soft, hard = delivery_time_limits()
    try:
        deliver_mail.apply_async((message_id,), soft_time_limit=soft, time_limit=hard)
    except Exception:  # noqa: BLE001 - any broker failure: the sweeper delivers it later
        logger.warning("outbox: could not queue message %s; the sweeper will retry", message_id)


def _lost(now) -> Q:
    """Messages whose worker was lost while sending them: killed, or still at it past
    MAIL_CLAIM_TIMEOUT."""
    stale = now - timedelta(seconds=app_settings.MAIL_CLAIM_TIMEOUT)
    return Q(status=OutboxMessage.Status.SENDING, claimed_at__lt=stale)


def _fail_lost(rows) -> int:
    """Fail for good the ``rows`` lost on their last attempt: taken over, they would be sent
    once more than MAIL_MAX_ATTEMPTS allows, and a worker that dies on one (a hard time
    limit, say) would try it every claim timeout for ever, its secret kept all along."""
    error = "The worker sending it stopped on its last attempt."
    failed = 0
    for with_secret in (True, False):
        failed += rows.filter(~Q(sealed_context="") if with_secret else Q(sealed_context="")).update(
            status=OutboxMessage.Status.FAILED, sealed_context="", claimed_at=None,
            last_error=error, secret_erased=with_secret,
        )
    return failed


def _claim(message_id: int) -> OutboxMessage | str | None:
    """Take ownership of a due message in one conditional UPDATE (atomic on every backend);
    "failed" when it was lost on its last attempt and is now failed for good."""
    now = timezone.now()
    has_attempts = Q(attempts__lt=app_settings.MAIL_MAX_ATTEMPTS)
    due = Q(status=OutboxMessage.Status.PENDING, next_attempt_at__lte=now) | (
        _lost(now) & has_attempts)

    won = (
        OutboxMessage.objects.filter(due, pk=message_id)
        .update(status=OutboxMessage.Status.SENDING, claimed_at=now, attempts=F("attempts") + 1)
    )
    if won:
        # Read back only while the claim is still this one: a worker whose claim this took
        # over may have finished the row in between (sent, its secret erased), and sending
        # it again without its link would help nobody.
        return OutboxMessage.objects.filter(
            pk=message_id, status=OutboxMessage.Status.SENDING, claimed_at=now).first()
    if _fail_lost(OutboxMessage.objects.filter(_lost(now) & ~has_attempts, pk=message_id)):
        logger.error("outbox: message %s was lost on its last attempt; failed for good",
                     message_id)
        return OutboxMessage.Status.FAILED
    return None


def _opened(message: OutboxMessage) -> dict:
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


def render(message: OutboxMessage) -> EmailMultiAlternatives:
    context = {"site_name": app_settings.SITE_NAME, **message.context, **_opened(message)}
    base = f"{message.template}"
    subject = render_to_string(f"{base}_subject.txt", context).strip()
    subject = " ".join(subject.splitlines())  # a header cannot carry a newline
    body = render_to_string(f"{base}_message.txt", context)
    email = EmailMultiAlternatives(
        subject=subject, body=body, from_email=app_settings.DEFAULT_FROM_EMAIL, to=[message.to],
        headers={"X-Authsuite-Message": str(message.pk)},
    )
    try:
        email.attach_alternative(render_to_string(f"{base}_message.html", context), "text/html")
    except TemplateDoesNotExist:
        pass
    return email


class Unresolvable(Exception):
    """A row names a resolver or a guard nobody registered (its app was removed): retrying
    cannot help."""


class _ClaimLost(Exception):
    """The claim on a row being decided was taken over: undo the decision."""


def _resolve(message: OutboxMessage) -> str:
    """Decide an unresolved row, once: rewrite it into its message (``"resolved"``), or
    remove it when there is nothing to send (:data:`NOTHING_TO_SEND`); ``"skipped"`` when
    this worker's claim was taken over meanwhile (a send that outlived
    ``MAIL_CLAIM_TIMEOUT``), so that only one worker ever decides it."""
    resolve = _resolvers.get(message.resolver)
    if resolve is None:
        raise Unresolvable(f"no resolver is registered as {message.resolver!r}")
    mine = _ours(message).filter(resolver=message.resolver)
    try:
        with transaction.atomic():
            # Under a row lock (PostgreSQL; SQLite runs one writer at a time): a worker that
            # took the claim over waits here, and then finds the row no longer its own.
            if not list(mine.select_for_update().values_list("pk", flat=True)):
                return "skipped"
            with request_context.restored(message.context.get("request") or {}):
                decided = resolve(message)
            done = (mine.delete()[0] if decided is None
                    else mine.update(resolver="", **_row(**decided)))
            if not done:
                raise _ClaimLost
    except _ClaimLost:
        return "skipped"
    return NOTHING_TO_SEND if decided is None else "resolved"


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
    message = _claim(message_id)
    if message is None:
        return "skipped"
    if message == OutboxMessage.Status.FAILED:
        return message
    if message.expires_at is not None and message.expires_at <= timezone.now():
        return _expire(message)
    if message.resolver:
        try:
            decided = _resolve(message)
        except Exception as exc:  # noqa: BLE001
            # Nothing the resolver wrote stays (its transaction rolled back): the row is
            # decided again at the next attempt, with the backoff of a failed send.
            return _record_failure(message, exc)
        if decided != "resolved":
            return decided
        # The message decided, unless another worker took the claim over meanwhile: it
        # sends it then.
        message = _ours(message).first()
        if message is None:
            return "skipped"
    try:
        unwanted = _unwanted(message)
    except Exception as exc:  # noqa: BLE001 - retried as a failed send
        return _record_failure(message, exc)
    if unwanted:
        if not _give_up(message, unwanted):
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
        return _record_failure(message, exc)
    # Recorded whether or not the claim is still ours: the mail did go out.
    OutboxMessage.objects.filter(pk=message.pk).update(
        status=OutboxMessage.Status.SENT, sent_at=timezone.now(), sealed_context="",
        claimed_at=None, last_error="",
    )
    return OutboxMessage.Status.SENT


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
    if not _give_up(message, error):
        return "skipped"
    logger.warning("outbox: %s %s: %s", "request" if message.resolver else "message",
                   message.pk, error)
    return OutboxMessage.Status.FAILED


def _unwanted(message: OutboxMessage) -> str:
    """Why ``message`` is no longer worth sending, by its guard; "" when it still is."""
    if not message.guard:
        return ""
    check = _guards.get(message.guard)
    if check is None:
        raise Unresolvable(f"no guard is registered as {message.guard!r}")
    return check(message, _opened(message)) or ""


def _give_up(message: OutboxMessage, error: str) -> bool:
    """Fail ``message`` for good, its secret erased, if this worker still holds its claim."""
    return bool(_ours(message).update(
        status=OutboxMessage.Status.FAILED, sealed_context="", claimed_at=None,
        last_error=error[:500], secret_erased=bool(message.sealed_context),
    ))


def _ours(message: OutboxMessage):
    """The row while this worker still holds its claim. A send that outlived
    MAIL_CLAIM_TIMEOUT may have been taken over and delivered by another worker: its late
    failure must not reopen (and send again) or fail a message that went out."""
    return OutboxMessage.objects.filter(
        pk=message.pk, status=OutboxMessage.Status.SENDING, claimed_at=message.claimed_at
    )


def permanent(exc: Exception) -> bool:
    """Whether retrying cannot help: the message itself was refused for good.

    SMTP 5xx replies are permanent (RFC 5321, 4.2.1) when they are about this message:
    every recipient refused (no such mailbox), or the content refused at DATA (too large,
    rejected as spam). A 5xx to authentication or to the sender address is about the
    server's configuration, which its operators fix: those messages keep their retries.
    """
    if isinstance(exc, TemplateDoesNotExist | Unresolvable):
        return True
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _reply in exc.recipients.values()]
        return bool(codes) and all(500 <= code < 600 for code in codes)
    if isinstance(exc, smtplib.SMTPDataError):
        return 500 <= exc.smtp_code < 600
    return False


def _record_failure(message: OutboxMessage, exc: Exception) -> str:
    error = f"{type(exc).__name__}: {exc}"[:500]
    if message.attempts >= app_settings.MAIL_MAX_ATTEMPTS or permanent(exc):
        if not _give_up(message, error):
            return "skipped"
        logger.error("outbox: message %s failed for good: %s", message.pk, error)
        return OutboxMessage.Status.FAILED
    countdown = min(app_settings.MAIL_RETRY_BACKOFF * 2 ** (message.attempts - 1), _MAX_BACKOFF)
    if not _ours(message).update(
        status=OutboxMessage.Status.PENDING, claimed_at=None, last_error=error,
        next_attempt_at=timezone.now() + timedelta(seconds=countdown),
    ):
        return "skipped"
    logger.warning("outbox: message %s attempt %s failed: %s", message.pk, message.attempts, error)
    raise DeliveryDeferred(countdown)


def outbox_sweep() -> int:
    """Queue every message a lost task left behind; delete old delivered and failed ones.

    Returns how many messages were queued.
    """
    now = timezone.now()
    pending_since = now - timedelta(seconds=app_settings.MAIL_SWEEP_AFTER)
    has_attempts = Q(attempts__lt=app_settings.MAIL_MAX_ATTEMPTS)
    if lost := _fail_lost(OutboxMessage.objects.filter(_lost(now) & ~has_attempts)):
        logger.error("outbox: %s messages were lost on their last attempt; failed for good",
                     lost)
    due = OutboxMessage.objects.filter(
        Q(status=OutboxMessage.Status.PENDING, next_attempt_at__lte=now,
          created_at__lte=pending_since)
        | (_lost(now) & has_attempts)
    ).values_list("pk", flat=True)[:1000]
    ids = list(due)
    for message_id in ids:
        _queue(message_id)
    # Kept as long for staff to see, then gone with the addresses and request details
    # they hold: delivered ones from their delivery, failed ones from when they were made.
    kept_since = now - timedelta(days=app_settings.MAIL_KEEP_DAYS)
    OutboxMessage.objects.filter(
        Q(status=OutboxMessage.Status.SENT, sent_at__lt=kept_since)
        | Q(status=OutboxMessage.Status.FAILED, created_at__lt=kept_since)
    ).delete()
    return len(ids)
