"""Passkey flows: register, sign in (passwordless or as a second factor), manage."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts import authrecord, pipeline
from accounts import signals as account_signals
from accounts.errors import AccountsError, FlowError
from accounts.exports import when
from accounts.flows.email import address_proven_required
from accounts.users import lock_user_row
from authsuite import context, notices, ratelimit
from authsuite.outbox import mail_enqueue
from authsuite.text import BIDI_CONTROLS, has_visible_character
from passkeys import ceremonies, signals
from passkeys.app_settings import app_settings
from passkeys.errors import PasskeyError
from passkeys.models import Passkey, WebAuthnUser

CEREMONY_REGISTER = "register"
CEREMONY_LOGIN = "login"
CEREMONY_SECOND_FACTOR = "second_factor"
CEREMONY_REAUTH = "reauthenticate"


@lru_cache(maxsize=1)
def _aaguids() -> dict[str, str]:
    return json.loads((Path(__file__).parent / "data" / "aaguids.json").read_text())


def provider_name(aaguid: str) -> str:
    """The authenticator's product name from the bundled AAGUID table, or ""."""
    return _aaguids().get((aaguid or "").lower(), "")


def _email(user) -> str:
    return getattr(user, get_user_model().get_email_field_name(), "") or ""


def user_handle(user) -> str:
    row, _ = WebAuthnUser.objects.get_or_create(
        user=user, defaults={"handle": ceremonies.new_handle()}
    )
    return row.handle


def amr_for(*, backup_eligible: bool, user_verified: bool) -> list[str]:
    """RFC 8176: a synced passkey is a software-secured key (swk), a device-bound one a
    hardware-secured key (hwk); user verification adds ``user`` (a second factor kind)."""
    values = ["swk" if backup_eligible else "hwk"]
    if user_verified:
        values.append("user")
    return values


# Registration ---------------------------------------------------------------------

def _limit_reached() -> FlowError:
    return FlowError(PasskeyError.LIMIT, _("You have the most passkeys allowed."))


def register_options(request, *, user) -> dict:
    if Passkey.objects.filter(user=user).count() >= app_settings.MAX_PASSKEYS:
        raise _limit_reached()
    address_proven_required(user, adding=_("a passkey"))
    exclude = list(Passkey.objects.filter(user=user).values_list("credential_id", flat=True))
    return ceremonies.registration_options(
        request, user=user, handle=user_handle(user), name=_email(user),
        display_name=getattr(user, "name", "") or _email(user), exclude=exclude,
        user_id=str(user.pk),
    )


def register_verify(request, *, user, credential, name: str = "",
                    ceremony: str = CEREMONY_REGISTER) -> Passkey:
    stored = ceremonies.take_challenge(request, ceremony)
    if stored.get("user_id") != str(user.pk):
        raise ceremonies.invalid()
    if ceremony == CEREMONY_REGISTER:
        address_proven_required(user, adding=_("a passkey"))
    registered = ceremonies.verify_registration(credential, challenge=stored["challenge_bytes"])
    return passkey_store(request, user=user, registered=registered, name=name)


def passkey_store(request, *, user, registered, name: str = "") -> Passkey:
    """Keep a verified registration (``ceremonies.verify_registration``) as a passkey of
    ``user``; the passkey is announced and the user told."""
    name = passkey_name(name) or provider_name(registered.aaguid) or _("Passkey")
    duplicate = FlowError(PasskeyError.DUPLICATE, _("This passkey is already registered."))
    with transaction.atomic():
        # Options are asked for in one session and verified later, maybe beside others
        # asked for in other sessions: the limit is checked again here, under the user's
        # row lock, so registrations finishing at once take turns and count each other.
        lock_user_row(user)
        if Passkey.objects.filter(user=user).count() >= app_settings.MAX_PASSKEYS:
            raise _limit_reached()
        if Passkey.objects.filter(credential_id=registered.credential_id).exists():
            raise duplicate
        try:
            # The unique index decides a race between two registrations of one credential.
            with transaction.atomic():
                passkey = Passkey.objects.create(
                    user=user, credential_id=registered.credential_id,
                    public_key=registered.public_key, sign_count=registered.sign_count,
                    aaguid=registered.aaguid, name=name, transports=registered.transports,
                    attestation_format=registered.fmt,
                    backup_eligible=registered.backup_eligible,
                    backup_state=registered.backup_state,
                    user_verified=registered.user_verified,
                )
        except IntegrityError:
            raise duplicate from None
        signals.passkey_added.send(sender=Passkey, request=request, user=user,
                                   passkey_id=passkey.pk, name=passkey.name,
                                   aaguid=passkey.aaguid)
        _notice(request, user, "passkeys.added", _("A passkey was added"),
                _("A passkey named “%(name)s” was added to your account.") % {"name": name})
    return passkey


# Authentication -------------------------------------------------------------------

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
        raise FlowError(AccountsError.NO_LOGIN_PENDING, _("Your sign-in expired. Start again."),
                        status=409)
    return state, user


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
            # of factor twice is still one factor (and this use is not recorded).
            raise FlowError(PasskeyError.NOT_SECOND_FACTOR, _(
                "This passkey is the same kind of factor as the one you signed in with. "
                "Use your authenticator app or a recovery code."))
        return pipeline.stage_passed(request, "mfa", amr=amr)

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


# Management -----------------------------------------------------------------------

def can_sign_in_without(user, passkey: Passkey) -> bool:
    """Whether removing ``passkey`` leaves the user a way to sign in."""
    if user.has_usable_password():
        return True
    return Passkey.objects.filter(user=user, flagged_at__isnull=True).exclude(
        pk=passkey.pk).exists()


def passkey_name(name: str) -> str:
    """A passkey's name as it is kept and shown: without control characters or the bidi
    controls that make text read otherwise than it is, trimmed, 100 characters at most;
    empty when nothing in it would show (zero-width characters alone)."""
    name = "".join(c for c in (name or "") if unicodedata.category(c) != "Cc"
                   and c not in BIDI_CONTROLS).strip()[:100]
    return name if has_visible_character(name) else ""


def passkey_rename(request, *, user, passkey_id: int, name: str) -> Passkey:
    name = passkey_name(name)
    passkey = Passkey.objects.filter(user=user, pk=passkey_id).first()
    if passkey is None:
        raise FlowError(PasskeyError.NOT_FOUND, _("No such passkey."), status=404)
    if not name:
        raise FlowError("invalid", _("Give the passkey a name."), field="name")
    Passkey.objects.filter(pk=passkey.pk).update(name=name)
    passkey.name = name
    signals.passkey_renamed.send(sender=Passkey, request=request, user=user,
                                 passkey_id=passkey.pk, name=name)
    return passkey


def _delete(request, *, user, passkey: Passkey, by, **told) -> None:
    """Delete ``passkey`` (locked by the caller) and record it: ``passkey_removed``, with
    ``told`` saying how the user hears of it when not by a message of its own."""
    passkey_id = passkey.pk
    passkey.delete()
    signals.passkey_removed.send(sender=Passkey, request=request, user=user,
                                 passkey_id=passkey_id, name=passkey.name, by=by, **told)


def passkey_remove(request, *, user, passkey_id: int, by=None) -> None:
    with transaction.atomic():
        passkey = Passkey.objects.select_for_update().filter(user=user, pk=passkey_id).first()
        if passkey is None:
            raise FlowError(PasskeyError.NOT_FOUND, _("No such passkey."), status=404)
        if by is None and not can_sign_in_without(user, passkey):
            raise FlowError(PasskeyError.LAST_CREDENTIAL, _(
                "This is the only way you can sign in. Add another passkey or set a password "
                "first."))
        _delete(request, user=user, passkey=passkey, by=by)
        _notice(request, user, "passkeys.removed", _("A passkey was removed"),
                _("The passkey “%(name)s” was removed from your account.") % {"name": passkey.name})


def passkeys_remove(request, *, user, passkey_ids: list[int], by) -> int:
    """Staff (``by``) remove the passkeys ``passkey_ids`` of ``user`` at once (the passkey
    admin's action), flagged ones and the last way in too. Each removal is recorded on its
    own (``passkey_removed``); the user is told once, in the same transaction: of one
    passkey as when it is removed alone, of several by how many (:func:`removed_summary`),
    their events carrying ``batch``. Returns how many were removed (ids no longer there, or
    another user's, are passed over)."""
    with transaction.atomic():
        passkeys = list(Passkey.objects.select_for_update()
                        .filter(user=user, pk__in=passkey_ids).order_by("pk"))
        if len(passkeys) == 1:
            passkey_remove(request, user=user, passkey_id=passkeys[0].pk, by=by)
            return 1
        for position, passkey in enumerate(passkeys, start=1):
            # Every event says which of how many it is: an alert rule sends the one message
            # with the first, reading the count from it; without one, the notice below.
            _delete(request, user=user, passkey=passkey, by=by,
                    batch=(position, len(passkeys)))
        if passkeys:
            _notice(request, user, "passkeys.removed", _("Passkeys were removed"),
                    removed_summary(len(passkeys)))
    return len(passkeys)


def passkeys_remove_all(user, *, request=None, by=None) -> None:
    """Staff resetting two-step verification: every passkey of ``user`` goes, flagged ones
    too, each recorded (``passkey_removed`` with ``reset``); the reset's own message tells
    the user, once for all of them. The passkeys factor's remover (``mfa.registry``): the
    reset counts the rows itself, before it calls this."""
    with transaction.atomic():
        for passkey in Passkey.objects.select_for_update().filter(user=user).order_by("pk"):
            _delete(request, user=user, passkey=passkey, by=by, reset=True)


def describe(count: int) -> str:
    """``count`` passkeys, as a staff reset's message names them, and as the message of
    staff removing several names them (:func:`removed_summary`)."""
    return ngettext("%(n)d passkey", "%(n)d passkeys", count) % {"n": count}


def removed_summary(count: int) -> str:
    """What the user is told of staff removing ``count`` of their passkeys at once, in one
    wording whoever tells it: this app's notice, or the audit trail's alert from the first
    removal's ``batch``."""
    return _("Staff removed %(removed)s from your account; they no longer sign you in.") % {
        "removed": describe(count)}


def _notice(request, user, notice: str, subject: str, summary: str) -> None:
    if notices.is_claimed(notice):
        return
    from authsuite.useragent import device_name

    ctx = context.current()
    mail_enqueue(template="passkeys/email/notice", to=_email(user), user=user, context={
        "subject": str(subject), "summary": str(summary),
        "device": device_name(ctx.user_agent), "ip": ctx.ip or "unknown",
    })


def export_section(user) -> list[dict]:
    """The account export's ``passkeys`` section: what each passkey is and when it was
    used, never its credential id or public key."""
    return [
        {"name": p.name, "aaguid": p.aaguid, "transports": p.transports,
         "synced": p.backup_state, "user_verified": p.user_verified,
         "created_at": when(p.created_at), "last_used_at": when(p.last_used_at),
         "flagged_at": when(p.flagged_at)}
        for p in Passkey.objects.filter(user=user).order_by("pk")
    ]
