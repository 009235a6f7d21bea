"""``manage.py demo_user``: an account with a verified address to try the site with.

Idempotent: run again, it finds the account, makes sure it is active and verified, and sets
the password back to the one given, so the demo's documented credentials always work.

Those credentials are published (the README, ``scripts/demo.sh``), so with DEBUG off the
command refuses them: a site that runs it there by mistake would hold an account anyone can
sign in to (ASVS 5.0 6.3.2, no default accounts), however it is spelled: the password is
compared in the form it is hashed in. Another password, given with ``--password``, is
accepted as before.

What it is given is checked as the site's forms check it (an address the sign-in form
accepts, a name the model can hold, a password neither empty nor longer than
``PASSWORD_MAX``), so bad input is a one-line error, never a database's traceback. Two runs
at once (two hosts running the same deployment script) end with one account: the one that
loses the race to create it updates it instead.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError, transaction

from accounts.credentials import PASSWORD_MAX
from accounts.errors import FlowError
from accounts.flows.email import mark_verified, primary_address
from accounts.forms import AddressField
from accounts.hashers import normalize_password
from accounts.models import normalize_email
from accounts.users import get_by_email, new_user

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-password-2026"


EXIT_STATUS = ("Exit status: 0 when the account is created or updated; 1 (one line on stderr) "
               "for an invalid address, name or password, the published password with DEBUG "
               "off, or an address another account has verified; 2 for a usage error.")


def _cleaned(field: forms.Field, value: str, what: str) -> str:
    try:
        return field.clean(value)
    except ValidationError as error:
        raise CommandError(f"{what}: {' '.join(error.messages)}") from None


def _name_field() -> forms.CharField:
    model = get_user_model()
    try:
        limit = model._meta.get_field("name").max_length
    except FieldDoesNotExist:
        limit = None  # django.contrib.auth's first_name: new_user cuts the name to fit
    return forms.CharField(max_length=limit, required=False, strip=True)


class Command(BaseCommand):
    help = ("Create (or repair) a demo account with a verified email address: run again, it "
            "makes the account active and verified and sets its password back.")

    def create_parser(self, prog_name, subcommand, **kwargs):
        return super().create_parser(prog_name, subcommand, epilog=EXIT_STATUS, **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("--email", default=DEMO_EMAIL,
                            help=f"the account's address (default {DEMO_EMAIL})")
        parser.add_argument("--password", default=DEMO_PASSWORD,
                            help="its password (default: the published demo password, "
                                 "refused with DEBUG off); never printed")
        parser.add_argument("--name", default="Demo User",
                            help="its name, for a new account (default \"Demo User\")")

    def handle(self, *args, email: str, password: str, name: str, **options):
        # Compared as it is hashed (NFKC): "ｄｅｍｏ－…" in full-width letters would store
        # the published password under another spelling.
        if normalize_password(password) == DEMO_PASSWORD and not settings.DEBUG:
            raise CommandError(
                "The demo password is published: with DEBUG off, give another one "
                "with --password.")
        password = _cleaned(forms.CharField(max_length=PASSWORD_MAX, strip=False), password,
                            "Not a password")
        name = _cleaned(_name_field(), name, "Not a name")
        email = normalize_email(email)
        try:
            email = AddressField(max_length=254).clean(email)
        except ValidationError as error:
            raise CommandError(f"Not an email address: {email!r} "
                               f"({' '.join(error.messages)})") from None
        try:
            created = self._save(email, password, name)
        except IntegrityError:
            # Another run created the account between our lookup and our insert: this run
            # repairs it like any existing one.
            try:
                created = self._save(email, password, name)
            except IntegrityError as error:
                first_line = str(error).splitlines()[0]  # PostgreSQL adds a DETAIL line
                raise CommandError(f"{email}: the account could not be saved ({first_line})") \
                    from None
        if options["verbosity"] >= 1:
            verb = "Created" if created else "Updated"
            self.stdout.write(self.style.SUCCESS(
                f"{verb} demo account {email} (address verified)."))

    def _save(self, email: str, password: str, name: str) -> bool:
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
        return created
