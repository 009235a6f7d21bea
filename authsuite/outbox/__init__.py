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

The modules: ``enqueue`` (writing rows, queueing their delivery: ``enqueue.queue_delivery``, looked up
there by every caller), ``registry`` (resolvers
and guards other apps register), ``claims`` (who holds a row), ``delivery`` (deciding,
checking, rendering and sending one row), ``headers`` (the sender, Message-ID and marks of
automated mail, the recipients Django's mail can reach), ``sweep`` (the periodic task's work),
``history`` (a person's mail, for their account's export and its deletion).
"""

from authsuite.outbox.delivery import (
    NOTHING_TO_SEND,
    DeliveryDeferred,
    Unresolvable,
    mail_deliver,
    permanent,
    render,
)
from authsuite.outbox.enqueue import (
    delivery_time_limits,
    mail_enqueue,
    mail_enqueue_unresolved,
)
from authsuite.outbox.history import mail_forget, mail_history
from authsuite.outbox.registry import guard_register, resolver_register
from authsuite.outbox.sweep import outbox_sweep

__all__ = [
    "NOTHING_TO_SEND",
    "DeliveryDeferred",
    "Unresolvable",
    "delivery_time_limits",
    "guard_register",
    "mail_deliver",
    "mail_enqueue",
    "mail_enqueue_unresolved",
    "mail_forget",
    "mail_history",
    "outbox_sweep",
    "permanent",
    "render",
    "resolver_register",
]
