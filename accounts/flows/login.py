"""Password sign-in, sign-out and reauthentication."""

from __future__ import annotations

from django.contrib import auth
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.debug import sensitive_variables

from accounts import authrecord, credentials, lockout, pipeline, sessions, signals
from accounts.errors import AccountsError, FlowError
from accounts.flows.limits import humanize, rate_limit
from accounts.models import normalize_email
from accounts.users import get_by_email
from authsuite import context

# Marked for makemessages, translated where raised (as every constant read through _() is).
GENERIC_FAILURE = gettext_noop("The email address or password is incorrect.")


@sensitive_variables("password")
def password_login(
    request, *, email: str, password: str, remember: bool = False, next_url: str = ""
) -> pipeline.LoginResult:
    """Check an email and password and begin the login pipeline.

    Every failure says the same thing, whether the address exists or not.
    """
    user = password_check(request, email=email, password=password)
    return pipeline.login_begin(
        request, user=user, method="password", amr=["pwd"], remember=remember,
        next_url=next_url,
    )


@sensitive_variables("password")
def password_check(request, *, email: str, password: str):
    """The user whose login address and password these are, checked under every protection
    of a sign-in (lockout, rate limits, failure records); FlowError otherwise."""
    identifier = normalize_email(email)
    ip = context.current().ip
    device = lockout.device_of(request, identifier)
    # Per account, only attempts from an IP in good standing with this account count: an
    # attacker's IP, once locked out of it, cannot rate-limit the account for its owner.
    # A browser the account signed in with has its own limit, apart from everyone else's.
    standing = lockout.standing(identifier, ip, device)
    rate_limit(request, "login", account=(
        f"{identifier} {lockout.DEVICE_PREFIX}{device.id}" if device
        else identifier if standing.counts_account_wide else None))
    wait = standing.retry_after
    if wait or standing.password_blocked:
        known = get_by_email(identifier)
        signals.login_failed.send(
            sender=known.__class__, request=request, user=known, identifier=identifier,
            method="password", reason="blocked" if standing.password_blocked else "locked",
        )
        raise blocked() if standing.password_blocked else locked(wait)
    request._authsuite_flow = True  # this flow records the failure itself
    user = auth.authenticate(request, email=identifier, password=password)
    if user is None:
        lockout.failure_record(request, identifier, ip, device)
        known = get_by_email(identifier)
        signals.login_failed.send(
            sender=known.__class__, request=request, user=known,
            identifier=identifier, method="password", reason="credentials",
        )
        raise FlowError(AccountsError.INVALID_CREDENTIALS, _(GENERIC_FAILURE))
    lockout.success_record(identifier, ip, has_history=standing.has_history, device=device)
    return user


def locked(wait: int) -> FlowError:
    """The refusal of a password check while the lockout holds, ``wait`` seconds more."""
    return FlowError(
        AccountsError.ACCOUNT_LOCKED,
        _("Too many failed attempts. Try again in %(time)s.") % {"time": humanize(wait)},
        retry_after=wait,
    )


def blocked() -> FlowError:
    """The refusal of a password check once the consecutive-failure limit is reached."""
    return FlowError(
        AccountsError.PASSWORD_BLOCKED,
        _("Too many failed attempts in a row: the password of this account is paused. "
          "Sign in with an emailed link or a passkey, or reset the password."),
    )


def logout(request) -> None:
    """Sign out; in a session not signed in, abandon the sign-in in progress, so that the
    next person at this browser cannot finish it."""
    user = request.user
    if not user.is_authenticated:
        pipeline.state_clear(request)
        return
    sid = sessions.current_session_id(request)
    if sid is not None:
        sessions.sessions_end(user, request=request, reason="logout", only=sid)
    sessions.signed_out(request)
    signals.logged_out.send(sender=user.__class__, request=request, user=user)


@sensitive_variables("password")
def reauthenticate(request, *, password: str) -> None:
    """Confirm the signed-in user's password and refresh the authentication record."""
    user = request.user
    confirm_password(request, user=user, password=password, method="reauthenticate")
    authrecord.record_step_up(request, ["pwd"])
    signals.reauthenticated.send(sender=user.__class__, request=request, user=user, method="password")


@sensitive_variables("password")
def confirm_password(request, *, user, password: str, method: str,
                     field: str = "password") -> None:
    """Check the signed-in ``user``'s current password; FlowError on ``field`` otherwise.

    A stolen session cookie must not become a way around the lockout: failed checks count
    against the account's address like failed sign-ins, and share the reauthentication
    rate limit.
    """
    identifier = lockout.user_identifier(user)
    ip = context.current().ip
    device = lockout.device_of(request, identifier)
    standing = lockout.standing(identifier, ip, device)
    rate_limit(request, "reauthenticate", account=str(user.pk))
    if standing.password_blocked:
        raise blocked()
    if standing.retry_after:
        raise locked(standing.retry_after)
    if not credentials.password_matches(user, password):
        lockout.failure_record(request, identifier, ip, device)
        signals.login_failed.send(
            sender=user.__class__, request=request, user=user, identifier="",
            method=method, reason="credentials",
        )
        raise FlowError(
            AccountsError.PASSWORD_INCORRECT, _("The password is incorrect."), field=field
        )
    lockout.success_record(identifier, ip, has_history=standing.has_history, device=device)
