"""Settings of the passkeys app (``AUTHSUITE_PASSKEYS_*``)."""

from __future__ import annotations

from authsuite.conf import AppSettings

ES256, EDDSA, RS256 = -7, -8, -257
ALGORITHM_NAMES = {ES256: "ES256", EDDSA: "EdDSA", RS256: "RS256"}
DEFAULT_RATE_LIMITS = {
    # Usernameless sign-ins started per client IP: each one writes a session, and each
    # verification (which needs a fresh start) may write an audit event. Every view of the
    # login page starts one (its autofill request), hence more than for password attempts.
    "login": {"ip": "120/5m"},
}


class PasskeySettings(AppSettings):
    prefix = "AUTHSUITE_PASSKEYS_"

    @property
    def RP_ID(self) -> str:
        """The relying party ID: the registrable domain passkeys are bound to. Never taken
        from the Host header."""
        return self._setting("RP_ID", "localhost")

    @property
    def RP_NAME(self) -> str:
        """Name shown by the authenticator; the site name when empty."""
        return self._setting("RP_NAME", "")

    @property
    def ORIGINS(self) -> list[str]:
        """Origins ceremonies may come from (scheme://host[:port]), each within RP_ID."""
        return list(self._setting("ORIGINS", ["http://localhost:8000"]))

    @property
    def USER_VERIFICATION(self) -> str:
        """``"required"`` (default), ``"preferred"`` or ``"discouraged"``."""
        return self._setting("USER_VERIFICATION", "required")

    @property
    def RESIDENT_KEY(self) -> str:
        """Discoverable credentials: ``"required"``, ``"preferred"`` (default) or
        ``"discouraged"``."""
        return self._setting("RESIDENT_KEY", "preferred")

    @property
    def ALGORITHMS(self) -> list[int]:
        """COSE algorithms offered and accepted, preferred first (ES256, EdDSA, RS256)."""
        return list(self._setting("ALGORITHMS", [ES256, EDDSA, RS256]))

    @property
    def TIMEOUT(self) -> int:
        """Milliseconds a ceremony may take; its challenge expires with it."""
        return int(self._setting("TIMEOUT", 180000))

    @property
    def ALLOW_CROSS_ORIGIN(self) -> bool:
        """Accept ceremonies run in a cross-origin iframe (clientData.crossOrigin)."""
        return bool(self._setting("ALLOW_CROSS_ORIGIN", False))

    @property
    def TOP_ORIGINS(self) -> list[str]:
        """Top-level origins accepted for cross-origin ceremonies."""
        return list(self._setting("TOP_ORIGINS", []))

    @property
    def ATTESTATION_FORMATS(self) -> list[str]:
        """Attestation formats required at registration; empty (default) accepts "none"
        and any self-attestation without checking the authenticator's make. When set, only
        these formats with a certificate chain verified up to a root are accepted (roots
        from ATTESTATION_ROOT_CERTS; apple, android-key and android-safetynet also have
        py_webauthn's own)."""
        return list(self._setting("ATTESTATION_FORMATS", []))

    @property
    def ATTESTATION_ROOT_CERTS(self) -> dict[str, list[str]]:
        """PEM root certificates per attestation format, for trusted attestation."""
        return dict(self._setting("ATTESTATION_ROOT_CERTS", {}))

    @property
    def SIGNUP(self) -> bool:
        """Offer sign-up with a passkey only: the account is made when its passkey is
        created from the link mailed to the address, not before."""
        return bool(self._setting("SIGNUP", False))

    @property
    def RATE_LIMITS(self) -> dict[str, dict[str, str | None]]:
        """Rate limits of passkey ceremonies per scope, merged over the defaults
        (``{"login": {"ip": "120/5m"}}``); None disables one."""
        configured = self._setting("RATE_LIMITS", {})
        return {group: {**scopes, **configured.get(group, {})}
                for group, scopes in DEFAULT_RATE_LIMITS.items()}

    @property
    def MAX_PASSKEYS(self) -> int:
        """Passkeys one user may register: checked when registration options are asked
        for, and again when the passkey is stored, so options asked for in several sessions
        cannot register past it (``passkey_limit``)."""
        return int(self._setting("MAX_PASSKEYS", 20))


app_settings = PasskeySettings()
