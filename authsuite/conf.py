"""Lazy, typed settings objects shared by every authsuite app.

Each app declares one subclass of :class:`AppSettings` in its ``app_settings.py``. A setting
is read from ``django.conf.settings`` when it is used, so ``override_settings`` works in tests
and nothing is frozen at import time. This module is the only place in the suite that reads
project settings by name.

A value, once read, is remembered until the settings change: Django announces a change
(``setting_changed``, which ``override_settings`` sends), or the settings object is swapped
(``override_settings`` and pytest-django's ``settings`` fixture, deletions included). A
request reads a few dozen settings, and asking ``django.conf.settings`` for one a project
leaves unset costs an ``AttributeError`` every time.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

_MISSING = object()
_values: dict[str, Any] = {}
#: The settings object the remembered values were read from.
_source: list = [None]


def _forget(**kwargs) -> None:
    """``setting_changed`` receiver: read every setting afresh from now on."""
    _values.clear()


setting_changed.connect(_forget, dispatch_uid="authsuite.conf")


class AppSettings:
    """Base class: subclasses set ``prefix`` and expose each setting as a property."""

    prefix: str = "AUTHSUITE_"

    def _setting(self, name: str, default: Any) -> Any:
        key = self.prefix + name
        if settings._wrapped is not _source[0]:
            _values.clear()
            _source[0] = settings._wrapped
        try:
            value = _values[key]
        except KeyError:
            value = _values[key] = getattr(settings, key, _MISSING)
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
