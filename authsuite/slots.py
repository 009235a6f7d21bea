"""Template slots: places in one app's pages where other installed apps add content.

``accounts/login.html`` has a ``login_methods`` slot; the passkeys app registers its
"Sign in with a passkey" button there from its ``ready()``. Pages stay overridable and no
app imports another's templates. A slot entry may bring a context function
``(request) -> dict``; returning None hides the entry. Registered with
``takes_context=True``, it is called as ``(request, page)``, ``page`` being the page's own
template context: what the page's view has loaded already (the pending sign-in's ways
through the second step, say) is read there instead of being queried again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    """One app's content in a slot: its template, and what it adds to the page's context."""

    template_name: str
    context: Callable | None = None
    takes_context: bool = False

    def adds(self, request, page: dict) -> dict | None:
        """What the entry adds to ``page`` (the page's context) to render, or None to hide."""
        if self.context is None:
            return {}
        return self.context(request, page) if self.takes_context else self.context(request)


_slots: dict[str, list[Entry]] = {}


def register(slot: str, template_name: str, context: Callable | None = None, *,
             takes_context: bool = False) -> None:
    entries = _slots.setdefault(slot, [])
    if all(entry.template_name != template_name for entry in entries):
        entries.append(Entry(template_name, context, takes_context))


def entries(slot: str) -> list[Entry]:
    return list(_slots.get(slot, []))
