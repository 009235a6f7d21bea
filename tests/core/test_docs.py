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


SUITE_APPS = ("authsuite", "accounts", "mfa", "passkeys", "audit")
DJANGO_OPTIONS = {"help", "version", "verbosity", "settings", "pythonpath", "traceback",
                  "no_color", "force_color", "skip_checks"}


def _suite_commands() -> list[tuple[str, list[str]]]:
    """Each command the suite's apps ship, with its own options (Django's common ones left
    out)."""
    from django.core.management import get_commands, load_command_class

    found = []
    for name, app in sorted(get_commands().items()):
        if app not in SUITE_APPS:
            continue
        parser = load_command_class(app, name).create_parser("manage.py", name)
        options = [action.option_strings[0] for action in parser._actions
                   if action.option_strings and action.dest not in DJANGO_OPTIONS]
        found.append((name, options, parser.format_help()))
    return found


def test_readme_describes_every_management_command_and_its_options():
    section = README.split("\n## Management commands\n", 1)[1].split("\n## ", 1)[0]
    commands = _suite_commands()
    assert {name for name, _o, _h in commands} >= {"audit_verify", "audit_checkpoint",
                                                   "demo_user", "authsuite_settings"}
    for name, options, _help in commands:
        row = next((line for line in section.splitlines() if line.startswith(f"| `{name}` |")),
                   None)
        assert row, f"{name} is missing from the README's management commands table"
        missing = [option for option in options if f"`{option}" not in row]
        assert not missing, f"{name}: options missing from the README: {missing}"


def test_every_management_command_documents_its_exit_status_in_its_help():
    for name, _options, text in _suite_commands():
        assert "Exit status: 0" in " ".join(text.split()), name
