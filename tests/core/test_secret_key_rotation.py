"""Rotating SECRET_KEY the way Django documents it (the old key moved to
SECRET_KEY_FALLBACKS): what was stored as a keyed digest under the old key still matches, as
Django's own signed values and password reset tokens do, until the old key is dropped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from accounts import tokens
from mfa import recovery, trust
from mfa.models import RecoveryCodeSet

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]

NEW_KEY = "a new secret key, the old one kept as a fallback " * 2


@pytest.fixture
def rotate(settings):
    def rotate():
        settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
        settings.SECRET_KEY = NEW_KEY
    return rotate


def test_recovery_codes_made_before_a_rotation_still_work(user, rotate, settings):
    codes = recovery.generate(user)
    rotate()
    device = RecoveryCodeSet.objects.get(user=user)
    assert device.verify_token(codes[0])
    assert not device.verify_token(codes[0])  # still single use
    settings.SECRET_KEY_FALLBACKS = []  # the old key dropped: its digests match no more
    assert not device.verify_token(codes[1])


def test_an_emailed_link_issued_before_a_rotation_still_works(user, rotate):
    raw = tokens.token_issue(user=user, purpose=tokens.Purpose.MAGIC_LINK, email=user.email,
                             lifetime=900)
    rotate()
    assert tokens.token_consume(raw, purpose=tokens.Purpose.MAGIC_LINK) is not None
    assert tokens.token_consume(raw, purpose=tokens.Purpose.MAGIC_LINK) is None


def test_a_browser_trusted_before_a_rotation_stays_trusted(user, rotate, settings):
    settings.AUTHSUITE_MFA_TRUST_BROWSER_DAYS = 30
    request = RequestFactory().get("/")
    response = HttpResponse()
    row = trust.trust_issue(request, response, user)
    cookie = response.cookies[trust.app_settings.TRUST_COOKIE_NAME].value
    rotate()
    later = RequestFactory().get("/")
    later.COOKIES[trust.app_settings.TRUST_COOKIE_NAME] = cookie
    assert trust.trusted(later, user) == row


def test_the_production_profile_reads_the_fallbacks_from_the_environment(tmp_path):
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH")}
    env.update(DJANGO_SETTINGS_MODULE="authsuite.settings_production",
               AUTHSUITE_VAR_DIR=str(tmp_path), SECRET_KEY="k" * 50,
               SECRET_KEY_FALLBACKS=" old-key-one , old-key-two,")
    result = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; "
         "print(settings.SECRET_KEY_FALLBACKS)"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.stdout.strip() == "['old-key-one', 'old-key-two']", result.stderr
