"""The MFA system checks (one test per id) and its settings (each one documented, each one
used by some test)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mfa import checks as mfa_checks
from mfa.app_settings import app_settings


def ids() -> list[str]:
    return [message.id for message in mfa_checks.check_mfa()]


def test_the_test_settings_raise_only_the_encryption_key_warning():
    assert ids() == ["authsuite_mfa.W002"]


def test_the_demo_settings_raise_nothing(settings):
    settings.DEBUG = True
    assert ids() == []


@pytest.mark.parametrize("missing", ["django_otp", "accounts"])
def test_e001_a_required_app_is_missing(monkeypatch, missing):
    real = mfa_checks.apps.is_installed
    monkeypatch.setattr(mfa_checks.apps, "is_installed", lambda name: name != missing and real(name))
    messages = [m for m in mfa_checks.check_mfa() if m.id == "authsuite_mfa.E001"]
    assert len(messages) == 1 and missing in messages[0].msg
    assert messages[0].hint and messages[0].obj == "INSTALLED_APPS"


@pytest.mark.parametrize("rule", ["admins", "", "Everyone", 3, None])
def test_e002_an_unknown_rule(settings, rule):
    settings.AUTHSUITE_MFA_REQUIRED = rule
    assert "authsuite_mfa.E002" in ids()


@pytest.mark.parametrize("rule", ["no.such.module.rule", "mfa.policy.NOT_THERE",
                                  "mfa.app_settings.app_settings"])
def test_e003_a_rule_that_is_not_a_callable(settings, rule):
    settings.AUTHSUITE_MFA_REQUIRED = rule
    assert "authsuite_mfa.E003" in ids()
    assert "authsuite_mfa.E002" not in ids()


def test_a_callable_rule_passes(settings):
    settings.AUTHSUITE_MFA_REQUIRED = "tests.mfa.test_enforcement.corporate"
    assert ids() == ["authsuite_mfa.W002"]


@pytest.mark.parametrize(("tolerance", "warned"), [(0, False), (1, False), (2, False), (3, True)])
def test_w001_a_wide_tolerance(settings, tolerance, warned):
    settings.AUTHSUITE_MFA_TOTP_TOLERANCE = tolerance
    assert ("authsuite_mfa.W001" in ids()) is warned


def test_w002_no_separate_encryption_key(settings):
    settings.AUTHSUITE_MFA_ENCRYPTION_KEY = "k" * 50
    assert "authsuite_mfa.W002" not in ids()


@pytest.mark.parametrize("fallbacks", ["old-totp-key", ["old-totp-key", ""], [None]])
def test_e004_encryption_key_fallbacks_not_a_list_of_keys(settings, fallbacks):
    """Found at startup, not when a TOTP key is next opened (every sign-in with a code
    would fail); the message never quotes a key."""
    settings.AUTHSUITE_MFA_ENCRYPTION_KEY_FALLBACKS = fallbacks
    [message] = [m for m in mfa_checks.check_mfa() if m.id == "authsuite_mfa.E004"]
    assert message.obj == "AUTHSUITE_MFA_ENCRYPTION_KEY_FALLBACKS" and message.hint
    assert "old-totp-key" not in message.msg


def test_e004_not_for_a_list_of_keys(settings):
    settings.AUTHSUITE_MFA_ENCRYPTION_KEY_FALLBACKS = ["old-totp-key"]
    assert "authsuite_mfa.E004" not in ids()


def test_w003_an_unprotected_admin(monkeypatch):
    from django.contrib import admin

    monkeypatch.setattr(admin, "site", admin.AdminSite())
    assert "authsuite_mfa.W003" in ids()


def test_w003_not_when_admin_protection_is_off(settings, monkeypatch):
    from django.contrib import admin

    settings.AUTHSUITE_MFA_PROTECT_ADMIN = False
    monkeypatch.setattr(admin, "site", admin.AdminSite())
    assert "authsuite_mfa.W003" not in ids()


# --- settings -------------------------------------------------------------------------------


def test_every_setting_is_documented():
    for name in app_settings.names():
        prop = getattr(type(app_settings), name.removeprefix(app_settings.prefix))
        assert prop.__doc__ and prop.__doc__.strip(), name


def test_every_setting_is_exercised_by_a_test():
    here = Path(__file__).parent
    text = "".join(p.read_text() for p in here.glob("test_*.py") if p.name != Path(__file__).name)
    missing = [name for name in app_settings.names() if name not in text]
    assert missing == []


def test_defaults():
    assert app_settings.REQUIRED == "nobody"
    assert app_settings.TOTP_DIGITS == 6 and app_settings.TOTP_STEP == 30
    assert app_settings.TOTP_TOLERANCE == 0
    assert app_settings.TRUST_BROWSER_DAYS == 30
    assert app_settings.CHALLENGE_MAX_FAILURES == 5
    assert app_settings.GRACE_PERIOD == 0
    assert app_settings.RECOVERY_CODES == 10
    assert app_settings.PROTECT_ADMIN is True


def test_rate_limits_merge_over_the_defaults(settings):
    settings.AUTHSUITE_MFA_RATE_LIMITS = {"ip": None}
    assert app_settings.RATE_LIMITS == {"ip": None, "account": "10/5m"}


def test_w002_not_raised_when_the_secret_box_has_its_own_key(settings):
    """TOTP keys are then sealed with the box's key, not one derived from SECRET_KEY."""
    settings.AUTHSUITE_SECRET_BOX_KEY = "b" * 50
    assert "authsuite_mfa.W002" not in ids()
