"""Managing passkeys: rename, remove (by the user or staff), and the account export's section."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.errors import FlowError
from accounts.exports import when
from accounts.users import lock_user_row
from passkeys import signals
from passkeys.errors import PasskeyError
from passkeys.flows.common import _notice, passkey_name
from passkeys.models import Passkey


def can_sign_in_without(user, passkey: Passkey) -> bool:
    """Whether removing ``passkey`` leaves the user a way to sign in."""
    if user.has_usable_password():
        return True
    return Passkey.objects.filter(user=user, flagged_at__isnull=True).exclude(
        pk=passkey.pk).exists()


def passkey_rename(request, *, user, passkey_id: int, name: str) -> Passkey:
    """Give ``user``'s passkey ``name`` (as :func:`passkey_name` keeps it); the passkey as
    named now. A name that is the current one once kept so (the page's Rename pressed
    without an edit, or control characters around it) renames nothing, and nothing is
    recorded: the audit trail and the owner's activity would show a change that never was."""
    name = passkey_name(name)
    passkey = Passkey.objects.filter(user=user, pk=passkey_id).first()
    if passkey is None:
        raise FlowError(PasskeyError.NOT_FOUND, _("No such passkey."), status=404)
    if not name:
        raise FlowError("invalid", _("Give the passkey a name."), field="name")
    # Only a row whose name differs: of two requests giving one new name, one records it.
    if Passkey.objects.filter(pk=passkey.pk).exclude(name=name).update(name=name):
        signals.passkey_renamed.send(sender=Passkey, request=request, user=user,
                                     passkey_id=passkey.pk, name=name)
    passkey.name = name
    return passkey


def _delete(request, *, user, passkey: Passkey, by, **told) -> None:
    """Delete ``passkey`` (locked by the caller) and record it: ``passkey_removed``, with
    ``told`` saying how the user hears of it when not by a message of its own."""
    passkey_id = passkey.pk
    passkey.delete()
    signals.passkey_removed.send(sender=Passkey, request=request, user=user,
                                 passkey_id=passkey_id, name=passkey.name, by=by, **told)


def passkey_remove(request, *, user, passkey_id: int, by=None) -> None:
    with transaction.atomic():
        passkey = Passkey.objects.select_for_update().filter(user=user, pk=passkey_id).first()
        if passkey is None:
            raise FlowError(PasskeyError.NOT_FOUND, _("No such passkey."), status=404)
        # Whether another way in is left, and whether another second factor is, are asked
        # under the user's row lock: two passkeys removed at once would each see the other.
        # Taken after the passkey's row, in the order a sign-in with it takes them.
        lock_user_row(user)
        if by is None and not can_sign_in_without(user, passkey):
            raise FlowError(PasskeyError.LAST_CREDENTIAL, _(
                "This is the only way you can sign in. Add another passkey or set a password "
                "first."))
        _delete(request, user=user, passkey=passkey, by=by)
        _notice(request, user, "passkeys.removed", _("A passkey was removed"),
                _("The passkey “%(name)s” was removed from your account.") % {"name": passkey.name},
                by=by)


def passkeys_remove(request, *, user, passkey_ids: list[int], by) -> int:
    """Staff (``by``) remove the passkeys ``passkey_ids`` of ``user`` at once (the passkey
    admin's action), flagged ones and the last way in too. Each removal is recorded on its
    own (``passkey_removed``); the user is told once, in the same transaction: of one
    passkey as when it is removed alone, of several by how many (:func:`removed_summary`),
    their events carrying ``batch``. Returns how many were removed (ids no longer there, or
    another user's, are passed over)."""
    with transaction.atomic():
        passkeys = list(Passkey.objects.select_for_update()
                        .filter(user=user, pk__in=passkey_ids).order_by("pk"))
        if len(passkeys) == 1:
            passkey_remove(request, user=user, passkey_id=passkeys[0].pk, by=by)
            return 1
        for position, passkey in enumerate(passkeys, start=1):
            # Every event says which of how many it is: an alert rule sends the one message
            # with the first, reading the count from it; without one, the notice below.
            _delete(request, user=user, passkey=passkey, by=by,
                    batch=(position, len(passkeys)))
        if passkeys:
            _notice(request, user, "passkeys.removed", _("Passkeys were removed"),
                    removed_summary(len(passkeys)), by=by)
    return len(passkeys)


def passkeys_remove_all(user, *, request=None, by=None) -> None:
    """Staff resetting two-step verification: every passkey of ``user`` goes, flagged ones
    too, each recorded (``passkey_removed`` with ``reset``); the reset's own message tells
    the user, once for all of them. The passkeys factor's remover (``mfa.registry``): the
    reset counts the rows itself, before it calls this."""
    with transaction.atomic():
        for passkey in Passkey.objects.select_for_update().filter(user=user).order_by("pk"):
            _delete(request, user=user, passkey=passkey, by=by, reset=True)


def describe(count: int) -> str:
    """``count`` passkeys, as a staff reset's message names them, and as the message of
    staff removing several names them (:func:`removed_summary`)."""
    return ngettext("%(n)d passkey", "%(n)d passkeys", count) % {"n": count}


def removed_summary(count: int) -> str:
    """What the user is told of staff removing ``count`` of their passkeys at once, in one
    wording whoever tells it: this app's notice, or the audit trail's alert from the first
    removal's ``batch``."""
    return _("Staff removed %(removed)s from your account; they no longer sign you in.") % {
        "removed": describe(count)}


def export_section(user) -> list[dict]:
    """The account export's ``passkeys`` section: what each passkey is and when it was
    used, never its credential id or public key."""
    return [
        {"name": p.name, "aaguid": p.aaguid, "transports": p.transports,
         "synced": p.backup_state, "user_verified": p.user_verified,
         "created_at": when(p.created_at), "last_used_at": when(p.last_used_at),
         "flagged_at": when(p.flagged_at)}
        for p in Passkey.objects.filter(user=user).order_by("pk")
    ]
