"""Settings of the MFA app (``AUTHSUITE_MFA_*``)."""

from __future__ import annotations

from authsuite.conf import AppSettings


class MFASettings(AppSettings):
    prefix = "AUTHSUITE_MFA_"

    @property
    def REQUIRED(self) -> str:
        """Who must use a second factor: ``"nobody"``, ``"staff"``, ``"everyone"``, or the
        dotted path of a callable ``(user) -> bool``."""
        return self._setting("REQUIRED", "nobody")

    @property
    def GRACE_PERIOD(self) -> int:
        """Seconds a user who must enroll may still sign in without a factor, counted from
        the first sign-in at which the requirement applied (0: enroll at once)."""
        return int(self._setting("GRACE_PERIOD", 0))

    @property
    def ENCRYPTION_KEY(self) -> str:
        """Key material encrypting TOTP secrets at rest (falls back to SECRET_BOX_KEY, then
        SECRET_KEY)."""
        return self._setting("ENCRYPTION_KEY", "")

    @property
    def ENCRYPTION_KEY_FALLBACKS(self) -> list[str]:
        """Earlier keys TOTP secrets were sealed with (an earlier ENCRYPTION_KEY, or the
        SECRET_BOX_KEY or SECRET_KEY used before one was set): keys sealed with them still
        open, and are sealed again with the current key when next used. While no
        ENCRYPTION_KEY is set the secret box's key seals them, and its own fallbacks
        (SECRET_BOX_KEY_FALLBACKS, or SECRET_KEY_FALLBACKS while SECRET_KEY is the box's
        key) are tried after these. A list of non-empty strings (system check
        ``authsuite_mfa.E004``)."""
        return self._key_list("ENCRYPTION_KEY_FALLBACKS")

    @property
    def ISSUER(self) -> str:
        """Issuer shown in authenticator apps; the site name when empty."""
        return self._setting("ISSUER", "")

    @property
    def TOTP_DIGITS(self) -> int:
        """Digits of a TOTP code."""
        return int(self._setting("TOTP_DIGITS", 6))

    @property
    def TOTP_STEP(self) -> int:
        """Seconds per TOTP time step."""
        return int(self._setting("TOTP_STEP", 30))

    @property
    def TOTP_TOLERANCE(self) -> int:
        """Time steps accepted before and after the current one for clock drift.

        0 (default): a code works only during its own 30-second step (ASVS 5.0 6.5.5: a
        TOTP lives 30 seconds at most); 1 also accepts the previous and next step, for
        users whose phone clocks drift, and a code then stays usable up to 90 seconds.
        Once used, a code is refused for good (replay protection). Above 2 is a warning
        (``authsuite_mfa.W001``).
        """
        return int(self._setting("TOTP_TOLERANCE", 0))

    @property
    def RECOVERY_CODES(self) -> int:
        """How many recovery codes a set holds."""
        return int(self._setting("RECOVERY_CODES", 10))

    @property
    def THROTTLE_FACTOR(self) -> int:
        """Seconds of the first delay after a wrong code; each further failure doubles it."""
        return int(self._setting("THROTTLE_FACTOR", 1))

    @property
    def CHALLENGE_MAX_FAILURES(self) -> int:
        """Wrong codes in one sign-in, or in a row on the account's authenticator app or
        recovery codes across sign-ins and step-ups, before the attempt is abandoned and the
        user alerted (a step-up is alerted about and not abandoned: the session stays signed
        in)."""
        return int(self._setting("CHALLENGE_MAX_FAILURES", 5))

    @property
    def TRUST_BROWSER_DAYS(self) -> int:
        """Days "don't ask again on this browser" lasts (0 turns the option off). It spares
        sign-ins the second factor, never a sensitive action; the checkbox says so."""
        return int(self._setting("TRUST_BROWSER_DAYS", 30))

    @property
    def TRUST_COOKIE_NAME(self) -> str:
        """Name of the trusted-browser cookie (``__Host-authsuite_mfa_trust`` in the
        production profile; Secure whenever the request is HTTPS, ``SESSION_COOKIE_SECURE``
        is on or the name starts with ``__Host-`` or ``__Secure-``)."""
        return self._setting("TRUST_COOKIE_NAME", "authsuite_mfa_trust")

    @property
    def PROTECT_ADMIN(self) -> bool:
        """Require a second factor in this session before staff reach the Django admin,
        both factors proven within ``AUTHSUITE_ACCOUNTS_MFA_ASSURANCE_MAX_AGE``: of staff who
        must use one (``AUTHSUITE_MFA_REQUIRED``) and of staff who have one."""
        return bool(self._setting("PROTECT_ADMIN", True))

    @property
    def RATE_LIMITS(self) -> dict[str, str | None]:
        """Challenge attempts per scope."""
        return {"ip": "30/5m", "account": "10/5m", **self._setting("RATE_LIMITS", {})}


app_settings = MFASettings()
