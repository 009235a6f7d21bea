"""Helpers of the MFA tests: a TOTP clock, enrolled users, pages and API calls.

Codes are computed with pyotp from the key the suite shows (or the one a test gave it),
never with the suite's own TOTP code, so the tests check our implementation against an
independent one.
"""

from __future__ import annotations

import re

import pyotp
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.urls import reverse

from accounts import pipeline
from mfa import recovery, totp
from mfa.models import TOTPDevice
from tests.helpers import outbox_for

API = "/api/auth/v1/"
AUTH_KEY = "_auth_user_id"
RECORD_KEY = "_authsuite_auth"
START = 1_750_000_020  # a step boundary (divisible by 30)
SECRET_RE = re.compile(r'id="totp-secret">([A-Z2-7]+)<')
CODE_RE = re.compile(r"<code>([0-9a-z]{4}(?:-[0-9a-z]{4}){5})</code>")

#: The decimal digits (Unicode category Nd) a keyboard may send for 0-9, by the keyboard:
#: a phone in a CJK input mode, an Arabic one, a Persian or Urdu one.
DIGIT_FAMILIES = {
    "fullwidth": "\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19",
    "arabic-indic": "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669",
    "eastern-arabic-indic": "\u06f0\u06f1\u06f2\u06f3\u06f4\u06f5\u06f6\u06f7\u06f8\u06f9",
}
#: Numbers that are no decimal digits (category No), though NFKC makes digits of them.
SUPERSCRIPTS = "\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079"
CIRCLED = "\u24ea\u2460\u2461\u2462\u2463\u2464\u2465\u2466\u2467\u2468"


def in_digits(code: str, digits: str) -> str:
    """``code`` with its ASCII digits written with ``digits`` (0 to 9)."""
    return code.translate(str.maketrans("0123456789", digits))


def fullwidth(text: str) -> str:
    """``text`` as a phone's full-width input sends it: every printable ASCII character in
    its full-width form (letters, digits, the hyphen)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


class Clock:
    """Drives ``mfa.totp.now``: the time the suite checks TOTP codes against."""

    def __init__(self, monkeypatch, start: float = START):
        self.t = float(start)
        monkeypatch.setattr(totp, "now", lambda: self.t)

    def step(self, steps: int = 1) -> None:
        self.t += 30 * steps

    def code(self, secret: str, steps: int = 0) -> str:
        """The code pyotp computes for ``secret`` ``steps`` time steps from now."""
        return pyotp.TOTP(secret).at(self.t + 30 * steps)


def enroll(user, *, codes: bool = True) -> tuple[str, list[str]]:
    """Give ``user`` a confirmed authenticator app (and recovery codes) directly."""
    key = totp.new_key()
    TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True,
                              sealed_key=totp.seal_key(key))
    return totp.base32(key), (recovery.generate(user) if codes else [])


def login(client, user, password: str, **extra):
    return client.post(reverse("accounts:login"), {"email": user.email, "password": password},
                       **extra)


def api_post(client, path: str, data=None, **extra):
    return client.post(API + path, data if data is not None else {},
                       content_type="application/json", **extra)


def api_get(client, path: str, **extra):
    return client.get(API + path, **extra)


def api_delete(client, path: str, **extra):
    return client.delete(API + path, **extra)


def error_code(response) -> str:
    return response.json()["error"]["code"]


def signed_in(client) -> bool:
    """Ask the server, not the cookie jar, whether the client's session is authenticated."""
    return api_get(client, "session/").json()["authenticated"]


def record(client) -> dict | None:
    return client.session.get(RECORD_KEY)


def sign_in_fully(client, user, password: str, clock: Clock, secret: str) -> None:
    """Password, then the code: a signed-in session with ``mfa`` in its amr."""
    response = login(client, user, password)
    assert response["Location"] == reverse("mfa:challenge"), response
    clock.step()
    response = client.post(reverse("mfa:challenge"), {"code": clock.code(secret)})
    assert response.status_code == 302, response.content[:400]
    assert AUTH_KEY in client.session


def step_up(client, clock: Clock, secret: str) -> None:
    """A signed-in session proves the app with a code (``/mfa/challenge/``). A session that
    signed in with the password alone, before the app was added, must before a sensitive
    action: the account has two factors now."""
    clock.step()
    response = client.post(reverse("mfa:challenge"), {"code": clock.code(secret)})
    assert response.status_code == 302, response.content[:400]


def subjects(email: str) -> list[str]:
    return [m.subject for m in outbox_for(email)]


def begin_setup(client, url: str = ""):
    """Press "Start setup" on the authenticator-app setup page (``url``: another page with
    the setup, the sign-in's enrollment); returns the page it leads to, with the key."""
    return client.post(url or reverse("mfa:totp_setup"), {"action": "begin"}, follow=True)


def page_secret(content: bytes) -> str:
    return SECRET_RE.search(content.decode()).group(1)


def page_codes(content: bytes) -> list[str]:
    return CODE_RE.findall(content.decode())


def meanwhile(monkeypatch, change) -> None:
    """``change()`` runs once the second factor is accepted, before the sign-in goes on: what another
    request (a password reset, staff disabling the account) may do at that moment."""
    real = pipeline.stage_passed

    def passed(request, key, **kwargs):
        change()
        return real(request, key, **kwargs)

    monkeypatch.setattr(pipeline, "stage_passed", passed)


def password_reset(user):
    """A change for :func:`meanwhile`: the password is reset from another browser."""
    return lambda: get_user_model().objects.filter(pk=user.pk).update(
        password=make_password("a passphrase set by a reset meanwhile"))


def disabled(user):
    """A change for :func:`meanwhile`: staff disable the account."""
    return lambda: get_user_model().objects.filter(pk=user.pk).update(is_active=False)
