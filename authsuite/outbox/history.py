"""What the outbox keeps of a person's mail: shown in their account's export, forgotten
with their account.

The core knows no account: callers name the person by their user and the addresses that
are theirs (an address an account only typed may be someone else's mailbox).
"""

from __future__ import annotations

from django.db.models import Q
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string

from authsuite.app_settings import app_settings
from authsuite.models import OutboxMessage
from authsuite.outbox.delivery import in_language

#: Messages whose delivery is over: what ``mail_forget`` removes.
DONE = (OutboxMessage.Status.SENT, OutboxMessage.Status.FAILED)


def _theirs(user, addresses) -> Q:
    return Q(user=user) | Q(to__in=sorted(set(addresses)))


def mail_history(*, user, addresses) -> list[dict]:
    """Each message queued for ``user`` or to one of ``addresses``, oldest first: its
    recipient, subject (rendered again from its template and context, in its language),
    status and dates. Never its body nor its secrets (a link's token), which the subject
    is rendered without. One query; the rows are the outbox's, kept ``MAIL_KEEP_DAYS``."""
    rows = OutboxMessage.objects.filter(_theirs(user, addresses)).order_by("created_at", "pk")
    return [{"to": m.to, "subject": _subject(m), "status": m.status,
             "created_at": m.created_at.isoformat(),
             "sent_at": m.sent_at.isoformat() if m.sent_at else None}
            for m in rows.only("template", "resolver", "to", "context", "language", "status",
                               "created_at", "sent_at")]


def _subject(message: OutboxMessage) -> str | None:
    if message.resolver:
        return None  # a request not decided yet: no message, so no subject either
    context = {"site_name": app_settings.SITE_NAME, **message.context}
    with in_language(message):
        try:
            subject = render_to_string(f"{message.template}_subject.txt", context)
        except TemplateDoesNotExist:
            return None
    return " ".join(subject.strip().splitlines())


def mail_forget(*, user, addresses) -> int:
    """Delete the messages ``mail_history`` lists whose delivery is over (sent, or failed
    for good); returns how many. A message still to be sent stays until it is, then goes
    ``MAIL_KEEP_DAYS`` later as any other (an alert queued just before the delete, say)."""
    return OutboxMessage.objects.filter(_theirs(user, addresses), status__in=DONE).delete()[0]
