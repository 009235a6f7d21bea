"""Cost of checking a TOTP code against the cost of a bare signed-in page.

A signed-in user proves their authenticator app again (a step-up: POST /mfa/challenge/ with a
valid code). That request checks the code against the sealed key, records the used time
step (replay protection), audits the success, rotates the session key and refreshes the
authentication record. It is compared with a page any signed-in request pays for
(GET /accounts/: session, session tracking, user, template). Both are measured side by side
in one run, in alternating order; the figure is the ratio of their medians:

    ratio = median(POST /mfa/challenge/ as a step-up) / median(GET /accounts/)

Requests are handed to the WSGI application as a server would hand them over, and timed from
the call to the last byte of the response (see ``bench.common.Browser``).

The second-factor stage of a sign-in (password first, untimed; then the timed POST of the
code, which completes the sign-in) is measured too and reported beside it, with the SQL
queries of each request.

Every code is computed with pyotp for a clock the benchmark holds (one time step further
for each request, so no code is ever a replay), outside the timed part.

``python -m bench mfa [--iterations N] [--quick] [--memory | --postgres] [--queries]
[--profile [N]]``
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

GOAL = 1.5
EMAIL = "bench@example.com"
PASSWORD = "correct horse battery staple"
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
DEFAULT_ITERATIONS = 200
QUICK_ITERATIONS = 5
WARMUP = 5
STEP_UP_TARGET = "/mfa/"
BENCH_DB = "authsuite_bench_mfa"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = common.parser_for("mfa", __doc__, default=DEFAULT_ITERATIONS, quick=QUICK_ITERATIONS)
    parser.add_argument("--postgres", action="store_true",
                        help=f"PostgreSQL: a database {BENCH_DB!r}, created afresh and dropped, "
                             "on the server of DATABASE_URL")
    parser.add_argument("--queries", action="store_true",
                        help="print the SQL of one step-up and one sign-in challenge")
    parser.add_argument("--profile", type=int, nargs="?", const=50, default=0, metavar="N",
                        help="after measuring, profile N step-ups with cProfile (default 50)")
    return common.parse(parser, argv)


class Clock:
    """The time the suite checks codes against (``mfa.totp.now``), one step per code."""

    def __init__(self):
        from mfa import app_settings, totp

        self.step = app_settings.app_settings.TOTP_STEP
        self.t = float(int(time.time()) // self.step * self.step)
        totp.now = lambda: self.t

    def next_code(self, secret: str) -> str:
        import pyotp

        self.t += self.step
        return pyotp.TOTP(secret, interval=self.step).at(self.t)


class Bench:
    """A user with an authenticator app, a browser signed in with both factors, and the two
    requests under comparison done the way that browser does them."""

    def __init__(self):
        from django.contrib.auth import get_user_model

        from accounts.models import EmailAddress
        from mfa import recovery, totp
        from mfa.models import TOTPDevice

        user = get_user_model().objects.create_user(EMAIL, PASSWORD)
        EmailAddress.objects.create(user=user, email=EMAIL, primary=True, verified=True)
        key = totp.new_key()
        TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True,
                                  sealed_key=totp.seal_key(key))
        recovery.generate(user)
        self.user_id = user.pk
        self.secret = totp.base32(key)
        self.clock = Clock()
        self.client = self._signed_in_client()

    # --- clients ----------------------------------------------------------------------------

    def _reset_limits(self) -> None:
        # Rate-limit counters have their own cache: every request takes the whole path and
        # none is refused, while the application's own cache stays warm.
        from django.core.cache import caches

        caches["ratelimit"].clear()

    def _browser(self):
        client = common.Browser(user_agent=USER_AGENT)
        client.get("/accounts/login/")  # the CSRF cookie, as a browser would have it
        return client

    def _csrf(self, client) -> str:
        return client.cookies["csrftoken"]

    def _password(self, client) -> None:
        self._reset_limits()
        response = client.post("/accounts/login/", {
            "email": EMAIL, "password": PASSWORD, "csrfmiddlewaretoken": self._csrf(client)})
        if response.status_code != 302 or response["Location"] != "/mfa/challenge/":
            raise SystemExit(f"password step failed: {response.status_code} "
                             f"{response.get('Location')}")

    def _signed_in_client(self):
        client = self._browser()
        self._password(client)
        response = client.post("/mfa/challenge/", {
            "code": self.clock.next_code(self.secret), "csrfmiddlewaretoken": self._csrf(client)})
        self._check_signed_in(client, response, "/accounts/")
        return client

    def _check_signed_in(self, client, response, target: str) -> None:
        from django.contrib.auth import SESSION_KEY

        if response.status_code != 302 or response["Location"] != target:
            raise SystemExit(f"challenge failed: {response.status_code} "
                             f"{response.get('Location')} {response.content[:300]!r}")
        session = client.session()
        if session.get(SESSION_KEY) != str(self.user_id):
            raise SystemExit("the challenge did not leave an authenticated session")
        if "mfa" not in session["_authsuite_auth"]["amr"]:
            raise SystemExit("the session's amr has no mfa after the challenge")

    # --- the measured requests ---------------------------------------------------------------

    def page(self) -> float:
        self._reset_limits()
        response = self.client.get("/accounts/")
        if response.status_code != 200:
            raise SystemExit(f"the signed-in page answered {response.status_code}")
        return self.client.elapsed

    def step_up_data(self) -> dict:
        self._reset_limits()
        return {"code": self.clock.next_code(self.secret), "next": STEP_UP_TARGET,
                "csrfmiddlewaretoken": self._csrf(self.client)}

    def step_up(self) -> float:
        data = self.step_up_data()
        response = self.client.post("/mfa/challenge/", data)
        self._check_signed_in(self.client, response, STEP_UP_TARGET)
        return self.client.elapsed

    def stage_ready(self):
        """A browser whose sign-in waits at the second factor (the password is not timed)."""
        client = self._browser()
        self._password(client)
        self._reset_limits()
        data = {"code": self.clock.next_code(self.secret), "csrfmiddlewaretoken": self._csrf(client)}
        return client, data

    def stage(self) -> float:
        client, data = self.stage_ready()
        response = client.post("/mfa/challenge/", data)
        self._check_signed_in(client, response, "/accounts/")
        return client.elapsed


def measure(bench: Bench, iterations: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"page": [], "step_up": [], "stage": []}
    for i in range(WARMUP + iterations):
        gc.collect()
        # Alternate which goes first, so drift and cache effects fall on both alike.
        order = ("page", "step_up") if i % 2 else ("step_up", "page")
        for name in order:
            elapsed = getattr(bench, name)()
            if i >= WARMUP:
                times[name].append(elapsed)
        stage = bench.stage()
        if i >= WARMUP:
            times["stage"].append(stage)
    return times


def capture(bench: Bench, show: bool) -> tuple[int, int, int]:
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    counts = []
    for name, run in (("GET /accounts/", lambda: bench.client.get("/accounts/")),
                      ("step-up POST /mfa/challenge/", None),
                      ("sign-in POST /mfa/challenge/", None)):
        if name.startswith("step-up"):
            data = bench.step_up_data()
            client = bench.client
        elif name.startswith("sign-in"):
            client, data = bench.stage_ready()
        reset_queries()  # the request resets the log as it starts: count from an empty one
        with CaptureQueriesContext(connection) as queries:
            response = run() if run else client.post("/mfa/challenge/", data)
        if response.status_code not in (200, 302):
            raise SystemExit(f"{name} answered {response.status_code}")
        counts.append(len(queries))
        if show:
            print(f"--- {name}: {len(queries)} queries")
            for query in queries.captured_queries:
                print("   ", query["sql"][:200])
    return counts[0], counts[1], counts[2]


def profile(bench: Bench, count: int) -> None:
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    for _ in range(count):
        data = bench.step_up_data()
        profiler.enable()
        response = bench.client.post("/mfa/challenge/", data)
        profiler.disable()
        bench._check_signed_in(bench.client, response, STEP_UP_TARGET)
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("cumulative").print_stats(int(os.environ.get("BENCH_PROFILE_LINES", "40")))
    stats.sort_stats("tottime").print_stats(25)
    print(f"profile of {count} step-ups (cumulative time):")
    print(out.getvalue())


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.postgres:
        url = os.environ.get("DATABASE_URL", "")
        if not url.startswith(("postgres://", "postgresql://")):
            print("--postgres needs DATABASE_URL=postgres://...", file=sys.stderr)
            return 2
        bench_url, maintenance_url = common.postgres_urls(url, BENCH_DB)
        common.postgres_database(maintenance_url, BENCH_DB, create=True)
        try:
            common.setup_django(postgres_url=bench_url)
            return run(args, "postgresql")
        finally:
            from django.db import connections

            connections.close_all()
            common.postgres_database(maintenance_url, BENCH_DB, create=False)
    return common.on_sqlite(args, run)


def run(args: argparse.Namespace, database: str) -> int:
    import django

    bench = Bench()
    print(f"database: {database}; {args.iterations} rounds after {WARMUP} warm-up rounds")
    started = time.perf_counter()
    times = measure(bench, args.iterations)
    wall = time.perf_counter() - started
    page_queries, step_up_queries, stage_queries = capture(bench, args.queries)

    page = statistics.median(times["page"])
    step_up = statistics.median(times["step_up"])
    stage = statistics.median(times["stage"])
    ratio = step_up / page
    stage_ratio = stage / page
    print(f"GET /accounts/ (signed in):      median {page * 1000:.2f} ms, "
          f"p90 {common.p90(times['page']) * 1000:.2f} ms ({page_queries} SQL queries)")
    print(f"step-up POST /mfa/challenge/:    median {step_up * 1000:.2f} ms, "
          f"p90 {common.p90(times['step_up']) * 1000:.2f} ms ({step_up_queries} SQL queries)")
    print(f"sign-in POST /mfa/challenge/:    median {stage * 1000:.2f} ms, "
          f"p90 {common.p90(times['stage']) * 1000:.2f} ms ({stage_queries} SQL queries)")
    print(f"ratio step-up / page: {ratio:.3f} (goal <= {GOAL:.2f}) "
          f"-> {'met' if ratio <= GOAL else 'NOT met'}")
    print(f"ratio sign-in challenge / page: {stage_ratio:.3f}")
    print(f"measured in {wall:.1f} s")
    if args.profile:
        profile(bench, args.profile)

    result = {
        "name": "mfa",
        "value": round(ratio, 4),
        "unit": "ratio",
        "baseline": round(page, 6),
        "ratio": round(ratio, 4),
        "goal": GOAL,
        "queries_per_challenge": step_up_queries,
        "queries_per_login_challenge": stage_queries,
        "queries_per_page": page_queries,
        "challenge_median_s": round(step_up, 6),
        "challenge_p90_s": round(common.p90(times["step_up"]), 6),
        "page_median_s": round(page, 6),
        "page_p90_s": round(common.p90(times["page"]), 6),
        "login_challenge_median_s": round(stage, 6),
        "login_challenge_ratio": round(stage_ratio, 4),
        "iterations": args.iterations,
        "quick": args.quick,
        "database": database,
        "python": platform.python_version(),
        "django": django.get_version(),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
