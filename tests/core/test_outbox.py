"""The mail outbox: written in the caller's transaction, delivered once, retried with
backoff, swept when a task was lost, secrets sealed at rest and erased once delivered."""

from __future__ import annotations

import json
import smtplib
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.header import decode_header, make_header
from pathlib import Path
from smtplib import SMTPException

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connection, transaction

from authsuite import crypto, outbox
from authsuite.models import OutboxMessage
from authsuite.tasks import deliver_mail

Status = OutboxMessage.Status
TEMPLATES_DIR = Path(__file__).parent / "templates"
GREETING = "outbox_test/greeting"  # subject, text and HTML
NOTICE = "outbox_test/notice"  # subject and text only
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SECRET_URL = "https://id.example.com/accounts/magic-link/sEcReT-t0ken-value/"


pytestmark = pytest.mark.usefixtures("eager_celery", "outbox_templates")


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(START, tick=False)
    return time_machine


def new_message(**fields) -> OutboxMessage:
    """A row as mail_enqueue writes it, without queueing its delivery."""
    values = {"template": GREETING, "to": "ann@example.com", "context": {"name": "Ann"}}
    values.update(fields)
    return OutboxMessage.objects.create(**values)


def row(message: OutboxMessage) -> OutboxMessage:
    return OutboxMessage.objects.get(pk=message.pk)


def raw_row_text(message: OutboxMessage) -> str:
    """Every column of the row as the database stores it."""
    table = OutboxMessage._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} WHERE id = %s", [message.pk])  # noqa: S608
        return " ".join(str(value) for value in cursor.fetchone())


# --- in the caller's transaction ----------------------------------------------------------------


def test_enqueue_writes_in_the_callers_transaction_and_sends_after_commit(transactional_db):
    with transaction.atomic():
        message = outbox.mail_enqueue(template=GREETING, to="ann@example.com",
                                      context={"name": "Ann"}, secrets={"url": SECRET_URL})
        assert row(message).status == Status.PENDING
        assert mail.outbox == []  # never sent inside the transaction
    assert row(message).status == Status.SENT
    assert [m.to for m in mail.outbox] == [["ann@example.com"]]


def test_nothing_is_written_or_sent_when_the_transaction_rolls_back(transactional_db):
    with pytest.raises(RuntimeError), transaction.atomic():
        outbox.mail_enqueue(template=GREETING, to="ann@example.com", context={"name": "Ann"})
        raise RuntimeError("the state change failed")
    assert OutboxMessage.objects.count() == 0
    assert mail.outbox == []


def test_a_rolled_back_savepoint_takes_its_message_with_it(transactional_db):
    with transaction.atomic():
        kept = outbox.mail_enqueue(template=NOTICE, to="kept@example.com", context={"name": "K"})
        with pytest.raises(RuntimeError), transaction.atomic():
            outbox.mail_enqueue(template=NOTICE, to="dropped@example.com", context={"name": "D"})
            raise RuntimeError
    assert list(OutboxMessage.objects.values_list("pk", flat=True)) == [kept.pk]
    assert [m.to for m in mail.outbox] == [["kept@example.com"]]


# --- rendering and secrets ----------------------------------------------------------------------


def test_delivery_renders_subject_text_and_html(db):
    message = new_message()
    assert outbox.mail_deliver(message.pk) == Status.SENT
    [sent] = mail.outbox
    assert sent.subject == "Hello Ann from Example ID"
    assert sent.body.startswith("Hi Ann,")
    assert sent.from_email == "Example ID <id@example.com>"
    assert sent.to == ["ann@example.com"]
    assert sent.extra_headers["X-Authsuite-Message"] == str(message.pk)
    [(html, mimetype)] = sent.alternatives
    assert mimetype == "text/html"
    assert html.strip().startswith("<p>Hi Ann,")
    stored = row(message)
    assert (stored.status, stored.attempts, stored.last_error) == (Status.SENT, 1, "")
    assert stored.sent_at is not None and stored.claimed_at is None


def test_a_message_without_an_html_template_is_text_only(db):
    message = new_message(template=NOTICE)
    assert outbox.mail_deliver(message.pk) == Status.SENT
    [sent] = mail.outbox
    assert (sent.subject, sent.body.strip()) == ("Notice for Ann", "Something changed, Ann.")
    assert sent.alternatives == []


def test_html_escapes_context_values(db):
    message = new_message(context={"name": '<img src=x onerror="alert(1)">'})
    outbox.mail_deliver(message.pk)
    [(html, _)] = mail.outbox[0].alternatives
    assert "<img" not in html and "&lt;img" in html


def test_secrets_are_sealed_at_rest_and_erased_after_delivery(transactional_db):
    with transaction.atomic():
        message = outbox.mail_enqueue(template=GREETING, to="ann@example.com",
                                      context={"name": "Ann"}, secrets={"url": SECRET_URL})
        stored = row(message)
        assert stored.sealed_context
        assert "sEcReT-t0ken-value" not in raw_row_text(message)
        assert "url" not in stored.context
    stored = row(message)
    assert stored.status == Status.SENT
    assert stored.sealed_context == ""
    assert "sEcReT-t0ken-value" not in raw_row_text(message)
    sent = mail.outbox[0]
    assert SECRET_URL in sent.body
    assert SECRET_URL in sent.alternatives[0][0]


def test_a_tampered_seal_never_sends_and_ends_failed(db, settings):
    settings.AUTHSUITE_MAIL_MAX_ATTEMPTS = 1
    message = outbox.mail_enqueue(template=GREETING, to="ann@example.com", context={"name": "Ann"},
                                  secrets={"url": SECRET_URL})
    # (In these tests on_commit runs at once, so the first message was delivered already.)
    mail.outbox.clear()
    message = new_message(sealed_context=row(message).sealed_context[:-8] + "AAAAAAAA")
    assert outbox.mail_deliver(message.pk) == Status.FAILED
    assert mail.outbox == []
    stored = row(message)
    assert stored.status == Status.FAILED and stored.sealed_context == ""


OLD_BOX_KEY, NEW_BOX_KEY = "old secret box key " * 3, "new secret box key " * 3


def test_mail_sealed_before_a_box_key_rotation_goes_out_with_the_old_key_listed(db, settings):
    settings.AUTHSUITE_SECRET_BOX_KEY = OLD_BOX_KEY
    message = new_message(sealed_context=crypto.seal(json.dumps({"url": SECRET_URL})))
    settings.AUTHSUITE_SECRET_BOX_KEY = NEW_BOX_KEY
    settings.AUTHSUITE_SECRET_BOX_KEY_FALLBACKS = [OLD_BOX_KEY]

    assert outbox.mail_deliver(message.pk) == Status.SENT
    assert SECRET_URL in mail.outbox[0].body
    assert row(message).sealed_context == ""


def test_mail_sealed_before_a_secret_key_rotation_goes_out_with_the_old_key_listed(db, settings):
    """Without a box key SECRET_KEY seals, and Django's SECRET_KEY_FALLBACKS open."""
    message = new_message(sealed_context=crypto.seal(json.dumps({"url": SECRET_URL})))
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a new secret key, the old one kept as a fallback " * 2

    assert outbox.mail_deliver(message.pk) == Status.SENT
    assert SECRET_URL in mail.outbox[0].body


def test_mail_no_key_opens_is_retried_and_goes_out_once_the_old_key_is_listed(db, settings,
                                                                              frozen):
    """The key was changed without the old one among the fallbacks: nothing is sent (no
    mail without its link), the attempt fails with a reason staff can act on, and the
    retry delivers once the old key is listed."""
    settings.AUTHSUITE_SECRET_BOX_KEY = OLD_BOX_KEY
    message = new_message(sealed_context=crypto.seal(json.dumps({"url": SECRET_URL})))
    settings.AUTHSUITE_SECRET_BOX_KEY = NEW_BOX_KEY

    with pytest.raises(outbox.DeliveryDeferred) as deferred:
        outbox.mail_deliver(message.pk)

    assert mail.outbox == []
    stored = row(message)
    assert stored.status == Status.PENDING and stored.sealed_context
    assert "AUTHSUITE_SECRET_BOX_KEY" in stored.last_error and "fallbacks" in stored.last_error
    settings.AUTHSUITE_SECRET_BOX_KEY_FALLBACKS = [OLD_BOX_KEY]
    frozen.shift(deferred.value.countdown)
    assert outbox.mail_deliver(message.pk) == Status.SENT
    assert SECRET_URL in mail.outbox[0].body


def test_mail_queued_after_a_rotation_is_sealed_with_the_new_key(transactional_db, settings):
    settings.AUTHSUITE_SECRET_BOX_KEY = NEW_BOX_KEY
    settings.AUTHSUITE_SECRET_BOX_KEY_FALLBACKS = [OLD_BOX_KEY]
    with transaction.atomic():
        message = outbox.mail_enqueue(template=GREETING, to="ann@example.com",
                                      context={"name": "Ann"}, secrets={"url": SECRET_URL})
        sealed = row(message).sealed_context
    assert crypto.sealed_with_current(sealed)
    settings.AUTHSUITE_SECRET_BOX_KEY = OLD_BOX_KEY
    settings.AUTHSUITE_SECRET_BOX_KEY_FALLBACKS = []
    assert crypto.unseal(sealed) is None


# --- delivered once ------------------------------------------------------------------------------


def test_delivering_twice_sends_once(db):
    message = new_message()
    assert outbox.mail_deliver(message.pk) == Status.SENT
    assert outbox.mail_deliver(message.pk) == "skipped"
    assert deliver_mail.delay(message.pk).get() == "skipped"
    assert len(mail.outbox) == 1
    assert row(message).attempts == 1


def test_a_message_another_worker_is_sending_is_skipped(db, frozen):
    message = new_message(status=Status.SENDING, claimed_at=START - timedelta(seconds=10), attempts=1)
    assert outbox.mail_deliver(message.pk) == "skipped"
    assert mail.outbox == []
    assert row(message).attempts == 1


def test_a_claim_older_than_the_timeout_is_taken_over(db, frozen, settings):
    settings.AUTHSUITE_MAIL_CLAIM_TIMEOUT = 300
    message = new_message(status=Status.SENDING, claimed_at=START - timedelta(seconds=301), attempts=1)
    assert outbox.mail_deliver(message.pk) == Status.SENT
    assert len(mail.outbox) == 1
    assert row(message).attempts == 2


def test_a_last_attempt_whose_worker_was_lost_fails_for_good(db, frozen, settings):
    """The worker died (or hung past its claim) on the last attempt the setting allows: the
    message is not sent an attempt more, every 5 minutes for ever, keeping its secret."""
    settings.AUTHSUITE_MAIL_MAX_ATTEMPTS = 4
    settings.AUTHSUITE_MAIL_CLAIM_TIMEOUT = 300
    sealed = crypto.seal(json.dumps({"url": SECRET_URL}))
    lost = new_message(status=Status.SENDING, claimed_at=START - timedelta(seconds=301),
                       attempts=4, sealed_context=sealed)
    swept = new_message(status=Status.SENDING, claimed_at=START - timedelta(seconds=301),
                        attempts=4, sealed_context=sealed)
    earlier = new_message(status=Status.SENDING, claimed_at=START - timedelta(seconds=301),
                          attempts=3)

    assert outbox.mail_deliver(lost.pk) == Status.FAILED
    assert outbox.outbox_sweep() == 1  # only the one with an attempt left
    assert [m.to for m in mail.outbox] == [["ann@example.com"]]
    assert row(earlier).status == Status.SENT
    for message in (lost, swept):
        stored = row(message)
        assert (stored.status, stored.attempts, stored.sealed_context) == (Status.FAILED, 4, "")
        assert stored.secret_erased and stored.claimed_at is None and stored.last_error


def test_a_link_that_expired_before_it_could_be_sent_is_never_sent(db, flaky, frozen):
    """The mail server was down past the link's lifetime: the user is not sent a dead link
    late (after a newer one, say), and its secret goes at once."""
    flaky.failures = 1
    message = new_message(sealed_context=crypto.seal(json.dumps({"url": SECRET_URL})),
                          expires_at=START + timedelta(seconds=45))
    with pytest.raises(outbox.DeliveryDeferred) as deferred:
        outbox.mail_deliver(message.pk)  # fails: retry in 30 s, the link still alive then
    frozen.shift(deferred.value.countdown)
    assert outbox.mail_deliver(message.pk) == Status.SENT
    assert len(flaky.sent) == 1

    late = new_message(sealed_context=crypto.seal(json.dumps({"url": SECRET_URL})),
                       expires_at=START + timedelta(seconds=45))
    flaky.failures = 1
    with pytest.raises(outbox.DeliveryDeferred):
        outbox.mail_deliver(late.pk)
    frozen.shift(60)  # the next try comes after the link expired
    assert outbox.mail_deliver(late.pk) == Status.FAILED
    assert len(flaky.sent) == 1
    stored = row(late)
    assert (stored.status, stored.sealed_context, stored.secret_erased) == (Status.FAILED, "", True)
    assert "expired" in stored.last_error


def test_a_link_mail_expires_with_its_token(db, user, frozen, settings):
    from accounts.flows import password

    settings.AUTHSUITE_ACCOUNTS_PASSWORD_RESET_TIMEOUT = 1800
    password.password_reset_send(None, user=user)
    assert row(OutboxMessage.objects.get()).expires_at == START + timedelta(seconds=1800)


def test_unknown_and_finished_messages_are_skipped(db):
    assert outbox.mail_deliver(987654) == "skipped"
    for status in (Status.SENT, Status.FAILED):
        assert outbox.mail_deliver(new_message(status=status).pk) == "skipped"
    assert mail.outbox == []


# --- failures, backoff, giving up ---------------------------------------------------------------


class FlakyBackend(BaseEmailBackend):
    """Raises ``error`` for the first ``failures`` sends, then delivers into ``sent``."""

    failures = 0
    error: Exception = SMTPException("451 4.3.0 temporary failure")
    sent: list = []

    def send_messages(self, messages):
        if FlakyBackend.failures > 0:
            FlakyBackend.failures -= 1
            raise FlakyBackend.error
        FlakyBackend.sent.extend(messages)
        return len(messages)


@pytest.fixture
def flaky(settings):
    settings.EMAIL_BACKEND = f"{__name__}.FlakyBackend"
    settings.AUTHSUITE_MAIL_RETRY_BACKOFF = 30
    settings.AUTHSUITE_MAIL_MAX_ATTEMPTS = 4
    FlakyBackend.failures, FlakyBackend.sent = 0, []
    FlakyBackend.error = SMTPException("451 4.3.0 temporary failure")
    return FlakyBackend


def test_smtp_failure_backs_off_exponentially_then_delivers(db, flaky, frozen):
    flaky.failures = 3
    message = new_message()
    now = START
    for attempt, backoff in enumerate([30, 60, 120], start=1):
        with pytest.raises(outbox.DeliveryDeferred) as deferred:
            outbox.mail_deliver(message.pk)
        assert deferred.value.countdown == backoff
        stored = row(message)
        assert stored.status == Status.PENDING
        assert stored.attempts == attempt
        assert stored.next_attempt_at == now + timedelta(seconds=backoff)
        assert stored.claimed_at is None
        assert "SMTPException" in stored.last_error and "451" in stored.last_error
        # Not due yet: nobody sends it early.
        frozen.shift(backoff - 1)
        assert outbox.mail_deliver(message.pk) == "skipped"
        frozen.shift(1)
        now += timedelta(seconds=backoff)
    assert outbox.mail_deliver(message.pk) == Status.SENT
    assert len(flaky.sent) == 1
    stored = row(message)
    assert (stored.status, stored.attempts, stored.last_error) == (Status.SENT, 4, "")


def test_smtp_failure_gives_up_after_max_attempts(db, flaky, frozen):
    flaky.failures = 100
    message = new_message(sealed_context=crypto.seal(json.dumps({"url": SECRET_URL})))
    for _ in range(3):
        with pytest.raises(outbox.DeliveryDeferred) as deferred:
            outbox.mail_deliver(message.pk)
        frozen.shift(deferred.value.countdown)
    assert outbox.mail_deliver(message.pk) == Status.FAILED
    stored = row(message)
    assert (stored.status, stored.attempts) == (Status.FAILED, 4)
    assert stored.sealed_context == ""  # the secret does not outlive the message
    assert "SMTPException" in stored.last_error
    frozen.shift(86400)
    assert outbox.mail_deliver(message.pk) == "skipped"
    assert outbox.outbox_sweep() == 0
    assert flaky.sent == [] and flaky.failures == 96


def test_backoff_is_capped_at_an_hour(db, flaky, frozen, settings):
    settings.AUTHSUITE_MAIL_MAX_ATTEMPTS = 20
    flaky.failures = 100
    message = new_message(attempts=9)  # the tenth attempt: 30 * 2**9 s would be over 4 hours
    with pytest.raises(outbox.DeliveryDeferred) as deferred:
        outbox.mail_deliver(message.pk)
    assert deferred.value.countdown == 3600
    assert row(message).next_attempt_at == START + timedelta(hours=1)


def test_an_unexpected_backend_error_is_retried_like_any_failure(db, flaky, frozen):
    """A backend bug must not leave the row "sending" for the sweeper to retry forever."""
    flaky.failures = 100
    flaky.error = RuntimeError("backend crashed")
    message = new_message()
    for _ in range(3):
        with pytest.raises(outbox.DeliveryDeferred) as deferred:
            outbox.mail_deliver(message.pk)
        assert row(message).status == Status.PENDING
        frozen.shift(deferred.value.countdown)
    assert outbox.mail_deliver(message.pk) == Status.FAILED
    assert "RuntimeError" in row(message).last_error


def test_the_eager_task_leaves_a_failed_send_pending_for_the_sweeper(db, flaky, frozen):
    flaky.failures = 1
    message = new_message()
    assert deliver_mail.delay(message.pk).get() == Status.PENDING
    stored = row(message)
    assert (stored.status, stored.attempts) == (Status.PENDING, 1)
    frozen.shift(60)  # due since 30 s, and older than AUTHSUITE_MAIL_SWEEP_AFTER
    assert outbox.outbox_sweep() == 1
    assert row(message).status == Status.SENT
    assert len(flaky.sent) == 1


@pytest.mark.parametrize("error", [
    smtplib.SMTPRecipientsRefused({"nobody@example.com": (550, b"5.1.1 no such mailbox")}),
    smtplib.SMTPRecipientsRefused({"a@example.com": (550, b"no"), "b@example.com": (553, b"no")}),
    smtplib.SMTPDataError(552, b"5.3.4 message too big"),
    smtplib.SMTPDataError(554, b"5.7.1 rejected as spam"),
], ids=["recipient-550", "all-recipients-5xx", "data-552", "data-554"])
def test_a_message_refused_for_good_fails_at_once(db, flaky, error):
    flaky.failures, flaky.error = 100, error
    message = new_message(sealed_context=crypto.seal(json.dumps({"url": SECRET_URL})))
    assert outbox.mail_deliver(message.pk) == Status.FAILED
    stored = row(message)
    assert (stored.status, stored.attempts, stored.sealed_context) == (Status.FAILED, 1, "")
    assert type(error).__name__ in stored.last_error


@pytest.mark.parametrize("error", [
    smtplib.SMTPRecipientsRefused({"nobody@example.com": (450, b"4.2.1 mailbox busy")}),
    smtplib.SMTPRecipientsRefused({"a@example.com": (550, b"no"), "b@example.com": (451, b"later")}),
    smtplib.SMTPDataError(451, b"4.3.0 try again"),
    smtplib.SMTPAuthenticationError(535, b"5.7.8 bad credentials"),
    smtplib.SMTPSenderRefused(550, b"5.7.1 sender not allowed", "site@example.com"),
    smtplib.SMTPServerDisconnected("connection lost"),
], ids=["recipient-450", "one-recipient-4xx", "data-451", "auth-535", "sender-550",
        "disconnected"])
def test_temporary_and_configuration_failures_keep_their_retries(db, flaky, error):
    flaky.failures, flaky.error = 100, error
    message = new_message()
    with pytest.raises(outbox.DeliveryDeferred):
        outbox.mail_deliver(message.pk)
    assert (row(message).status, row(message).attempts) == (Status.PENDING, 1)


def test_a_missing_template_fails_at_once(db):
    message = new_message(template="outbox_test/no_such_template")
    assert outbox.mail_deliver(message.pk) == Status.FAILED
    assert row(message).attempts == 1
    assert "TemplateDoesNotExist" in row(message).last_error


# --- the sweeper ---------------------------------------------------------------------------------


@pytest.mark.parametrize("keep_days", [30, 7])
def test_sweep_requeues_what_a_lost_task_left_and_deletes_old_sent_and_failed_rows(
    db, frozen, settings, keep_days,
):
    settings.AUTHSUITE_MAIL_SWEEP_AFTER = 60
    settings.AUTHSUITE_MAIL_CLAIM_TIMEOUT = 300
    settings.AUTHSUITE_MAIL_KEEP_DAYS = keep_days

    def ago(**delta) -> datetime:
        return START - timedelta(**delta)

    lost = new_message(to="lost@example.com", created_at=ago(minutes=2), next_attempt_at=ago(minutes=2))
    due_retry = new_message(to="retry@example.com", created_at=ago(hours=1), next_attempt_at=ago(seconds=1),
                            attempts=2)
    stale = new_message(to="stale@example.com", status=Status.SENDING, created_at=ago(hours=1),
                        claimed_at=ago(seconds=301), attempts=1)
    fresh = new_message(to="fresh@example.com", created_at=ago(seconds=10), next_attempt_at=ago(seconds=10))
    backing_off = new_message(to="later@example.com", created_at=ago(hours=1),
                              next_attempt_at=START + timedelta(minutes=5), attempts=3)
    sending = new_message(to="busy@example.com", status=Status.SENDING, created_at=ago(hours=1),
                          claimed_at=ago(seconds=10), attempts=1)
    old_sent = new_message(status=Status.SENT, created_at=ago(days=40), sent_at=ago(days=31))
    recent_sent = new_message(status=Status.SENT, created_at=ago(days=20), sent_at=ago(days=10))
    old_failed = new_message(status=Status.FAILED, created_at=ago(days=90), attempts=8)
    recent_failed = new_message(status=Status.FAILED, created_at=ago(days=5), attempts=8)

    assert outbox.outbox_sweep() == 3
    assert sorted(m.to[0] for m in mail.outbox) == ["lost@example.com", "retry@example.com",
                                                    "stale@example.com"]
    for message in (lost, due_retry, stale):
        assert row(message).status == Status.SENT
    for message in (fresh, backing_off):
        assert row(message).status == Status.PENDING
    assert row(sending).status == Status.SENDING
    remaining = set(OutboxMessage.objects.values_list("pk", flat=True))
    assert old_sent.pk not in remaining
    assert old_failed.pk not in remaining and recent_failed.pk in remaining
    assert (recent_sent.pk in remaining) is (keep_days > 10)
    # Swept once, delivered once: a second sweep finds nothing to do.
    assert outbox.outbox_sweep() == 0
    assert len(mail.outbox) == 3


def test_old_messages_are_forgotten_oldest_first_in_batches(db, monkeypatch):
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from authsuite.outbox import sweep

    monkeypatch.setattr(sweep, "FORGET_BATCH", 2)
    monkeypatch.setattr(sweep, "FORGET_BATCHES", 2)
    now = timezone.now()
    kept_since = now - timedelta(days=30)
    old = [OutboxMessage.objects.create(
        template="t", to="ann@example.com", status="sent", created_at=kept_since - timedelta(
            days=10 - n), sent_at=kept_since - timedelta(days=10 - n)) for n in range(5)]
    failed = OutboxMessage.objects.create(template="t", to="ann@example.com", status="failed",
                                          created_at=kept_since - timedelta(days=1))
    waiting = OutboxMessage.objects.create(template="t", to="ann@example.com",
                                           created_at=kept_since - timedelta(days=20))
    recent = OutboxMessage.objects.create(template="t", to="ann@example.com", status="sent",
                                          created_at=now, sent_at=now)
    with CaptureQueriesContext(connection) as captured:
        assert sweep.forget_old(kept_since) == 4  # two batches of two, then the next sweep
    deletes = [q for q in captured.captured_queries if q["sql"].startswith("DELETE")]
    assert len(deletes) == 2
    assert set(OutboxMessage.objects.values_list("pk", flat=True)) == {
        old[4].pk, failed.pk, waiting.pk, recent.pk}
    assert sweep.forget_old(kept_since) == 2
    assert set(OutboxMessage.objects.values_list("pk", flat=True)) == {waiting.pk, recent.pk}


# --- header injection ----------------------------------------------------------------------------


@pytest.mark.parametrize("separator", ["\n", "\r\n", "\r", "\x0b", "\x0c", "\x85", "\u2028", "\u2029"])
def test_a_newline_in_a_subject_value_cannot_add_headers(db, separator):
    name = f"Ann{separator}Bcc: eve@example.com{separator}X-Injected: yes"
    message = new_message(context={"name": name})
    assert outbox.mail_deliver(message.pk) == Status.SENT
    [sent] = mail.outbox
    assert sent.recipients() == ["ann@example.com"]
    assert not any(ch in sent.subject for ch in "\r\n\x0b\x0c\x85\u2028\u2029")
    parsed = message_from_bytes(sent.message().as_bytes())
    assert parsed["Bcc"] is None and parsed["X-Injected"] is None
    assert parsed.get_all("To") == ["ann@example.com"]
    assert "Bcc: eve@example.com" in str(make_header(decode_header(parsed["Subject"])))


def test_a_newline_in_the_recipient_sends_nothing(db, settings):
    settings.AUTHSUITE_MAIL_MAX_ATTEMPTS = 1
    message = new_message(to="ann@example.com\nBcc: eve@example.com")
    assert outbox.mail_deliver(message.pk) == Status.FAILED
    assert mail.outbox == []


def test_a_failed_link_mail_is_not_sent_again_without_its_link(db, rf, staff):
    from django.contrib.admin.sites import site
    from django.contrib.messages.storage.fallback import FallbackStorage

    from authsuite.admin import OutboxMessageAdmin
    from authsuite.models import OutboxMessage
    from authsuite.outbox import mail_enqueue
    from authsuite.outbox.delivery import record_failure

    message = mail_enqueue(template="accounts/email/magic_link", to="a@example.com",
                           secrets={"url": "https://example.com/secret"})
    # A worker holds the claim on its last attempt, and the send fails.
    OutboxMessage.objects.filter(pk=message.pk).update(
        status=OutboxMessage.Status.SENDING, claimed_at=message.created_at, attempts=99,
        sealed_context=message.sealed_context)
    message.refresh_from_db()
    record_failure(message, OSError("refused"))
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.FAILED
    assert message.secret_erased and message.sealed_context == ""

    request = rf.post("/")
    request.user = staff
    request.session = {}
    request._messages = FallbackStorage(request)
    OutboxMessageAdmin(OutboxMessage, site).retry_now(
        request, OutboxMessage.objects.filter(pk=message.pk))
    message.refresh_from_db()
    assert message.status == OutboxMessage.Status.FAILED


def test_staff_who_may_only_view_the_outbox_cannot_retry(db):
    from django.contrib.auth.models import Permission
    from django.test import Client

    from tests.factories import UserFactory

    message = OutboxMessage.objects.create(template="accounts/email/verify", to="a@example.com",
                                           status=OutboxMessage.Status.FAILED, attempts=5)
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_outboxmessage"))
    browser = Client()
    browser.force_login(viewer)
    url = "/admin/authsuite/outboxmessage/"
    assert browser.get(url).status_code == 200
    browser.post(url, {"action": "retry_now", "_selected_action": [message.pk]})
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboxMessage.Status.FAILED, 5)
    viewer.user_permissions.add(Permission.objects.get(codename="change_outboxmessage"))
    browser.post(url, {"action": "retry_now", "_selected_action": [message.pk]})
    message.refresh_from_db()
    assert message.attempts < 5  # queued again (and tried at once: Celery is eager here)


def test_mail_staff_queue_again_is_on_the_record(db, staff):
    # Its recipients get a second message (a sign-in link, a notice): who asked, and for
    # which rows, was nowhere.
    from django.test import Client

    from audit.models import Event
    from tests.audit.support import data

    failed = OutboxMessage.objects.create(template="accounts/email/verify", to="a@example.com",
                                          status=OutboxMessage.Status.FAILED, attempts=5)
    lost = OutboxMessage.objects.create(template="accounts/email/magic_link", to="b@example.com",
                                        status=OutboxMessage.Status.FAILED, attempts=5,
                                        secret_erased=True)
    sent = OutboxMessage.objects.create(template="accounts/email/verify", to="c@example.com",
                                        status=OutboxMessage.Status.SENT)
    browser = Client()
    browser.force_login(staff)
    url = "/admin/authsuite/outboxmessage/"
    browser.post(url, {"action": "retry_now", "index": "0",
                       "_selected_action": [failed.pk, lost.pk, sent.pk]})
    browser.post(url, {"action": "retry_now", "index": "0", "_selected_action": [sent.pk]})

    (event,) = Event.objects.filter(action="authsuite.outbox.retried")
    assert event.actor_id == str(staff.pk)
    assert data(event) == {"messages": [failed.pk], "not_sent": 1}
