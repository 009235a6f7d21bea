"""What the suite tells an operator through logging: under ``authsuite.*`` names, each
failure to act on once at WARNING or above, with ids and never a secret, on one line."""

from __future__ import annotations

import importlib
import json
import logging
import logging.config
import pkgutil
import smtplib
from pathlib import Path

import pytest
from django.core.cache.backends.locmem import LocMemCache
from django.test import override_settings
from django.views.debug import ExceptionReporter
from kombu.exceptions import OperationalError

from audit.redaction import RedactSecrets
from authsuite import crypto, outbox
from authsuite.models import OutboxMessage
from tests.accounts.support import api_post
from tests.conftest import STRONG_PASSWORD
from tests.core.test_outbox import FlakyBackend, new_message, row
from tests.endpoints import api_endpoints
from tests.factories import UserFactory

Status = OutboxMessage.Status
TOKEN = "Vq3xL9sT2mWc8RkP4nZb7YhJ"
LINK = f"https://id.example.com/accounts/magic-link/{TOKEN}/"
README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
SUITE_APPS = ("authsuite", "accounts", "mfa", "passkeys", "audit")


def records(caplog, level=logging.WARNING) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= level]


def rendered(record: logging.LogRecord) -> str:
    """The record as a JSON formatter would write it: every attribute, as text."""
    return json.dumps({k: str(v) for k, v in vars(record).items()}) + record.getMessage()


# --- names ----------------------------------------------------------------------------------


def _suite_modules():
    for app in SUITE_APPS:
        package = importlib.import_module(app)
        yield package
        for info in pkgutil.walk_packages(package.__path__, f"{app}."):
            if ".migrations." in info.name or info.name.startswith(("authsuite.settings",
                                                                    "authsuite.wsgi",
                                                                    "authsuite.asgi")):
                continue
            yield importlib.import_module(info.name)


def test_every_logger_of_the_suite_is_named_under_authsuite():
    """One prefix routes them all, and the app comes next (``authsuite.mfa``)."""
    loggers = {}
    for module in _suite_modules():
        for value in vars(module).values():
            if isinstance(value, logging.Logger):
                loggers[module.__name__] = value.name
    assert loggers
    wrong = {module: name for module, name in loggers.items()
             if name != "authsuite" and not name.startswith("authsuite.")}
    assert wrong == {}
    # And each is documented, with what it records.
    section = README.split("### Logging", 1)[1].split("\n## ", 1)[0]
    for name in set(loggers.values()):
        assert f"| `{name}` |" in section, name


def test_the_documented_logging_configuration_loads(tmp_path):
    section = README.split("### Logging", 1)[1].split("\n## ", 1)[0]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(code.replace("/var/log/authsuite/audit.jsonl", str(tmp_path / "audit.jsonl")),  # noqa: S102
         namespace)
    names = ("authsuite", "authsuite.audit", "django")
    saved = {name: vars(logging.getLogger(name)).copy() for name in names}
    saved_lists = {name: (logging.getLogger(name).handlers[:], logging.getLogger(name).filters[:])
                   for name in names}
    try:
        logging.config.dictConfig(namespace["LOGGING"])
        audit = logging.getLogger("authsuite.audit")
        assert [type(h).__name__ for h in audit.handlers] == ["WatchedFileHandler"]
        assert any(isinstance(f, RedactSecrets)
                   for h in logging.getLogger("authsuite").handlers for f in h.filters)
    finally:
        for name in names:
            logger = logging.getLogger(name)
            for handler in logger.handlers:
                if handler not in saved_lists[name][0]:
                    handler.close()
            vars(logger).update(saved[name])
            logger.handlers, logger.filters = saved_lists[name]


# --- the outbox -----------------------------------------------------------------------------


@pytest.fixture
def flaky(settings):
    settings.EMAIL_BACKEND = "tests.core.test_outbox.FlakyBackend"
    settings.AUTHSUITE_MAIL_RETRY_BACKOFF = 30
    settings.AUTHSUITE_MAIL_MAX_ATTEMPTS = 2
    FlakyBackend.failures, FlakyBackend.sent = 100, []
    return FlakyBackend


def _sealed_link_message():
    return new_message(sealed_context=crypto.seal(json.dumps({"url": LINK, "token": TOKEN})))


@pytest.mark.usefixtures("eager_celery", "outbox_templates")
def test_a_refusal_quoting_the_link_logs_and_keeps_no_token(db, flaky, caplog, time_machine):
    """A spam filter's reply names the URL it refused: neither the log nor ``last_error``
    (shown to staff) may hold it, on the retry or when the message fails for good."""
    caplog.set_level(logging.DEBUG)
    time_machine.move_to("2026-03-01 12:00Z", tick=False)
    flaky.error = smtplib.SMTPDataError(
        451, f"4.7.1 URL {LINK} is listed, try again later".encode())
    message = _sealed_link_message()
    with pytest.raises(outbox.DeliveryDeferred) as deferred:
        outbox.mail_deliver(message.pk)
    assert TOKEN not in row(message).last_error
    assert "SMTPDataError" in row(message).last_error and "451" in row(message).last_error
    time_machine.shift(deferred.value.countdown + 1)
    flaky.error = smtplib.SMTPDataError(554, f"5.7.1 URL {LINK} is listed".encode())
    assert outbox.mail_deliver(message.pk) == Status.FAILED
    assert TOKEN not in row(message).last_error
    [retried] = [r for r in records(caplog) if r.levelno == logging.WARNING]
    [gave_up] = records(caplog, logging.ERROR)
    assert str(message.pk) in retried.getMessage() and str(message.pk) in gave_up.getMessage()
    for record in caplog.records:
        assert TOKEN not in rendered(record)


@pytest.mark.usefixtures("eager_celery", "outbox_templates")
def test_a_failure_text_stays_on_one_line(db, flaky, caplog):
    """A backend's error that holds a CR/LF cannot forge a log line."""
    caplog.set_level(logging.DEBUG)
    flaky.error = smtplib.SMTPServerDisconnected(
        "Connection closed\r\nCRITICAL authsuite.audit: trail wiped")
    message = new_message()
    with pytest.raises(outbox.DeliveryDeferred):
        outbox.mail_deliver(message.pk)
    [warning] = records(caplog)
    assert "\n" not in warning.getMessage() and "\r" not in warning.getMessage()
    assert "\\u000d\\u000a" in warning.getMessage()
    assert "\n" not in row(message).last_error


class BrokerDown:
    def __init__(self):
        self.calls = 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        raise OperationalError("[Errno 111] Connection refused")


@pytest.fixture
def broker_down(monkeypatch):
    down = BrokerDown()
    monkeypatch.setattr("authsuite.tasks.deliver_mail.apply_async", down)
    return down


@pytest.mark.usefixtures("outbox_templates")
def test_a_broker_down_at_queueing_is_one_warning_that_says_why(
        transactional_db, broker_down, caplog):
    caplog.set_level(logging.DEBUG)
    message = outbox.mail_enqueue(template="outbox_test/greeting", to="ann@example.com",
                                  context={"name": "Ann"}, secrets={"url": LINK})
    assert row(message).status == Status.PENDING  # kept for the sweeper
    [warning] = records(caplog)
    assert warning.name == "authsuite.outbox"
    assert str(message.pk) in warning.getMessage()
    assert "OperationalError" in warning.getMessage()
    assert "Connection refused" in warning.getMessage()
    assert TOKEN not in rendered(warning)


@pytest.mark.usefixtures("outbox_templates")
def test_a_sweep_with_the_broker_down_warns_once_not_once_a_message(
        db, broker_down, caplog, settings, time_machine):
    settings.AUTHSUITE_MAIL_SWEEP_AFTER = 60
    caplog.set_level(logging.DEBUG)
    time_machine.move_to("2026-03-01 12:00Z", tick=False)
    messages = [new_message() for _ in range(5)]
    time_machine.shift(120)
    assert outbox.outbox_sweep() == 0
    assert broker_down.calls == 1
    [warning] = records(caplog)
    assert "OperationalError" in warning.getMessage()
    assert all(row(m).status == Status.PENDING for m in messages)
    assert any("5 due messages" in r.getMessage() for r in caplog.records)


# --- rate limits ----------------------------------------------------------------------------


class UnreachableCache(LocMemCache):
    """A cache whose server is gone, as memcached clients report it: nothing is added,
    counted or read."""

    def add(self, *args, **kwargs):
        return False

    def incr(self, *args, **kwargs):
        raise ValueError("the server is unavailable")

    def get(self, key, default=None, version=None):
        return default


DOWN = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "limits": {"BACKEND": f"{__name__}.UnreachableCache"}}


@pytest.mark.parametrize("fail_open", [False, True])
def test_a_rate_limit_cache_that_cannot_count_is_a_warning(client, db, caplog, fail_open):
    email = "ann@example.com"
    caplog.set_level(logging.DEBUG)
    with override_settings(CACHES=DOWN, RATELIMIT_USE_CACHE="limits",
                           RATELIMIT_FAIL_OPEN=fail_open):
        api_post(client, "login/", {"email": email, "password": "wrong horse"})
    warnings = [r for r in records(caplog) if r.name == "authsuite.ratelimit"]
    assert warnings
    for warning in warnings:
        assert "'limits'" in warning.getMessage()
        assert "accounts.login" in warning.getMessage()
        assert ("allowed" if fail_open else "refused") in warning.getMessage()
        assert email not in rendered(warning)
    # One a counter: each scope the sign-in counts (the address, the IP) is named once.
    messages = [w.getMessage() for w in warnings]
    assert len(messages) == len(set(messages))


def test_a_refusal_for_want_of_a_cache_is_not_recorded_as_a_client_over_its_limit(client, db):
    # Failing closed refuses every attempt: the operator is warned (above), but the trail
    # said "rate limited" of each address and IP that merely tried while the cache was down.
    from audit.models import Event

    with override_settings(CACHES=DOWN, RATELIMIT_USE_CACHE="limits", RATELIMIT_FAIL_OPEN=False):
        response = api_post(client, "login/", {"email": "ann@example.com",
                                               "password": "wrong horse"})
    assert response.status_code == 429
    assert not Event.objects.filter(action="authsuite.rate_limited").exists()


def test_a_working_rate_limit_cache_logs_nothing(client, db, caplog):
    caplog.set_level(logging.DEBUG)
    api_post(client, "login/", {"email": "ann@example.com", "password": "wrong horse"})
    assert [r for r in caplog.records if r.name == "authsuite.ratelimit"] == []


# --- Django's request loggers ---------------------------------------------------------------

#: What a client may post by mistake as a form rather than JSON: the API refuses it (415),
#: and Django's request logger records that refusal with the request.
POSTED = {"password": "Posted-Password-4f1c9e2b7a", "token": "Posted-Token-8d3a6f0c5e",
          "code": "Posted-Code-2b9e7d4a1f", "credential": "Posted-Credential-6c0f3b8e9d"}


@pytest.mark.parametrize("endpoint", [e for e in api_endpoints() if "post" in e.methods],
                         ids=str)
def test_a_refused_api_post_is_reported_without_what_was_posted(client, db, endpoint,
                                                                monkeypatch):
    """The request a log record carries (Django's, of a refusal or a failure) is what
    AdminEmailHandler, or any reporter built on Django's, renders: its POST must be
    filtered (sensitive_post_parameters) whichever app's view refused it."""
    from authsuite.api import errors

    refused = []
    log_refusal = errors._log_refusal

    def keep(context, response, code):
        refused.append(context["request"]._request)
        log_refusal(context, response, code)

    monkeypatch.setattr(errors, "_log_refusal", keep)
    response = client.post(endpoint.url(), POSTED)
    assert response.status_code >= 400
    [request] = refused
    assert request.POST["token"] == POSTED["token"]
    text = ExceptionReporter(request, None, None, None, is_email=True).get_traceback_text()
    for value in POSTED.values():
        assert value not in text, endpoint


# --- what pages nobody ----------------------------------------------------------------------


def test_a_client_error_on_the_api_is_info_not_a_warning(client, db, caplog):
    """A wrong password over the API is as ordinary as on the page (shown again, logged
    nowhere): an INFO line with its code, and the audit trail; no WARNING to page on."""
    UserFactory(email="ann@example.com", password=STRONG_PASSWORD)
    caplog.set_level(logging.DEBUG)
    assert api_post(client, "login/", {"email": "ann@example.com",
                                       "password": "wrong horse"}).status_code == 400
    malformed = client.post("/api/auth/v1/login/", "{not json", content_type="application/json")
    assert malformed.status_code == 400
    assert records(caplog) == []
    refused = [r.getMessage() for r in caplog.records if r.name == "authsuite.api"]
    assert refused == ["api: POST /api/auth/v1/login/ refused: 400 invalid_credentials",
                       "api: POST /api/auth/v1/login/ refused: 400 malformed_request"]


def test_a_server_error_on_the_api_stays_an_error(client, db, caplog, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr("accounts.backends.get_by_email", broken)
    client.raise_request_exception = False
    caplog.set_level(logging.DEBUG)
    assert api_post(client, "login/", {"email": "ann@example.com",
                                       "password": "wrong horse"}).status_code == 500
    [error] = records(caplog)
    assert (error.name, error.levelno) == ("django.request", logging.ERROR)
    assert error.exc_info is not None
