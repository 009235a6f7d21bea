"""Settings of the audit app (``AUTHSUITE_AUDIT_*``)."""

from __future__ import annotations

from authsuite.conf import AppSettings

DEFAULT_ALERT_RULES = [
    "audit.alerts.NewDeviceSignIn",
    "audit.alerts.AccountLocked",
    "audit.alerts.PasswordChanged",
    "audit.alerts.EmailChanged",
    "audit.alerts.FactorAdded",
    "audit.alerts.FactorRemoved",
    "audit.alerts.RecoveryCodeUsed",
    "audit.alerts.RecoveryCodesGenerated",
    "audit.alerts.SecondFactorLocked",
    "audit.alerts.MFAReset",
    "audit.alerts.PasskeyAdded",
    "audit.alerts.PasskeyRemoved",
    "audit.alerts.PasskeyCloned",
]


class AuditSettings(AppSettings):
    prefix = "AUTHSUITE_AUDIT_"

    @property
    def SIGNING_KEY(self) -> str:
        """HMAC key for event MACs and checkpoint signatures. Keep it apart from SECRET_KEY
        (and from the database): whoever holds it can forge events. Falls back to a key
        derived from SECRET_KEY, which a system check flags in production."""
        return self._setting("SIGNING_KEY", "")

    @property
    def ENABLED(self) -> bool:
        """Record events at all (the benchmark turns it off for its baseline)."""
        return bool(self._setting("ENABLED", True))

    @property
    def RETENTION_DAYS(self) -> int | None:
        """Events older than this many days are pruned by the retention task (None: keep)."""
        value = self._setting("RETENTION_DAYS", 365)
        return None if value is None else int(value)

    @property
    def SEAL_BATCH(self) -> int:
        """Events chained per sealing transaction."""
        return int(self._setting("SEAL_BATCH", 5000))

    @property
    def SEAL_INTERVAL(self) -> float:
        """Seconds between two sealing runs started by new events: at most one Celery task
        is queued per interval, or, without a worker (eager Celery), this process chains
        pending events itself at most once per interval. 0 chains after every commit."""
        return float(self._setting("SEAL_INTERVAL", 1.0))

    @property
    def SEAL_GRACE(self) -> int:
        """Seconds an event may wait to be chained before ``audit_verify`` warns that the
        sealer seems not to run (events still waiting are MAC-checked, never skipped)."""
        return int(self._setting("SEAL_GRACE", 600))

    @property
    def CHECKPOINT_EVERY(self) -> int:
        """A signed checkpoint is written after at least this many newly chained events."""
        return int(self._setting("CHECKPOINT_EVERY", 1000))

    @property
    def ALERT_RULES(self) -> list[str]:
        """Dotted paths of the alert rule classes in force."""
        return list(self._setting("ALERT_RULES", DEFAULT_ALERT_RULES))

    @property
    def ALERT_THROTTLE(self) -> int:
        """Seconds during which a repeated alert of one rule for one user is not mailed again
        (changes to how the account signs in are mailed every time)."""
        return int(self._setting("ALERT_THROTTLE", 900))

    @property
    def LOG_EVENTS(self) -> bool:
        """Also write each event as one JSON line to the ``authsuite.audit`` logger."""
        return bool(self._setting("LOG_EVENTS", True))

    @property
    def REDACT_LOGGERS(self) -> list[str]:
        """Loggers given ``audit.redaction.RedactSecrets`` at startup: Django's own lines
        about refused requests would otherwise hold the token of a sign-in or reset link."""
        return list(self._setting("REDACT_LOGGERS", [
            "django.request", "django.server", "django.security.csrf", "django.template",
        ]))

    @property
    def SECURITY_PAGE_SIZE(self) -> int:
        """Events shown on a user's security-activity page."""
        return int(self._setting("SECURITY_PAGE_SIZE", 50))

    @property
    def EXPORT_EVENTS(self) -> int:
        """Events in the account export's ``security_activity`` section: the newest, as
        the security-activity page lists them (older ones stay on its later pages)."""
        return int(self._setting("EXPORT_EVENTS", 1000))


app_settings = AuditSettings()
