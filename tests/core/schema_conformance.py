"""Real API answers checked against the OpenAPI schema the API serves.

``check(response)`` takes a test client's response to a request under ``/api/auth/v1/`` and
finds the operation for its path and method in the schema served at
``/api/auth/v1/schema/`` (read as JSON, as a client generator reads it). The status must be
one the operation documents, and the answer what the schema says for that status:

- a JSON body where content is documented (none where it is not, as for a 204), valid for
  the documented schema with ``jsonschema``, ``$ref`` resolved against the document's
  components: required properties present, types right, ``null`` only where the schema says
  ``nullable``, enum values listed (the ``Error`` component's codes among them);
- no property the schema does not name, in any object the schema lists properties of: a
  generated client drops what its model does not have, so an undocumented field is a
  field a client never sees;
- the headers the response documents as required (``Retry-After`` on a 429);
- an error's ``code`` named in the description of the operation's response for that status
  (as `` `rate_limited` ``): the ``Error`` component lists every code of the API, the
  operation says which of them it answers with which status.

OpenAPI 3.0's ``nullable`` is translated to JSON Schema's ``null`` type, on a ``$ref`` or
an ``allOf`` too (drf-spectacular's nullable reference). Formats are checked for
``date-time`` and ``email``.

A request the schema has no operation for is not checked: a path under the API no endpoint
has (its 404), a method an endpoint does not answer (its 405), HEAD and OPTIONS.

The document is read again after a change of settings, as the server builds it again then
(the rules in force, the installed apps and the CSRF header name are in it), unless it was
read under the same settings before.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from datetime import datetime

from django.core.signals import setting_changed
from jsonschema import Draft202012Validator, FormatChecker, ValidationError
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

API = "/api/auth/v1/"
SCHEMA_URL = API + "schema/?format=json"
_BASE = "urn:authsuite:openapi"
_UNCHECKED_METHODS = {"HEAD", "OPTIONS"}
# The documents themselves: the schema leaves out its own endpoint and the docs page.
_UNDOCUMENTED = (API + "schema/", API + "docs/")

formats = FormatChecker(formats=())


@formats.checks("date-time", raises=ValueError)
def _date_time(value) -> bool:
    # RFC 3339: a date, a time and an offset (Z or ±hh:mm).
    if not isinstance(value, str):
        return True
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", value):
        raise ValueError(value)
    datetime.fromisoformat(value)
    return True


@formats.checks("email")
def _email(value) -> bool:
    return not isinstance(value, str) or "@" in value


class SchemaMismatch(AssertionError):
    """An answer of the API that its schema does not describe."""


class Document:
    """The served schema, as JSON Schema a validator reads, with its operations by path."""

    def __init__(self, raw: dict):
        self.raw = raw
        self.spec = _to_json_schema(raw)
        self.registry = Registry().with_resource(
            _BASE, Resource(contents=self.spec, specification=DRAFT202012))
        # Literal paths first: sessions/end-all/ is not sessions/{id}/.
        self.routes = sorted(((_route(path, methods), path)
                              for path, methods in raw.get("paths", {}).items()),
                             key=lambda route: "{" in route[1])
        self._validators: dict[tuple, Draft202012Validator] = {}

    def operation(self, path: str, method: str) -> tuple[str, dict] | None:
        for pattern, template in self.routes:
            if pattern.match(path):
                operation = self.spec["paths"][template].get(method.lower())
                return (template, operation) if operation is not None else None
        return None

    def validator(self, template: str, method: str, status: str) -> Draft202012Validator:
        key = (template, method, status)
        if key not in self._validators:
            schema = (self.spec["paths"][template][method]["responses"][status]["content"]
                      ["application/json"]["schema"])
            self._validators[key] = Draft202012Validator(
                schema, registry=self.registry, format_checker=formats)
        return self._validators[key]


def _route(path: str, methods: dict) -> re.Pattern:
    """The paths a templated path stands for: an integer parameter matches digits only,
    as the URLconf's ``int`` converter does."""
    kinds = {parameter["name"]: parameter.get("schema", {}).get("type")
             for operation in methods.values() if isinstance(operation, dict)
             for parameter in operation.get("parameters", []) if parameter.get("in") == "path"}

    def parameter(match: re.Match) -> str:
        return "[0-9]+" if kinds.get(match.group(1)) == "integer" else "[^/]+"

    return re.compile("^" + re.sub(r"\\\{(\w+)\\\}", parameter, re.escape(path)) + "$")


def _to_json_schema(raw: dict) -> dict:
    """The OpenAPI 3.0 document with its schema objects made JSON Schema 2020-12:
    ``nullable`` as a ``null`` type, objects closed to the properties they list, and local
    references pointing into the registered document."""
    spec = copy.deepcopy(raw)

    def convert(node):
        if isinstance(node, list):
            return [convert(item) for item in node]
        if not isinstance(node, dict):
            return node
        node = {name: convert(value) for name, value in node.items()}
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            node["$ref"] = _BASE + ref
        if "properties" in node and isinstance(node["properties"], dict):
            node.setdefault("additionalProperties", False)
        if node.pop("nullable", False):
            if isinstance(node.get("type"), str):
                node["type"] = [node["type"], "null"]
                if "enum" in node:
                    node["enum"] = [*node["enum"], None]
            else:  # a $ref, an allOf or a oneOf: null, or what it says
                node = {"anyOf": [{"type": "null"}, node]}
        return node

    components = spec.get("components", {})
    if "schemas" in components:
        components["schemas"] = {name: convert(schema)
                                 for name, schema in components["schemas"].items()}
    for methods in spec.get("paths", {}).values():
        for operation in methods.values():
            if not isinstance(operation, dict):
                continue
            for response in operation.get("responses", {}).values():
                for media in response.get("content", {}).values():
                    if "schema" in media:
                        media["schema"] = convert(media["schema"])
    return spec


_current: list[Document | None] = []
#: The document served under each state of the settings met: a test that changes a setting
#: and puts it back, or the next test that changes it the same way, reads it from here
#: instead of having the server build it again (tens of milliseconds each time).
_by_settings: dict[int, Document | None] = {}


@functools.lru_cache(maxsize=16)
def _document(content: bytes) -> Document:
    return Document(json.loads(content))


def _forget(**kwargs) -> None:
    _current.clear()


setting_changed.connect(_forget, dispatch_uid="tests.core.schema_conformance")


def _settings_state() -> int:
    from django.conf import settings

    # Every setting, overridden or not (the lazy object itself lists only those read).
    every = settings._wrapped
    return hash(tuple((name, repr(getattr(every, name, None)))
                      for name in sorted(dir(every)) if name.isupper()))


def served_document() -> Document | None:
    """The document the API serves now, or None where it serves none (a project URLconf
    of a test that leaves the API out)."""
    if not _current:
        state = _settings_state()
        if state not in _by_settings:
            from django.test import Client

            response = Client(raise_request_exception=False).get(SCHEMA_URL)
            _by_settings[state] = (_document(response.content)
                                   if response.status_code == 200 else None)
        _current.append(_by_settings[state])
    return _current[0]


def _cause(error: ValidationError) -> ValidationError:
    """The error inside an ``anyOf`` that says what is wrong: with a nullable value that is
    not null, the one of the schema it should have matched, not "is not of type 'null'"."""
    while error.context:
        others = [e for e in error.context if e.validator_value != "null"]
        error = best_match(others or error.context)
    return error


def check(response) -> None:
    """Raise :class:`SchemaMismatch` when ``response`` is not what the schema documents
    for its request; do nothing for a request the schema has no operation for."""
    request = response.request
    method = request.get("REQUEST_METHOD", "GET").upper()
    path = request.get("PATH_INFO", "")
    if (method in _UNCHECKED_METHODS or not path.startswith(API)
            or path.startswith(_UNDOCUMENTED)):
        return
    document = served_document()
    if document is None:
        return
    found = document.operation(path, method)
    if found is None:
        return
    template, operation = found
    status = str(response.status_code)
    where = f"{method} {path} ({template}) answered {status}"
    responses = operation.get("responses", {})
    documented = responses.get(status) or responses.get(f"{status[0]}XX") or responses.get("default")
    if documented is None:
        raise SchemaMismatch(f"{where}, a status the schema does not document "
                             f"(documented: {', '.join(sorted(responses))}): "
                             f"{response.content[:300]!r}")
    for name, header in documented.get("headers", {}).items():
        if header.get("required") and not response.has_header(name):
            raise SchemaMismatch(f"{where} without the {name} header the schema documents "
                                 f"as always sent")
    content = documented.get("content")
    if not content:
        if response.content:
            raise SchemaMismatch(f"{where} with a body where the schema documents none: "
                                 f"{response.content[:300]!r}")
        return
    if "application/json" not in content:
        return  # not JSON: nothing this checker reads
    if not response.get("Content-Type", "").startswith("application/json"):
        raise SchemaMismatch(f"{where} in {response.get('Content-Type')!r}, not the JSON the "
                             f"schema documents")
    try:
        body = json.loads(response.content)
    except ValueError as exc:
        raise SchemaMismatch(f"{where} with a body that is not JSON: {exc}") from None
    validator = document.validator(template, method.lower(), status)
    errors = sorted((_cause(e) for e in validator.iter_errors(body)),
                    key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        details = "; ".join(
            f"at {'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message[:300]}"
            for e in errors[:5])
        raise SchemaMismatch(f"{where}, a body the schema does not describe: {details}")
    code = body.get("error", {}).get("code") if isinstance(body, dict) else None
    if isinstance(code, str) and f"`{code}`" not in documented.get("description", ""):
        raise SchemaMismatch(f"{where} with the code `{code}`, which the operation does not "
                             f"name for that status: {documented.get('description')!r}")
