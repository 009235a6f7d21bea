"""Core signals (payloads never carry secrets).

``rate_limited``: a rate limit refused a request.
    kwargs: ``request``, ``group`` (str, e.g. ``"accounts.login"``), ``scope`` (``"ip"`` or
    ``"account"``), ``retry_after`` (int seconds). Never carries the limited identifier.
``csrf_failed``: a request failed CSRF verification.
    kwargs: ``request``, ``path``, ``reason`` (Django's reason string).
``permission_denied``: a request was refused with 403.
    kwargs: ``request``, ``path``.
"""

from django.dispatch import Signal

rate_limited = Signal()
csrf_failed = Signal()
permission_denied = Signal()


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
