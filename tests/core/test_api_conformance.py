"""The JSON API answers as the OpenAPI schema it serves says it does.

schemathesis reads the schema from /api/auth/v1/schema/, generates requests for every
operation from it (valid ones, and ones the schema does not allow) and sends them to the
application in-process, from a visitor and from a signed-in browser (its session cookie and
the CSRF header, as the front end sends them). Each answer must be no server error, with a
status the operation documents, in the content type and shape documented for that status,
with the headers documented as always sent.

Derandomized and bounded: the same requests on every run.

Left out: schemathesis' checks that a request the schema allows is accepted and one it does
not allow is refused. The API refuses schema-valid requests a schema cannot tell apart (a
link token that was never issued, a wrong password or code, a ceremony that was never
started, a password the policy refuses), and the signed-in run sends the session cookie
with requests the schema says lack one.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.cache import caches
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    allow_header_conformance,
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.endpoints import api_endpoints
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance, allow_header_conformance]
EXAMPLES = 4
OPERATIONS = [(endpoint.url().replace("999999", "{id}"), method)
              for endpoint in api_endpoints() for method in endpoint.methods]

_schema = {}


def application():
    """The project's WSGI application, called as Django's test client calls it: its handler
    closes the database connection after each request, and with it the test's transaction
    (on PostgreSQL)."""
    handler = get_wsgi_application()

    def app(environ, start_response):
        request_started.disconnect(close_old_connections)
        request_finished.disconnect(close_old_connections)
        try:
            response = handler(environ, start_response)
            try:
                return [b"".join(response)]
            finally:
                response.close()
        finally:
            request_started.connect(close_old_connections)
            request_finished.connect(close_old_connections)

    return app


def api_schema():
    # Read from the application once: every test asks the same document.
    if "schema" not in _schema:
        _schema["schema"] = schemathesis.openapi.from_wsgi(
            "/api/auth/v1/schema/?format=json", application())
    return _schema["schema"]


def browser(who: str, password: str) -> tuple[dict, dict]:
    """The cookies and headers of a browser that fetched a CSRF token, signed in or not."""
    client = Client()
    if who == "signed in":
        user = UserFactory(password=password)
        response = client.post("/api/auth/v1/login/", {"email": user.email, "password": password},
                               content_type="application/json")
        assert response.status_code == 200, response.content
    client.get("/api/auth/v1/csrf/")
    cookies = {name: morsel.value for name, morsel in client.cookies.items()}
    return cookies, {"X-CSRFToken": cookies["csrftoken"]}


def test_every_endpoint_is_in_the_schema():
    schema = api_schema()
    for path, method in OPERATIONS:
        assert schema[path][method.upper()], (path, method)


@pytest.mark.parametrize("who", ["visitor", "signed in"])
@pytest.mark.parametrize("path, method", OPERATIONS, ids=[f"{m} {p}" for p, m in OPERATIONS])
def test_answers_match_the_schema(path, method, who, password):
    operation = api_schema()[path][method.upper()]
    cookies, headers = browser(who, password)

    @settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(GenerationMode.POSITIVE)
           | operation.as_strategy(GenerationMode.NEGATIVE))
    def answers(case):
        for cache in caches.all():
            cache.clear()  # a rate limit's 429 is documented, but would hide the rest
        case.call_and_validate(headers=headers, cookies=cookies, checks=CHECKS)

    try:
        answers()
    except Unsatisfiable:
        pass  # no request the schema does not allow (no parameter, no body): the valid ones ran
