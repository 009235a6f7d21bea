"""Keeping URL-borne secrets out of events and log lines.

Sign-in, reset and verification links carry their token in the path, so any record of a
refused request (a CSRF failure, a 400, a rate limit) would otherwise hold a live token.
Events record the URL pattern instead (``safe_path``); Django's own loggers are given
:class:`RedactSecrets`, which blanks token-like path segments in their lines and drops the
tracebacks of template variable lookups, whose text is a dump of the whole template
context (form data, tokens).
"""

from __future__ import annotations

import logging
import re

REDACTED = "…"
# A path segment of 16 or more URL-safe characters: a token, never a page name.
_SEGMENT = re.compile(r"(?<=/)[A-Za-z0-9_\-.~%=]{16,}(?=[/?#\s\"']|$)")


def redact_path(text: str) -> str:
    return _SEGMENT.sub(REDACTED, text)


def safe_path(request, path: str = "") -> str:
    """The URL pattern the request resolved to (``<str:token>`` stays a placeholder), or
    its path with token-like segments blanked."""
    match = getattr(request, "resolver_match", None) if request is not None else None
    if match is not None and getattr(match, "route", ""):
        return "/" + match.route.lstrip("^")
    raw = path or (getattr(request, "path", "") if request is not None else "")
    return redact_path(raw)[:200]


class RedactSecrets(logging.Filter):
    """A logging filter for Django's request loggers (see ``AUTHSUITE_AUDIT_REDACT_LOGGERS``);
    it can also be named in a project's LOGGING configuration."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_path(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact_path(a) if isinstance(a, str) else a for a in record.args)
        if record.name == "django.template" and record.exc_info:
            record.exc_info, record.exc_text = None, None
        return True


_filter = RedactSecrets()


def install(logger_names) -> None:
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(_filter)
