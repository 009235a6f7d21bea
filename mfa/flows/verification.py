"""Flows that check a code: the second-factor stage of a sign-in and the step-up of a
signed-in user, with the failures, the lock and the alert they lead to."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

from accounts import authrecord, pipeline
from accounts.errors import FlowError
from accounts.users import lock_user_row
from authsuite import signals as core_signals
from mfa import codes, devices, signals
from mfa.app_settings import app_settings
from mfa.codes import Code
from mfa.errors import MFAError, WrongCode
from mfa.flows.common import codes_limit, factor_notice
from mfa.models import RecoveryCodeSet, TOTPDevice

FAILURES_KEY = "_authsuite_mfa_failures"


@contextmanager
def code_checked(request, *, user, code: Code) -> Iterator[str]:
    """Check a TOTP or recovery code for ``user`` (read by ``mfa.codes.read``, before it
    is counted or spent, so every spelling of one code is that code); the body runs once
    it is accepted, with the method that matched (``"totp"``/``"recovery_code"``).

    Not marked with ``sensitive_variables``, which cannot reach a generator's frame: it
    holds the code only as a :class:`~mfa.codes.Code`, whose ``repr`` leaves the text out.

    The code's use and whatever the body does with it (audit events, a rotated session, a
    completed sign-in) commit together, in one transaction. A wrong code raises
    ``WrongCode`` (a throttled device FlowError), after its failure is recorded.
    """
    codes_limit(request, user)
    method = code.method
    device = devices.totp_device(user) if method == codes.TOTP else devices.recovery_set(user)
    if device is None:
        raise WrongCode()
    with transaction.atomic():
        if method == codes.RECOVERY_CODE:
            # The user's row before the codes' rows, in the order the last factor's removal
            # and new codes take them (the removal deletes the codes under that lock); the
            # other order, codes then the user's row for last_login, could deadlock the two.
            # An app's code takes the app's row first, as its removal does.
            lock_user_row(user)
        ok, locked_until = devices.throttled_check(device, code.text)
        if ok:
            if method == codes.RECOVERY_CODE:
                remaining = device.remaining()
                signals.recovery_code_used.send(sender=RecoveryCodeSet, request=request,
                                                user=user, remaining=remaining)
                factor_notice(request, user, "mfa.recovery_code_used",
                        subject=_("A recovery code was used"),
                        summary=_("A recovery code was used to sign in. %(n)d codes remain; "
                                  "create new ones if you are running low.") % {"n": remaining})
            yield method
            return
    # Out of the transaction: the failure just recorded must stay recorded.
    if locked_until is not None:
        raise _backed_off(request, locked_until)
    raise WrongCode(failures=device.throttling_failure_count)


def _backed_off(request, locked_until) -> FlowError:
    """The refusal of a code the device's back-off did not even check: a limit hit like a
    rate limit's, so recorded as one (``rate_limited``, for the account), and answered with
    the wait left, which doubles with each wrong code."""
    wait = max(math.ceil((locked_until - timezone.now()).total_seconds()), 1)
    core_signals.rate_limited.send(sender=HttpRequest, request=request, group="mfa.device",
                                   scope="account", retry_after=wait)
    return FlowError(MFAError.THROTTLED, _("Too many wrong codes. Wait a moment and try again."),
                     field="code", retry_after=wait)


@sensitive_variables("code")
def challenge(request, *, code: str) -> pipeline.LoginResult:
    """The MFA login stage: the pending sign-in's user proves a second factor."""
    typed = codes.read(code)
    state = pipeline.state_get(request)
    user = state.user() if state else None
    # Only when the sign-in waits for this stage: a code checked for a sign-in waiting for
    # another step would be used up for nothing (and no stage could be passed with it).
    if user is None or state.waiting != "mfa":
        raise _no_login_pending()
    if not devices.code_completes(state.amr):
        # One kind of factor twice (mfa.devices.code_completes). Refused before the code
        # is checked, so it is neither spent nor counted as a wrong one.
        raise FlowError(MFAError.NOT_SECOND_FACTOR, _(
            "A code is the same kind of factor as the passkey you signed in with. Sign in "
            "with your password or an emailed link instead, or use a passkey that asks for "
            "your PIN or biometrics."), field="code")
    try:
        with code_checked(request, user=user, code=typed) as method:
            request.session.pop(FAILURES_KEY, None)
            signals.challenge_succeeded.send(sender=TOTPDevice, request=request, user=user,
                                             method=method)
            result = pipeline.stage_passed(request, "mfa", amr=["otp"])
            if result is None:
                # The sign-in ended while the code was checked: the password changed or
                # the account was disabled meanwhile, or its time ran out. Raised in the
                # code's transaction, so the code stays unused and no success is recorded.
                raise _no_login_pending()
            return result
    except WrongCode as error:
        failures = _failures(request, user) + 1
        request.session[FAILURES_KEY] = {"user": str(user.pk), "count": failures}
        signals.challenge_failed.send(sender=TOTPDevice, request=request, user=user,
                                      method=typed.method, failures=failures)
        # In one sign-in, or across sign-ins started afresh for each guess: every
        # CHALLENGE_MAX_FAILURES wrong codes in a row on the account's device.
        limit = app_settings.CHALLENGE_MAX_FAILURES
        if failures >= limit or (error.failures and error.failures % limit == 0):
            _lock(request, user)
            raise FlowError(MFAError.LOCKED, _("Too many wrong codes. Sign in again."),
                            status=429, retry_after=app_settings.THROTTLE_FACTOR) from None
        raise


def _no_login_pending() -> FlowError:
    return FlowError(MFAError.NO_LOGIN_PENDING, _("Your sign-in expired. Start again."),
                     status=409)


def _failures(request, user) -> int:
    """Wrong codes this browser entered for ``user``'s sign-ins. Counted for the account:
    codes typed for another account in the same browser (one given up on before signing in
    to this one) would lock this sign-in early and alert its owner of guesses never made."""
    stored = request.session.get(FAILURES_KEY)
    if not isinstance(stored, dict) or stored.get("user") != str(user.pk):
        return 0
    count = stored.get("count")
    return count if isinstance(count, int) else 0


def _lock(request, user) -> None:
    """Abandon the sign-in after too many wrong codes, and tell the user: whoever typed
    them knew the password."""
    request.session.pop(FAILURES_KEY, None)
    pipeline.state_clear(request)
    _wrong_codes_alert(request, user)


def _wrong_codes_alert(request, user) -> None:
    """Tell the user that several wrong codes in a row were entered for their account."""
    with transaction.atomic():
        signals.challenge_locked.send(sender=TOTPDevice, request=request, user=user)
        factor_notice(request, user, "mfa.challenge_locked", subject=_("Repeated wrong two-step codes"),
                summary=_("Someone got past the first step of signing in to your account "
                          "(your password or a sign-in link) but then entered several wrong "
                          "two-step codes. Change your password now."))


@sensitive_variables("code")
def step_up(request, *, user, code: str) -> dict:
    """A signed-in user proves a second factor again (the admin, a sensitive page).

    Returns the refreshed authentication record. Failures are audited like those of a
    sign-in and alert the user the same way; the rate limits and the device's back-off
    bound them.
    """
    typed = codes.read(code)
    try:
        with code_checked(request, user=user, code=typed) as method:
            signals.challenge_succeeded.send(sender=TOTPDevice, request=request, user=user,
                                             method=method)
            return authrecord.record_step_up(request, ["otp"])
    except WrongCode as error:
        signals.challenge_failed.send(sender=TOTPDevice, request=request, user=user,
                                      method=typed.method, failures=None)
        # Whoever holds a signed-in session may guess here as well as at a sign-in, on the
        # same device: every CHALLENGE_MAX_FAILURES wrong codes in a row, the user is told.
        # There is no sign-in to abandon; the device's back-off still slows the guesses.
        if error.failures and error.failures % app_settings.CHALLENGE_MAX_FAILURES == 0:
            _wrong_codes_alert(request, user)
        raise
