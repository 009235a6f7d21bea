"""The README documents every setting, and every setting documents itself."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from authsuite.api.schema import error_codes
from authsuite.management.commands.authsuite_settings import rows, settings_objects

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
ALL = [(label, name, doc) for label, obj in settings_objects() for name, _d, doc in rows(obj)]


def test_every_installed_app_has_settings():
    assert {label for label, _obj in settings_objects()} == {
        "authsuite", "accounts", "mfa", "passkeys", "audit"}


@pytest.mark.parametrize("label,name,doc", ALL, ids=[name for _l, name, _d in ALL])
def test_setting_is_documented(label, name, doc):
    assert doc, f"{name} has no docstring"
    assert f"`{name}`" in README, f"{name} is missing from the README's settings reference"


def test_readme_settings_reference_is_the_commands_output():
    out = StringIO()
    call_command("authsuite_settings", stdout=out)
    printed = out.getvalue().strip()
    reference = README.split("## Settings reference", 1)[1].split("\n## ", 1)[0]
    missing = [line for line in printed.splitlines() if line not in reference.splitlines()]
    assert not missing, "README rows differ from `manage.py authsuite_settings`: " + "\n".join(missing)
    assert printed in reference, "README's settings reference is not in the command's order"


def test_a_default_taken_from_a_django_setting_is_named_not_read(settings):
    settings.DEFAULT_FROM_EMAIL = "Somewhere <no-reply@example.org>"
    out = StringIO()
    call_command("authsuite_settings", stdout=out)
    line = next(row for row in out.getvalue().splitlines()
                if row.startswith("| `AUTHSUITE_DEFAULT_FROM_EMAIL`"))
    assert "| Django's `DEFAULT_FROM_EMAIL` |" in line
    assert "example.org" not in line


def test_readme_lists_every_api_error_code():
    listed = README.split("\nError codes: ", 1)[1].split("\n\n", 1)[0]
    missing = [code for code in error_codes() if f"`{code}`" not in listed]
    assert not missing, f"error codes missing from the README's list: {missing}"
