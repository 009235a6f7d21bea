"""Audit events of the core: rate limits, CSRF failures, permission denials."""

from audit.registry import declare
from authsuite import signals as s

declare("authsuite", s.rate_limited, "authsuite.rate_limited", outcome="denied",
        actor=None, data=("group", "scope", "retry_after"))
declare("authsuite", s.csrf_failed, "authsuite.csrf_failed", outcome="denied", actor=None,
        data=("path", "reason"))
declare("authsuite", s.permission_denied, "authsuite.permission_denied", outcome="denied",
        actor=None, data=("path",))
