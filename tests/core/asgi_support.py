"""A browser served over ASGI: Django's AsyncClient driven from a synchronous test.

Every request goes through ``ASGIHandler`` and the middleware stack as an ASGI server runs
it (adapted for async), while the test itself reads and writes the database as the WSGI
tests do. It takes the WSGI test client's arguments (``HTTP_*`` and ``content_type``), so
the shared helpers (``tests.accounts.support``, ``tests.mfa.support``) drive it as they
drive ``Client``.
"""

from __future__ import annotations

import asyncio
import threading

from asgiref.sync import ThreadSensitiveContext, async_to_sync, sync_to_async
from django.db import connections
from django.test import AsyncClient
from django.urls import reverse

from tests.mfa.support import Clock, enroll


def asgi_headers(extra: dict) -> dict:
    """The WSGI client's ``HTTP_X_Y=value`` arguments as the headers AsyncClient sends:
    anything else it would send as a header named as the argument is."""
    headers = dict(extra.pop("headers", None) or {})
    for key in [k for k in extra if k.startswith("HTTP_")]:
        headers[key[5:].replace("_", "-").title()] = extra.pop(key)
    return headers


class AddressedClient(AsyncClient):
    """An AsyncClient whose requests come from ``ip`` (the ASGI scope's ``client``, which
    Django reads as REMOTE_ADDR), sending ``headers`` with each of them."""

    def __init__(self, ip: str = "127.0.0.1", headers: dict | None = None):
        super().__init__()
        self.ip, self.default_headers = ip, dict(headers or {})

    def _base_scope(self, **request):
        scope = super()._base_scope(**request)
        scope["client"] = [self.ip, 50000]
        return scope

    def generic(self, method, path, *args, headers=None, **extra):
        return super().generic(method, path, *args,
                               headers={**self.default_headers, **(headers or {})}, **extra)


class AsgiBrowser:
    """One browser (its cookies, its address, its user agent) whose requests are served by
    Django's ASGI handler."""

    def __init__(self, ip: str = "127.0.0.1", **headers):
        self.client = AddressedClient(ip, asgi_headers(headers))

    def request(self, method: str, path: str, data=None, **extra):
        headers = asgi_headers(extra)
        call = getattr(self.client, method)
        if data is not None:
            extra["data"] = data
        return async_to_sync(call)(path, headers=headers, **extra)

    def get(self, path: str, data=None, **extra):
        return self.request("get", path, data, **extra)

    def post(self, path: str, data=None, **extra):
        return self.request("post", path, data, **extra)

    def put(self, path: str, data=None, **extra):
        return self.request("put", path, data, **extra)

    def delete(self, path: str, data=None, **extra):
        return self.request("delete", path, data, **extra)

    @property
    def session(self):
        return self.client.session

    @property
    def cookies(self):
        return self.client.cookies


def waiting_for_second_factor(user, password: str, monkeypatch):
    """An ``AsgiBrowser`` whose password sign-in of ``user``, given an authenticator app
    now, waits at the second factor: (browser, the app's clock, its key)."""
    clock = Clock(monkeypatch)
    secret, _codes = enroll(user)
    browser = AsgiBrowser()
    response = browser.post(reverse("accounts:login"), {"email": user.email,
                                                        "password": password})
    assert response["Location"] == reverse("mfa:challenge")
    return browser, clock, secret


async def _served_apart(request):
    """``request`` (an AsyncClient coroutine) served as Django's ASGIHandler serves each
    request: its synchronous parts (the suite's middleware, its views, the database) in a
    thread of its own (ThreadSensitiveContext), whose connection is closed at its end."""
    async with ThreadSensitiveContext():
        try:
            return await request
        finally:
            await sync_to_async(connections.close_all)()


def at_once(*requests):
    """Serve the requests (AsyncClient coroutines) concurrently, as an ASGI server serves
    the requests of many clients: each in its own thread context, all on one event loop.
    Their responses, in order. Needs real transactions (``transaction=True``): the test's
    own connection is not theirs."""

    async def gather():
        return await asyncio.gather(*(_served_apart(request) for request in requests))

    # A loop of its own, as a server runs: under async_to_sync, the synchronous parts of
    # every request would run one after the other in this thread instead.
    return asyncio.run(gather())


class MeetingMiddleware:
    """A project's middleware, after ``RequestContextMiddleware``, that holds each request
    once its context is set until ``parties`` requests are there (at most 5 seconds): they
    then all go on together, each mid-request while the others record what they do."""

    parties = 0
    _barrier: threading.Barrier | None = None

    def __init__(self, get_response):
        self.get_response = get_response

    @classmethod
    def expect(cls, parties: int) -> None:
        cls._barrier = threading.Barrier(parties) if parties > 1 else None

    def __call__(self, request):
        barrier = type(self)._barrier
        if barrier is not None:
            try:
                barrier.wait(timeout=5)
            except threading.BrokenBarrierError:
                pass  # the test reads the outcome: a request that never came changes nothing here
        return self.get_response(request)
