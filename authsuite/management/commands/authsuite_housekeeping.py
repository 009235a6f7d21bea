"""``manage.py authsuite_housekeeping``: the suite's periodic tasks, from cron.

What Celery beat runs (the schedule in the README's "Mail outbox and Celery"), for a site
that runs no beat: each task of the installed apps, in this process, one after another, or
only those named. Each is safe to run twice at once and beside beat (every one works in
batches, claims or locks what it changes), so a cron line on two hosts does no harm.
A task that fails is reported on stderr and the others still run; the command then exits 1.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError
from django.utils.module_loading import import_string

EXIT_STATUS = ("Exit status: 0 when every task ran; 1 when one failed (each failure on stderr; "
               "the others still run); 2 for a usage error (an unknown task, say).")


@dataclass(frozen=True)
class Task:
    name: str  # the Celery task's name, as beat's schedule names it
    app: str  # the app that must be installed for it to run
    function: str  # dotted path of the task function
    counts: str  # what its result counts


#: In the order they run: the outbox first (mail waits on it), the chain sealed before it
#: is signed, and signed before old events are pruned.
TASKS = (
    Task("authsuite.sweep_outbox", "authsuite", "authsuite.tasks.sweep_outbox",
         "messages queued again"),
    Task("accounts.expire_sessions", "accounts", "accounts.tasks.expire_sessions",
         "sessions ended"),
    Task("passkeys.expire_signups", "passkeys", "passkeys.tasks.expire_signups",
         "sign-ups removed"),
    Task("audit.seal_events", "audit", "audit.tasks.seal_events", "events chained"),
    Task("audit.checkpoint", "audit", "audit.tasks.checkpoint", "checkpoint number"),
    Task("audit.prune", "audit", "audit.tasks.prune", "events deleted"),
)


def _task_name(value: str) -> str:
    if value not in {task.name for task in TASKS}:
        # argparse's own choices= refuses an empty list of them (no task named: all).
        raise argparse.ArgumentTypeError(
            f"no task {value!r} (choose from {', '.join(task.name for task in TASKS)})")
    return value


def installed_tasks() -> list[Task]:
    return [task for task in TASKS if apps.is_installed(task.app)]


class Command(BaseCommand):
    help = ("Run the suite's periodic tasks (what Celery beat runs) in this process: all of "
            "the installed apps', or those named.")

    def create_parser(self, prog_name, subcommand, **kwargs):
        return super().create_parser(prog_name, subcommand, epilog=EXIT_STATUS, **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("tasks", nargs="*", metavar="task", type=_task_name,
                            help="the tasks to run, by their Celery names "
                                 f"({', '.join(task.name for task in TASKS)}); "
                                 "default: every task of the installed apps")
        parser.add_argument("--json", action="store_true", dest="as_json",
                            help="print one JSON object on stdout: each task's result, "
                                 "or its error")

    def handle(self, *args, tasks=(), as_json: bool = False, **options):
        available = installed_tasks()
        missing = sorted(set(tasks) - {task.name for task in available})
        if missing:
            raise CommandError(f"not installed here: {', '.join(missing)} "
                               "(its app is not in INSTALLED_APPS)")
        chosen = [task for task in available if not tasks or task.name in tasks]
        report: dict[str, dict] = {}
        for task in chosen:
            try:
                result = import_string(task.function)()
            except Exception as error:  # reported, and the other tasks still run
                first_line = (str(error).splitlines() or [""])[0]
                message = f"{type(error).__name__}: {first_line}"
                report[task.name] = {"ok": False, "error": message}
                self.stderr.write(f"{task.name} failed: {message}")
                continue
            report[task.name] = {"ok": True, "result": result}
            if not as_json and options["verbosity"] >= 1:
                self.stdout.write(f"{task.name}: {result} ({task.counts})")
        if as_json:
            self.stdout.write(json.dumps(report, sort_keys=True))
        failed = [name for name, outcome in report.items() if not outcome["ok"]]
        if failed:
            raise CommandError(f"{len(failed)} of {len(report)} tasks failed: {', '.join(failed)}")
