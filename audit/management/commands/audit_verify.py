"""``manage.py audit_verify``: recompute the audit trail's MACs, links and checkpoints.

For cron and CI: exit 0 when the trail is intact, 1 when anything was modified, deleted,
inserted or reordered (the problems on stderr, one a line, then the CommandError naming the
first bad event). ``--verbosity 0`` prints nothing when it verifies. ``--json`` prints the
report as one JSON object on stdout, whatever the outcome, for a monitor to read; the exit
status stays the same. The report names events and positions, never their content or the key.
"""

import json

from django.core.management.base import BaseCommand, CommandError

from audit import chain

EXIT_STATUS = ("Exit status: 0 when the trail verifies; 1 when verification fails (tampering: "
               "the problems on stderr) or the checkpoints file cannot be read; 2 for a usage "
               "error. A sealer that seems stopped is a warning on stderr, not a failure.")


class Command(BaseCommand):
    help = ("Recompute the audit hash chain, event MACs and checkpoints; exit non-zero and "
            "name the first bad event if anything was modified, deleted, inserted or reordered.")

    def create_parser(self, prog_name, subcommand, **kwargs):
        return super().create_parser(prog_name, subcommand, epilog=EXIT_STATUS, **kwargs)

    def add_arguments(self, parser):
        parser.add_argument(
            "--checkpoints", metavar="FILE",
            help="also check against checkpoints exported earlier (audit_checkpoint --export, "
                 "one JSON object a line) and kept outside the database",
        )
        parser.add_argument("--no-seal", action="store_true",
                            help="do not chain waiting events first (read only)")
        parser.add_argument("--json", action="store_true",
                            help="print the report as one JSON object on stdout (ok, checked, "
                                 "checkpoints, exported_checked, pending, stale_pending, "
                                 "first_bad, problems); the exit status is unchanged")

    def handle(self, *args, checkpoints=None, no_seal=False, **options):
        as_json = options.get("json", False)
        exported = self._load(checkpoints) if checkpoints else []
        if not no_seal:
            # What the sealer would do anyway; waiting events are MAC-checked either way.
            chain.seal_all()
        report = chain.verify(exported=exported)
        if as_json:
            self.stdout.write(_as_json(report))
        if report.stale_pending:
            self.stderr.write(self.style.WARNING(
                f"{report.stale_pending} events have waited to be chained for longer than "
                f"AUTHSUITE_AUDIT_SEAL_GRACE: is the sealing task running?"))
        if report.ok:
            if not as_json and options["verbosity"] >= 1:
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


def _as_json(report) -> str:
    return json.dumps({
        "ok": report.ok, "checked": report.checked, "checkpoints": report.checkpoints,
        "exported_checked": report.exported_checked, "pending": report.pending,
        "stale_pending": report.stale_pending, "first_bad": report.first_bad,
        "problems": report.problems,
    }, sort_keys=True)
