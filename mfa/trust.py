"""Trusted browsers: "don't ask again on this browser" for a limited time.

The cookie is signed, HttpOnly and carries a row id and a random token whose keyed digest
is stored. It only counts for the user it was issued to, and every row is deleted when the
password or any factor changes, so a stolen cookie outlives neither.
"""

from __future__ import annotations

from datetime import timedelta
from itertools import chain

from django.core import signing
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from accounts import credentials
from authsuite import context, crypto
from authsuite.cookies import secure_for
from authsuite.useragent import device_name
from mfa import signals
from mfa.app_settings import app_settings
from mfa.models import TrustedBrowser

SALT = "authsuite.mfa.trust"
PASSWORD_TAG = "mfa-trust-password"  # purpose of the password tag's digest


def _password_tag(user) -> str:
    """A short keyed digest of what stands for the password (its session auth hash,
    ``accounts.credentials``): any new password ends the promise, even one set without a
    signal (a management command, a data migration); the same password stored under a new
    hash does not."""
    return crypto.token_digest(credentials.credential(user) or user.password or "",
                               purpose=PASSWORD_TAG)[:16]


def _password_tag_matches(user, tag: str) -> bool:
    """Whether a cookie's password tag stands for ``user``'s password now: the tag of a
    value bound to it (``credentials.bound``, the older hashes of the same password last),
    or of the stored hash itself, as tags were made before they stood for the session
    auth hash."""
    values = credentials.bound(user)
    first = next(values, None)
    candidates = chain([first] if first else [], [user.password or ""], values)
    return any(crypto.digest_matches(tag, value, purpose=PASSWORD_TAG, length=16)
               for value in candidates)


def trust_lifetime() -> int:
    """Seconds a trusted browser lasts at most."""
    return app_settings.TRUST_BROWSER_DAYS * 86400


# Hidden whole: Django's signing, beneath, holds the token under names of its own.
@sensitive_variables()
def _cookie_value(row: TrustedBrowser, user, token: str) -> str:
    return signing.dumps({"id": row.pk, "u": str(user.pk), "t": token,
                          "p": _password_tag(user)}, salt=SALT)


@sensitive_variables("token", "value")
def trust_issue(request, response, user) -> TrustedBrowser | None:
    days = app_settings.TRUST_BROWSER_DAYS
    if days <= 0:
        return None
    token = crypto.new_token()
    ctx = context.current()
    # Promises that ran out are of no use to anyone: drop them rather than keep a list.
    TrustedBrowser.objects.filter(user=user, expires_at__lte=timezone.now()).delete()
    row = TrustedBrowser.objects.create(
        user=user, digest=crypto.token_digest(token, purpose="mfa-trust"),
        user_agent=ctx.user_agent, device=device_name(ctx.user_agent), ip=ctx.ip,
        expires_at=timezone.now() + timedelta(days=days),
    )
    value = _cookie_value(row, user, token)
    response.set_cookie(
        app_settings.TRUST_COOKIE_NAME, value, max_age=days * 86400, httponly=True,
        secure=secure_for(request, app_settings.TRUST_COOKIE_NAME), samesite="Lax", path="/",
    )
    signals.browser_trusted.send(sender=TrustedBrowser, request=request, user=user,
                                 trusted_id=row.pk)
    return row


@sensitive_variables("raw", "value")
def trusted(request, user) -> TrustedBrowser | None:
    raw = request.COOKIES.get(app_settings.TRUST_COOKIE_NAME)
    if not raw or app_settings.TRUST_BROWSER_DAYS <= 0:
        return None
    value = crypto.signed_value(raw, salt=SALT, max_age=app_settings.TRUST_BROWSER_DAYS * 86400)
    if not isinstance(value, dict) or value.get("u") != str(user.pk):
        return None
    if not isinstance(value.get("id"), int) or isinstance(value["id"], bool):
        return None
    if not _password_tag_matches(user, str(value.get("p", ""))):
        return None
    row = TrustedBrowser.objects.filter(
        pk=value.get("id"), user=user, expires_at__gt=timezone.now()
    ).first()
    if row is None or not crypto.digest_matches(row.digest, str(value.get("t", "")),
                                                purpose="mfa-trust"):
        return None
    TrustedBrowser.objects.filter(pk=row.pk).update(last_used_at=timezone.now())
    return row


def trusted_list(user):
    """The user's browsers still trusted, newest first."""
    return TrustedBrowser.objects.filter(user=user, expires_at__gt=timezone.now()).order_by(
        "-created_at")


def trust_revoke(user, *, request=None, trusted_id: int | None = None, by=None) -> int:
    """Forget ``user``'s trusted browsers (one, ``trusted_id``); ``by``: the staff member
    whose change to the account this follows (a reset, a passkey removed in the admin)."""
    rows = TrustedBrowser.objects.filter(user=user)
    if trusted_id is not None:
        rows = rows.filter(pk=trusted_id)
    deleted, _ = rows.delete()
    if deleted:
        signals.browser_untrusted.send(sender=TrustedBrowser, request=request, user=user,
                                       trusted_id=trusted_id, by=by)
    return deleted
