"""Closing, deactivating, reactivating and exporting an account."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

from accounts import exports, lockout, sessions, signals, tokens
from accounts.app_settings import app_settings
from accounts.models import EmailAddress, UserSession
from accounts.users import email_field, lock_user_row, stores_is_active, user_email, user_name
from authsuite.outbox import mail_forget, mail_history


def account_export(*, user) -> dict:
    """Everything the suite holds about ``user``, minus secrets (password hash, tokens):
    the account, its addresses and sessions, and each installed app's section
    (:mod:`accounts.exports`)."""
    export = {
        "exported_at": timezone.now().isoformat(),
        "user": {
            "id": str(user.pk),
            "email": user_email(user),
            "name": user_name(user),
            "date_joined": user.date_joined.isoformat() if getattr(user, "date_joined", None)
            else None,
            "last_login": user.last_login.isoformat() if user.last_login else None,
            "is_active": user.is_active,
        },
        "email_addresses": [
            {
                "email": a.email, "primary": a.primary, "verified": a.verified,
                "created_at": a.created_at.isoformat(),
            }
            for a in EmailAddress.objects.filter(user=user)
        ],
        "sessions": [
            {
                "device": s.device, "ip": s.ip, "created_at": s.created_at.isoformat(),
                "last_seen_at": s.last_seen_at.isoformat(),
                "ended_at": s.ended_at.isoformat() if s.ended_at else None,
            }
            for s in UserSession.objects.filter(user=user)
        ],
    }
    if email_field() != user.USERNAME_FIELD:
        export["user"]["username"] = user.get_username()
    for name, provider in exports.sections().items():
        export[name] = provider(user)
    return export


def mail_section(user) -> list[dict]:
    """The export's ``mail`` section: the mail the outbox keeps (``MAIL_KEEP_DAYS``) that
    was queued for the account or to an address it holds (verified: an address only typed
    may be someone else's mailbox), with its subject, status and dates, never its body or
    link (``authsuite.outbox.mail_history``)."""
    return mail_history(user=user, addresses=lockout.identifiers_held(user))


def sign_in_failures_section(user) -> list[dict]:
    """The export's ``sign_in_failures`` section: the failed sign-ins and locks remembered
    for the account's addresses (``accounts.lockout.throttles_export``)."""
    return lockout.throttles_export(lockout.identifiers_held(user))


def account_forget(user) -> None:
    """What the suite keeps about ``user`` outside rows that go with the account (its
    foreign keys cascade) goes with it, in the delete's transaction: the mail whose delivery
    is over (``authsuite.outbox.mail_forget``) and the failed sign-ins of its addresses,
    but for a lock still running (``accounts.lockout.throttles_forget``). The audit trail
    keeps its events (README, "Your data: the export and closing an account")."""
    addresses = lockout.identifiers_held(user)
    mail_forget(user=user, addresses=addresses)
    lockout.throttles_forget(addresses)


def account_deactivate(user, *, request=None, by=None) -> bool:
    """Disable sign-in for ``user`` and end all their sessions; returns whether it was
    enabled. An account disabled already (by another staff member a moment ago, say) is
    not disabled a second time: no second event says it was."""
    if not stores_is_active():
        raise ImproperlyConfigured("The user model has no is_active field: accounts cannot "
                                   "be deactivated (authsuite_accounts.E011).")
    with transaction.atomic():
        disabled = user.__class__._default_manager.filter(pk=user.pk, is_active=True).update(
            is_active=False)
        user.is_active = False
        # Whichever it was: an account disabled by the project's own code, which set the
        # flag alone, keeps no open session nor live link either.
        sessions.sessions_end(user, request=request, reason="deactivated", by=by)
        # While the account is disabled its links are refused; enabled again, they must
        # not come back with it (whoever asked for them may be why it was disabled).
        tokens.tokens_void(user=user)
        if disabled:
            signals.account_deactivated.send(sender=user.__class__, request=request,
                                             user=user, by=by)
    return bool(disabled)


def account_reactivate(user, *, request=None, by=None) -> bool:
    """Enable sign-in again for ``user``, disabled by ``account_deactivate`` (or otherwise);
    returns whether it was disabled. Nothing disabled with it comes back: its sessions
    ended and its links were voided for good, so the owner signs in afresh."""
    if not stores_is_active():
        raise ImproperlyConfigured("The user model has no is_active field: every account "
                                   "is active already (authsuite_accounts.E011).")
    with transaction.atomic():
        # Only an account disabled now: one enabled already (by another staff member a
        # moment ago, say) is left as it is, and no second event says it was enabled.
        enabled = user.__class__._default_manager.filter(pk=user.pk, is_active=False).update(
            is_active=True)
        user.is_active = True
        if enabled:
            signals.account_reactivated.send(sender=user.__class__, request=request, user=user,
                                             by=by)
    return bool(enabled)


def account_close(request, *, user) -> str:
    """The user closes their own account (after reauthentication); they are signed out.

    Closed by another request meanwhile (a second click, another tab, each past the
    recent sign-in check before either closed it), it is closed once: the later request
    finds it so, signs its browser out and records nothing again."""
    action = app_settings.CLOSE_ACTION
    with transaction.atomic():
        # The account's row before its sessions, in the order a sign-in takes them (its
        # last_login, then the sessions it ends past MAX_SESSIONS). Sessions first, then
        # the row, the close and such a sign-in could each hold what the other waits for.
        # A sign-in waiting for the row then finds the account closed, and is refused.
        if lock_user_row(user, active=action == "deactivate"):
            _close(request, user, action)
    sessions.signed_out(request)  # every session ended, here or by the request before
    return action


def _close(request, user, action: str) -> None:
    user_id, email = user.pk, user_email(user)
    sessions.sessions_end(user, request=request, reason="account_closed")
    if action == "deactivate":
        user.__class__._default_manager.filter(pk=user.pk).update(is_active=False)
        tokens.tokens_void(user=user)  # none of its links outlives the account
    else:
        user.delete()
    signals.account_closed.send(
        sender=user.__class__, request=request, user_id=user_id, email=email, action=action
    )
