from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from accounts.models import EmailAddress
from accounts.users import new_user


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery staple")

    @classmethod
    def _create(cls, model_class, *args, email, name="", **kwargs):
        # Through the suite's own constructor, so any user model gets what it needs
        # (a username for django.contrib.auth's User).
        user = new_user(email, name=name, **kwargs)
        user.save()
        return user

    @factory.post_generation
    def verified_email(self, create, extracted, **kwargs):
        """Every factory user has a verified primary address unless told otherwise."""
        if not create:
            return
        self.save()
        EmailAddress.objects.get_or_create(
            user=self, email=self.email,
            defaults={"primary": True, "verified": extracted is not False},
        )


def user_without_address(email: str, password: str | None = None):
    """A user as ``createsuperuser`` or staff make one: no address row until one is needed."""
    user = new_user(email)
    user.set_password(password)  # None: an unusable password
    user.save()
    return user
