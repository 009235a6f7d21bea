"""Flows of the authenticator app: its setup, turning it on with a code, removing it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

from accounts.errors import FlowError
from accounts.flows.email import address_proven_required
from accounts.users import account_row_lock
from mfa import codes, devices, recovery, signals, totp, trust
from mfa.errors import MFAError
from mfa.flows.common import address_of, codes_limit, factor_notice
from mfa.flows.factors import factor_removed
from mfa.models import RecoveryCodeSet, TOTPDevice


@dataclass
class Setup:
    """An authenticator app's setup, as shown to be scanned. Its ``repr`` shows the device
    only: the rest is the key, which an error report would show wherever a Setup is."""

    device: TOTPDevice
    uri: str = field(repr=False)
    secret: str = field(repr=False)

    @cached_property
    def svg(self) -> str:
        """The URI as an inline SVG QR code, drawn when a page or an answer shows it: the
        drawing is most of what a setup costs, and the page's button that begins one only
        redirects to the page that shows it."""
        return totp.qr_svg(self.uri)


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
        account_row_lock(user)
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


@sensitive_variables()
def _setup(device: TOTPDevice, user) -> Setup:
    uri = totp.otpauth_uri(device, address_of(user))
    return Setup(device=device, uri=uri, secret=totp.base32(totp.device_key(device)))


def setups_void(user) -> int:
    """End every authenticator-app setup of ``user`` not yet confirmed."""
    return TOTPDevice.objects.filter(user=user, confirmed=False).delete()[0]


@sensitive_variables("code", "new_codes")
def totp_activate(request, *, user, code: str) -> list[str]:
    """Confirm the pending device with a valid code. Returns new recovery codes (shown
    once) when the user had none."""
    typed = codes.read(code)
    codes_limit(request, user)
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
        account_row_lock(user)
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
        factor_notice(request, user, "mfa.totp_added", subject=_("An authenticator app was added"),
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
        factor_notice(request, user, "mfa.totp_removed", subject=_("An authenticator app was removed"),
                summary=_("The authenticator app was removed from your account."))
