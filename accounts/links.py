"""Tokens of emailed links, kept in the session from the link's GET to the confirmation.

The first GET of a link moves its token out of the URL and into the session, sealed
(Fernet, with the secret box's key, which its fallbacks still open while it rotates): the
session table never holds it in the clear. The
confirmation page carries a reference to the token it was shown for (a keyed digest, of no
use without the token), and the POST is refused unless the token kept then is still that
one. Otherwise a site could send the browser to a link of its own between the page and the
click (a top-level navigation carries the Lax session cookie) and have the person confirm
the other link: sign in to the other site's account, for one.
"""

from __future__ import annotations

from django.utils.translation import gettext_noop
from django.views.decorators.debug import sensitive_variables

from authsuite import crypto

_PREFIX = "_authsuite_link_"
_SEAL = "link-in-session"

#: Why a page that stands for a kept link has none: opened in another browser than the
#: link's, with cookies off, or used up.
NOT_HELD = gettext_noop(
    "This browser holds no link to confirm. Open the link from your email again (cookies "
    "must be allowed for this site).")
#: Why a page's reference no longer matches the link kept: another was opened since.
ANOTHER_OPENED = gettext_noop(
    "Another link was opened in this browser since this page was shown. Open the link from "
    "your email again.")


@sensitive_variables("token")
def keep(request, kind: str, token: str) -> None:
    """Keep ``token`` as this browser's ``kind`` link (replacing an earlier one), under a
    new session key."""
    # From now on the session is worth what the link is (a sign-in, a new password): a key
    # fixed in this browser beforehand (a cookie set from a sibling subdomain, say) must
    # not let its owner open the confirmation page in their own browser and confirm it.
    request.session.cycle_key()
    request.session[_PREFIX + kind] = crypto.seal(token, purpose=_SEAL)


def kept(request, kind: str) -> str:
    """The ``kind`` link's token this browser holds, or ""."""
    sealed = request.session.get(_PREFIX + kind)
    return (crypto.unseal(sealed, purpose=_SEAL) if sealed else None) or ""


@sensitive_variables()
def reference(token: str) -> str:
    """What a confirmation page says about the token it was shown for."""
    return crypto.token_digest(token, purpose="link-reference")[:32]


@sensitive_variables()
def referenced(token: str, given: str) -> bool:
    """Whether ``given`` (what a page posted back) is the reference to ``token``."""
    return crypto.digests_match(given, reference(token))


def forget(request, kind: str) -> None:
    request.session.pop(_PREFIX + kind, None)


def forget_all(request) -> None:
    """Drop every kept link."""
    for key in [key for key in request.session.keys() if key.startswith(_PREFIX)]:  # noqa: SIM118 - sessions do not iterate
        del request.session[key]


def forget_at_sign_in(sender, request=None, **kwargs) -> None:
    """``user_logged_in`` receiver: links kept before a sign-in are not the new user's to
    use (someone else's half-finished reset, say), whichever way they signed in."""
    if request is not None and hasattr(request, "session"):
        forget_all(request)
