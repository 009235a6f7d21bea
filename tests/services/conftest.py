"""Fixtures of the services tests: mail really leaves through a broker, a worker and SMTP.

Started once per session: a local SMTP server (aiosmtpd), a redis-server of the tests' own as
the Celery broker (so a test can stop it without touching the shared Redis) and a Celery
worker process running on the pytest-django test database. Each test gets ``worker``: the
web side of the test publishes to that broker instead of running tasks eagerly, and at the
end of the test the worker has finished everything the test queued.
"""

from __future__ import annotations

import os
import shutil
from urllib.parse import quote

import pytest
from aiosmtpd.controller import Controller
from django.db import connections

from authsuite.celery import app
from tests.services.support import (
    ROOT,
    CeleryWorker,
    RedisServer,
    SMTPSink,
    free_port,
    wait_until,
)


def _require(binary: str) -> None:
    if shutil.which(binary) is None:
        message = f"needs {binary} on PATH"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)


def _worker_env(settings_module: str, broker_url: str, **extra: str) -> dict:
    """The environment of a worker process: this checkout importable, the settings module
    named, the test database pytest-django created and the broker given."""
    pythonpath = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": pythonpath, "DJANGO_SETTINGS_MODULE": settings_module,
            "DATABASE_URL": _database_url(connections["default"].settings_dict),
            "CELERY_BROKER_URL": broker_url, **extra}


def _database_url(db: dict) -> str:
    """A URL for the worker naming the test database pytest-django created."""
    user = quote(db.get("USER") or "", safe="")
    password = quote(db.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = db.get("HOST") or "localhost"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{credentials}{host}{port}/{quote(db['NAME'], safe='')}"


def _use_broker(url: str) -> None:
    app.conf.broker_url = url
    # Celery keeps its connection and producer pools for the life of the process, bound to
    # the broker they were made for (an eager test may have made them): start new ones.
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture(scope="session")
def smtp_server():
    sink = SMTPSink()
    sink.port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    yield sink
    controller.stop()


@pytest.fixture(scope="session")
def broker(tmp_path_factory):
    _require("redis-server")
    server = RedisServer(tmp_path_factory.mktemp("broker"))
    server.start()
    previous = app.conf.broker_url
    _use_broker(server.url)
    yield server
    _use_broker(previous)
    server.stop()


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, broker, smtp_server, tmp_path_factory):
    """The worker process; set up after the test database exists, stopped before it goes."""
    env = _worker_env("tests.services.worker_settings", broker.url,
                      EMAIL_URL=f"smtp://127.0.0.1:{smtp_server.port}")
    worker = CeleryWorker(env, tmp_path_factory.mktemp("worker") / "worker.log")
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture(scope="module")
def prefork_worker(django_db_setup, tmp_path_factory):
    """A prefork worker (the pool that enforces time limits) on a broker of its own, with
    the settings of ``tests.services.worker_settings_prefork``: a short claim, and sends
    that hang while the file ``worker.stall`` exists. For the module that uses it, tasks
    are queued to its broker."""
    _require("redis-server")
    broker = RedisServer(tmp_path_factory.mktemp("prefork-broker"))
    broker.start()
    previous = app.conf.broker_url
    _use_broker(broker.url)
    workdir = tmp_path_factory.mktemp("prefork-worker")
    env = _worker_env("tests.services.worker_settings_prefork", broker.url,
                      AUTHSUITE_TEST_STALL=str(workdir / "stall"))
    worker = CeleryWorker(env, workdir / "worker.log", pool="prefork", concurrency=1)
    worker.stall = workdir / "stall"
    worker.broker = broker
    try:
        worker.start()
        yield worker
    finally:
        worker.stall.unlink(missing_ok=True)
        worker.stop()
        _use_broker(previous)
        broker.stop()


@pytest.fixture
def worker(celery_worker, broker, smtp_server, transactional_db):
    """A running worker, and a web side that queues tasks for it (committed rows only: the
    worker is another process, so these tests run in real transactions)."""
    smtp_server.reset()
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    yield celery_worker
    app.conf.task_always_eager = eager
    smtp_server.release()
    if not broker.running:
        broker.start()
    # Finish what this test queued before the database is flushed for the next one.
    wait_until(broker.idle, timeout=30, what="the worker to drain the queue")
    print(f"worker log (tail):\n{celery_worker.log_tail()}")  # shown when the test failed
