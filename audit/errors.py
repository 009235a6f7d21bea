"""Error codes of the audit app's API."""

from __future__ import annotations

from enum import StrEnum


class AuditError(StrEnum):
    ALERT_UNKNOWN = "alert_unknown"
    ALERT_REQUIRED = "alert_required"
