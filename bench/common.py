"""What every benchmark shares: its command line, Django set-up, databases, statistics."""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit


def parser_for(name: str, doc: str | None, *, default: int, quick: int,
               memory: bool = True) -> argparse.ArgumentParser:
    """``--iterations`` and ``--quick`` (and ``--memory`` for SQLite benchmarks)."""
    parser = argparse.ArgumentParser(prog=f"python -m bench {name}", description=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=None,
                        help=f"measured rounds (default {default})")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: {quick} rounds, figures not meaningful")
    if memory:
        parser.add_argument("--memory", action="store_true",
                            help="in-memory SQLite instead of a file in a temporary directory")
    parser.set_defaults(_iterations=(default, quick))
    return parser


def parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    args = parser.parse_args(argv)
    default, quick = args._iterations
    if args.iterations is None:
        args.iterations = quick if args.quick else default
    if args.iterations < 1:
        parser.error("--iterations must be at least 1")
    return args


def setup_django(database: str = ":memory:", postgres_url: str = "") -> None:
    """Configure Django with the benchmark settings (bench/settings.py) and migrate."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    os.environ["AUTHSUITE_BENCH_DB"] = database
    import django
    from django.conf import settings
    from django.core.management import call_command

    if postgres_url:
        import dj_database_url

        # Before setup: no connection has been opened yet.
        settings.DATABASES["default"] = dj_database_url.parse(postgres_url)
    django.setup()
    import authsuite.celery  # noqa: F401 - tasks are queued on the project's app, as in wsgi.py

    call_command("migrate", verbosity=0, interactive=False)


def on_sqlite(args: argparse.Namespace, run: Callable[[argparse.Namespace, str], int]) -> int:
    """Set Django up on SQLite (a temporary file, or memory with ``--memory``) and run."""
    with tempfile.TemporaryDirectory(prefix="authsuite-bench-") as tmp:
        memory = getattr(args, "memory", False)
        setup_django(":memory:" if memory else str(Path(tmp) / "bench.sqlite3"))
        return run(args, "sqlite-memory" if memory else "sqlite-file")


def postgres_urls(url: str, name: str) -> tuple[str, str]:
    """The URL of the benchmark's own database ``name`` and of the maintenance database."""
    parts = urlsplit(url)
    return (urlunsplit(parts._replace(path=f"/{name}")),
            urlunsplit(parts._replace(path="/postgres")))


def postgres_database(maintenance_url: str, name: str, *, create: bool) -> None:
    """Drop the benchmark's database, and create it afresh when ``create``."""
    import psycopg

    with psycopg.connect(maintenance_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            conn.execute(f'CREATE DATABASE "{name}"')


def p90(values: list[float]) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=10)[-1]
