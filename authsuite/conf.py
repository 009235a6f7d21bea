"""Lazy, typed settings objects shared by every authsuite app.

Each app declares one subclass of :class:`AppSettings` in its ``app_settings.py``. A setting
is read from ``django.conf.settings`` when it is used, so ``override_settings`` works in tests
and nothing is frozen at import time. This module is the only place in the suite that reads
project settings by name.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

_MISSING = object()


class AppSettings:
    """Base class: subclasses set ``prefix`` and expose each setting as a property."""

    prefix: str = "AUTHSUITE_"

    def _setting(self, name: str, default: Any) -> Any:
        value = getattr(settings, self.prefix + name, _MISSING)
        return default if value is _MISSING else value

    def _django(self, name: str, default: Any = None) -> Any:
        """A plain Django setting (``DEBUG``, ``DEFAULT_FROM_EMAIL``...)."""
        return getattr(settings, name, default)

    def names(self) -> list[str]:
        """Every documented setting of this object, with its prefix."""
        return sorted(
            self.prefix + name
            for name, value in vars(type(self)).items()
            if isinstance(value, property) and name.isupper()
        )
