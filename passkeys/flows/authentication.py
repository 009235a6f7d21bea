"""Signing in with a passkey: passwordless, as a second factor, or to reauthenticate."""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import authrecord, pipeline
from accounts import signals as account_signals
from accounts.errors import AccountsError, FlowError
from authsuite import context, ratelimit
from passkeys import ceremonies, signals
from passkeys.app_settings import app_settings
from passkeys.errors import PasskeyError
from passkeys.flows.common import (
    CEREMONY_LOGIN,
    CEREMONY_REAUTH,
    CEREMONY_SECOND_FACTOR,
    _notice,
    amr_for,
    user_handle,
)
from passkeys.models import Passkey


def login_options(request) -> dict:
    """Usernameless sign-in: no allowCredentials, the authenticator offers its passkeys."""
    _rate_limit(request, "login")
    return ceremonies.authentication_options(request, ceremony=CEREMONY_LOGIN)


def _rate_limit(request, group: str) -> None:
    rates = app_settings.RATE_LIMITS.get(group, {})
    decision = ratelimit.check_all(request, group=f"passkeys.{group}", limits={
        "ip": (rates.get("ip"), context.limit_key(context.current().ip)),
    })
    if decision.limited:
        raise FlowError(AccountsError.RATE_LIMITED,
                        _("Too many attempts. Try again in %(n)d seconds.") % {
                            "n": decision.retry_after},
                        retry_after=decision.retry_after)


def _second_factor_state(request) -> tuple[pipeline.LoginState, object]:
    """The pending sign-in and its user, when its current step is the second factor.

    Like every stage, this one acts only as the sign-in's next step, never as a shortcut
    past another stage."""
    state = pipeline.state_get(request)
    user = state.user() if state else None
    stage = pipeline.stage_current(request) if user is not None else None
    if stage is None or stage.key != "mfa":
        raise _no_login_pending()
    return state, user


def _no_login_pending() -> FlowError:
    return FlowError(AccountsError.NO_LOGIN_PENDING, _("Your sign-in expired. Start again."),
                     status=409)


def second_factor_options(request) -> dict:
    _state, user = _second_factor_state(request)
    allow = list(Passkey.objects.filter(user=user, flagged_at__isnull=True)
                 .values_list("credential_id", flat=True))
    return ceremonies.authentication_options(request, ceremony=CEREMONY_SECOND_FACTOR,
                                             allow=allow, user_id=str(user.pk))


def usable_passkeys(user):
    """The passkeys of ``user`` that may still be used: not flagged as cloned."""
    return Passkey.objects.filter(user=user, flagged_at__isnull=True)


def reauth_button(request) -> dict | None:
    """The reauthentication page's passkey button, for an account with a passkey it may
    use (a flagged one is refused: the button would only lead to that refusal)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not usable_passkeys(user).exists():
        return None
    return {}


def second_factor_button(request, page: dict | None = None) -> dict | None:
    """The sign-in's second-factor page's passkey button, for a pending sign-in whose
    account has a passkey it may use: an account with an app alone has none to offer.

    The page's context (``page``) names the ways through the stage the account has now
    (``ways``: ``"passkey"`` for a passkey it may use), read by the page for its own forms:
    then nothing is read again. A page that does not name them has the pending account and
    its passkeys read here."""
    ways = (page or {}).get("ways")
    if ways is not None:
        return {} if "passkey" in ways else None
    state = pipeline.state_get(request)
    user = state.user() if state is not None else None
    if user is None or not usable_passkeys(user).exists():
        return None
    return {}


def reauth_options(request, *, user) -> dict:
    allow = list(usable_passkeys(user).values_list("credential_id", flat=True))
    return ceremonies.authentication_options(request, ceremony=CEREMONY_REAUTH, allow=allow,
                                             user_id=str(user.pk))


def _assert(request, credential, *, ceremony: str, expected_user_id: str | None,
            then: Callable[[Passkey, list[str]], object]):
    """Verify an assertion for ``ceremony``, then return ``then(passkey, amr)``.

    The challenge is taken (deleted) before anything is checked, so a response can be
    tried once. The passkey row is locked while its counter is compared and updated, so
    two assertions racing with one counter value cannot both pass. ``then`` (signing in,
    passing a stage) runs in the same transaction as the counter update: both happen or
    neither does.
    """
    stored = ceremonies.take_challenge(request, ceremony)
    credential, credential_id = ceremonies.credential_id_of(credential)
    handle = ceremonies.user_handle_of(credential)
    # A refusal is raised only once the block has committed: the audit event of a failure
    # and the flag on a cloned credential must outlive the refused request.
    refusal = None
    with transaction.atomic():
        try:
            passkey, asserted = _assert_locked(
                request, credential, credential_id=credential_id, handle=handle,
                challenge=stored["challenge_bytes"], ceremony=ceremony,
                expected_user_id=expected_user_id,
            )
        except FlowError as error:
            refusal = error
        else:
            return then(passkey, amr_for(backup_eligible=asserted.backup_eligible,
                                         user_verified=asserted.user_verified))
    raise refusal


def _assert_locked(request, credential: dict, *, credential_id: str, handle: str | None,
                   challenge: bytes, ceremony: str, expected_user_id: str | None):
    # Only the passkey row is locked: FOR UPDATE over the join would lock the user's row too.
    passkey = (Passkey.objects.select_for_update(of=("self",)).select_related("user")
               .filter(credential_id=credential_id).first())
    if passkey is None or not passkey.user.is_active:
        _failed(request, None, ceremony, "unknown_credential")
        raise FlowError(PasskeyError.UNKNOWN_CREDENTIAL, _("This passkey is not registered here."))
    user = passkey.user
    if expected_user_id is not None and str(user.pk) != expected_user_id:
        # Someone else's passkey offered for this user's sign-in: as if it were unknown.
        _failed(request, None, ceremony, "other_user")
        raise FlowError(PasskeyError.UNKNOWN_CREDENTIAL, _("This passkey is not registered here."))
    if handle is not None and handle != user_handle(user):
        _failed(request, user, ceremony, "user_handle_mismatch")
        raise ceremonies.invalid()
    if expected_user_id is None and handle is None:
        # Usernameless: the user handle is what names the account; a discoverable
        # credential always returns it.
        _failed(request, user, ceremony, "user_handle_missing")
        raise ceremonies.invalid()
    if passkey.flagged_at is not None:
        _failed(request, user, ceremony, "flagged")
        raise FlowError(PasskeyError.CLONED, _("This passkey was disabled for safety. "
                                               "Sign in another way and remove it."))
    try:
        asserted = ceremonies.verify_assertion(
            credential, challenge=challenge, public_key=bytes(passkey.public_key),
            sign_count=passkey.sign_count,
        )
    except ceremonies.CounterWentBackwards as exc:
        received = exc.args[0] if exc.args else 0
        Passkey.objects.filter(pk=passkey.pk).update(flagged_at=timezone.now())
        signals.passkey_clone_detected.send(
            sender=Passkey, request=request, user=user, passkey_id=passkey.pk,
            stored_count=passkey.sign_count, received_count=received,
        )
        # The owner is told whether or not an alert rule is in force (the audit trail's
        # PasskeyCloned claims this notice when it is): someone may hold a copy.
        _notice(request, user, "passkeys.cloned", _("A passkey was disabled"), _(
            "Your passkey “%(name)s” answered with a counter lower than before, which is what "
            "a copied authenticator does, so it was disabled. Sign in another way, remove it "
            "and create a new one.") % {"name": passkey.name})
        raise FlowError(PasskeyError.CLONED, _(
            "This passkey looks copied (its counter went backwards); it was disabled. "
            "Sign in another way.")) from None
    except FlowError:
        _failed(request, user, ceremony, "verification")
        raise
    if passkey.backup_eligible != asserted.backup_eligible:
        # Backup eligibility is fixed when the credential is created (WebAuthn §6.1.3).
        _failed(request, user, ceremony, "backup_flags")
        raise ceremonies.invalid()
    Passkey.objects.filter(pk=passkey.pk).update(
        sign_count=asserted.new_sign_count, backup_state=asserted.backup_state,
        last_used_at=timezone.now(),
    )
    signals.passkey_used.send(sender=Passkey, request=request, user=user,
                              passkey_id=passkey.pk, ceremony=ceremony)
    return passkey, asserted


def _failed(request, user, ceremony: str, reason: str) -> None:
    signals.passkey_failed.send(sender=Passkey, request=request, user=user, ceremony=ceremony,
                                reason=reason)


def login_verify(request, *, credential, next_url: str = "") -> pipeline.LoginResult:
    """Passwordless sign-in. With user verification it is multi-factor on its own."""
    return _assert(request, credential, ceremony=CEREMONY_LOGIN, expected_user_id=None,
                   then=lambda passkey, amr: pipeline.login_begin(
                       request, user=passkey.user, method="passkey", amr=amr, next_url=next_url))


def second_factor_verify(request, *, credential) -> pipeline.LoginResult:
    state, user = _second_factor_state(request)

    def passed(_passkey, amr):
        if "mfa" not in authrecord.combine([*state.amr, *amr]):
            # A passkey without user verification after a passkey sign-in: the same kind
            # of factor twice is still one factor (and this use is not recorded). So would
            # a code be (mfa.flows.challenge refuses it too).
            raise FlowError(PasskeyError.NOT_SECOND_FACTOR, _(
                "This passkey is the same kind of factor as the one you signed in with. Sign "
                "in with your password or an emailed link instead, or use a passkey that "
                "asks for your PIN or biometrics."))
        result = pipeline.stage_passed(request, "mfa", amr=amr)
        if result is None:
            # The sign-in ended while the passkey was checked (the password changed, the
            # account disabled, the time up): raised in the ceremony's transaction, so
            # the passkey's counter and its use are not recorded.
            raise _no_login_pending()
        return result

    return _assert(request, credential, ceremony=CEREMONY_SECOND_FACTOR,
                   expected_user_id=str(user.pk), then=passed)


def reauth_verify(request, *, user, credential) -> dict:
    def refreshed(_passkey, amr):
        record = authrecord.record_step_up(request, amr)
        # Reported like a password or an emailed link: whatever listens for "the user
        # confirmed it is them" (the audit log, alert rules) hears of every way to do it.
        account_signals.reauthenticated.send(sender=user.__class__, request=request,
                                             user=user, method="passkey")
        return record

    return _assert(request, credential, ceremony=CEREMONY_REAUTH,
                   expected_user_id=str(user.pk), then=refreshed)
