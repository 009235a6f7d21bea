"""Argon2id with parameters from settings (OWASP minimum by default: 19 MiB, t=2, p=1).

Django's own Argon2 hasher fixes its parameters in class attributes; this subclass reads
them from the accounts settings, and Django's ``must_update`` then rehashes a stored
password on the next successful sign-in whenever the parameters change.
"""

from django.contrib.auth.hashers import Argon2PasswordHasher

from accounts.app_settings import app_settings


class Argon2idPasswordHasher(Argon2PasswordHasher):
    @property
    def time_cost(self):  # type: ignore[override]
        return app_settings.ARGON2_TIME_COST

    @property
    def memory_cost(self):  # type: ignore[override]
        return app_settings.ARGON2_MEMORY_COST

    @property
    def parallelism(self):  # type: ignore[override]
        return app_settings.ARGON2_PARALLELISM
