"""``manage.py demo_user``: the demo's account, never one with published credentials outside
DEBUG."""

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path
from unittest.mock import patch

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from accounts.management.commands.demo_user import DEMO_PASSWORD
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("args", [(), ("--password", DEMO_PASSWORD)],
                         ids=["default", "typed"])
def test_the_published_password_is_refused_with_debug_off(args):
    with override_settings(DEBUG=False), pytest.raises(CommandError, match="published"):
        call_command("demo_user", *args, stdout=StringIO())

    assert not get_user_model().objects.filter(email="demo@example.com").exists()


def test_the_published_password_is_refused_for_an_existing_account_too():
    user = UserFactory(email="demo@example.com", password="a-password-of-its-own-2026")

    with override_settings(DEBUG=False), pytest.raises(CommandError):
        call_command("demo_user", stdout=StringIO())

    user.refresh_from_db()
    assert not user.check_password(DEMO_PASSWORD)
    assert user.check_password("a-password-of-its-own-2026")


def test_another_password_is_accepted_with_debug_off():
    with override_settings(DEBUG=False):
        call_command("demo_user", "--password", "staging-only-passphrase-7", stdout=StringIO())

    user = get_user_model().objects.get(email="demo@example.com")
    assert user.check_password("staging-only-passphrase-7")


def test_the_demo_runs_with_debug_on():
    with override_settings(DEBUG=True):
        call_command("demo_user", stdout=StringIO())

    assert get_user_model().objects.get(email="demo@example.com").check_password(DEMO_PASSWORD)


def test_the_published_password_typed_in_another_form_is_refused_too():
    """Passwords are hashed in their normal form (NFKC): typed in full-width letters, the
    published password is the one the account would be signed in to with."""
    full_width = "ｄｅｍｏ－ｐａｓｓｗｏｒｄ－２０２６"

    with override_settings(DEBUG=False), pytest.raises(CommandError, match="published"):
        call_command("demo_user", "--password", full_width, stdout=StringIO())

    assert not get_user_model().objects.filter(email="demo@example.com").exists()


def test_nothing_is_printed_at_verbosity_0():
    out, err = StringIO(), StringIO()
    with override_settings(DEBUG=True):
        call_command("demo_user", verbosity=0, stdout=out, stderr=err)

    assert (out.getvalue(), err.getvalue()) == ("", "")
    assert get_user_model().objects.filter(email="demo@example.com").exists()


@pytest.mark.parametrize("option, value", [
    ("--email", "a@b@c"),
    ("--email", "a\x01@example.com"),
    ("--email", "a\x00@example.com"),
    ("--email", "ann@" + "a" * 250 + ".com"),
    ("--email", "ünïcode@example.com"),
    # The suite's User holds 150 characters of name; django.contrib.auth's first_name is cut
    # to fit instead.
    pytest.param("--name", "n" * 151, marks=pytest.mark.own_user_model),
    ("--name", "Ann\x00"),
    ("--password", ""),
    ("--password", "p" * 1025),
], ids=["two-at", "control", "nul", "too-long", "non-ascii-local", "long-name", "nul-name",
        "empty-password", "long-password"])
def test_bad_input_is_a_one_line_command_error_and_saves_nothing(option, value):
    args = [option, value] if option == "--email" else ["--email", "ann@example.com", option, value]
    if option != "--password":
        args += ["--password", "staging-only-passphrase-7"]

    with pytest.raises(CommandError) as caught:
        call_command("demo_user", *args, stdout=StringIO())

    assert "\n" not in str(caught.value)
    assert not get_user_model().objects.exists()


def test_the_password_is_never_printed_even_at_verbosity_3():
    out, err = StringIO(), StringIO()
    with override_settings(DEBUG=True):
        call_command("demo_user", "--password", "staging-only-passphrase-7", verbosity=3,
                     stdout=out, stderr=err)
        with pytest.raises(CommandError) as caught:
            call_command("demo_user", "--password", "x" * 1025, verbosity=3)

    assert "staging-only-passphrase-7" not in out.getvalue() + err.getvalue()
    assert "xxxx" not in str(caught.value)


def test_a_run_that_loses_the_race_to_create_the_account_updates_it():
    """Two hosts running the same deployment script: both look the address up, find no
    account, and insert; the second insert fails on the unique address and that run must
    update the account the first one made, not end in an IntegrityError."""
    from accounts.management.commands import demo_user
    from accounts.users import get_by_email

    UserFactory(email="demo@example.com", password="a-password-of-its-own-2026")
    lookups = []

    def racing_lookup(email):
        lookups.append(email)
        return None if len(lookups) == 1 else get_by_email(email)  # the first saw no account

    with override_settings(DEBUG=True), \
            patch.object(demo_user, "get_by_email", racing_lookup):
        call_command("demo_user", stdout=StringIO())

    user = get_user_model().objects.get(email="demo@example.com")
    assert user.check_password(DEMO_PASSWORD)
    assert len(lookups) == 2


def test_an_insert_that_fails_again_is_a_one_line_command_error():
    from accounts.management.commands import demo_user

    UserFactory(email="demo@example.com")

    with override_settings(DEBUG=True), patch.object(demo_user, "get_by_email", lambda e: None), \
            pytest.raises(CommandError, match="could not be saved") as caught:
        call_command("demo_user", stdout=StringIO())

    assert "\n" not in str(caught.value)


def test_help_documents_every_option_and_the_exit_status():
    from accounts.management.commands.demo_user import Command

    text = " ".join(Command().create_parser("manage.py", "demo_user").format_help().split())

    for option in ("--email EMAIL the account's address", "--password PASSWORD its password",
                   "--name NAME its name"):
        assert option in text
    assert "Exit status: 0" in text


def test_bad_input_from_the_command_line_exits_1_with_one_line_on_stderr():
    done = subprocess.run(
        [sys.executable, "manage.py", "demo_user", "--email", "a@b@c", "--password",
         "staging-only-passphrase-7", "--skip-checks"],
        cwd=ROOT, env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
        capture_output=True, text=True, timeout=120)

    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.splitlines() == ["CommandError: Not an email address: 'a@b@c' "
                                        "(Enter a valid email address.)"]
