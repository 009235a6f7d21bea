"""Settings objects: values are remembered, and forgotten when Django's settings change."""

from django.conf import settings
from django.test import override_settings

from accounts.app_settings import app_settings
from authsuite import conf


def test_a_value_read_once_is_remembered():
    conf._forget()
    assert app_settings.LOCKOUT_THRESHOLD == 5
    assert conf._values["AUTHSUITE_ACCOUNTS_LOCKOUT_THRESHOLD"] is conf._MISSING


def test_override_settings_is_seen_at_once_and_undone_after():
    assert app_settings.LOCKOUT_THRESHOLD == 5
    with override_settings(AUTHSUITE_ACCOUNTS_LOCKOUT_THRESHOLD=20):
        assert app_settings.LOCKOUT_THRESHOLD == 20
    assert app_settings.LOCKOUT_THRESHOLD == 5


def test_the_pytest_settings_fixture_is_seen(settings):
    assert app_settings.SIGNUP_OPEN is True
    settings.AUTHSUITE_ACCOUNTS_SIGNUP_OPEN = False
    assert app_settings.SIGNUP_OPEN is False
    del settings.AUTHSUITE_ACCOUNTS_SIGNUP_OPEN
    assert app_settings.SIGNUP_OPEN is True


def test_a_setting_deleted_under_override_settings_falls_back_to_the_default():
    assert app_settings.LOCKOUT_THRESHOLD == 5
    with override_settings(AUTHSUITE_ACCOUNTS_LOCKOUT_THRESHOLD=16):
        assert app_settings.LOCKOUT_THRESHOLD == 16
        with override_settings():
            del settings.AUTHSUITE_ACCOUNTS_LOCKOUT_THRESHOLD
            assert app_settings.LOCKOUT_THRESHOLD == 5
        assert app_settings.LOCKOUT_THRESHOLD == 16
    assert app_settings.LOCKOUT_THRESHOLD == 5
