from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

from accounts.users import get_by_email


class EmailBackend(ModelBackend):
    """Authenticate by email address and password, for any user model with an email."""

    def authenticate(self, request, email=None, password=None, **kwargs):
        if email is None:
            email = kwargs.get(get_user_model().USERNAME_FIELD)
        if not email or password is None:
            return None
        user = get_by_email(email)
        if user is None:
            # Hash anyway, so that an unknown address costs the same time as a wrong
            # password and response timing does not reveal which accounts exist.
            get_user_model()().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
