"""How staff are shown an address: the spelling the accounts app gives it.

The core shows staff addresses of its own (an outbox message's recipient) but knows nothing
of what makes one pass for another (``ann@exаmple.com``, its ``а`` Cyrillic): ``accounts``
does (``accounts.scripts.staff_spelling``), and the core never imports it. ``accounts``
registers that spelling here from its ``AppConfig.ready``; until then an address shows as
it is.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.contrib import admin


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


@functools.cache
def address_column(model, name: str) -> Callable:
    """The admin column of ``model``'s address field ``name``, as staff read it
    (``staff_spelling``): sorted by the address, with the field's label and CSS class
    (``column-<name>``). Named in a ModelAdmin's ``fields`` and ``readonly_fields`` too, it
    shows the address so on the row's page."""
    field = model._meta.get_field(name)

    @admin.display(description=field.verbose_name, ordering=field.name)
    def column(obj):
        return staff_spelling(getattr(obj, field.name) or "")

    column.__name__ = column.__qualname__ = field.name
    return column
