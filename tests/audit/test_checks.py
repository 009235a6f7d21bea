"""System checks of the audit app: one test each."""

from __future__ import annotations

from django.core import checks
from django.test import override_settings

from audit.checks import check_audit

KEY = "a-separate-audit-key-" + "k" * 40


def ids(**settings) -> list[str]:
    with override_settings(**settings):
        return [message.id for message in check_audit()]


def test_w001_no_separate_key_in_production():
    assert "authsuite_audit.W001" in ids(DEBUG=False, AUTHSUITE_AUDIT_SIGNING_KEY="")
    assert "authsuite_audit.W001" not in ids(DEBUG=False, AUTHSUITE_AUDIT_SIGNING_KEY=KEY)
    assert "authsuite_audit.W001" not in ids(DEBUG=True, AUTHSUITE_AUDIT_SIGNING_KEY="")


def test_e001_the_audit_key_is_the_secret_key():
    with override_settings(SECRET_KEY=KEY, AUTHSUITE_AUDIT_SIGNING_KEY=KEY):
        [error] = [m for m in check_audit() if m.id == "authsuite_audit.E001"]
    assert error.level == checks.ERROR
    assert error.obj == "AUTHSUITE_AUDIT_SIGNING_KEY"
    assert "authsuite_audit.E001" not in ids(AUTHSUITE_AUDIT_SIGNING_KEY=KEY)


def test_e002_an_alert_rule_that_cannot_be_imported():
    bad = ["audit.alerts.PasswordChanged", "audit.alerts.NoSuchRule", "nowhere.Rule"]
    with override_settings(AUTHSUITE_AUDIT_ALERT_RULES=bad):
        errors = [m for m in check_audit() if m.id == "authsuite_audit.E002"]
    assert [e.msg for e in errors] == [
        "Alert rule 'audit.alerts.NoSuchRule' cannot be imported.",
        "Alert rule 'nowhere.Rule' cannot be imported.",
    ]
    assert "authsuite_audit.E002" not in ids(AUTHSUITE_AUDIT_ALERT_RULES=bad[:1])


def test_the_checks_are_registered():
    with override_settings(DEBUG=False, AUTHSUITE_AUDIT_SIGNING_KEY=""):
        found = {m.id for m in checks.run_checks(tags=[checks.Tags.security])}
    assert "authsuite_audit.W001" in found
