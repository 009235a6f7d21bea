"""Sign-up with a passkey only (``AUTHSUITE_PASSKEYS_SIGNUP``).

The person gives an email address and a link is mailed to it; opening the link proves the
address, and creating a passkey there creates the account, verified and active, and signs
it in.

Until then there is no account, only a pending sign-up (``PendingSignup``): anyone can type
any address, so what is typed here must not hold the address against its owner. Were an
account made at once (inactive, waiting for the link), its owner could no longer sign up
with the address, nor reset a password or get a sign-in link for it, for as long as the
typist's account stayed. An address some account holds wins over a pending sign-up of it:
the sign-up's link is then dead (``signup_check``).
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db import IntegrityError, router, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.debug import sensitive_variables

from accounts import links, pipeline, tokens
from accounts import signals as account_signals
from accounts.app_settings import app_settings as accounts_settings
from accounts.errors import AccountsError, FlowError
from accounts.flows.email import address_held, address_holder, claims_lock, mark_verified
from accounts.flows.limits import rate_limit
from accounts.flows.mail import send_link
from accounts.flows.signup import address_taken_answer
from accounts.models import EmailAddress, normalize_email
from accounts.users import new_user, stores_is_active, user_email
from authsuite import crypto, db
from passkeys import ceremonies, flows
from passkeys.app_settings import app_settings
from passkeys.errors import PasskeyError
from passkeys.models import Passkey, PendingSignup, WebAuthnUser

CEREMONY = "signup"
INVALID_LINK = gettext_noop(
    "This sign-up link is invalid, expired or already used. Start again.")
#: Digests of sign-up links never match those of another kind of link.
DIGEST_PURPOSE = "passkeys.signup"
#: The outbox guard of sign-up link mails (``link_still_live``).
LINK_GUARD = "passkeys.signup"
#: Where a browser's session keeps the link its sign-up page was opened with
#: (``accounts.links``).
LINK = "passkey_signup"
LINK_DEAD = ("Its sign-up link stopped working before it could be sent: it was used, "
             "replaced by a newer link, or an account took the address.")


def _now():
    """Seam for tests."""
    return timezone.now()


def _enabled() -> None:
    if not app_settings.SIGNUP or not accounts_settings.SIGNUP_OPEN:
        raise FlowError(PasskeyError.SIGNUP_DISABLED, _("Sign-up with a passkey is closed."),
                        status=403)


def _invalid() -> FlowError:
    return FlowError(AccountsError.TOKEN_INVALID, _(INVALID_LINK))


@sensitive_variables("raw")
def signup_request(request, *, email: str, name: str = "") -> None:
    """Mail a link that completes the sign-up, or, to an address an account holds, a
    notice that it has one: the same answer either way, and no account is made yet.

    An address another account has only typed in (unverified) is free to sign up with.
    A new request voids the address's earlier sign-up links."""
    _enabled()
    email = normalize_email(email)
    rate_limit(request, "signup", account=email)  # as in accounts.flows.signup.signup
    with transaction.atomic():
        claims_lock(email)  # as in accounts.flows.signup.signup
        holder = address_holder(email)
        if holder is not None:
            address_taken_answer(request, holder=holder, email=email)
            return
        raw = crypto.new_token()
        if _pending_replace(email=email, name=name[:150],
                            digest=crypto.token_digest(raw, purpose=DIGEST_PURPOSE)) is None:
            return
        send_link(request, template="passkey_signup", user=None, email=email,
                  url_name="passkeys:signup_complete", token=raw, guard=LINK_GUARD,
                  lifetime=accounts_settings.EMAIL_VERIFICATION_TIMEOUT)


@sensitive_variables("secrets")
def link_still_live(message, secrets: dict) -> str:
    """The outbox guard of sign-up link mails (``LINK_GUARD``): "" while the link would
    still open (``signup_check``), else why the mail is not sent, so that a send retried
    after a newer link voided this one, or after an account took the address, mails no
    dead link."""
    return "" if _live(secrets.get("token") or "") is not None else LINK_DEAD


def _pending_replace(*, email: str, name: str, digest: str) -> PendingSignup | None:
    """Void the address's live link and store the new one; None when a request for the
    same address at the same moment stored its link first.

    An address nobody has has no row for ``claims_lock`` to lock, so two requests at once
    can both find nothing to void. The unique constraint on live links refuses the later
    insert (on PostgreSQL once the earlier commits): that request's link stands, already
    on its way to the same mailbox, and this one stores and mails none. Its answer is the
    same."""
    now = _now()
    try:
        with transaction.atomic():
            pending_void(email, now=now)
            return PendingSignup.objects.create(
                email=email, name=name, handle=ceremonies.new_handle(), digest=digest,
                created_at=now,
                expires_at=now + timedelta(seconds=accounts_settings.EMAIL_VERIFICATION_TIMEOUT),
            )
    except IntegrityError:
        return None


@sensitive_variables("raw")
def _usable(raw: str):
    if not tokens.could_be_token(raw):
        return PendingSignup.objects.none()
    return PendingSignup.objects.filter(
        digest__in=crypto.token_digests(raw, purpose=DIGEST_PURPOSE), used_at__isnull=True,
        voided_at__isnull=True, expires_at__gt=_now(),
    )


@sensitive_variables("raw")
def _live(raw: str) -> PendingSignup | None:
    """The pending sign-up whose link ``raw`` still opens: unused, not voided, not expired,
    and its address held by no account (the owner's account wins over the link)."""
    pending = _usable(raw).first()
    return None if pending is None or address_held(pending.email) else pending


@sensitive_variables("token")
def signup_check(request, *, token: str) -> PendingSignup:
    """The pending sign-up of a usable link (GET of its page; consumes nothing).

    Dead once an account holds the address (its owner signed up another way, or another
    account verified it): the owner's account wins, and this link cannot make a second
    one."""
    _enabled()
    rate_limit(request, "token_confirm")
    pending = _live(token)
    if pending is None:
        raise _invalid()
    return pending


@sensitive_variables("token", "kept")
def signup_token(request, *, token: str = "", link: str = "") -> str:
    """The sign-up link's token a request to the API stands for: the one it posts (a client
    of the API, a front end of the project's own), else the one this browser's session kept
    when the link's page was opened (``accounts.links``), while it is still the one the page
    was shown for (``link``, the page's reference to it).

    The page holds no token, only that reference: a site that sent the browser to a link of
    its own after the page was shown (a top-level navigation carries the Lax session cookie)
    must not have the person create their passkey on its sign-up, an account its mailbox
    holds."""
    _enabled()
    if token:
        return token
    kept = links.kept(request, LINK)
    if not kept:
        raise FlowError(AccountsError.TOKEN_INVALID, _(links.NOT_HELD))
    if not links.referenced(kept, link):
        raise FlowError(AccountsError.TOKEN_INVALID, _(links.ANOTHER_OPENED))
    return kept


@sensitive_variables("token")
def signup_options(request, *, token: str = "", link: str = "") -> dict:
    """Creation options for the link's passkey: the link posted as ``token``, or the one
    this browser's page was opened with (``signup_token``)."""
    pending = signup_check(request, token=signup_token(request, token=token, link=link))
    return ceremonies.registration_options(
        request, user=None, handle=pending.handle, name=pending.email,
        display_name=pending.name or pending.email, exclude=[], ceremony=CEREMONY,
        signup_id=pending.pk,
    )


@sensitive_variables("token")
def signup_complete(request, *, credential, token: str = "", link: str = "",
                    name: str = "") -> pipeline.LoginResult:
    """Create the account with its passkey, its address verified, and sign it in (the link
    as in ``signup_options``)."""
    from_session = not token
    token = signup_token(request, token=token, link=link)
    pending = signup_check(request, token=token)
    stored = ceremonies.take_challenge(request, CEREMONY)
    if stored.get("signup_id") != pending.pk:  # a challenge asked for with another link
        raise ceremonies.invalid()
    registered = ceremonies.verify_registration(credential, challenge=stored["challenge_bytes"])
    email = pending.email
    with transaction.atomic():
        claims_lock(email)  # before the link is used: see accounts.flows.email.claims_lock
        # One conditional UPDATE: of two uses of the link at once exactly one goes on.
        if not _usable(token).filter(pk=pending.pk).update(used_at=_now()):
            raise _invalid()
        # Taken since the check above: refused, and all of this rolled back (the link is
        # dead all the same while an account holds the address).
        if address_held(email):
            raise _invalid()
        user = new_user(email, name=pending.name)
        user.set_unusable_password()
        try:
            with transaction.atomic():
                user.save()
                EmailAddress.objects.create(user=user, email=email, primary=True)
        except IntegrityError:  # another account took the address in this very moment
            raise _invalid() from None
        WebAuthnUser.objects.create(user=user, handle=pending.handle)
        # Other accounts' unverified rows of the address go, and their links with them.
        mark_verified(request, user=user, email=email)
        account_signals.user_signed_up.send(sender=type(user), request=request, user=user)
        passkey = flows.passkey_store(request, user=user, registered=registered, name=name)
    if from_session:
        links.forget(request, LINK)  # used up; a stage may still stand before the sign-in
    amr = flows.amr_for(backup_eligible=passkey.backup_eligible,
                        user_verified=passkey.user_verified)
    return pipeline.login_begin(request, user=user, method="passkey", amr=amr)


def pending_void(email: str, *, now=None) -> int:
    """Void the usable sign-up links of ``email``; returns how many.

    A compiled statement (``authsuite.db``): every sign-up runs it, and one with a taken
    address, which has nothing to void, must not answer measurably sooner."""
    return db.update(PendingSignup, using=router.db_for_write(PendingSignup),
                     values={"voided_at": now or _now()},
                     where={"email": normalize_email(email), "used_at": None, "voided_at": None})


def address_taken(sender, *, user, email: str | None = None, **kwargs) -> None:
    """Receiver of ``user_signed_up`` and ``email_verified``: an account holds the address
    now, so the pending sign-ups of it can never complete, even if that account goes."""
    pending_void(email or user_email(user))


def signups_expire() -> int:
    """Remove pending sign-ups whose link can no longer be used (expired, used or voided),
    and accounts that an unfinished passkey sign-up of an earlier version left behind.
    Returns how many rows went (periodic task ``passkeys.expire_signups``)."""
    removed, _ = PendingSignup.objects.filter(
        Q(expires_at__lte=_now()) | Q(used_at__isnull=False) | Q(voided_at__isnull=False)
    ).delete()
    return removed + _unfinished_accounts_remove()


def _unfinished_accounts_remove() -> int:
    """Versions before ``PendingSignup`` made the account at once, inactive with no
    password, and mailed a link (a ``signup`` token) to finish it. Such an account that
    never finished (never signed in, no passkey, no verified address) held its address
    against the owner; its link no longer works, so it goes.

    An inactive account disabled by staff or closed by its owner is never one of them:
    it was signed in to, or it has a verified address or a passkey, or it never had a
    sign-up link."""
    if not stores_is_active():
        return 0  # every account is active: passkey sign-up never made inactive ones
    model = get_user_model()
    unfinished = model._default_manager.filter(
        is_active=False, last_login__isnull=True,
        password__startswith=UNUSABLE_PASSWORD_PREFIX,
        pk__in=tokens.OneTimeToken.objects.filter(purpose=tokens.Purpose.SIGNUP).values("user"),
    ).exclude(pk__in=Passkey.objects.values("user")).exclude(
        pk__in=EmailAddress.objects.filter(verified=True).values("user"))
    return unfinished.delete()[1].get(model._meta.label, 0)
