"""Registering a passkey: options, verification, and keeping it."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from accounts import authrecord
from accounts.errors import FlowError
from accounts.flows.email import address_proven_required
from accounts.users import account_row_lock
from passkeys import ceremonies, signals
from passkeys.app_settings import app_settings
from passkeys.errors import PasskeyError
from passkeys.flows.common import (
    CEREMONY_REGISTER,
    _email,
    _notice,
    amr_for,
    passkey_name,
    provider_name,
    user_handle,
)
from passkeys.models import Passkey


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
    passkey = passkey_store(request, user=user, registered=registered, name=name)
    if ceremony == CEREMONY_REGISTER and getattr(request, "user", None) == user:
        # The signed-in user just created the passkey with their authenticator, as an app
        # is proven by its first code: this session has proven it, so a session that adds
        # its account's first second factor can still manage it (a sensitive action asks
        # for two factors once the account has a second one). The amr is the one a sign-in
        # with this passkey would give; the session key changes, as for any step-up.
        authrecord.record_step_up(request, amr_for(backup_eligible=registered.backup_eligible,
                                                   user_verified=registered.user_verified))
    return passkey


def passkey_store(request, *, user, registered, name: str = "") -> Passkey:
    """Keep a verified registration (``ceremonies.verify_registration``) as a passkey of
    ``user``; the passkey is announced and the user told."""
    name = passkey_name(name) or provider_name(registered.aaguid) or _("Passkey")
    duplicate = FlowError(PasskeyError.DUPLICATE, _("This passkey is already registered."))
    with transaction.atomic():
        # Options are asked for in one session and verified later, maybe beside others
        # asked for in other sessions: the limit is checked again here, under the user's
        # row lock, so registrations finishing at once take turns and count each other.
        account_row_lock(user)
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
