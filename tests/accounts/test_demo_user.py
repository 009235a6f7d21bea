"""``manage.py demo_user``: the demo's account, never one with published credentials outside
DEBUG."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from accounts.management.commands.demo_user import DEMO_PASSWORD
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


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
