"""Writing outbox rows, in the caller's transaction, and queueing their delivery on commit."""

from __future__ import annotations

import json
import logging

from django.db import transaction
from django.utils import translation
from django.views.decorators.debug import sensitive_variables

from authsuite import context as request_context
from authsuite import crypto, logs
from authsuite.app_settings import app_settings
from authsuite.models import OutboxMessage

logger = logging.getLogger("authsuite.outbox")


# Hidden whole: json.dumps, beneath, holds the secrets under names of its own.
@sensitive_variables()
def row(*, template: str, to: str, context: dict | None = None, secrets: dict | None = None,
        user=None, expires_at=None, guard: str = "") -> dict:
    """The fields of a message's row, its ``secrets`` sealed."""
    return {"template": template, "to": to, "user": user, "context": context or {},
            "sealed_context": crypto.seal(json.dumps(secrets)) if secrets else "",
            "expires_at": expires_at, "guard": guard}


@sensitive_variables("secrets")
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
        **row(template=template, to=to, context=context, secrets=secrets, user=user,
              expires_at=expires_at, guard=guard), language=language())
    transaction.on_commit(lambda: queue_delivery(message.pk))
    return message


def language() -> str:
    """The language a message queued now is written in: the active one, which
    ``LocaleMiddleware`` picks for each request (``LANGUAGE_CODE`` without it)."""
    return translation.get_language() or ""


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
        context={**context, "request": request_context.snapshot(request)}, language=language(),
    )
    transaction.on_commit(lambda: queue_delivery(message.pk))
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


def queue_delivery(message_id: int) -> bool:
    """Queue the delivery task of one message; a broker that cannot be reached leaves it to
    the sweeper (and is logged, as a warning). Returns whether it was queued."""
    from authsuite.tasks import deliver_mail

    # The limits are read as each task is queued (settings are read when used), and a
    # retry of the task keeps those it was queued with.
    soft, hard = delivery_time_limits()
    try:
        deliver_mail.apply_async((message_id,), soft_time_limit=soft, time_limit=hard)
    except Exception as exc:  # noqa: BLE001 - any broker failure: the sweeper delivers it later
        logger.warning("outbox: could not queue message %s (%s); the sweeper will retry",
                       message_id, logs.one_line(f"{type(exc).__name__}: {exc}", 300))
        return False
    return True
