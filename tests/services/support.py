"""Real services for the services tests: a local SMTP server, a private Redis broker and a
Celery worker process. The fixtures in conftest.py start them; tests use their methods."""

from __future__ import annotations

import asyncio
import ctypes
import email
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

import redis
from django.core.mail.backends.base import BaseEmailBackend

from authsuite.celery import app
from tests.helpers import LINK_RE

ROOT = Path(__file__).resolve().parents[2]


def wait_until(predicate, *, timeout: float = 30.0, interval: float = 0.05, what: str = "it"):
    """Poll ``predicate`` until it returns something truthy and return that."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


try:  # looked up once here: the child runs as little as possible between fork and exec
    _prctl = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):  # not Linux
    _prctl = None


def _die_with_parent() -> None:
    """Run in the child before exec: end it if the test process dies without a teardown."""
    if _prctl is not None:
        _prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _stop(process: subprocess.Popen, timeout: float = 15.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)


@dataclass
class Received:
    """A message the SMTP server accepted."""

    message: EmailMessage
    rcpt_tos: list[str]

    @property
    def text(self) -> str:
        return self.message.get_body(preferencelist=("plain",)).get_content()

    def link_path(self) -> str:
        """The path of the first link in the plain-text body."""
        links = LINK_RE.findall(self.text)
        assert links, f"no link in: {self.text!r}"
        return urlsplit(links[0]).path


@dataclass
class Attempt:
    """One DATA command: when it arrived and the reply code it got."""

    at: float
    reply: str


class SMTPSink:
    """An aiosmtpd handler that keeps what it accepts and can refuse or hold deliveries."""

    #: A held delivery is answered after this long at most: below the client's EMAIL_TIMEOUT.
    HOLD_LIMIT = 8.0

    def __init__(self):
        self.port = 0
        self._lock = threading.Lock()
        self.received: list[Received] = []
        self.attempts: list[Attempt] = []
        self._refusals: list[str] = []
        self._released = threading.Event()
        self._released.set()

    def reset(self) -> None:
        with self._lock:
            self.received.clear()
            self.attempts.clear()
            self._refusals.clear()
        self._released.set()

    def refuse_next(self, reply: str = "451 4.3.0 Try again later", *, times: int = 1) -> None:
        """Answer the next ``times`` deliveries with ``reply`` instead of accepting them."""
        with self._lock:
            self._refusals.extend([reply] * times)

    def hold(self) -> None:
        """Keep deliveries (not refusals) waiting for their reply until :meth:`release`."""
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    async def handle_DATA(self, server, session, envelope):
        with self._lock:
            refusal = self._refusals.pop(0) if self._refusals else None
            self.attempts.append(Attempt(time.monotonic(), (refusal or "250")[:3]))
        if refusal:
            return refusal
        deadline = time.monotonic() + self.HOLD_LIMIT
        while not self._released.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        with self._lock:
            self.received.append(Received(message, list(envelope.rcpt_tos)))
        return "250 2.0.0 Message accepted for delivery"

    def wait_for(self, count: int, *, timeout: float = 30.0) -> list[Received]:
        """The accepted messages, once there are at least ``count``."""
        wait_until(lambda: len(self.received) >= count, timeout=timeout,
                   what=f"{count} message(s) at the SMTP server")
        with self._lock:
            return list(self.received)


class RedisServer:
    """A redis-server process of the test's own, on a spare port, keeping nothing on disk."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.workdir = workdir
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir),
             "--logfile", str(self.workdir / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent,
        )
        wait_until(self.ping, timeout=15, what=f"redis-server on port {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process)

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_connect_timeout=1, socket_timeout=5)

    def ping(self) -> bool:
        try:
            return bool(self.client().ping())
        except redis.ConnectionError:
            return False

    def idle(self) -> bool:
        """No task waits in the default queue and none is delivered but not yet acknowledged
        (with acks_late a task is acknowledged when it has finished, retries included)."""
        broker = self.client()
        return broker.llen("celery") == 0 and broker.hlen("unacked") == 0


class CeleryWorker:
    """``celery worker`` for the project's Celery app, in a process of its own.

    Two threads by default, so duplicate deliveries of one message can really race; the
    prefork pool where a test needs what only it does (time limits)."""

    def __init__(self, env: dict[str, str], log_path: Path, *, pool: str = "threads",
                 concurrency: int = 2):
        self.env = env
        self.log_path = log_path
        self.pool = pool
        self.concurrency = concurrency
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = [
            sys.executable, "-m", "celery", "-A", "authsuite.celery", "worker",
            f"--pool={self.pool}", f"--concurrency={self.concurrency}", "--loglevel=INFO",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
            f"--hostname=authsuite-tests-{os.getpid()}@%h",
        ]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, preexec_fn=_die_with_parent,
            )
        try:
            wait_until(self.ping, timeout=60, interval=0.2, what="the Celery worker to answer")
        except AssertionError as exc:
            self.stop()
            raise AssertionError(f"{exc}; worker log:\n{self.log_tail()}") from None

    def ping(self) -> bool:
        """The worker answers a remote-control ping through the broker."""
        if self.process is None or self.process.poll() is not None:
            raise AssertionError(f"the Celery worker exited:\n{self.log_tail()}")
        try:
            return bool(app.control.ping(timeout=0.5))
        except Exception:  # noqa: BLE001 - broker unreachable: not answering yet
            return False

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process, timeout=30)  # SIGTERM: a warm shutdown

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no worker log)"


class StallingBackend(BaseEmailBackend):
    """An email backend whose sends hang while the file named by ``AUTHSUITE_TEST_STALL``
    exists (a mail server that accepts the connection and never finishes), then succeed."""

    def send_messages(self, messages):
        stall = Path(os.environ["AUTHSUITE_TEST_STALL"])
        while stall.exists():
            time.sleep(0.05)
        return len(messages)
