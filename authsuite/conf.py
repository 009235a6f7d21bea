"""Lazy, typed settings objects shared by every authsuite app.

Each app declares one subclass of :class:`AppSettings` in its ``app_settings.py``. A setting
is read from ``django.conf.settings`` when it is used, so ``override_settings`` works in tests
and nothing is frozen at import time. This module is the only place in the suite that reads
project settings by name.

Django keeps a setting it has read (and forgets it when the setting is assigned or deleted),
but not the absence of one: asking ``django.conf.settings`` for a setting the project leaves
unset raises and catches an ``AttributeError`` every time, and a request asks for a few
dozen. So an absence, once seen, is remembered for the settings object it was seen on,
until Django announces a change (``setting_changed``, which ``override_settings`` sends),
the settings object is swapped (``override_settings``, pytest-django's ``settings``
fixture) or the setting is assigned on it.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

_MISSING = object()
#: Settings seen to be unset, and the settings object they were unset on.
_unset: set[str] = set()
_source: list = [None]


def _forget(**kwargs) -> None:
    """``setting_changed`` receiver: look every setting up afresh from now on."""
    _unset.clear()


setting_changed.connect(_forget, dispatch_uid="authsuite.conf")


class AppSettings:
    """Base class: subclasses set ``prefix`` and expose each setting as a property."""

    prefix: str = "AUTHSUITE_"

    def _setting(self, name: str, default: Any) -> Any:
        key = self.prefix + name
        holder = settings._wrapped
        if holder is not _source[0]:
            _unset.clear()
            _source[0] = holder
        if key in _unset and key not in holder.__dict__:
            return default
        value = getattr(settings, key, _MISSING)
        if value is _MISSING:
            _unset.add(key)
            return default
        return value

    def _key_list(self, name: str) -> list[str]:
        """A setting listing key material (``*_FALLBACKS``, empty by default): a list or
        tuple of non-empty strings. A bare string would be read as one key per character,
        and an empty string is no key at all, so either raises ``ValueError`` (reported by
        the app's system check). The message never quotes a key."""
        value = self._setting(name, [])
        if not isinstance(value, list | tuple):
            raise ValueError(f"{self.prefix}{name} must be a list of keys, "
                             f"not a {type(value).__name__}")
        for index, key in enumerate(value):
            if not isinstance(key, str) or not key:
                raise ValueError(f"{self.prefix}{name}[{index}] is not a key: "
                                 f"{'an empty string' if key == '' else type(key).__name__}")
        return list(value)

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
