"""Core settings (``AUTHSUITE_*``): request context, mail outbox, site identity."""

from __future__ import annotations

from authsuite.conf import AppSettings


class CoreSettings(AppSettings):
    prefix = "AUTHSUITE_"

    @property
    def SITE_NAME(self) -> str:
        """Name used in emails and page titles, and a context word banned from passwords."""
        return self._setting("SITE_NAME", "authsuite")

    @property
    def BASE_URL(self) -> str:
        """Scheme and host for links in emails (``https://id.example.com``).

        When unset, links use the request's host, which ALLOWED_HOSTS must then pin down:
        a forged Host header must never be able to send a victim a reset link to elsewhere.
        With DEBUG off, no BASE_URL and a pattern (``*``, ``.example.com``) in ALLOWED_HOSTS
        are flagged (system check ``authsuite.W003``). With SECURE_SSL_REDIRECT on, links
        built on the request are https whatever its scheme, and an ``http://`` BASE_URL is
        flagged (``authsuite.W008``).
        """
        return (self._setting("BASE_URL", "") or "").rstrip("/")

    @property
    def TRUSTED_PROXY_COUNT(self) -> int:
        """Number of reverse proxies in front of the app that append to X-Forwarded-For.

        0 (default) means the client IP is REMOTE_ADDR and X-Forwarded-For is ignored, so a
        client cannot choose the IP that rate limits and the audit log see. The production
        profile (``authsuite.settings_production``) sets 1 when the environment does not say:
        a deployment there without a proxy must set 0, or every client chooses its own IP.
        """
        return int(self._setting("TRUSTED_PROXY_COUNT", 0))

    @property
    def IPV6_CLIENT_PREFIX(self) -> int:
        """Prefix length by which rate limits and lockouts count an IPv6 client: 64, the block
        one subscriber is usually given; 56 or 48 where providers hand out larger blocks.
        From 32 to 128 (system check ``authsuite.E003``).
        """
        value = int(self._setting("IPV6_CLIENT_PREFIX", 64))
        if not 32 <= value <= 128:
            raise ValueError("AUTHSUITE_IPV6_CLIENT_PREFIX must be between 32 and 128")
        return value

    @property
    def DEFAULT_FROM_EMAIL(self) -> str:
        """Sender of the suite's emails; when unset, Django's DEFAULT_FROM_EMAIL
        (``webmaster@localhost`` unless the project sets it)."""
        return self._setting("DEFAULT_FROM_EMAIL", None) or self._django(
            "DEFAULT_FROM_EMAIL", "webmaster@localhost"
        )

    @property
    def MAIL_MAX_ATTEMPTS(self) -> int:
        """Delivery attempts before an outbox message is marked failed."""
        return int(self._setting("MAIL_MAX_ATTEMPTS", 8))

    @property
    def MAIL_RETRY_BACKOFF(self) -> int:
        """Seconds before the first retry; doubles at each attempt (capped at one hour)."""
        return int(self._setting("MAIL_RETRY_BACKOFF", 30))

    @property
    def MAIL_CLAIM_TIMEOUT(self) -> int:
        """Seconds a worker owns a message it is sending before another may take it over.
        A send must end well within it: the delivery task's soft and hard time limits are
        about 80 % and 90 % of it (prefork workers only), so a send still under way then is
        given up and retried instead; with Django's SMTP backend, EMAIL_TIMEOUT unset (wait
        for ever) or not below a tenth of it is flagged (system check ``authsuite.W004``)."""
        return int(self._setting("MAIL_CLAIM_TIMEOUT", 300))

    @property
    def MAIL_SWEEP_AFTER(self) -> int:
        """Age in seconds after which the sweeper re-queues a message still pending."""
        return int(self._setting("MAIL_SWEEP_AFTER", 60))

    @property
    def MAIL_KEEP_DAYS(self) -> int:
        """Days that outbox rows are kept before the sweeper deletes them: delivered ones
        from their delivery, failed ones from when they were made."""
        return int(self._setting("MAIL_KEEP_DAYS", 30))

    @property
    def SECRET_BOX_KEY(self) -> str | None:
        """Key that encrypts secrets at rest: links in mail waiting in the outbox, links
        kept in sessions, and TOTP keys while ``AUTHSUITE_MFA_ENCRYPTION_KEY`` is unset.
        Derived from SECRET_KEY when unset (and then SECRET_KEY_FALLBACKS open what older
        keys sealed)."""
        return self._setting("SECRET_BOX_KEY", None)

    @property
    def SECRET_BOX_KEY_FALLBACKS(self) -> list[str]:
        """Earlier keys of the secret box, as SECRET_KEY_FALLBACKS are to SECRET_KEY: what
        they sealed still opens (tried in order after the box's key, and before
        SECRET_KEY_FALLBACKS while SECRET_KEY is that key), and nothing new is sealed with
        them. To rotate, set the new key and list the old one here (the
        SECRET_KEY in use, when setting a SECRET_BOX_KEY for the first time) until what it
        sealed is gone: pending mail, links kept in sessions, TOTP keys the box sealed (each
        sealed again when next used). A list of non-empty strings (system check
        ``authsuite.E005``)."""
        return self._key_list("SECRET_BOX_KEY_FALLBACKS")


app_settings = CoreSettings()
