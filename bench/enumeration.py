"""What the time of an answer tells about whether an account exists.

Four requests answer the same whatever the address typed, so that nobody learns from them
who has an account; they must also take the same time. Each is timed for an address an
account signs in with and for one no account has, side by side in one run, in alternating
order, with the production hasher:

- sign-up (mandatory verification): a new address against a taken one;
- sign-in: a wrong password for an account against any password for an unknown address;
- sign-in link request: a known address against an unknown one;
- password reset request: a known address against an unknown one.

Requests are handed to the WSGI application as a server would hand them over (urlencoded
forms, as browsers post them), each from a fresh browser with fresh rate-limit counters, and
timed from the call to the last byte of the response (see ``bench.common.Browser``).

Mail is delivered as in a deployment with a Celery worker: the request queues delivery on a
broker (``bench.settings``) and is timed without it; the benchmark then delivers what it
queued, untimed, as the worker would (for the link requests that is where the worker
decides a link or a notice, issues the token and records the event), so every request
meets the state a real one would: earlier links voided, the audit trail grown. With eager
Celery (the demo, the tests) delivery runs in the request and these figures do not apply.

The figure is the largest gap, as a share of the slower side's median:

    value = max over the four of |median(known) - median(unknown)| / max(medians)

A gap within the run's own noise tells nothing; the p90s are printed to judge it by.

``python -m bench enumeration [--iterations N] [--quick] [--memory]``
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import sys
import time

from bench import common

GOAL = 0.05
EMAIL = "bench@example.com"
PASSWORD = "correct horse battery staple"
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
DEFAULT_ITERATIONS = 60
QUICK_ITERATIONS = 3
WARMUP = 3


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = common.parser_for("enumeration", __doc__, default=DEFAULT_ITERATIONS,
                               quick=QUICK_ITERATIONS)
    return common.parse(parser, argv)


class Requests:
    """One account, and the four requests for its address and for unknown ones."""

    def __init__(self):
        from django.contrib.auth import get_user_model

        from accounts.models import EmailAddress

        user = get_user_model().objects.create_user(EMAIL, PASSWORD)
        EmailAddress.objects.create(user=user, email=EMAIL, primary=True, verified=True)
        self.serial = 0

    def unknown(self) -> str:
        self.serial += 1
        return f"new-{self.serial}@example.com"

    def post(self, path: str, data: dict, *, expect: int) -> float:
        from django.conf import settings
        from django.core.cache import caches

        caches[settings.RATELIMIT_USE_CACHE].clear()
        browser = common.Browser(user_agent=USER_AGENT)
        browser.get(path)  # the CSRF cookie, as a browser would have it
        response = browser.post(path, {**data, "csrfmiddlewaretoken": browser.cookies["csrftoken"]})
        if response.status_code != expect:
            raise SystemExit(f"POST {path} answered {response.status_code}, not {expect}")
        elapsed = browser.elapsed
        self.deliver()
        return elapsed

    def deliver(self) -> None:
        """Deliver, untimed, what the request queued, as the mail worker would."""
        from django.core import mail

        from authsuite import outbox
        from authsuite.models import OutboxMessage

        Status = OutboxMessage.Status
        for message_id in OutboxMessage.objects.filter(status=Status.PENDING).values_list(
                "pk", flat=True):
            if outbox.mail_deliver(message_id) not in (Status.SENT, outbox.NOTHING_TO_SEND):
                raise SystemExit(f"outbox message {message_id} was not delivered")
        mail.outbox = []

    def signup(self, email: str) -> float:
        return self.post("/accounts/signup/", {"email": email, "password": PASSWORD,
                                               "name": "Bench"}, expect=302)

    def login(self, email: str) -> float:
        from accounts.models import LoginThrottle

        # Each attempt is the address's first failure: without this the known address would
        # lock (and answer without a hash) after a few rounds.
        LoginThrottle.objects.all().delete()
        return self.post("/accounts/login/", {"email": email, "password": PASSWORD + "!"},
                         expect=200)

    def magic_link(self, email: str) -> float:
        return self.post("/accounts/magic-link/", {"email": email}, expect=200)

    def password_reset(self, email: str) -> float:
        return self.post("/accounts/password/reset/", {"email": email}, expect=302)


#: The link requests: the known address is issued a token of that purpose (by the worker).
LINK_REQUESTS = ("magic_link", "password_reset")


def measure(requests: Requests, name: str, iterations: int) -> tuple[list[float], list[float]]:
    """(known address, unknown address) wall seconds, in pairs."""
    from accounts.models import OneTimeToken

    flow = getattr(requests, name)
    issued = OneTimeToken.objects.filter(purpose=name)
    before = issued.count()
    known, unknown = [], []
    for i in range(WARMUP + iterations):
        gc.collect()
        # Alternate which goes first, so drift and cache effects fall on both alike.
        if i % 2:
            pair = flow(EMAIL), flow(requests.unknown())
        else:
            other = flow(requests.unknown())
            pair = flow(EMAIL), other
        if i >= WARMUP:
            known.append(pair[0])
            unknown.append(pair[1])
    if name in LINK_REQUESTS and issued.count() - before != WARMUP + iterations:
        raise SystemExit(f"{name}: the known address was not issued a link for every request")
    return known, unknown


def main(argv: list[str]) -> int:
    return common.on_sqlite(parse_args(argv), run)


def run(args: argparse.Namespace, database: str) -> int:
    import django

    from accounts.app_settings import app_settings

    if app_settings.EMAIL_VERIFICATION != "mandatory":
        raise SystemExit("sign-up answers alike only with mandatory verification")
    requests = Requests()
    print(f"database: {database}; {args.iterations} pairs per request after {WARMUP} "
          "warm-up pairs")
    started = time.perf_counter()
    flows, gaps = {}, {}
    for name in ("signup", "login", "magic_link", "password_reset"):
        known, unknown = measure(requests, name, args.iterations)
        known_median, unknown_median = statistics.median(known), statistics.median(unknown)
        gap = abs(known_median - unknown_median) / max(known_median, unknown_median)
        gaps[name] = gap
        flows[name] = {
            "known_median_s": round(known_median, 6), "unknown_median_s": round(unknown_median, 6),
            "known_p90_s": round(common.p90(known), 6), "unknown_p90_s": round(common.p90(unknown), 6),
            "gap": round(gap, 4),
        }
        label = "taken" if name == "signup" else "known"
        other = "new" if name == "signup" else "unknown"
        print(f"{name:15} {label} {known_median * 1000:6.2f} ms (p90 {common.p90(known) * 1000:6.2f}), "
              f"{other} {unknown_median * 1000:6.2f} ms (p90 {common.p90(unknown) * 1000:6.2f}): "
              f"gap {(known_median - unknown_median) * 1000:+.2f} ms, {gap:.1%}")
    worst = max(gaps, key=gaps.get)
    value = gaps[worst]
    verdict = "met" if value <= GOAL else "NOT met"
    print(f"largest gap: {worst}, {value:.1%} (goal <= {GOAL:.0%}) -> {verdict}; "
          f"measured in {time.perf_counter() - started:.1f} s")
    result = {
        "name": "enumeration", "value": round(value, 4), "unit": "share",
        "baseline": 0.0, "ratio": round(value, 4), "goal": GOAL, "largest": worst,
        "flows": flows, "iterations": args.iterations, "quick": args.quick,
        "database": database, "python": platform.python_version(),
        "django": django.get_version(),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
