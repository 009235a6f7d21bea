from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models


class PersonManager(BaseUserManager):
    def create_user(self, email, password=None):
        user = self.model(email=self.normalize_email(email))
        user.set_password(password)
        user.save(using=self._db)
        return user


class Person(AbstractBaseUser):
    """As little as Django allows: an email to sign in with, and no ``is_active`` column
    (``AbstractBaseUser`` keeps it a constant True)."""

    email = models.EmailField(unique=True)

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    objects = PersonManager()
