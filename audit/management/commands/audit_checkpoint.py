"""``manage.py audit_checkpoint``: what beat's ``audit.checkpoint`` does, from cron.

Chains waiting events and signs the head; run again with nothing new, it returns the same
checkpoint, and on PostgreSQL two runs at once sign one (the head row is locked). Prints the
checkpoint as one JSON object (nothing at ``--verbosity 0``); ``--export`` prints every
checkpoint, one JSON object a line, at any verbosity.
"""

import json

from django.core.management.base import BaseCommand

from audit import chain
from audit.models import Checkpoint

EXIT_STATUS = ("Exit status: 0 when the head is signed (or the chain is empty); 1 on an error "
               "(the database unreachable, say); 2 for a usage error.")


class Command(BaseCommand):
    help = "Sign the head of the audit chain; --export prints every checkpoint as JSON lines."

    def create_parser(self, prog_name, subcommand, **kwargs):
        return super().create_parser(prog_name, subcommand, epilog=EXIT_STATUS, **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("--export", action="store_true",
                            help="print all checkpoints (store them outside the database), "
                                 "one JSON object a line, also at --verbosity 0")

    def handle(self, *args, export=False, **options):
        point = chain.checkpoint()
        if export:
            for row in Checkpoint.objects.order_by("seq"):
                self.stdout.write(json.dumps(chain.checkpoint_export(row), sort_keys=True))
        elif options["verbosity"] < 1:
            return
        elif point is None:
            self.stdout.write("The chain is empty.")
        else:
            self.stdout.write(json.dumps(chain.checkpoint_export(point), sort_keys=True))
