"""The user admin's actions: reset link, end sessions, unlock, deactivate, reactivate, require a
new password."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts import lockout, sessions
from accounts.flows.account import account_deactivate, account_reactivate
from accounts.flows.password import password_change_require, password_reset_send
from accounts.forms import AddressField
from accounts.users import stores_is_active, user_email, within_reach
from authsuite import signals


def reach_of(modeladmin, request, queryset, *, user_field: str = ""):
    """The rows of ``queryset`` an action may touch: those of accounts within the staff
    member's reach (``accounts.users.within_reach``: a superuser anyone, other staff
    themselves and people who are not staff). ``user_field`` names the account of a row
    that is not an account (``"user"`` for a passkey).

    The others are left as they are, and not in silence: staff are told how many, and the
    refusal is on the record as ``authsuite.permission_denied``, as a page refused to them
    (403) is, once for the request. Nothing is recorded against the accounts themselves,
    and their owners are told nothing: nothing was done to them."""
    if user_field:
        users = within_reach(request.user, get_user_model()._default_manager.all())
        reachable = queryset.filter(**{f"{user_field}__in": users})
    else:
        reachable = within_reach(request.user, queryset)
    if request.user.is_superuser:
        return reachable
    refused = queryset.exclude(pk__in=reachable.values("pk")).count()
    if refused:
        told = (_("Only superusers act on the accounts of staff members and superusers: "
                  "%(n)d of the selected passkeys were left as they were.") if user_field
                else _("Only superusers act on the accounts of staff members and superusers: "
                       "%(n)d of the selected accounts were left as they were."))
        modeladmin.message_user(request, told % {"n": refused}, messages.WARNING)
        signals.permission_denied.send(sender=None, request=request,
                                       path=request.path[:200])
    return reachable


@admin.action(description=_("Send a password-reset link"), permissions=["change"])
def send_password_reset(modeladmin, request, queryset):
    count, no_address = 0, []
    for user in reach_of(modeladmin, request, queryset).filter(is_active=True):
        try:
            AddressField().clean(user_email(user))
        except forms.ValidationError:
            no_address.append(str(user))  # an account made elsewhere, with no address
            continue
        password_reset_send(request, user=user, by=request.user)
        count += 1
    modeladmin.message_user(request, _("Reset links sent to %(n)d users.") % {"n": count})
    if no_address:
        modeladmin.message_user(request, _("No link for these users, who have no email address "
                                           "a link could go to: %(users)s.")
                                % {"users": ", ".join(no_address)}, messages.WARNING)


@admin.action(description=_("End all sessions"), permissions=["change"])
def end_all_sessions(modeladmin, request, queryset):
    count = sum(sessions.sessions_end(u, request=request, reason="staff", by=request.user)
                for u in reach_of(modeladmin, request, queryset))
    modeladmin.message_user(request, _("%(n)d sessions ended.") % {"n": count})


@admin.action(description=_("Unlock (forget failed sign-ins)"), permissions=["change"])
def unlock(modeladmin, request, queryset):
    # Within reach only, as the other actions: the locks and the consecutive-failure count
    # are what bound an online guess of the password, so staff who could clear them on a
    # superuser's or another staff member's account could guess its password for ever.
    users = list(reach_of(modeladmin, request, queryset))
    # Only those with something to forget are unlocked (and recorded): the others' owners
    # would see staff unlock an account that was never locked.
    unlocked = sum(lockout.account_unlock(user, request=request, by=request.user)
                   for user in users)
    if unlocked or not users:
        modeladmin.message_user(request, _("Unlocked %(n)d users.") % {"n": unlocked})
    if not_locked := len(users) - unlocked:
        modeladmin.message_user(request, ngettext(
            "Nothing was locked for %(n)d user (no lock, no failed sign-in): nothing was "
            "done to it.",
            "Nothing was locked for %(n)d users (no lock, no failed sign-in): nothing was "
            "done to them.", not_locked) % {"n": not_locked}, messages.WARNING)


def _without_is_active(modeladmin, request) -> bool:
    """Whether the user model has no is_active field (said to staff): nothing can be
    deactivated or reactivated."""
    if stores_is_active(modeladmin.model):
        return False
    modeladmin.message_user(request, _("This user model cannot keep users inactive: it "
                                       "has no is_active field."), messages.ERROR)
    return True


@admin.action(description=_("Deactivate (and end their sessions)"), permissions=["change"])
def deactivate(modeladmin, request, queryset):
    if _without_is_active(modeladmin, request):
        return
    # Those disabled already are left as they are (as reactivating leaves enabled ones):
    # their owners' pages would show them disabled by staff a second time.
    count = sum(account_deactivate(user, request=request, by=request.user)
                for user in reach_of(modeladmin, request, queryset).exclude(pk=request.user.pk)
                .filter(is_active=True))
    modeladmin.message_user(request, _("Deactivated %(n)d users.") % {"n": count},
                            messages.SUCCESS)


@admin.action(description=_("Reactivate (allow sign-in again)"), permissions=["change"])
def reactivate(modeladmin, request, queryset):
    if _without_is_active(modeladmin, request):
        return
    # Within reach only, as deactivating: staff who could enable another staff member's
    # account, disabled by a superuser, would open the admin to whoever holds it now.
    count = sum(account_reactivate(user, request=request, by=request.user)
                for user in reach_of(modeladmin, request, queryset).filter(is_active=False))
    modeladmin.message_user(request, _("Reactivated %(n)d users.") % {"n": count},
                            messages.SUCCESS)


@admin.action(description=_("Require a new password at next sign-in"), permissions=["change"])
def require_password_change(modeladmin, request, queryset):
    for user in reach_of(modeladmin, request, queryset):
        password_change_require(request, user=user, by=request.user)
    modeladmin.message_user(request, _("They will choose a new password at their next sign-in."))


USER_ACTIONS = [send_password_reset, end_all_sessions, unlock, deactivate, reactivate,
                require_password_change]
