"""Second factors other apps contribute (passkeys register one).

A *factor provider* is a callable ``(user) -> bool`` saying whether the user has that
factor set up: any provider answering True makes the MFA stage apply at sign-in.
"""

from __future__ import annotations

from collections.abc import Callable

_providers: dict[str, Callable] = {}


def register_factor(name: str, provider: Callable) -> None:
    _providers[name] = provider


def factor_providers() -> list[Callable]:
    return list(_providers.values())
