from __future__ import annotations

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.views.decorators.debug import sensitive_variables

from accounts import credentials
from accounts.users import get_by_email


class EmailBackend(ModelBackend):
    """Authenticate by email address and password, for any user model with an email.

    A stored hash brought up to date by the check (``accounts.credentials``) signs nobody
    out: the sessions of the user it returns accept the older hashes of the same password.
    """

    # Nearer than Django's own authenticate(), whose marking names only its "credentials".
    # raw_password: Django's set_password, below, holds the password under that name.
    @sensitive_variables("password", "raw_password")
    def authenticate(self, request, email=None, password=None, **kwargs):
        if email is None:
            email = kwargs.get(get_user_model().USERNAME_FIELD)
        if not email or password is None:
            return None
        if credentials.too_long(password):
            # Wrong for every account, known or not: neither looked up nor hashed, so it
            # costs the same time whatever the address (see password_matches).
            return None
        user = get_by_email(email)
        if user is None:
            # Hash anyway, so that an unknown address costs the same time as a wrong
            # password and response timing does not reveal which accounts exist.
            get_user_model()().set_password(password)
            return None
        if credentials.password_matches(user, password) and self.user_can_authenticate(user):
            return user
        return None

    @sensitive_variables("kwargs")
    async def aauthenticate(self, request, **kwargs):
        # Django's aauthenticate (a project's async login view) would otherwise take
        # ModelBackend's own: the address looked up exactly as typed, an overlong password
        # hashed, and a hash brought up to date stored without its step, which signs the
        # account out of every other session. The same check as the synchronous path.
        return await sync_to_async(self.authenticate)(request, **kwargs)

    def get_user(self, user_id):
        user = super().get_user(user_id)
        return credentials.attach(user) if user is not None else None

    async def aget_user(self, user_id):
        def found():
            user = super(EmailBackend, self).get_user(user_id)
            return credentials.attach(user, preload=True) if user is not None else None

        return await sync_to_async(found)()
