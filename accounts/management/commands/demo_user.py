"""``manage.py demo_user``: an account with a verified address to try the site with.

Idempotent: run again, it finds the account, makes sure it is active and verified, and sets
the password back to the one given, so the demo's documented credentials always work.

Those credentials are published (the README, ``scripts/demo.sh``), so with DEBUG off the
command refuses them: a site that runs it there by mistake would hold an account anyone can
sign in to (ASVS 5.0 6.3.2, no default accounts), however it is spelled: the password is
compared in the form it is hashed in. Another password, given with ``--password``, is
accepted as before.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.errors import FlowError
from accounts.flows.email import mark_verified, primary_address
from accounts.hashers import normalize_password
from accounts.models import normalize_email
from accounts.users import get_by_email, new_user

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-password-2026"


class Command(BaseCommand):
    help = "Create (or repair) a demo account with a verified email address."

    def add_arguments(self, parser):
        parser.add_argument("--email", default=DEMO_EMAIL)
        parser.add_argument("--password", default=DEMO_PASSWORD)
        parser.add_argument("--name", default="Demo User")

    def handle(self, *args, email: str, password: str, name: str, **options):
        # Compared as it is hashed (NFKC): "ｄｅｍｏ－…" in full-width letters would store
        # the published password under another spelling.
        if normalize_password(password) == DEMO_PASSWORD and not settings.DEBUG:
            raise CommandError(
                "The demo password is published: with DEBUG off, give another one "
                "with --password.")
        email = normalize_email(email)
        if "@" not in email:
            raise CommandError(f"Not an email address: {email!r}")
        with transaction.atomic():
            user = get_by_email(email)
            created = user is None
            if created:
                user = new_user(email, name=name)
            user.set_password(password)
            user.is_active = True
            user.save()
            address = primary_address(user)
            # Created by the operator, like createsuperuser: the address is trusted as given.
            try:
                mark_verified(None, user=user, email=address.email)
            except FlowError as error:  # another account has verified it: nothing is kept
                raise CommandError(f"{email}: {error.message}") from None
        verb = "Created" if created else "Updated"
        self.stdout.write(self.style.SUCCESS(f"{verb} demo account {email} (address verified)."))
