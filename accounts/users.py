"""Finding users by email, for any user model with an email field."""

from __future__ import annotations

from django.contrib.auth import get_user_model

from accounts.models import normalize_email


def email_field() -> str:
    return get_user_model().get_email_field_name()


def get_by_email(email: str):
    """The active or inactive user whose login address is ``email``, or None."""
    model = get_user_model()
    field = email_field()
    normalized = normalize_email(email)
    if not normalized:
        return None
    lookup = field if getattr(model, "EMAIL_IS_NORMALIZED", False) else f"{field}__iexact"
    return model._default_manager.filter(**{lookup: normalized}).first()


def user_email(user) -> str:
    return getattr(user, email_field(), "") or ""


def set_user_email(user, email: str) -> None:
    setattr(user, email_field(), email)
