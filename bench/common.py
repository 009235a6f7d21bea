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
        settings.DATABASES["default"] = dj_database_url.parse(postgres_url, conn_max_age=None)
    django.setup()
    import authsuite.celery  # noqa: F401 - tasks are queued on the project's app, as in wsgi.py

    call_command("migrate", verbosity=0, interactive=False)
    settle()


def settle() -> None:
    """Move everything loaded so far out of the garbage collector's sight, as a preforking
    server does once the application is loaded (``gc.freeze()``).

    The benchmarks collect garbage before each measured round, so that no collection lands
    inside one. Without this, each of those collections walks the whole heap (Django, the
    project, every module) and leaves the CPU caches cold for the request timed next, a
    state no server is in between two requests.
    """
    import gc

    gc.collect()
    gc.freeze()


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


class Response:
    def __init__(self, status: str, headers: list[tuple[str, str]], content: bytes):
        self.status_code = int(status.split(" ", 1)[0])
        self.headers = headers
        self.content = content

    def json(self):
        import json

        return json.loads(self.content)

    def __getitem__(self, name: str) -> str:
        return self.get(name)

    def get(self, name: str, default=None):
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return default


class Browser:
    """A browser talking straight to the project's WSGI application.

    The request is handed over as a WSGI server hands it over (an environ with a urlencoded
    form body, as browsers post it), so what is timed is the application's work, not a test
    client's: ``elapsed`` and ``elapsed_cpu`` cover the application call and reading the
    response body, nothing else. Cookies are kept between requests.
    """

    _app = None

    def __init__(self, *, user_agent: str = "", remote_addr: str = "127.0.0.1"):
        from django.core.handlers.wsgi import WSGIHandler

        if Browser._app is None:
            Browser._app = WSGIHandler()
        self.user_agent, self.remote_addr = user_agent, remote_addr
        self.cookies: dict[str, str] = {}
        self.elapsed = self.elapsed_cpu = 0.0

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post(self, path: str, data: dict) -> Response:
        return self.request("POST", path, data)

    def post_json(self, path: str, data=None) -> Response:
        """A JSON POST with the CSRF token, as the suite's pages send them (the token is
        fetched first, untimed, if this browser has none yet)."""
        if "csrftoken" not in self.cookies:
            self.get("/api/auth/v1/csrf/")
        return self.request("POST", path, data, json_body=True)

    def request(self, method: str, path: str, data=None, *, json_body: bool = False) -> Response:
        import io
        import json
        import sys
        import time
        from urllib.parse import urlencode

        if json_body:
            body = json.dumps(data).encode() if data is not None else b""
        else:
            body = urlencode(data or {}).encode()
        path, _, query = path.partition("?")
        environ = {
            "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query,
            "SERVER_NAME": "testserver", "SERVER_PORT": "80", "HTTP_HOST": "testserver",
            "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": self.remote_addr,
            "HTTP_USER_AGENT": self.user_agent,
            "HTTP_COOKIE": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
            "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr, "wsgi.multithread": False, "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        if json_body and "csrftoken" in self.cookies:
            environ["HTTP_X_CSRFTOKEN"] = self.cookies["csrftoken"]
        if method == "POST":
            environ["CONTENT_TYPE"] = ("application/json" if json_body
                                       else "application/x-www-form-urlencoded")
            environ["CONTENT_LENGTH"] = str(len(body))
        started: list = []
        start, start_cpu = time.perf_counter(), time.thread_time()
        result = self._app(environ, lambda status, headers, *exc: started.extend((status, headers)))
        try:
            content = b"".join(result)
        finally:
            if hasattr(result, "close"):
                result.close()
        self.elapsed = time.perf_counter() - start
        self.elapsed_cpu = time.thread_time() - start_cpu
        response = Response(started[0], started[1], content)
        self._keep_cookies(response)
        return response

    def _keep_cookies(self, response: Response) -> None:
        from http.cookies import SimpleCookie

        for key, value in response.headers:
            if key.lower() != "set-cookie":
                continue
            jar = SimpleCookie()
            jar.load(value)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or morsel["expires"].startswith("Thu, 01 Jan 1970"):
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    def session(self):
        """The server-side session this browser's cookie points at (empty without one)."""
        from importlib import import_module

        from django.conf import settings

        store = import_module(settings.SESSION_ENGINE).SessionStore
        return store(self.cookies.get(settings.SESSION_COOKIE_NAME))
