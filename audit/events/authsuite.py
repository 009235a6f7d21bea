"""Audit events of the core: rate limits, CSRF failures, permission denials, mail queued
again by staff.

The path of a refused request is recorded as its URL pattern when it resolved (the
``<str:token>`` of a sign-in link stays a placeholder), and otherwise with every segment
that looks like a token blanked: a refused link still holds a live token.
"""

from audit.redaction import redact_path, safe_path
from audit.registry import declare
from authsuite import signals as s


def _path(kwargs) -> dict:
    return {"path": safe_path(kwargs.get("request"), kwargs.get("path", ""))}


def _csrf(kwargs) -> dict:
    # Django's reason may quote the Referer, which can be a sign-in link.
    return {**_path(kwargs), "reason": redact_path(str(kwargs.get("reason", "")))}


declare("authsuite", s.rate_limited, "authsuite.rate_limited", outcome="denied",
        actor=None, data=("group", "scope", "retry_after"))
declare("authsuite", s.csrf_failed, "authsuite.csrf_failed", outcome="denied", actor=None,
        extra=_csrf)
declare("authsuite", s.permission_denied, "authsuite.permission_denied", outcome="denied",
        actor=None, extra=_path)
declare("authsuite", s.outbox_retried, "authsuite.outbox.retried", actor="by",
        data=("messages", "not_sent"))
