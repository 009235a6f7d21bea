"""What a refused request must leave as it was: the rows every accounts flow writes."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session

from accounts.models import (
    EmailAddress,
    LoginThrottle,
    OneTimeToken,
    PasswordChangeRequired,
    UserSession,
)
from authsuite.models import OutboxMessage

User = get_user_model()


def snapshot() -> dict:
    """Row counts, plus the columns a flow would change, of every table the flows write."""
    return {
        "users": list(User.objects.order_by("pk").values_list(
            *(field.attname for field in User._meta.concrete_fields))),
        "addresses": list(EmailAddress.objects.order_by("pk").values_list(
            "pk", "email", "primary", "verified")),
        "tokens": list(OneTimeToken.objects.order_by("pk").values_list("pk", "used_at", "voided_at")),
        "outbox": OutboxMessage.objects.count(),
        "sessions": Session.objects.count(),
        "user_sessions": list(UserSession.objects.order_by("pk").values_list("pk", "ended_at")),
        "throttles": LoginThrottle.objects.count(),
        "password_change_required": PasswordChangeRequired.objects.count(),
    }
