"""Request parsers of the suite's API: JSON only.

A cross-site HTML form can only send form-encoded, multipart or text/plain bodies, so an
API that parses nothing but ``application/json`` cannot be driven by one (415 instead).
"""

from __future__ import annotations

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser; input nested deeper than Python can decode is a malformed request."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            # "[[[[...]]]]" within the size limit exhausts the decoder's recursion budget;
            # that is the client's mistake, not a server error.
            raise ParseError("JSON parse error - the document is nested too deeply.") from None
