"""Core signals (payloads never carry secrets).

``rate_limited``: a rate limit refused a request.
    kwargs: ``request``, ``group`` (str, e.g. ``"accounts.login"``), ``scope`` (``"ip"`` or
    ``"account"``), ``retry_after`` (int seconds). Never carries the limited identifier.
``csrf_failed``: a request failed CSRF verification.
    kwargs: ``request``, ``path``, ``reason`` (Django's reason string).
``permission_denied``: a request was refused with 403.
    kwargs: ``request``, ``path``.
``outbox_retried``: staff queued undelivered mail again ("Retry delivery now").
    kwargs: ``request``, ``by`` (the staff member), ``messages`` (the ids queued),
    ``not_sent`` (how many of those chosen carried a link no longer kept, so not queued).
"""

from django.dispatch import Signal

rate_limited = Signal()
csrf_failed = Signal()
permission_denied = Signal()
outbox_retried = Signal()


def connect_model(signal: Signal, receiver, model, *, dispatch_uid: str) -> None:
    """Connect ``receiver`` to the model signal ``signal`` of ``model`` and of each of its
    proxies. Django sends a model's signals with the class of the instance as the sender: a
    user saved or deleted through a proxy (a project's admin of "staff accounts", say)
    would otherwise go unheard by a receiver connected to the user model, its sessions not
    ended when disabled, its changes not in the audit trail. The proxies are those loaded
    by now: called from an app's ``ready()``, every installed app's models."""
    from django.apps import apps

    proxies = [m for m in apps.get_models()
               if m._meta.proxy and m._meta.concrete_model is model]
    for sender in (model, *proxies):
        signal.connect(receiver, sender=sender, dispatch_uid=dispatch_uid)


_DELETED_MEANWHILE = "_authsuite_deleted_meanwhile"


def deleted_meanwhile_mark(instance) -> None:
    """A delete of ``instance`` under way found its row deleted already, by a transaction
    it waited for (two staff members deleting one account at once): it deletes nothing.
    Set by a ``pre_delete`` receiver that locks the row: ``accounts.receivers`` for
    accounts, ``audit.events.django_auth`` for groups and permissions deleted in the admin."""
    setattr(instance, _DELETED_MEANWHILE, True)


def deleted_meanwhile(instance) -> bool:
    """Whether :func:`deleted_meanwhile_mark` marked ``instance``: Django still sends
    ``post_delete`` for it, but its receivers have no deletion to record."""
    return getattr(instance, _DELETED_MEANWHILE, False)
