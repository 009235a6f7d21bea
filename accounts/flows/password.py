"""Changing and resetting passwords."""

from __future__ import annotations

from django.contrib.auth import update_session_auth_hash
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.debug import sensitive_variables

from accounts import credentials, lockout, pipeline, sessions, signals, tokens
from accounts.errors import AccountsError, FlowError
from accounts.flows.email import addresses_unproven_remove, mark_verified_if_free
from accounts.flows.limits import rate_limit
from accounts.flows.link_request import link_issue, link_request_queue
from accounts.flows.login import confirm_password
from accounts.flows.mail import send_notice
from accounts.flows.signup import password_check
from accounts.models import PasswordChangeRequired, normalize_email
from accounts.users import lock_user_row
from authsuite.outbox import mail_enqueue

INVALID_LINK = gettext_noop(
    "This password-reset link is invalid, expired or already used. Request a new one.")


# raw_password: Django's set_password, below, holds the password under that name.
@sensitive_variables("password", "raw_password")
def _set_password(request, user, password: str, *, reason: str, keep_current: bool) -> None:
    """Store the new password, end the other sessions, void reset links, tell the user."""
    user.set_password(password)
    user.save(update_fields=["password"])
    PasswordChangeRequired.objects.filter(user=user).delete()
    tokens.tokens_void(user=user, purpose=tokens.Purpose.PASSWORD_RESET)
    keep = sessions.current_session_id(request) if keep_current else None
    sessions.sessions_end(user, request=request, reason=reason, keep=keep)
    if keep_current:
        update_session_auth_hash(request, user)
    send_notice(request, template="password_changed", user=user)


# checked, stored: the account's password hash.
@sensitive_variables("current_password", "new_password", "checked", "stored")
def password_change(request, *, user, current_password: str, new_password: str) -> None:
    """Change the signed-in user's password; every other session ends.

    An account with a password must give it (ASVS 6.2.3), checked like a reauthentication
    (lockout, rate limit); the pages and API also require a recent authentication. An
    account without one (passkeys, magic links) sets its first password on the recent
    authentication alone.
    """
    if user.has_usable_password():
        if not current_password:
            raise FlowError(
                AccountsError.PASSWORD_REQUIRED, _("Enter your current password."),
                field="current_password",
            )
        confirm_password(request, user=user, password=current_password,
                         method="password_change", field="current_password")
    password_check(new_password, user, field="new_password")
    checked = user.password
    with transaction.atomic():
        # The stored password under a row lock: one change of a double submit wins; the
        # other finds the password it checked replaced, and changes nothing.
        stored = (user.__class__._default_manager.select_for_update().filter(pk=user.pk)
                  .values_list("password", flat=True).first())
        if stored != checked:
            raise FlowError(
                AccountsError.PASSWORD_INCORRECT,
                _("Your password was changed a moment ago. Sign in again if needed."),
                field="current_password",
            )
        _set_password(request, user, new_password, reason="password_changed", keep_current=True)
        signals.password_changed.send(sender=user.__class__, request=request, user=user)


def password_change_require(request, *, user, by) -> bool:
    """Staff: ``user`` chooses a new password at their next sign-in (the
    ``password_change_required`` stage). Recorded with ``by`` as the one who asked; True
    when it was not asked already."""
    _row, created = PasswordChangeRequired.objects.get_or_create(user=user)
    if created:
        signals.password_change_required.send(sender=user.__class__, request=request,
                                              user=user, by=by)
    return created


def password_reset_request(request, *, email: str) -> None:
    """Ask for a reset link to ``email``: the mail worker sends it if an active account
    signs in with that address, else a notice saying why none came
    (``link_request_resolve``). The answer and the request's work are the same either way."""
    identifier = normalize_email(email)
    rate_limit(request, "password_reset", account=identifier)
    link_request_queue(request, email=identifier, purpose="password_reset")


def password_reset_send(request, *, user, by=None) -> None:
    """Issue and email a reset link now (the staff admin action, for a chosen account;
    ``by`` the staff member: the mail and the user's security page then say staff sent it)."""
    with transaction.atomic():
        mail_enqueue(**link_issue(request, user=user, purpose="password_reset", by=by))


@sensitive_variables("token")
def password_reset_check(request, *, token: str):
    """The reset link's token row if the link can still be used, else ``token_invalid``
    (the same answer for a used, expired, voided or forged link); consumes nothing. Counted
    against the client's ``token_confirm`` limit.

    The confirmation page and the API call it before they show errors in the new password,
    so a dead link is refused first; ``password_reset_complete`` calls it itself."""
    rate_limit(request, "token_confirm")
    found = tokens.token_peek(token, purpose=tokens.Purpose.PASSWORD_RESET)
    if found is None:
        raise FlowError(AccountsError.TOKEN_INVALID, _(INVALID_LINK))
    return found


@sensitive_variables("token", "new_password")
def password_reset_complete(request, *, token: str, new_password: str):
    """Set a new password with a reset link. Signs nobody in: the user then signs in,
    and every later stage (MFA included) still applies."""
    found = password_reset_check(request, token=token)
    password_check(new_password, found.user, field="new_password")
    with transaction.atomic():
        # The account's row before its token, the order of what voids its links (a new link
        # issued by the mail worker, a change of address, a deactivation): taken the other
        # way round, a reset link decided meanwhile would deadlock with this on PostgreSQL.
        lock_user_row(found.user)
        used = tokens.token_consume(token, purpose=tokens.Purpose.PASSWORD_RESET)
        if used is None:
            raise FlowError(AccountsError.TOKEN_INVALID, _(INVALID_LINK))
        user = used.user
        _set_password(request, user, new_password, reason="password_reset", keep_current=False)
        lockout.recovered(user)  # the new password is checked, whatever the guesses before
        if mark_verified_if_free(request, user=user, email=used.email):
            # Its first proof: the password nobody had proven is replaced and every session
            # ended above; the addresses added until now go too (see magic_link_login).
            addresses_unproven_remove(request, user=user)
        signals.password_reset_completed.send(sender=user.__class__, request=request, user=user)
    return user


@sensitive_variables("new_password")
def password_required_change(request, *, user, new_password: str) -> None:
    """The "choose a new password" login stage."""
    if credentials.password_matches(user, new_password):
        raise FlowError(
            AccountsError.PASSWORD_INVALID, _("Choose a password different from the old one."),
            field="new_password",
        )
    password_check(new_password, user, field="new_password")
    with transaction.atomic():
        _set_password(request, user, new_password, reason="password_changed", keep_current=False)
        pipeline.state_password_set(request, user)
        signals.password_changed.send(sender=user.__class__, request=request, user=user)
