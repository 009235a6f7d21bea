from django.contrib.auth.models import AbstractUser
from django.db import models


class Member(AbstractUser):
    """A username login, an email field and a field of the project's own."""

    nickname = models.CharField(max_length=50, blank=True)
