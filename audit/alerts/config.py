"""The alert rules in force (``AUTHSUITE_AUDIT_ALERT_RULES``) and the notices they claim."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from django.utils.module_loading import import_string

from audit.app_settings import app_settings

if TYPE_CHECKING:
    from audit.alerts import AlertRule


@lru_cache(maxsize=8)
def _load(paths: tuple[str, ...]) -> tuple[AlertRule, ...]:
    return tuple(import_string(path)() for path in paths)


def rules() -> tuple[AlertRule, ...]:
    return _load(tuple(app_settings.ALERT_RULES))


def claims(notice: str) -> bool:
    """Notice claimer for ``authsuite.notices``: our rules send these notices.

    Nothing is claimed while auditing is off: no event, so no rule would send it.
    """
    if not app_settings.ENABLED:
        return False
    return any(rule.replaces == notice for rule in rules())
