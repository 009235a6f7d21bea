"""Core signals.

``rate_limited``: a rate limit refused a request.
    kwargs: ``request``, ``group`` (str, e.g. ``"accounts.login"``), ``scope`` (``"ip"`` or
    ``"account"``), ``retry_after`` (int seconds). Never carries the limited identifier's value.
"""

from django.dispatch import Signal

rate_limited = Signal()
