"""Request parsers of the suite's API: JSON only.

A cross-site HTML form can only send form-encoded, multipart or text/plain bodies, so an
API that parses nothing but ``application/json`` cannot be driven by one (415 instead).
"""

from __future__ import annotations

import json

from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils.json import strict_constant


def _object(pairs: list[tuple[str, object]]) -> dict:
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        # Which of two values counts depends on the parser: Python's takes the last, others
        # the first. A proxy, a log or a client library that read the other one would see
        # a different request from the one acted on, so neither is chosen.
        duplicate = next(name for name in names if names.count(name) > 1)
        raise ValueError(f"the key {json.dumps(duplicate)[:100]} appears more than once")
    return dict(pairs)


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, strict whatever the project's ``STRICT_JSON``: NaN and Infinity,
    an object with a key twice, and input nested deeper than Python can decode are
    malformed requests."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = parsers.get_encoding(parser_context or {})
        try:
            text = stream.read().decode(encoding)
        except UnicodeDecodeError as exc:
            # Python's words ("'utf-8' codec can't decode byte 0xff in position 11") name
            # its codec; the client needs to know its body is not text in that encoding.
            raise ParseError(f"JSON parse error - the body is not valid {encoding.upper()} "
                             f"(at byte offset {exc.start}).") from None
        if text.startswith("\ufeff"):
            # Refused as RFC 8259 allows, but not with Python's advice ("decode using
            # utf-8-sig"), which means nothing to a client.
            raise ParseError("JSON parse error - the body starts with a byte order mark "
                             "(U+FEFF), which JSON sent over a network must not have.")
        try:
            return json.loads(text, parse_constant=strict_constant, object_pairs_hook=_object)
        except RecursionError:
            # "[[[[...]]]]" within the size limit exhausts the decoder's recursion budget;
            # that is the client's mistake, not a server error.
            raise ParseError("JSON parse error - the document is nested too deeply.") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
