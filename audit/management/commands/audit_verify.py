import json

from django.core.management.base import BaseCommand, CommandError

from audit import chain


class Command(BaseCommand):
    help = ("Recompute the audit hash chain, event MACs and checkpoints; exit non-zero and "
            "name the first bad event if anything was modified, deleted, inserted or reordered.")

    def add_arguments(self, parser):
        parser.add_argument(
            "--checkpoints", metavar="FILE",
            help="also check against checkpoints exported earlier (audit_checkpoint --export, "
                 "one JSON object a line) and kept outside the database",
        )
        parser.add_argument("--no-seal", action="store_true",
                            help="do not chain waiting events first (read only)")

    def handle(self, *args, checkpoints=None, no_seal=False, **options):
        exported = self._load(checkpoints) if checkpoints else []
        if not no_seal:
            # What the sealer would do anyway; waiting events are MAC-checked either way.
            chain.seal_all()
        report = chain.verify(exported=exported)
        if report.stale_pending:
            self.stderr.write(self.style.WARNING(
                f"{report.stale_pending} events have waited to be chained for longer than "
                f"AUTHSUITE_AUDIT_SEAL_GRACE: is the sealing task running?"))
        if report.ok:
            self.stdout.write(self.style.SUCCESS(
                f"OK: {report.checked} events in the chain, {report.checkpoints} checkpoints"
                f"{f', {report.exported_checked} exported checkpoints' if exported else ''}, "
                f"{report.pending} waiting to be chained."
            ))
            return
        for problem in report.problems:
            self.stderr.write(problem)
        named = report.first_bad is not None
        first = f"first bad event: {report.first_bad}" if named else report.problems[0]
        raise CommandError(f"audit trail FAILED verification ({first})")

    def _load(self, path: str) -> list[dict]:
        try:
            with open(path, encoding="utf-8") as handle:
                return [json.loads(line) for line in handle if line.strip()]
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot read checkpoints from {path}: {exc}") from None
