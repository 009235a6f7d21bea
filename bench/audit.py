"""What the audit trail costs, on PostgreSQL, measured side by side in one run.

1. A password sign-in (POST /accounts/login/ handed to the WSGI application, see
   ``bench.common.Browser``) with auditing on
   against the same sign-in with ``AUTHSUITE_AUDIT_ENABLED=False``, in alternating order; the
   figure is the ratio of their medians (goal <= 1.05). Both sides use the same hasher: the
   fast test hasher by default, which makes the audit trail's share look as large as it can;
   ``--production-hasher`` measures the login request as it runs in production (Argon2id).
2. Events written per second by 8 threads calling ``audit.chain.record`` at once, each on its
   own database connection, then chained by the sealer; the chain must verify
   (goal >= 2,000 events/s).
3. ``audit_verify`` speed over a chain of 200,000 events (goal >= 100,000 events/s).

The run uses its own database (``authsuite_bench`` on the server of DATABASE_URL), dropped
and created afresh, so it never touches a test or application database.

``python -m bench audit [--quick] [--iterations N] [--writes N] [--events N] [--database NAME]
[--keep-db] [--production-hasher]``
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import threading
import time

from bench import common
from bench.common import postgres_database, postgres_urls

LOGIN_GOAL = 1.05
WRITES_GOAL = 2000.0
VERIFY_GOAL = 100_000.0
THREADS = 8
BENCH_DB = "authsuite_bench"
EMAIL = "bench@example.com"
PASSWORD = "correct horse battery staple"
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
WARMUP = 5
DEFAULTS = {"iterations": 300, "writes": 1000, "events": 200_000}
QUICK = {"iterations": 5, "writes": 20, "events": 2000}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench audit", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="smoke run with tiny counts; the figures mean nothing")
    parser.add_argument("--iterations", type=int, help="sign-in pairs (default 300)")
    parser.add_argument("--writes", type=int, help="events written per thread (default 1000)")
    parser.add_argument("--events", type=int, help="events in the verified chain (default 200000)")
    parser.add_argument("--database", default=BENCH_DB, metavar="NAME",
                        help=f"name of the database to create, use and drop (default {BENCH_DB}; "
                             f"must start with {BENCH_DB})")
    parser.add_argument("--keep-db", action="store_true",
                        help="leave the database behind for inspection")
    parser.add_argument("--production-hasher", action="store_true",
                        help="sign in with the configured Argon2id hasher on both sides (the "
                             "login request as it runs in production) instead of the fast one")
    args = parser.parse_args(argv)
    if not args.database.startswith(BENCH_DB) or not args.database.replace("_", "").isalnum():
        parser.error(f"--database must start with {BENCH_DB} (it is dropped and recreated)")
    for name, default in (QUICK if args.quick else DEFAULTS).items():
        if getattr(args, name) is None:
            setattr(args, name, default)
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    return args


def setup_django(database_url: str, production_hasher: bool = False) -> None:
    """The test settings (the fast hasher unless told otherwise, on both sides of the
    comparison) on PostgreSQL."""
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    # Local memory cache and eager Celery, whatever the shell has: the same on both sides.
    for name in ("REDIS_URL", "CELERY_BROKER_URL"):
        os.environ.pop(name, None)
    import django
    from django.conf import settings
    from django.core.management import call_command

    if production_hasher:
        from authsuite.settings import PASSWORD_HASHERS

        settings.PASSWORD_HASHERS = list(PASSWORD_HASHERS)
    # Persistent connections, as production web processes keep them: each request is handed
    # to the WSGI application, which would otherwise reconnect for every one.
    settings.DATABASES["default"]["CONN_MAX_AGE"] = None
    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


# 1. Sign-in with and without the audit trail -------------------------------------------

class Login:
    def __init__(self):
        from django.contrib.auth import get_user_model

        from accounts.models import EmailAddress

        user = get_user_model().objects.create_user(EMAIL, PASSWORD)
        EmailAddress.objects.create(user=user, email=EMAIL, primary=True, verified=True)
        self.user_id = user.pk

    def once(self, *, audited: bool) -> float:
        from django.core.cache import caches
        from django.test import override_settings

        # Every sign-in starts from nothing: no cookies, no rate-limit counters.
        for cache in caches.all():
            cache.clear()
        browser = common.Browser(user_agent=USER_AGENT)
        browser.get("/accounts/login/")
        data = {"email": EMAIL, "password": PASSWORD,
                "csrfmiddlewaretoken": browser.cookies["csrftoken"]}
        with override_settings(AUTHSUITE_AUDIT_ENABLED=audited):
            response = browser.post("/accounts/login/", data)
        if response.status_code != 302:
            raise SystemExit(f"sign-in failed: {response.status_code}")
        return browser.elapsed


def measure_login(iterations: int) -> dict:
    from audit.models import Event

    login = Login()
    on, off = [], []
    before = Event.objects.filter(action="accounts.login.succeeded").count()
    for i in range(WARMUP + iterations):
        gc.collect()
        # Alternate which side goes first, so drift falls on both alike.
        if i % 2:
            a, b = login.once(audited=True), login.once(audited=False)
        else:
            b, a = login.once(audited=False), login.once(audited=True)
        if i >= WARMUP:
            on.append(a)
            off.append(b)
    recorded = Event.objects.filter(action="accounts.login.succeeded").count() - before
    if recorded != WARMUP + iterations:
        raise SystemExit(f"expected {WARMUP + iterations} recorded sign-ins, found {recorded}")
    on_median, off_median = statistics.median(on), statistics.median(off)
    return {"on": on_median, "off": off_median, "ratio": on_median / off_median}


# 2. Concurrent writers -----------------------------------------------------------------

def measure_writes(per_thread: int) -> dict:
    from django.db import connections

    from audit import chain
    from audit.models import Event

    start_count = Event.objects.count()
    barrier = threading.Barrier(THREADS + 1)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            barrier.wait()
            for i in range(per_thread):
                chain.record(action="bench.write", actor_id=str(n), actor_repr=f"writer {n}",
                             data={"i": i})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    written = time.perf_counter() - started
    chain.seal_all()
    total = time.perf_counter() - started
    if errors:
        raise SystemExit(f"a writer failed: {errors[0]!r}")
    count = Event.objects.count() - start_count
    expected = THREADS * per_thread
    if count != expected:
        raise SystemExit(f"expected {expected} events, found {count}")
    report = chain.verify()
    if not report.ok:
        raise SystemExit("the chain does not verify: " + "; ".join(report.problems[:3]))
    return {"events": expected, "write_seconds": written, "total_seconds": total,
            "per_second": expected / total}


# 3. Verification -----------------------------------------------------------------------

def fill(events: int, batch: int = 10_000) -> None:
    """Write ``events`` events the way ``record`` does, in bulk, then chain them."""
    import uuid

    from django.db import transaction
    from django.utils import timezone

    from audit import canonical, chain
    from audit.models import Event, PendingSeal

    done = 0
    while done < events:
        rows = []
        for i in range(done, min(events, done + batch)):
            event = Event(
                uid=uuid.uuid4(), occurred_at=timezone.now(), actor_id=str(i % 500),
                actor_repr=f"user{i % 500}@example.com", action="accounts.login.succeeded",
                outcome="success", target_type="", target_id="", target_repr="",
                ip=f"10.0.{i % 250}.{i % 200}", user_agent=USER_AGENT,
                request_id=uuid.uuid4().hex, session_ref="0123456789abcdef",
                data=canonical.dumps({"method": "password", "amr": ["pwd"], "device": "Firefox"}),
                mac="",
            )
            event.mac = canonical.event_mac([getattr(event, n) for n in canonical.FIELDS])
            rows.append(event)
        with transaction.atomic():
            created = Event.objects.bulk_create(rows)
            PendingSeal.objects.bulk_create(PendingSeal(event_id=e.pk) for e in created)
        done += len(rows)
    chain.seal_all()


def measure_verify(events: int) -> dict:
    from audit import chain
    from audit.models import EventSeal

    fill(events)
    chained = EventSeal.objects.count()
    gc.collect()
    started = time.perf_counter()
    report = chain.verify()
    elapsed = time.perf_counter() - started
    if not report.ok:
        raise SystemExit("the chain does not verify: " + "; ".join(report.problems[:3]))
    if report.checked != chained:
        raise SystemExit(f"verified {report.checked} of {chained} chained events")
    return {"events": report.checked, "seconds": elapsed, "per_second": report.checked / elapsed}


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        print("python -m bench audit measures on PostgreSQL: set DATABASE_URL=postgres://... "
              f"(a database named {BENCH_DB} is created on that server and dropped)",
              file=sys.stderr)
        return 2
    bench_url, maintenance_url = postgres_urls(url, args.database)
    postgres_database(maintenance_url, args.database, create=True)
    try:
        setup_django(bench_url, production_hasher=args.production_hasher)
        return run(args)
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep_db:
            postgres_database(maintenance_url, args.database, create=False)


def run(args: argparse.Namespace) -> int:
    import django
    from django.db import connection

    server = connection.cursor().connection.info.server_version
    print(f"database: PostgreSQL {server // 10000}.{server % 10000} ({connection.settings_dict['NAME']}); "
          f"hasher: {'Argon2id (production)' if args.production_hasher else 'the fast test hasher'}"
          f" on both sides")

    login = measure_login(args.iterations)
    print(f"sign-in, audited:    median {login['on'] * 1000:.2f} ms")
    print(f"sign-in, not audited: median {login['off'] * 1000:.2f} ms "
          f"({args.iterations} pairs after {WARMUP} warm-up pairs)")
    print(f"ratio audited / not audited: {login['ratio']:.3f} (goal <= {LOGIN_GOAL:.2f}) -> "
          f"{'met' if login['ratio'] <= LOGIN_GOAL else 'NOT met'}")

    writes = measure_writes(args.writes)
    print(f"{THREADS} writer threads: {writes['events']} events written in "
          f"{writes['write_seconds']:.2f} s, chained and verified; "
          f"{writes['per_second']:.0f} events/s (goal >= {WRITES_GOAL:.0f}) -> "
          f"{'met' if writes['per_second'] >= WRITES_GOAL else 'NOT met'}")

    verify = measure_verify(args.events)
    print(f"audit_verify: {verify['events']} events in {verify['seconds']:.2f} s, "
          f"{verify['per_second']:.0f} events/s (goal >= {VERIFY_GOAL:.0f}) -> "
          f"{'met' if verify['per_second'] >= VERIFY_GOAL else 'NOT met'}")

    result = {
        "name": "audit",
        "value": round(login["ratio"], 4),
        "unit": "ratio",
        "baseline": round(login["off"], 6),
        "ratio": round(login["ratio"], 4),
        "goal": LOGIN_GOAL,
        "login_audited_median_s": round(login["on"], 6),
        "login_unaudited_median_s": round(login["off"], 6),
        "writes_per_second": round(writes["per_second"], 1),
        "writes_goal": WRITES_GOAL,
        "writes_threads": THREADS,
        "writes_events": writes["events"],
        "verify_events_per_second": round(verify["per_second"], 1),
        "verify_goal": VERIFY_GOAL,
        "verify_events": verify["events"],
        "iterations": args.iterations,
        "quick": args.quick,
        "database": "postgresql",
        "hasher": "production" if args.production_hasher else "fast",
        "python": platform.python_version(),
        "django": django.get_version(),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
