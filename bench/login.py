"""Cost of a whole password sign-in against the cost of the password check inside it.

The Argon2id check is meant to dominate a sign-in: it is the price paid on purpose. Everything
else on the path (form, rate limits, lockout, pipeline, session rotation, session tracking,
redirect) should add little on top. The two are measured side by side in one run, in
alternating order, with the production hasher; the ratio of their medians is the figure:

    ratio = median(full POST /accounts/login/) / median(one check_password)

The sign-in is handed to the WSGI application as a server would hand it over (a urlencoded
form, as browsers post it; persistent database connections), and timed from the call to
the last byte of the response (see ``bench.common.Browser``).

For scale it also reports the floor: the same form posted to a view that does nothing, right
after a ``check_password`` (where the sign-in's own work runs), right after a pause as long
as one, and after another request; the sign-in's own work alone: the same sign-in, back
to back, for an account whose password is stored with a hash that costs next to nothing
(MD5, made the configured hasher for that phase only); and the reference: Django's own
sign-in, bare (``authenticate()``, ``login()``, a redirect; no form, rate limit, lockout,
stage, tracked session or audit event), measured against ``check_password`` the same way.
The gap between the reference and the goal is what the suite's protections have to fit in.

``python -m bench login [--iterations N] [--quick] [--memory] [--profile]``
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time

from bench import common

GOAL = 1.10
EMAIL = "bench@example.com"
PASSWORD = "correct horse battery staple"
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
DEFAULT_ITERATIONS = 100
PAUSE = 0.022  # seconds: about one check_password on the development machine
QUICK_ITERATIONS = 5
WARMUP = 3
FAST_EMAIL = "bench-fast@example.com"
FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = common.parser_for("login", __doc__, default=DEFAULT_ITERATIONS, quick=QUICK_ITERATIONS)
    parser.add_argument("--profile", type=int, nargs="?", const=30, default=0, metavar="N",
                        help="after measuring, profile N sign-ins with cProfile (default 30)")
    return common.parse(parser, argv)


class Bench:
    """The user, the stored hash and one sign-in done the way a browser does it."""

    def __init__(self, email: str = EMAIL):
        from django.contrib.auth import get_user_model
        from django.contrib.auth.hashers import get_hasher

        from accounts.models import EmailAddress

        self.email = email
        self.hasher = get_hasher("default")
        user = get_user_model().objects.create_user(email, PASSWORD)
        EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
        self.encoded = user.password
        self.user_id = user.pk

    def verify(self) -> tuple[float, float]:
        """Wall and CPU seconds of one check_password."""
        from django.contrib.auth.hashers import check_password

        start, start_cpu = time.perf_counter(), time.thread_time()
        ok = check_password(PASSWORD, self.encoded)
        elapsed = time.perf_counter() - start, time.thread_time() - start_cpu
        if not ok:
            raise SystemExit("check_password refused the right password")
        return elapsed

    def login(self) -> tuple[float, float]:
        """Wall and CPU seconds of one POST /accounts/login/."""
        return self.sign_in("/accounts/login/")

    def bare_login(self) -> tuple[float, float]:
        """Wall and CPU seconds of Django's own sign-in, bare (``bench.urls.bare_sign_in``)."""
        return self.sign_in("/bench/bare-sign-in/")

    def sign_in(self, path: str) -> tuple[float, float]:
        browser, data = self.fresh_browser()
        response = browser.post(path, data)
        self.check(browser, response)
        return browser.elapsed, browser.elapsed_cpu

    def empty_post(self, before=None) -> float:
        """Wall seconds of the same form posted to a view that does nothing, right after
        ``before()`` (a check_password, a pause) if given."""
        browser, data = self.fresh_browser()
        if before is not None:
            before()
        response = browser.post("/bench/empty-post/", data)
        if response.status_code != 302:
            raise SystemExit(f"the empty form POST failed: {response.status_code}")
        return browser.elapsed

    def fresh_browser(self):
        from django.conf import settings
        from django.core.cache import caches

        # Each sign-in starts from nothing: no cookies, no rate-limit counters, so every
        # request takes the whole path and none is refused. The application's own cache
        # keeps its contents, as it would in production.
        caches[settings.RATELIMIT_USE_CACHE].clear()
        browser = common.Browser(user_agent=USER_AGENT)
        browser.get("/accounts/login/")  # the CSRF cookie, as a browser would have it
        token = browser.cookies["csrftoken"]
        return browser, {"email": self.email, "password": PASSWORD, "csrfmiddlewaretoken": token}

    def check(self, browser, response) -> None:
        from django.contrib.auth import SESSION_KEY

        if response.status_code != 302 or response["Location"] != "/accounts/":
            raise SystemExit(f"sign-in failed: {response.status_code} {response.get('Location')}")
        if browser.session().get(SESSION_KEY) != str(self.user_id):
            raise SystemExit("sign-in did not authenticate the session")

    def stored_hash_current(self) -> bool:
        from django.contrib.auth import get_user_model

        encoded = get_user_model().objects.values_list("password", flat=True).get(pk=self.user_id)
        return not self.hasher.must_update(encoded)


def measure(bench: Bench, iterations: int, sign_in=None) -> tuple[list[tuple], list[tuple]]:
    """(verify, sign-in) wall and CPU seconds, in pairs; the sign-in is ``bench.login``
    unless ``sign_in`` is given."""
    sign_in = sign_in or bench.login
    verify_times, login_times = [], []
    for i in range(WARMUP + iterations):
        gc.collect()
        # Alternate which goes first, so drift and cache effects fall on both alike.
        if i % 2:
            login, verify = sign_in(), bench.verify()
        else:
            verify, login = bench.verify(), sign_in()
        if i >= WARMUP:
            verify_times.append(verify)
            login_times.append(login)
    return verify_times, login_times


def pause() -> None:
    """As long as a check_password takes, doing nothing: the core is left to others."""
    time.sleep(PAUSE)


def measure_floor(bench: Bench, iterations: int) -> dict[str, list[float]]:
    """The empty form POST right after a check_password (where a sign-in's own work runs),
    right after a pause as long, and right after another request, in rotating order: what
    any request costs here, and whether what a hash leaves behind is the hash's doing or
    the time it takes."""
    cases = {"after_hash": bench.verify, "after_pause": pause, "alone": None}
    found: dict[str, list[float]] = {name: [] for name in cases}
    names = list(cases)
    for i in range(WARMUP + iterations):
        gc.collect()
        for name in names[i % 3:] + names[:i % 3]:
            wall = bench.empty_post(cases[name])
            if i >= WARMUP:
                found[name].append(wall)
    return found


def measure_without_hash(iterations: int) -> list[float]:
    """Wall seconds of the same sign-in, one after another, when the password check costs
    next to nothing: what the request itself costs, with nothing in between to leave the
    caches cold."""
    from django.test import override_settings

    times = []
    with override_settings(PASSWORD_HASHERS=FAST_HASHERS):
        bench = Bench(FAST_EMAIL)
        for i in range(WARMUP + iterations):
            gc.collect()
            wall, _cpu = bench.login()
            if i >= WARMUP:
                times.append(wall)
    return times


def measure_bare(bench: Bench, iterations: int) -> tuple[float, float, int]:
    """Django's own sign-in, bare, against ``check_password`` as the sign-in is measured:
    (ratio of medians, median seconds beyond the hash, SQL statements). No audit event
    either: Django's ``user_logged_in`` would otherwise record one."""
    from django.test import override_settings

    with override_settings(AUTHSUITE_AUDIT_ENABLED=False):
        verify_pairs, bare_pairs = measure(bench, iterations, bench.bare_login)
        queries = count_queries(bench, "/bench/bare-sign-in/")
    verify_times, bare_times = [w for w, _ in verify_pairs], [w for w, _ in bare_pairs]
    beyond = statistics.median(b - a for a, b in zip(verify_times, bare_times, strict=True))
    return statistics.median(bare_times) / statistics.median(verify_times), beyond, queries


def profile(bench: Bench, count: int) -> None:
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    for _ in range(count):
        browser, data = bench.fresh_browser()
        profiler.enable()
        response = browser.post("/accounts/login/", data)
        profiler.disable()
        bench.check(browser, response)
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(
        os.environ.get("BENCH_PROFILE_SORT", "cumulative"))
    stats.print_stats(int(os.environ.get("BENCH_PROFILE_LINES", "40")))
    print(f"profile of {count} sign-ins (cumulative time):")
    print(out.getvalue())


def count_queries(bench: Bench, path: str = "/accounts/login/") -> int:
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    browser, data = bench.fresh_browser()
    reset_queries()  # the request resets the log as it starts: count from an empty one
    with CaptureQueriesContext(connection) as queries:
        response = browser.post(path, data)
    bench.check(browser, response)
    return len(queries)


def main(argv: list[str]) -> int:
    return common.on_sqlite(parse_args(argv), run)


def run(args: argparse.Namespace, database: str) -> int:
    import django

    from accounts.app_settings import app_settings

    bench = Bench()
    hasher_path = f"{type(bench.hasher).__module__}.{type(bench.hasher).__qualname__}"
    params = {
        "memory_cost_kib": app_settings.ARGON2_MEMORY_COST,
        "time_cost": app_settings.ARGON2_TIME_COST,
        "parallelism": app_settings.ARGON2_PARALLELISM,
    }
    print(f"hasher: {hasher_path} (m={params['memory_cost_kib']} KiB, "
          f"t={params['time_cost']}, p={params['parallelism']})")
    print(f"database: {database}; {args.iterations} pairs after {WARMUP} warm-up pairs")

    started = time.perf_counter()
    verify_pairs, login_pairs = measure(bench, args.iterations)
    wall = time.perf_counter() - started
    verify_times, verify_cpu = [w for w, _ in verify_pairs], [c for _, c in verify_pairs]
    login_times, login_cpu = [w for w, _ in login_pairs], [c for _, c in login_pairs]
    # CPU time leaves out waiting (for a busy CPU, for the disk): steadier on a loaded
    # machine, but blind to commit latency. The ratio itself is on wall time.
    floor = {name: statistics.median(times) for name, times
             in measure_floor(bench, max(1, args.iterations // 2)).items()}
    without_hash = statistics.median(measure_without_hash(args.iterations))
    bare_ratio, bare_beyond, bare_queries = measure_bare(bench, max(1, args.iterations // 2))
    queries = count_queries(bench)
    rehashed = not bench.stored_hash_current()

    verify_median = statistics.median(verify_times)
    login_median = statistics.median(login_times)
    overhead = statistics.median(b - a for a, b in zip(verify_times, login_times, strict=True))
    ratio = login_median / verify_median
    verify_cpu_median = statistics.median(verify_cpu)
    login_cpu_median = statistics.median(login_cpu)
    cpu_ratio = login_cpu_median / verify_cpu_median if verify_cpu_median else 0.0
    print(f"check_password: median {verify_median * 1000:.2f} ms, "
          f"p90 {common.p90(verify_times) * 1000:.2f} ms")
    print(f"full sign-in:   median {login_median * 1000:.2f} ms, p90 {common.p90(login_times) * 1000:.2f} ms "
          f"({queries} SQL queries)")
    print(f"sign-in beyond the hash: median {overhead * 1000:.2f} ms per pair")
    print(f"empty form POST (middleware only): {floor['after_hash'] * 1000:.2f} ms right after a "
          f"check_password ({floor['after_hash'] / verify_median * 100:.1f} % of the hash), "
          f"{floor['after_pause'] * 1000:.2f} ms right after a {PAUSE * 1000:.0f} ms pause, "
          f"{floor['alone'] * 1000:.2f} ms after another request")
    print(f"the same sign-in without its hash (MD5 stand-in, back to back): "
          f"{without_hash * 1000:.2f} ms, {without_hash / verify_median * 100:.1f} % of the hash")
    print(f"reference, Django's own sign-in bare ({bare_queries} SQL queries): ratio "
          f"{bare_ratio:.3f}, {bare_beyond * 1000:.2f} ms beyond the hash; the goal leaves the "
          f"suite {(GOAL - bare_ratio) * verify_median * 1000:.2f} ms on top of it, the sign-in "
          f"takes {(overhead - bare_beyond) * 1000:.2f} ms")
    print(f"ratio sign-in / check_password: {ratio:.3f} (goal <= {GOAL:.2f}) "
          f"-> {'met' if ratio <= GOAL else 'NOT met'}")
    print(f"CPU time: check_password {verify_cpu_median * 1000:.2f} ms, sign-in "
          f"{login_cpu_median * 1000:.2f} ms, ratio {cpu_ratio:.3f}")
    # A core waiting on the disk can serve another request: capacity per core is CPU-bound.
    per_core = 1 / login_cpu_median if login_cpu_median else 0.0
    print(f"sign-ins per second per core: {per_core:.1f} (CPU time); one after another: "
          f"{1 / login_median:.1f}/s; measured in {wall:.1f} s")
    if rehashed:
        print("warning: the stored hash is out of date, so sign-ins rehash it")
    if args.profile:
        profile(bench, args.profile)

    result = {
        "name": "login",
        "value": round(ratio, 4),
        "unit": "ratio",
        "baseline": round(verify_median, 6),
        "ratio": round(ratio, 4),
        "goal": GOAL,
        "login_median_s": round(login_median, 6),
        "verify_median_s": round(verify_median, 6),
        "login_p90_s": round(common.p90(login_times), 6),
        "verify_p90_s": round(common.p90(verify_times), 6),
        "overhead_median_s": round(overhead, 6),
        "empty_post_after_hash_s": round(floor["after_hash"], 6),
        "empty_post_after_pause_s": round(floor["after_pause"], 6),
        "empty_post_s": round(floor["alone"], 6),
        "login_without_hash_s": round(without_hash, 6),
        "bare_django_ratio": round(bare_ratio, 4),
        "bare_django_overhead_s": round(bare_beyond, 6),
        "bare_django_queries": bare_queries,
        "login_cpu_median_s": round(login_cpu_median, 6),
        "verify_cpu_median_s": round(verify_cpu_median, 6),
        "cpu_ratio": round(cpu_ratio, 4),
        "logins_per_second_per_core": round(per_core, 2),
        "logins_per_second_sequential": round(1 / login_median, 2),
        "queries_per_login": queries,
        "iterations": args.iterations,
        "quick": args.quick,
        "hasher": hasher_path,
        "argon2": params,
        "database": database,
        "python": platform.python_version(),
        "django": django.get_version(),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
