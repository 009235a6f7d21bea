"""A CSRF failure's reason may quote a Referer that is a sign-in link: the event blanks it."""

from __future__ import annotations

import json

import pytest

from audit.models import Event
from authsuite import signals

pytestmark = pytest.mark.django_db


def test_csrf_reason_keeps_no_token(rf):
    token = "Zq3x9" * 9
    request = rf.post("/accounts/login/")
    signals.csrf_failed.send(
        sender=None, request=request, path="/accounts/login/",
        reason=f"Referer checking failed - https://evil.example/accounts/magic-link/{token}/ "
               f"does not match any trusted origins.",
    )
    event = Event.objects.get(action="authsuite.csrf_failed")
    data = json.loads(event.data)
    assert token not in event.data
    assert data["reason"].startswith("Referer checking failed")
