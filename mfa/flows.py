"""MFA flows: enrollment, removal, recovery codes, the sign-in challenge, staff reset."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.text import get_text_list
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts import authrecord, pipeline
from accounts.errors import FlowError
from accounts.flows.email import address_proven_required
from accounts.flows.limits import humanize
from accounts.users import lock_user_row
from authsuite import context, notices, ratelimit
from authsuite import signals as core_signals
from authsuite.outbox import mail_enqueue
from mfa import codes, devices, recovery, registry, signals, totp, trust
from mfa.app_settings import app_settings
from mfa.codes import Code
from mfa.errors import MFAError, WrongCode
from mfa.models import RecoveryCode, RecoveryCodeSet, TOTPDevice

FAILURES_KEY = "_authsuite_mfa_failures"


@dataclass
class Setup:
    device: TOTPDevice
    uri: str
    secret: str
    svg: str


def _email(user) -> str:
    return getattr(user, get_user_model().get_email_field_name(), "") or ""


def _already_enrolled() -> FlowError:
    return FlowError(MFAError.ALREADY_ENROLLED,
                     _("An authenticator app is already set up. Remove it first."))


SETUP_KEY = "_authsuite_mfa_setup"
SETUP_LIFETIME = timedelta(minutes=15)


def totp_setup_allowed(user) -> None:
    """Raise the FlowError :func:`totp_setup_begin` would (an app is on already, the address
    is not proven), changing nothing: the setup page says so before offering to begin."""
    if devices.totp_device(user) is not None:
        raise _already_enrolled()
    address_proven_required(user, adding=_("an authenticator app"))


def totp_setup_begin(request, *, user) -> Setup:
    """Start enrolling an authenticator app: a new unconfirmed device with a fresh key, for
    this session only. A setup begun in another session (by whoever had the password for a
    while, say) is never handed to this one to scan."""
    totp_setup_allowed(user)
    with transaction.atomic():
        # Setups begun at once in one session take turns: each replaces the one before.
        lock_user_row(user)
        TOTPDevice.objects.filter(
            Q(pk=request.session.get(SETUP_KEY)) | Q(created_at__lte=_oldest_fresh()),
            user=user, confirmed=False,
        ).delete()
        device = TOTPDevice.objects.create(
            user=user, name="Authenticator app", confirmed=False,
            sealed_key=totp.seal_key(totp.new_key()),
        )
    request.session[SETUP_KEY] = device.pk
    return _setup(device, user)


def totp_setup_pending(request, *, user) -> Setup | None:
    """The setup this session began, while it is fresh."""
    device = _pending_device(request, user)
    if device is None:
        return None
    try:
        return _setup(device, user)
    except totp.KeyUnreadable:
        return None  # sealed before the encryption key changed: begin afresh


def _pending_device(request, user) -> TOTPDevice | None:
    device_id = request.session.get(SETUP_KEY)
    if not isinstance(device_id, int):
        return None
    return TOTPDevice.objects.filter(
        user=user, pk=device_id, confirmed=False, created_at__gt=_oldest_fresh(),
    ).first()


def _oldest_fresh():
    return timezone.now() - SETUP_LIFETIME


def _setup(device: TOTPDevice, user) -> Setup:
    uri = totp.otpauth_uri(device, _email(user))
    return Setup(device=device, uri=uri, secret=totp.base32(totp.device_key(device)),
                 svg=totp.qr_svg(uri))


def setups_void(user) -> int:
    """End every authenticator-app setup of ``user`` not yet confirmed."""
    return TOTPDevice.objects.filter(user=user, confirmed=False).delete()[0]


def _limit(request, user) -> None:
    rates = app_settings.RATE_LIMITS
    decision = ratelimit.check_all(request, group="mfa.challenge", limits={
        "ip": (rates.get("ip"), context.limit_key(context.current().ip)),
        "account": (rates.get("account"), str(user.pk)),
    })
    if decision.limited:
        raise FlowError(MFAError.THROTTLED, _("Too many attempts. Try again in %(t)s.")
                        % {"t": humanize(decision.retry_after)}, retry_after=decision.retry_after)


def totp_activate(request, *, user, code: str) -> list[str]:
    """Confirm the pending device with a valid code. Returns new recovery codes (shown
    once) when the user had none."""
    typed = codes.read(code)
    _limit(request, user)
    device = _pending_device(request, user)
    if device is None:
        raise FlowError(MFAError.NO_PENDING_SETUP, _("Start the setup again."))
    address_proven_required(user, adding=_("an authenticator app"))
    if not totp.verify(device, typed.text):
        raise FlowError(MFAError.CODE_INVALID, _("That code is not valid. Check the time on "
                                                 "your phone and try the current code."),
                        field="code")
    with transaction.atomic():
        # Under the user's row lock, an app turned on a moment ago by another request is
        # seen: a second app would stay a working factor after "the" app is removed.
        lock_user_row(user)
        if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
            raise _already_enrolled()
        # Still pending: a setup begun since in this session replaced it.
        if not TOTPDevice.objects.filter(pk=device.pk, confirmed=False).update(confirmed=True):
            raise FlowError(MFAError.NO_PENDING_SETUP, _("Start the setup again."))
        setups_void(user)  # the ones other sessions began: one app is set up now
        request.session.pop(SETUP_KEY, None)
        new_codes = [] if devices.recovery_set(user) else recovery.generate(user)
        trust.trust_revoke(user, request=request)
        signals.totp_added.send(sender=TOTPDevice, request=request, user=user,
                                device_id=device.pk)
        if new_codes:
            signals.recovery_codes_generated.send(sender=RecoveryCodeSet, request=request,
                                                  user=user, count=len(new_codes), with_app=True)
        _notice(request, user, "mfa.totp_added", subject=_("An authenticator app was added"),
                summary=_("An authenticator app was added to your account for two-step "
                          "verification."))
    return new_codes


def totp_remove(request, *, user) -> None:
    with transaction.atomic():
        # The app's row is locked first: a second removal at once waits, then finds it gone
        # (one removal, one event). The user's row comes after (factor_removed), in the
        # order a sign-in with a code takes them: the app's row, then the user's for
        # last_login; the other order could deadlock the two.
        device = (TOTPDevice.objects.select_for_update()
                  .filter(user=user, confirmed=True).order_by("pk").first())
        if device is None:
            raise FlowError(MFAError.NOT_ENROLLED, _("No authenticator app is set up."))
        device.delete()
        trust.trust_revoke(user, request=request)
        signals.totp_removed.send(sender=TOTPDevice, request=request, user=user,
                                  device_id=device.pk)
        factor_removed(user, request=request, sender=TOTPDevice)
        _notice(request, user, "mfa.totp_removed", subject=_("An authenticator app was removed"),
                summary=_("The authenticator app was removed from your account."))


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
        _notice(request, user, "mfa.recovery_codes_generated",
                subject=_("New recovery codes were created"),
                summary=_("A new set of recovery codes was created; the old codes no longer "
                          "work."))
    return new_codes


@contextmanager
def code_checked(request, *, user, code: Code) -> Iterator[str]:
    """Check a TOTP or recovery code for ``user`` (read by ``mfa.codes.read``, before it
    is counted or spent, so every spelling of one code is that code); the body runs once
    it is accepted, with the method that matched (``"totp"``/``"recovery_code"``).

    The code's use and whatever the body does with it (audit events, a rotated session, a
    completed sign-in) commit together, in one transaction. A wrong code raises
    ``WrongCode`` (a throttled device FlowError), after its failure is recorded.
    """
    _limit(request, user)
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
                _notice(request, user, "mfa.recovery_code_used",
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


def verify_code(request, *, user, code: str) -> str:
    """Check a TOTP or recovery code for ``user``; returns the method that matched.

    Raises FlowError for a wrong code (or a throttled device).
    """
    with code_checked(request, user=user, code=codes.read(code)) as method:
        return method


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
        _notice(request, user, "mfa.challenge_locked", subject=_("Repeated wrong two-step codes"),
                summary=_("Someone got past the first step of signing in to your account "
                          "(your password or a sign-in link) but then entered several wrong "
                          "two-step codes. Change your password now."))


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
        _notice(request, user, "mfa.reset", subject=_("Two-step verification was reset"),
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


def _notice(request, user, notice: str, *, subject: str, summary: str, by=None) -> None:
    """Tell the user about a factor change, unless an alert rule does it; ``by``: the staff
    member who made it (the notice then says staff did, not from where)."""
    if notices.is_claimed(notice):
        return
    mail_enqueue(
        template="mfa/email/notice", to=_email(user), user=user,
        context={"subject": str(subject), "summary": str(summary), **notices.origin(by=by)},
    )
