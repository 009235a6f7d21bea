"""How the user admin shows addresses: as staff must read them, a look-alike marked.

An address that mixes scripts so that it passes for another (``ann@exаmple.com``, its ``а``
Cyrillic) reads exactly like the address it imitates. Wherever the admin shows a stored
address it shows ``accounts.scripts.staff_spelling`` of it instead (the list's column, a
saved address row, the login address on a page staff may only view); the models' ``__str__``
does the same for the page titles, messages, history and delete confirmations. The other
admins of the suite that show an address (sign-in throttles, passkey sign-ups, the audit
trail, the outbox) use the core's ``authsuite.spelling.address_column``, which
``AccountsConfig.ready`` makes mark them so. What staff
type is never rewritten: a field they edit keeps the stored address, and says beside it how
it reads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from django import forms
from django.utils.html import format_html
from django.utils.translation import gettext as _

from accounts.scripts import staff_spelling
from accounts.users import email_field
from authsuite import spelling


class AddressShownWidget(forms.Widget):
    """A stored address shown, not edited: its text (a look-alike marked), no input.

    ``read_only`` makes the admin render it for a field it shows read-only, as it does
    ``django.contrib.auth``'s ReadOnlyPasswordHashWidget."""

    read_only = True

    def render(self, name, value, attrs=None, renderer=None):
        return format_html("{}", staff_spelling(value or ""))


def address_column(model) -> Callable:
    """The list column of the user ``model``'s login address, as staff read it
    (``authsuite.spelling.address_column``)."""
    return spelling.address_column(model, email_field())


def with_address_column(names: Sequence | None, model) -> Sequence | None:
    """``names`` (a ``list_display`` or its links) with the login address's column as staff
    read it in place of the field."""
    if not names:
        return names
    field = email_field()
    return [address_column(model) if name == field else name for name in names]


#: What the user admin names the login address's field on a page staff may only view: its
#: column (``address_column``), the address shown as staff must read it.
ADDRESS_SHOWN = "address_as_shown"


def with_address_shown(fieldsets: list) -> list:
    """``fieldsets`` with the login address's field shown as staff read it
    (``ADDRESS_SHOWN``), for a page staff may only view."""
    field = email_field()

    def shown(name):
        if isinstance(name, list | tuple):  # fields on one line
            return type(name)(shown(n) for n in name)
        return ADDRESS_SHOWN if name == field else name

    return [(title, {**options, "fields": [shown(f) for f in options["fields"]]})
            for title, options in fieldsets]


def address_help(address: str) -> str:
    """What a field holding ``address`` says under it: how it reads, when it is a look-alike
    (the field itself shows the letters as typed)."""
    address = address or ""
    shown = staff_spelling(address)
    if shown == address:
        return ""
    return _("Its letters: %(address)s") % {"address": shown}
