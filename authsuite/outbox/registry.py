"""What other apps plug into the outbox, from their ``AppConfig.ready``: resolvers decide
what a request written by ``mail_enqueue_unresolved`` becomes; guards tell whether a message
is still worth sending."""

from __future__ import annotations

from collections.abc import Callable

from authsuite.models import OutboxMessage

resolvers: dict[str, Callable[[OutboxMessage], dict | None]] = {}
guards: dict[str, Callable[[OutboxMessage, dict], str]] = {}


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
    resolvers[name] = resolve


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
    guards[name] = check
