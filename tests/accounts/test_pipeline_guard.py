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


def test_expired_sessions_are_marked_ended_by_the_periodic_task(client, user, password):
    import time_machine
    from django.utils import timezone

    from accounts.models import UserSession
    from accounts.sessions import sessions_expire

    client.post(reverse("accounts:login"), {"email": user.email, "password": password})
    row = UserSession.objects.get(user=user)
    with time_machine.travel(timezone.now() + timezone.timedelta(hours=2), tick=False):
        assert sessions_expire() == 1
    row.refresh_from_db()
    assert row.end_reason == "idle_timeout"


def test_api_end_all_signs_out_everywhere(user, password):
    from rest_framework.test import APIClient

    from accounts.models import UserSession

    first, second = APIClient(), APIClient()
    for client in (first, second):
        client.post("/api/auth/v1/login/", {"email": user.email, "password": password},
                    format="json")
    assert first.post("/api/auth/v1/sessions/end-all/").status_code == 204
    assert not UserSession.objects.filter(user=user, ended_at__isnull=True).exists()
    assert second.get("/api/auth/v1/session/").json()["authenticated"] is False
