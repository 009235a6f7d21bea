"""The README documents every setting, and every setting documents itself."""

from __future__ import annotations

from pathlib import Path

import pytest

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
