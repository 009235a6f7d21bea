"""Template slots: places in one app's pages where other installed apps add content.

``accounts/login.html`` has a ``login_methods`` slot; the passkeys app registers its
"Sign in with a passkey" button there from its ``ready()``. Pages stay overridable and no
app imports another's templates. A slot entry may bring a context function
``(request) -> dict``; returning None hides the entry.
"""

from __future__ import annotations

from collections.abc import Callable

_slots: dict[str, list[tuple[str, Callable | None]]] = {}


def register(slot: str, template_name: str, context: Callable | None = None) -> None:
    entries = _slots.setdefault(slot, [])
    if all(name != template_name for name, _ in entries):
        entries.append((template_name, context))


def entries(slot: str) -> list[tuple[str, Callable | None]]:
    return list(_slots.get(slot, []))
