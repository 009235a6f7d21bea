"""Finding users by email, for any user model with an email field."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import router

from accounts.models import normalize_email
from authsuite import db


def email_field() -> str:
    return get_user_model().get_email_field_name()


def get_by_email(email: str):
    """The active or inactive user whose login address is ``email``, or None."""
    model = get_user_model()
    field = email_field()
    normalized = normalize_email(email)
    if not normalized:
        return None
    if getattr(model, "EMAIL_IS_NORMALIZED", False):
        # The suite's own user model (no default filter on its manager): an exact match,
        # compiled once, as this runs for every sign-in attempt.
        return db.get(model, using=router.db_for_read(model), where={field: normalized},
                      order_by="pk")
    return model._default_manager.filter(**{f"{field}__iexact": normalized}).first()


def user_email(user) -> str:
    return getattr(user, email_field(), "") or ""


def set_user_email(user, email: str) -> None:
    setattr(user, email_field(), email)
