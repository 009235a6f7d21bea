"""A Content-Type Django cannot parse, as a WSGI or ASGI server hands it over.

Django reads the header while it builds the request, before any middleware, and raised
there on a charset holding NUL or an RFC 2231 parameter naming an unknown charset: the
server answered its own 500, for any path and method. ``content_type_guard`` takes the
header off first; the request is answered 400 like any the suite cannot read.
"""

from __future__ import annotations

import asyncio
import io
import json
from wsgiref.util import setup_testing_defaults

import pytest
from django.core.asgi import get_asgi_application
from django.core.wsgi import get_wsgi_application

from authsuite.context import content_type_guard

pytestmark = pytest.mark.django_db

BODY = b'{"email": "ann@example.com", "password": "x"}'
CONTENT_TYPES = [
    "application/json; charset=utf\x00-8",  # servers that let a NUL through (runserver)
    "application/json; charset*=utf-8''%00",  # the same NUL in plain ASCII: every server
    "application/json; title*=no-such-charset''x",
]


def wsgi(path: str, content_type: str) -> tuple[str, dict, bytes]:
    """The answer of the WSGI application every project's wsgi.py makes."""
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": path, "CONTENT_TYPE": content_type,
               "CONTENT_LENGTH": str(len(BODY)), "wsgi.input": io.BytesIO(BODY)}
    setup_testing_defaults(environ)
    answered = {}

    def start_response(status, headers, exc_info=None):
        answered.update(status=status, headers=dict(headers))

    body = b"".join(get_wsgi_application()(environ, start_response))
    return answered["status"], answered["headers"], body


def asgi(path: str, content_type: str) -> tuple[int, dict, bytes]:
    """The answer of the ASGI application every project's asgi.py makes."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "client": ("127.0.0.1", 50000),
             "server": ("testserver", 80),
             "headers": [(b"host", b"testserver"), (b"content-type", content_type.encode("latin1")),
                         (b"content-length", str(len(BODY)).encode())]}
    messages = [{"type": "http.request", "body": BODY, "more_body": False}]
    sent = []

    async def receive():
        if messages:
            return messages.pop(0)
        await asyncio.Event().wait()  # the client stays, waiting for the answer

    async def send(message):
        sent.append(message)

    asyncio.run(get_asgi_application()(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    headers = {k.decode("latin1"): v.decode("latin1") for k, v in start["headers"]}
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], headers, body


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
def test_a_wsgi_server_gets_a_400_in_the_envelope(content_type):
    status, headers, body = wsgi("/api/auth/v1/login/", content_type)

    assert status.startswith("400 ")
    assert json.loads(body)["error"]["code"] == "malformed_request"
    # From the whole middleware stack, as every answer of the site.
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Request-ID"]


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
def test_a_wsgi_server_gets_a_400_page(content_type):
    status, headers, body = wsgi("/accounts/login/", content_type)

    assert status.startswith("400 ")
    assert b"Bad request" in body
    assert headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
def test_an_asgi_server_gets_a_400_in_the_envelope(content_type):
    status, headers, body = asgi("/api/auth/v1/login/", content_type)

    assert status == 400
    assert json.loads(body)["error"]["code"] == "malformed_request"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]


@pytest.mark.parametrize("content_type", [
    "application/json", "application/json; charset=utf-8", "text/plain; charset=no-such",
    "multipart/form-data; boundary=x; title*=utf-8''%C3%A9",
])
def test_a_content_type_django_reads_is_left_as_it_is(content_type):
    environ = {"CONTENT_TYPE": content_type}
    scope = {"type": "http", "headers": [(b"content-type", content_type.encode())]}

    content_type_guard(sender=None, environ=environ)
    content_type_guard(sender=None, scope=scope)

    assert environ == {"CONTENT_TYPE": content_type}
    assert scope["headers"] == [(b"content-type", content_type.encode())]
    assert set(scope) == {"type", "headers"}
