"""Audit events of the core: rate limits, CSRF failures, permission denials.

The path of a refused request is recorded as its URL pattern when it resolved (the
``<str:token>`` of a sign-in link stays a placeholder), and otherwise with every segment
that looks like a token blanked: a refused link still holds a live token.
"""

import re

from audit.registry import declare
from authsuite import signals as s

_TOKENISH = re.compile(r"^[A-Za-z0-9_\-.~%=]{16,}$")


def safe_path(request, path: str = "") -> str:
    match = getattr(request, "resolver_match", None) if request is not None else None
    if match is not None and getattr(match, "route", ""):
        return "/" + match.route.lstrip("^")
    raw = path or (getattr(request, "path", "") if request is not None else "")
    return "/".join("…" if _TOKENISH.match(part) else part for part in raw.split("/"))[:200]


def _path(kwargs) -> dict:
    return {"path": safe_path(kwargs.get("request"), kwargs.get("path", ""))}


declare("authsuite", s.rate_limited, "authsuite.rate_limited", outcome="denied",
        actor=None, data=("group", "scope", "retry_after"))
declare("authsuite", s.csrf_failed, "authsuite.csrf_failed", outcome="denied", actor=None,
        data=("reason",), extra=_path)
declare("authsuite", s.permission_denied, "authsuite.permission_denied", outcome="denied",
        actor=None, extra=_path)
