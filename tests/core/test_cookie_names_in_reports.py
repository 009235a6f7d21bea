"""The suite's cookies that hold a secret (the trusted-browser promise, the known browser of
the lockout) are hidden from error reports by their names: Django's reports list the
request's cookies and hide a value only where the name looks secret to the reporter
filter. A name that does not is a warning of the system checks."""

from __future__ import annotations

import pytest
from django.core import checks
from django.test import RequestFactory
from django.views.debug import SafeExceptionReporterFilter

from accounts.app_settings import app_settings as accounts_settings
from mfa.app_settings import app_settings as mfa_settings

TRUST, DEVICE = "authsuite_mfa.W004", "authsuite_accounts.W010"


class HidesEveryCookie(SafeExceptionReporterFilter):
    def get_safe_cookies(self, request):
        return {name: self.cleansed_substitute for name in request.COOKIES}


def warnings() -> list[str]:
    return [m.id for m in checks.run_checks(tags=[checks.Tags.security])
            if m.id in (TRUST, DEVICE)]


def test_the_default_names_are_hidden_from_reports():
    request = RequestFactory().get("/", HTTP_COOKIE=(
        f"{mfa_settings.TRUST_COOKIE_NAME}=trust-value; "
        f"{accounts_settings.LOCKOUT_DEVICE_COOKIE_NAME}=device-value"))

    shown = SafeExceptionReporterFilter().get_safe_cookies(request)

    assert set(shown.values()) == {SafeExceptionReporterFilter.cleansed_substitute}
    assert warnings() == []


@pytest.mark.parametrize(("setting", "check_id"), [
    ("AUTHSUITE_MFA_TRUST_COOKIE_NAME", TRUST),
    ("AUTHSUITE_ACCOUNTS_LOCKOUT_DEVICE_COOKIE_NAME", DEVICE),
])
def test_a_name_reports_would_show_is_a_warning(settings, setting, check_id):
    setattr(settings, setting, "__Host-remembered")
    assert warnings() == [check_id]
    setattr(settings, setting, "__Host-remembered_token")
    assert warnings() == []


def test_a_project_filter_that_hides_the_cookie_is_enough(settings):
    settings.AUTHSUITE_MFA_TRUST_COOKIE_NAME = "remembered"
    settings.DEFAULT_EXCEPTION_REPORTER_FILTER = (
        "tests.core.test_cookie_names_in_reports.HidesEveryCookie")
    assert warnings() == []
