from django.core.management.base import BaseCommand, CommandError

from audit import chain


class Command(BaseCommand):
    help = ("Recompute the audit hash chain, event MACs and checkpoints; exit non-zero and "
            "name the first bad event if anything was modified, deleted, inserted or reordered.")

    def handle(self, *args, **options):
        report = chain.verify()
        if report.ok:
            self.stdout.write(self.style.SUCCESS(
                f"OK: {report.checked} events in the chain, {report.checkpoints} checkpoints, "
                f"{report.pending} waiting to be chained."
            ))
            return
        for problem in report.problems:
            self.stderr.write(problem)
        first = f"first bad event: {report.first_bad}" if report.first_bad else "chain damaged"
        raise CommandError(f"audit trail FAILED verification ({first})")
