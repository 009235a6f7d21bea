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
