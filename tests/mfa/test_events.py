"""Every MFA change leaves audit events and exactly one email through the outbox: the audit
alert rule's when the audit app sends it, else the MFA app's own notice — never both."""

from __future__ import annotations

import json

import pytest
from django.core import mail
from django.urls import reverse

from audit.models import Event
from authsuite.models import OutboxMessage
from mfa import flows
from mfa.flows import factors
from mfa.models import RecoveryCode, TOTPDevice
from tests.mfa.support import (
    begin_setup,
    enroll,
    login,
    page_codes,
    page_secret,
    sign_in_fully,
    step_up,
)

pytestmark = pytest.mark.django_db

CHALLENGE = reverse("mfa:challenge")


@pytest.fixture(params=["audit-rules", "mfa-notices"])
def mailer(request, settings):
    """Both ways an alert can be sent: by the audit rules (default) or, with the rules
    turned off, by the MFA app itself."""
    if request.param == "mfa-notices":
        settings.AUTHSUITE_AUDIT_ALERT_RULES = []
    return request.param


@pytest.fixture
def signed_in(client, user, password):
    login(client, user, password)
    return client


def start() -> tuple[int, int]:
    mail.outbox.clear()
    return Event.objects.count(), OutboxMessage.objects.count()


def new_events(since: int) -> list[str]:
    return list(Event.objects.order_by("pk")[since:].values_list("action", flat=True))


def assert_one_email(user, mailer, since_outbox: int, subject: str) -> None:
    assert [m.to for m in mail.outbox] == [[user.email]]
    assert subject in mail.outbox[0].subject
    rows = list(OutboxMessage.objects.order_by("pk")[since_outbox:])
    assert len(rows) == 1
    expected = "audit/email/alert" if mailer == "audit-rules" else "mfa/email/notice"
    assert rows[0].template == expected
    assert rows[0].user_id == user.pk


def test_adding_an_app(mailer, signed_in, user, clock):
    secret = page_secret(begin_setup(signed_in).content)
    events, outbox = start()
    response = signed_in.post(reverse("mfa:totp_setup"), {"code": clock.code(secret)})
    codes = page_codes(response.content)
    actions = new_events(events)
    assert "mfa.totp.added" in actions and "mfa.recovery_codes.generated" in actions
    assert_one_email(user, mailer, outbox, "authenticator app was added"
                     if mailer == "mfa-notices" else "A sign-in factor was added")
    if mailer == "audit-rules":
        assert actions.count("audit.alert.sent") == 1
    # No secret, no code, in any event or email.
    dump = json.dumps(list(Event.objects.values()), default=str) + mail.outbox[0].body
    assert secret not in dump and not any(code in dump for code in codes)


def test_removing_the_app(mailer, signed_in, user, clock):
    secret, _ = enroll(user)
    step_up(signed_in, clock, secret)  # the app was added after the password sign-in
    events, outbox = start()
    signed_in.post(reverse("mfa:totp_remove"))
    actions = new_events(events)
    assert {"mfa.totp.removed", "mfa.disabled"} <= set(actions)
    assert_one_email(user, mailer, outbox, "removed")


def test_new_recovery_codes(mailer, signed_in, user, clock):
    secret, _ = enroll(user)
    step_up(signed_in, clock, secret)  # the app was added after the password sign-in
    events, outbox = start()
    signed_in.post(reverse("mfa:recovery_codes"))
    assert "mfa.recovery_codes.generated" in new_events(events)
    assert json.loads(Event.objects.filter(action="mfa.recovery_codes.generated").last().data) == {
        "count": 10}
    assert_one_email(user, mailer, outbox, "New recovery codes were created")


def test_new_recovery_codes_are_reported_whatever_request_id_the_client_sends(signed_in, user,
                                                                            clock):
    """Codes made with a new app are told of by the app's alert; codes made later are told
    of on their own, even when the client sends (X-Request-ID is the client's to choose) the
    request id of the request that added the app."""
    request_id = "chosen-by-the-client-1"
    secret = page_secret(begin_setup(signed_in).content)
    signed_in.post(reverse("mfa:totp_setup"), {"code": clock.code(secret)},
                   HTTP_X_REQUEST_ID=request_id)
    events, outbox = start()
    signed_in.post(reverse("mfa:recovery_codes"), HTTP_X_REQUEST_ID=request_id)
    assert "mfa.recovery_codes.generated" in new_events(events)
    assert_one_email(user, "audit-rules", outbox, "New recovery codes were created")


def test_using_a_recovery_code(mailer, client, user, password):
    _, codes = enroll(user)
    login(client, user, password)
    events, outbox = start()
    client.post(CHALLENGE, {"code": codes[0]})
    actions = new_events(events)
    assert {"mfa.recovery_code.used", "mfa.challenge.succeeded"} <= set(actions)
    assert_one_email(user, mailer, outbox, "A recovery code was used")
    assert "9" in mail.outbox[0].body  # how many remain


def test_the_challenge_lock(mailer, settings, client, user, password, time_machine):
    settings.AUTHSUITE_MFA_CHALLENGE_MAX_FAILURES = 2
    settings.AUTHSUITE_MFA_THROTTLE_FACTOR = 0
    enroll(user)
    login(client, user, password)
    events, outbox = start()
    client.post(CHALLENGE, {"code": "zzzz-zzzz-zzzz"})
    client.post(CHALLENGE, {"code": "zzzz-zzzz-zzzy"})
    actions = new_events(events)
    assert actions.count("mfa.challenge.failed") == 2
    assert actions.count("mfa.challenge.locked") == 1
    assert_one_email(user, mailer, outbox, "Repeated wrong two-step codes")


def test_a_staff_reset(mailer, user, staff):
    enroll(user)
    events, outbox = start()
    flows.mfa_reset(user, by=staff)
    event = Event.objects.get(action="mfa.reset")
    assert event.actor_id == str(staff.pk) and event.target_id == str(user.pk)
    assert_one_email(user, mailer, outbox, "Two-step verification was reset")


def test_trusting_and_untrusting_a_browser(client, user, password, clock):
    secret, _ = enroll(user)
    login(client, user, password)
    events, outbox = start()
    client.post(CHALLENGE, {"code": clock.code(secret), "trust_browser": "on"})
    client.post(reverse("mfa:index"), {"action": "untrust", "trusted": "all"})
    actions = new_events(events)
    assert {"mfa.browser.trusted", "mfa.browser.untrusted"} <= set(actions)


def test_a_successful_challenge_is_audited_without_mail(client, user, password, clock):
    secret, _ = enroll(user)
    events, outbox = start()
    sign_in_fully(client, user, password, clock, secret)
    actions = new_events(events)
    assert "mfa.challenge.succeeded" in actions and "accounts.login.succeeded" in actions
    assert mail.outbox == []


def test_a_change_that_fails_to_commit_sends_nothing(transactional_db, client, user, password,
                                                     monkeypatch, clock):
    """The alert's outbox row shares the flow's transaction: no change, no email."""
    secret, _ = enroll(user)
    sign_in_fully(client, user, password, clock, secret)
    old = set(RecoveryCode.objects.values_list("digest", flat=True))
    events, outbox = start()

    def broken(*args, **kwargs):  # fails after the audit rule wrote its alert
        raise RuntimeError("database went away")

    monkeypatch.setattr(factors, "factor_notice", broken)  # where new recovery codes look it up
    with pytest.raises(RuntimeError):
        client.post(reverse("mfa:recovery_codes"))
    assert OutboxMessage.objects.count() == outbox
    assert Event.objects.count() == events
    assert mail.outbox == []
    assert set(RecoveryCode.objects.values_list("digest", flat=True)) == old
    assert TOTPDevice.objects.filter(user=user).exists()


def test_with_the_audit_trail_off_the_mfa_app_mails_each_change_itself(settings, client, user,
                                                                       password, staff, clock):
    """No event, so no alert rule: the notices must not stay claimed by rules that never run."""
    settings.AUTHSUITE_AUDIT_ENABLED = False
    login(client, user, password)
    secret = page_secret(begin_setup(client).content)
    sent = []
    for change in (
        lambda: client.post(reverse("mfa:totp_setup"), {"code": clock.code(secret)}),
        lambda: client.post(reverse("mfa:recovery_codes")),
        lambda: client.post(reverse("mfa:totp_remove")),
        lambda: flows.mfa_reset(user, by=staff),
    ):
        mail.outbox.clear()
        change()
        sent.append([m.subject for m in mail.outbox])
    assert [len(subjects) for subjects in sent] == [1, 1, 1, 1], sent
    assert not Event.objects.filter(action__startswith="mfa.").exists()
