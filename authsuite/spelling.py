"""How staff are shown an address: the spelling the accounts app gives it.

The core shows staff addresses of its own (an outbox message's recipient) but knows nothing
of what makes one pass for another (``ann@exаmple.com``, its ``а`` Cyrillic): ``accounts``
does (``accounts.scripts.staff_spelling``), and the core never imports it. ``accounts``
registers that spelling here from its ``AppConfig.ready``; until then an address shows as
it is.
"""

from __future__ import annotations

from collections.abc import Callable


def _as_it_is(address: str) -> str:
    return address


_spelling: Callable[[str], str] = _as_it_is


def spelling_register(spell: Callable[[str], str]) -> None:
    """Make ``spell(address)`` how staff are shown an address (from ``AppConfig.ready``):
    the address itself, or marked when it could pass for another."""
    global _spelling
    _spelling = spell


def staff_spelling(address: str) -> str:
    """``address`` as staff must read it (the registered spelling)."""
    return _spelling(address or "")
