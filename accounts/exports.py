"""Sections of the account export: each installed app adds what it holds about a user.

``account_export`` (``/accounts/export/``, the API's ``account/export/``) puts every
registered section under its name. An app registers its own from ``ready()``::

    exports.register("mfa", mfa_section)  # (user) -> JSON-serialisable data, no secrets

A section holds what a person may ask to see (names, dates, devices), never what would let
anyone sign in (keys, codes, hashes, credential ids).
"""

from __future__ import annotations

from collections.abc import Callable

_sections: dict[str, Callable] = {}


def register(name: str, provider: Callable) -> None:
    _sections[name] = provider


def sections() -> dict[str, Callable]:
    return dict(_sections)


def when(value) -> str | None:
    """A datetime as the export writes it."""
    return value.isoformat() if value else None
