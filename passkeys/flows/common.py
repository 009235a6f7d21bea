"""What the passkey flows share: ceremony names, user handles, names, the user's notice."""

from __future__ import annotations

import json
import unicodedata
from functools import lru_cache
from pathlib import Path

from django.contrib.auth import get_user_model

from authsuite import notices
from authsuite.outbox import mail_enqueue
from authsuite.text import BIDI_CONTROLS, has_visible_character
from passkeys import ceremonies
from passkeys.models import WebAuthnUser

CEREMONY_REGISTER = "register"
CEREMONY_LOGIN = "login"
CEREMONY_SECOND_FACTOR = "second_factor"
CEREMONY_REAUTH = "reauthenticate"


@lru_cache(maxsize=1)
def _aaguids() -> dict[str, str]:
    # The table is passkeys/data/aaguids.json, beside this package.
    return json.loads((Path(__file__).parent.parent / "data" / "aaguids.json").read_text())


def provider_name(aaguid: str) -> str:
    """The authenticator's product name from the bundled AAGUID table, or ""."""
    return _aaguids().get((aaguid or "").lower(), "")


def _email(user) -> str:
    return getattr(user, get_user_model().get_email_field_name(), "") or ""


def user_handle(user) -> str:
    row, _ = WebAuthnUser.objects.get_or_create(
        user=user, defaults={"handle": ceremonies.new_handle()}
    )
    return row.handle


def amr_for(*, backup_eligible: bool, user_verified: bool) -> list[str]:
    """RFC 8176: a synced passkey is a software-secured key (swk), a device-bound one a
    hardware-secured key (hwk); user verification adds ``user`` (a second factor kind)."""
    values = ["swk" if backup_eligible else "hwk"]
    if user_verified:
        values.append("user")
    return values


def passkey_name(name: str) -> str:
    """A passkey's name as it is kept and shown: without control characters or the bidi
    controls that make text read otherwise than it is, trimmed, 100 characters at most;
    empty when nothing in it would show (zero-width characters alone)."""
    name = "".join(c for c in (name or "") if unicodedata.category(c) != "Cc"
                   and c not in BIDI_CONTROLS).strip()[:100]
    return name if has_visible_character(name) else ""


def _notice(request, user, notice: str, subject: str, summary: str, by=None) -> None:
    """Tell the user about a passkey change, unless an alert rule does it; ``by``: the staff
    member who made it (the notice then says staff did, not from where)."""
    if notices.is_claimed(notice):
        return
    mail_enqueue(template="passkeys/email/notice", to=_email(user), user=user, context={
        "subject": str(subject), "summary": str(summary), **notices.origin(by=by),
    })
