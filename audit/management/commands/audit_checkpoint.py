import json

from django.core.management.base import BaseCommand

from audit import chain
from audit.models import Checkpoint


class Command(BaseCommand):
    help = "Sign the head of the audit chain; --export prints every checkpoint as JSON lines."

    def add_arguments(self, parser):
        parser.add_argument("--export", action="store_true",
                            help="print all checkpoints (store them outside the database)")

    def handle(self, *args, export=False, **options):
        point = chain.checkpoint()
        if export:
            for row in Checkpoint.objects.order_by("seq"):
                self.stdout.write(json.dumps(chain.checkpoint_export(row), sort_keys=True))
        elif point is None:
            self.stdout.write("The chain is empty.")
        else:
            self.stdout.write(json.dumps(chain.checkpoint_export(point), sort_keys=True))
