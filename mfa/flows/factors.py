"""Flows of the second factors as a whole: what follows the removal of the last one, a new
set of the recovery codes that back them up, and staff resetting every one of them."""

from __future__ import annotations

from django.db import transaction
from django.utils.text import get_text_list
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.debug import sensitive_variables

from accounts.errors import FlowError
from accounts.users import lock_user_row
from mfa import devices, recovery, registry, signals, trust
from mfa.errors import MFAError
from mfa.flows.common import factor_notice
from mfa.models import RecoveryCode, RecoveryCodeSet, TOTPDevice


def factor_removed(user, *, request=None, sender=None, by=None) -> None:
    """After a second factor of any kind is removed: with none left, two-step verification
    is off, and the recovery codes go too. They back a factor up; left behind, they would
    pass the challenge of the next factor added, which would be given none of its own.
    ``by``: the staff member who removed it, else None.

    Called in the transaction that removed the factor, after its row is locked."""
    with transaction.atomic():
        # Removals of two factors at once (the app and the last passkey) take turns on the
        # user's row: each would otherwise still see the other's factor, removed but not
        # yet committed, and neither would turn two-step verification off.
        lock_user_row(user)
        if devices.has_mfa(user):
            return
        RecoveryCodeSet.objects.filter(user=user).delete()
        signals.mfa_disabled.send(sender=sender or TOTPDevice, request=request, user=user,
                                  by=by)


@sensitive_variables("new_codes")
def recovery_regenerate(request, *, user) -> list[str]:
    with transaction.atomic():
        # Under the user's row lock, as a factor's removal decides whether it was the last:
        # codes made while the last factor goes would outlive it.
        lock_user_row(user)
        if not devices.has_mfa(user):
            raise FlowError(MFAError.NOT_ENROLLED, _("Set up an authenticator app first."))
        new_codes = recovery.generate(user)
        trust.trust_revoke(user, request=request)
        signals.recovery_codes_generated.send(sender=RecoveryCodeSet, request=request,
                                              user=user, count=len(new_codes))
        factor_notice(request, user, "mfa.recovery_codes_generated",
                subject=_("New recovery codes were created"),
                summary=_("A new set of recovery codes was created; the old codes no longer "
                          "work."))
    return new_codes


def mfa_reset(user, *, request=None, by=None) -> dict[str, int]:
    """Staff: remove every factor of ``user``, the ones other apps contribute (passkeys)
    included: one left behind may be the intruder's. They enroll again; codes are never
    shown.

    Returns what was removed, ``{factor name: count}`` (``"totp"``, ``"recovery_codes"``:
    unused codes, and each registered factor), the kinds the user had only. The user is told
    once, with that list: each passkey removed stays an event of its own, but not a message
    of its own (``passkey_removed`` says ``reset``).
    """
    with transaction.atomic():
        # Every factor's rows, then the user's row, in the order a sign-in with a factor and
        # the factor's removal take them; the recovery codes are deleted after the user's
        # row, as a sign-in with one uses it. The reset waits for a sign-in, a removal or an
        # addition under way, then counts and removes what is left. (Without the user's row,
        # a user removing their last passkey meanwhile, who deletes the codes after locking
        # it, deadlocked with the reset, which deleted the codes before the passkeys.)
        registry.rows_lock(user)
        lock_user_row(user)
        app_count = devices.totp_devices(user).count()
        unused = RecoveryCode.objects.filter(device__user=user, device__confirmed=True,
                                             used_at__isnull=True).count()
        for model in devices.DEVICE_MODELS:
            model.objects.filter(user=user).delete()
        removed = {}
        for name, remove in registry.removers().items():
            removed[name] = registry.count(name, user)  # counted before, whatever remove says
            remove(user, request=request, by=by)
        removed.update(totp=app_count, recovery_codes=unused)
        removed = {name: count for name, count in removed.items() if count}
        trust.trust_revoke(user, request=request, by=by)
        signals.mfa_reset.send(sender=TOTPDevice, request=request, user=user, by=by,
                               removed=removed)
        factor_notice(request, user, "mfa.reset", subject=_("Two-step verification was reset"),
                summary=reset_summary(removed), by=by)
    return removed


def reset_summary(removed: dict[str, int]) -> str:
    """What the user is told of a staff reset that removed ``removed``, in one order
    whoever tells it (this notice, or the audit trail's alert from the event's data): the
    registered factors as registered, then the recovery codes, then any other name."""
    known = [*registry.names(), "recovery_codes"]
    order = [*known, *sorted(set(removed) - set(known))]
    parts = [_describe(name, removed[name]) for name in order if removed.get(name)]
    if not parts:
        return _("Staff reset two-step verification on your account; it had no second "
                 "factor to remove.")
    return _("Staff reset two-step verification on your account and removed every second "
             "factor it had: %(removed)s. Set it up again the next time you sign in.") % {
        "removed": get_text_list(parts, _("and"))}


def _describe(name: str, count: int) -> str:
    if name == "recovery_codes":  # a backup, not a registered factor
        return ngettext("%(n)d unused recovery code", "%(n)d unused recovery codes",
                        count) % {"n": count}
    return registry.describe(name, count)
