"""Server-side cost of a passkey sign-in against a password sign-in, in one run.

A passkey sign-in is two requests: the options (a challenge stored in the session) and the
verification (signature, counter, pipeline, session). A password sign-in is one POST whose
cost is mostly the Argon2id check, paid on purpose. Both are measured side by side, in
alternating order, with the production hasher (``accounts.hashers.Argon2idPasswordHasher``);
the authenticator's signing between the two passkey requests is not timed (a browser and
its authenticator do that work, not the server). The figure is the ratio of the medians:

    ratio = median(passkey options + verify) / median(POST /accounts/login/)

Below 1.0 a passkey sign-in is cheaper for the server than a password sign-in. Requests are
handed to the WSGI application as a server would hand them over and timed from the call to
the last byte of the response (see ``bench.common.Browser``).

``python -m bench passkeys [--iterations N] [--quick] [--memory] [--alg es256|eddsa]``
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import sys
import time

from bench import common, login

GOAL = 1.0
PASSWORD_EMAIL = "password-bench@example.com"
PASSKEY_EMAIL = "passkey-bench@example.com"
PASSWORD = "correct horse battery staple"
ORIGIN = "http://localhost:8000"
API = "/api/auth/v1/passkeys/"
DEFAULT_ITERATIONS = 150
QUICK_ITERATIONS = 5
WARMUP = 3


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = common.parser_for("passkeys", __doc__, default=DEFAULT_ITERATIONS,
                               quick=QUICK_ITERATIONS)
    parser.add_argument("--alg", choices=["es256", "eddsa"], default="es256",
                        help="the passkey's algorithm (default es256)")
    return common.parse(parser, argv)


def _timed(browser, call):
    """Run ``call`` (one request of ``browser``); return its response with the wall and CPU
    seconds the application took (see ``bench.common.Browser``)."""
    response = call()
    return response, browser.elapsed, browser.elapsed_cpu


class PasskeyBench:
    """A passwordless user with one passkey, and the ceremony a browser runs to sign in."""

    def __init__(self, alg: str):
        from django.contrib.auth import get_user_model
        from django.test import Client

        from accounts.models import EmailAddress
        from tests.passkeys.authenticator import EDDSA, ES256, SoftAuthenticator

        self.authenticator = SoftAuthenticator()
        user = get_user_model().objects.create_user(PASSKEY_EMAIL, PASSWORD)
        EmailAddress.objects.create(user=user, email=PASSKEY_EMAIL, primary=True, verified=True)
        self.user_id = user.pk
        # Registered the way a browser does it (signed in just now, so no reauthentication).
        client = Client()
        client.force_login(user)
        session = client.session
        from accounts import authrecord

        session[authrecord.SESSION_KEY] = {"auth_time": authrecord.now(), "amr": ["pwd"],
                                           "acr": authrecord.ACR_SINGLE_FACTOR}
        session.save()
        options = self._ok(client.post(API + "register/options/", content_type="application/json"))
        credential = self.authenticator.create(options, origin=ORIGIN,
                                               alg=ES256 if alg == "es256" else EDDSA)
        self._ok(client.post(API + "register/", {"credential": credential},
                             content_type="application/json"), status=201)
        user.set_unusable_password()  # passkey-only: nothing else could sign it in
        user.save(update_fields=["password"])

    @staticmethod
    def _ok(response, status: int = 200) -> dict:
        if response.status_code != status:
            raise SystemExit(f"passkey request failed: {response.status_code} {response.content[:300]!r}")
        return response.json()

    def login(self) -> tuple[float, float, float]:
        """One sign-in from a fresh browser: wall seconds of the options and of the
        verification, and CPU seconds of both."""
        from django.conf import settings
        from django.core.cache import caches

        caches[settings.RATELIMIT_USE_CACHE].clear()  # as for the password sign-ins
        client = common.Browser(user_agent=login.USER_AGENT)
        response, options_wall, options_cpu = _timed(
            client, lambda: client.post_json(API + "login/options/"))
        assertion = self.authenticator.get(self._ok(response), origin=ORIGIN)  # not timed
        body = {"credential": assertion}
        response, verify_wall, verify_cpu = _timed(
            client, lambda: client.post_json(API + "login/", body))
        self._check(client, response)
        return options_wall, verify_wall, options_cpu + verify_cpu

    def _check(self, client, response) -> None:
        from django.contrib.auth import SESSION_KEY

        result = self._ok(response)
        if result.get("status") != "authenticated":
            raise SystemExit(f"passkey sign-in did not complete: {result}")
        if client.session().get(SESSION_KEY) != str(self.user_id):
            raise SystemExit("passkey sign-in did not authenticate the session")

    def count_queries(self) -> int:
        from django.conf import settings
        from django.core.cache import caches
        from django.db import connection, reset_queries
        from django.test.utils import CaptureQueriesContext

        caches[settings.RATELIMIT_USE_CACHE].clear()
        client = common.Browser(user_agent=login.USER_AGENT)
        reset_queries()  # each request resets the log as it starts: count from an empty one
        with CaptureQueriesContext(connection) as first:
            response = client.post_json(API + "login/options/")
        queries = len(first)
        assertion = self.authenticator.get(self._ok(response), origin=ORIGIN)
        reset_queries()
        with CaptureQueriesContext(connection) as second:
            response = client.post_json(API + "login/", {"credential": assertion})
        self._check(client, response)
        return queries + len(second)


def measure(password: login.Bench, passkey: PasskeyBench, iterations: int) -> dict:
    times = {"password": [], "password_cpu": [], "options": [], "verify": [], "passkey_cpu": []}
    for i in range(WARMUP + iterations):
        gc.collect()
        # Alternate which goes first, so drift and cache effects fall on both alike.
        if i % 2:
            options, verify, passkey_cpu = passkey.login()
            signed, signed_cpu = password.login()
        else:
            signed, signed_cpu = password.login()
            options, verify, passkey_cpu = passkey.login()
        if i >= WARMUP:
            for key, value in (("password", signed), ("password_cpu", signed_cpu),
                               ("options", options), ("verify", verify),
                               ("passkey_cpu", passkey_cpu)):
                times[key].append(value)
    return times


def main(argv: list[str]) -> int:
    return common.on_sqlite(parse_args(argv), run)


def run(args: argparse.Namespace, database: str) -> int:
    import django

    from accounts.app_settings import app_settings

    password = login.Bench(email=PASSWORD_EMAIL)
    passkey = PasskeyBench(args.alg)
    hasher_path = f"{type(password.hasher).__module__}.{type(password.hasher).__qualname__}"
    params = {
        "memory_cost_kib": app_settings.ARGON2_MEMORY_COST,
        "time_cost": app_settings.ARGON2_TIME_COST,
        "parallelism": app_settings.ARGON2_PARALLELISM,
    }
    print(f"hasher: {hasher_path} (m={params['memory_cost_kib']} KiB, "
          f"t={params['time_cost']}, p={params['parallelism']}); passkey: {args.alg}")
    print(f"database: {database}; {args.iterations} pairs after {WARMUP} warm-up pairs")

    started = time.perf_counter()
    times = measure(password, passkey, args.iterations)
    wall = time.perf_counter() - started
    password_times, options_times, verify_times = times["password"], times["options"], times["verify"]
    passkey_times = [a + b for a, b in zip(options_times, verify_times, strict=True)]
    passkey_queries = passkey.count_queries()
    password_queries = login.count_queries(password)
    cpu_ratio = statistics.median(times["passkey_cpu"]) / statistics.median(times["password_cpu"])

    password_median = statistics.median(password_times)
    passkey_median = statistics.median(passkey_times)
    ratio = passkey_median / password_median
    print(f"password sign-in:        median {password_median * 1000:.2f} ms, "
          f"p90 {common.p90(password_times) * 1000:.2f} ms ({password_queries} SQL queries)")
    print(f"passkey options+verify:  median {passkey_median * 1000:.2f} ms, "
          f"p90 {common.p90(passkey_times) * 1000:.2f} ms ({passkey_queries} SQL queries)")
    print(f"  options: median {statistics.median(options_times) * 1000:.2f} ms; "
          f"verify: median {statistics.median(verify_times) * 1000:.2f} ms")
    print(f"CPU time ratio passkey / password: {cpu_ratio:.3f}")
    print(f"ratio passkey / password: {ratio:.3f} (goal <= {GOAL:.2f}) "
          f"-> {'met' if ratio <= GOAL else 'NOT met'}; measured in {wall:.1f} s")

    result = {
        "name": "passkeys",
        "value": round(ratio, 4),
        "unit": "ratio",
        "baseline": round(password_median, 6),
        "ratio": round(ratio, 4),
        "goal": GOAL,
        "passkey_median_s": round(passkey_median, 6),
        "password_median_s": round(password_median, 6),
        "options_median_s": round(statistics.median(options_times), 6),
        "verify_median_s": round(statistics.median(verify_times), 6),
        "cpu_ratio": round(cpu_ratio, 4),
        "passkey_p90_s": round(common.p90(passkey_times), 6),
        "password_p90_s": round(common.p90(password_times), 6),
        "queries_per_ceremony": passkey_queries,
        "queries_per_password_login": password_queries,
        "passkey_sign_ins_per_second_per_core": round(1 / passkey_median, 2),
        "iterations": args.iterations,
        "quick": args.quick,
        "alg": args.alg,
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
