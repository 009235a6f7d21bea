"""Settings objects: an unset setting is remembered as unset until the settings change;
every way of changing settings a project or its tests use is seen at once."""

from django.conf import settings
from django.test import override_settings

from accounts.app_settings import app_settings
from authsuite import conf


def test_an_unset_setting_is_remembered_as_unset():
    conf._forget()
    assert app_settings.LOCKOUT_THRESHOLD == 5
    assert "AUTHSUITE_ACCOUNTS_LOCKOUT_THRESHOLD" in conf._unset


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


def test_a_setting_read_then_deleted_inside_override_settings_is_seen_deleted():
    with override_settings(AUTHSUITE_ACCOUNTS_LOCKOUT_THRESHOLD=16), override_settings():
        assert app_settings.LOCKOUT_THRESHOLD == 16
        del settings.AUTHSUITE_ACCOUNTS_LOCKOUT_THRESHOLD
        assert app_settings.LOCKOUT_THRESHOLD == 5


def test_a_setting_assigned_directly_after_being_seen_unset_is_seen():
    with override_settings():
        assert app_settings.LOCKOUT_THRESHOLD == 5
        settings.AUTHSUITE_ACCOUNTS_LOCKOUT_THRESHOLD = 9
        assert app_settings.LOCKOUT_THRESHOLD == 9
        settings.AUTHSUITE_ACCOUNTS_LOCKOUT_THRESHOLD = 11
        assert app_settings.LOCKOUT_THRESHOLD == 11
        del settings.AUTHSUITE_ACCOUNTS_LOCKOUT_THRESHOLD
        assert app_settings.LOCKOUT_THRESHOLD == 5
    assert app_settings.LOCKOUT_THRESHOLD == 5
