"""Turning a signal (or any call) into an event: who, from where, about what."""

from __future__ import annotations

import logging

from authsuite import context

logger = logging.getLogger("authsuite.audit")


def user_fields(user) -> tuple[str, str]:
    if user is None or not getattr(user, "is_authenticated", False):
        return "", ""
    from django.contrib.auth import get_user_model

    email_field = get_user_model().get_email_field_name()
    return str(user.pk), str(getattr(user, email_field, "") or user.get_username())


def user_target(user) -> tuple[str, str, str]:
    """An account as an event's target: ``("user", id, address)``, named as the actor is
    (``user_fields``); ``("", "", "")`` for none.

    Never ``str(user)``: a user model's ``__str__`` is for pages (the suite's marks a
    look-alike address, ``accounts.scripts.staff_spelling``), while the trail is evidence
    and keeps the letters the address has. Staff are shown them marked (the admin, the CSV
    export)."""
    if user is None:
        return ("", "", "")
    return ("user", *user_fields(user))


session_ref = context.session_ref


def write(*, action: str, outcome: str = "success", request=None, user=None,
          actor_id: str = "", actor_repr: str = "", target=("", "", ""), data=None):
    """Record an event with the current request context; returns the event."""
    from audit import alerts, chain

    ctx = context.current()
    if user is not None:
        actor_id, actor_repr = user_fields(user)
    elif not actor_id and request is not None:
        actor_id, actor_repr = user_fields(getattr(request, "user", None))
    event = chain.record(
        action=action, outcome=outcome, actor_id=actor_id, actor_repr=actor_repr,
        target_type=target[0], target_id=target[1], target_repr=target[2],
        ip=ctx.ip, user_agent=ctx.user_agent, request_id=ctx.request_id,
        # Without the request (the mail worker), the reference its restored context kept.
        session_ref=session_ref(request) if request is not None else ctx.session_ref,
        data=data or {},
    )
    if event is not None:
        alerts.evaluate(event, user=user)
    return event


def from_signal(declaration, kwargs: dict) -> None:
    try:
        data = {name: _plain(kwargs.get(name)) for name in declaration.data if name in kwargs}
        if declaration.extra is not None:
            data.update(declaration.extra(kwargs))  # noqa: S610 - a callable, not QuerySet.extra
        # A signal that says who did it (``by``: staff, on someone's account) has them as
        # the actor and the account as the target, whose owner the alerts then go to.
        by = kwargs.get("by")
        if declaration.target:
            target = declaration.target(kwargs)
        elif by is not None and kwargs.get("user") is not None:
            target = user_target(kwargs["user"])
        else:
            target = ("", "", "")
        if by is not None:
            user = by
        elif declaration.actor:
            user = kwargs.get(declaration.actor)
        else:
            user = None
        write(action=declaration.action, outcome=declaration.outcome,
              request=kwargs.get("request"), user=user, target=target, data=data)
    except Exception:
        # Fail closed: a security change that cannot be recorded must not pass silently,
        # so the flow's transaction fails with it.
        logger.exception("audit: could not record %s", declaration.action)
        raise


def _plain(value):
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "pk"):
        return str(value.pk)
    return str(value)
