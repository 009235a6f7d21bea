"""Only the stage a sign-in waits for can be passed."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts import pipeline
from accounts.models import PasswordChangeRequired

pytestmark = pytest.mark.django_db


def test_a_later_stage_cannot_be_passed_first(client, user, password, rf):
    PasswordChangeRequired.objects.create(user=user)
    client.post(reverse("accounts:login"), {"email": user.email, "password": password})
    request = rf.get("/")
    request.session = client.session
    state = pipeline.state_get(request)
    assert state.waiting == "password_change_required"
    # A stage the sign-in is not waiting for changes nothing.
    assert pipeline.stage_passed(request, "mfa", amr=["otp"]) is None
    assert pipeline.state_get(request).amr == ["pwd"]
    assert "_auth_user_id" not in request.session
