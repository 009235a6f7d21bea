from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from mfa import trust


def untrust_all(sender, user=None, request=None, by=None, **kwargs):
    """A password or factor changed: every "don't ask again" promise ends. When staff made
    the change (``by``, a passkey removed in the admin), so did they."""
    if user is not None:
        trust.trust_revoke(user, request=request, by=by)


def setups_void(sender, user=None, **kwargs):
    """A changed password ends any authenticator-app setup not yet confirmed: one may have
    been begun by whoever knew the old password."""
    from mfa.flows import setups_void

    if user is not None:
        setups_void(user)


def reauth_code_link(request) -> dict | None:
    """On the reauthentication page, when the second factor is what is due: the way to it
    with a code, for an account that has an app or recovery codes."""
    from django.urls import reverse

    from accounts import authrecord
    from accounts.decorators import requested_max_age
    from mfa import devices

    user = request.user
    if not authrecord.second_factor_due(request, requested_max_age(request)):
        return None
    if devices.totp_device(user) is None and not devices.has_unused_codes(user):
        return None
    return {"challenge_url": reverse("mfa:challenge")}


def factor_removed(sender, user=None, request=None, reset=False, by=None, **kwargs):
    """A factor another app contributes (a passkey) was removed. Not as part of a staff
    reset (``reset``): that is recorded and told as one, ``mfa_reset``, and two-step
    verification being off is not the user's doing. Staff removing the last passkey in the
    admin (``by``) turn it off themselves."""
    from mfa.flows import factor_removed

    if user is not None and not reset:
        factor_removed(user, request=request, sender=sender, by=by)


@admin.action(description=_("Reset two-step verification"), permissions=["change"])
def reset_mfa(modeladmin, request, queryset):
    from accounts.admin.actions import reach_of
    from mfa.flows import mfa_reset

    users = list(reach_of(modeladmin, request, queryset))  # superusers: superusers only
    for user in users:
        mfa_reset(user, request=request, by=request.user)
    modeladmin.message_user(request, _("Two-step verification reset for %(n)d users.")
                            % {"n": len(users)})


def extend_user_admin(user_model) -> None:
    """Offer "Reset two-step verification" on the user admin, whoever registered it."""
    for site in (admin.site,):
        user_admin = site._registry.get(user_model)
        if user_admin is not None and reset_mfa not in (user_admin.actions or []):
            user_admin.actions = [*(user_admin.actions or []), reset_mfa]
