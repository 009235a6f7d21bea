from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from accounts.models import EmailAddress


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    name = factory.Faker("name")
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery staple")

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
