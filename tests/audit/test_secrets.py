"""No secret ever reaches an audit event or a log line.

Every flow runs with sentinel passwords, and the test collects every token mailed
(verification, sign-in and reset links) and every session key handed out; then it searches
each event, each log record (all loggers, at DEBUG) and each alert mail for them.
"""

from __future__ import annotations

import json
import logging
import secrets

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.test import Client, override_settings
from django.urls import reverse

from accounts.models import EmailAddress
from audit import chain
from audit.models import Event
from authsuite.models import OutboxMessage
from tests.audit.support import all_text
from tests.helpers import last_link, token_from

User = get_user_model()

pytestmark = pytest.mark.django_db

API = "/api/auth/v1/"


def _sentinel(kind: str) -> str:
    return f"Sentinel-{kind}-{secrets.token_hex(8)}"


class Secrets:
    """Everything secret a flow handed out, and the client that drives the flows."""

    def __init__(self, client):
        self.client = client
        self.values: dict[str, str] = {}

    def add(self, label: str, value: str) -> str:
        assert value and len(value) >= 16, label
        self.values[f"{label} #{len(self.values)}"] = value
        return value

    def keep_session(self):
        key = self.client.cookies.get("sessionid")
        if key is not None and key.value:
            self.add("session key", key.value)

    def post(self, path: str, body=None, **extra):
        response = self.client.post(path, body or {}, **extra)
        self.keep_session()
        return response

    def api(self, path: str, body: dict):
        response = self.client.post(API + path, json.dumps(body), content_type="application/json")
        self.keep_session()
        return response

    def link(self, email: str, label: str) -> str:
        path = last_link(email)
        self.add(label, token_from(path))
        return path


def _capture_everything(caplog) -> None:
    caplog.set_level(logging.DEBUG)
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger):
            caplog.set_level(logging.DEBUG, logger=name)


def _log_texts(caplog) -> list[str]:
    texts = []
    for record in caplog.records:
        texts.append(record.getMessage())
        texts.append(repr(record.args))
        texts.append(record.exc_text or "")
    texts.append(caplog.text)
    return texts


@override_settings(AUTHSUITE_ACCOUNTS_LOCKOUT_THRESHOLD=3,
                   AUTHSUITE_AUDIT_ALERT_THROTTLE=0)
def test_no_secret_reaches_an_event_a_log_line_or_an_alert(caplog):
    _capture_everything(caplog)
    flows = Secrets(Client(HTTP_USER_AGENT="Firefox/1"))
    first, second, third, typed = (flows.add("password", _sentinel("Pass")) for _ in range(4))
    email = "ann@example.com"

    # Sign up and verify the address.
    assert flows.post(reverse("accounts:signup"), {"email": email, "password": first,
                                                   "name": "Ann"}).status_code == 302
    flows.post(flows.link(email, "verification token"), {"password": first})
    ann = User.objects.get(email=email)

    # Failed sign-ins (a password typed into the address field too), a lockout, sign-in.
    flows.post(reverse("accounts:login"), {"email": email, "password": typed})
    flows.post(reverse("accounts:login"), {"email": typed, "password": typed})
    flows.api("login/", {"email": typed, "password": first})
    flows.api("login/", {"email": f"{typed}@example.com", "password": first})
    flows.post(reverse("accounts:login"), {"email": email, "password": typed},
               REMOTE_ADDR="203.0.113.5")
    flows.post(reverse("accounts:login"), {"email": email, "password": typed},
               REMOTE_ADDR="203.0.113.5")
    flows.post(reverse("accounts:login"), {"email": email, "password": typed},
               REMOTE_ADDR="203.0.113.5")
    assert Event.objects.filter(action="accounts.account.locked").exists()
    assert flows.post(reverse("accounts:login"), {"email": email,
                                                  "password": first}).status_code == 302

    # Reauthenticate, change the password, add and switch addresses, end sessions.
    flows.post(reverse("accounts:reauthenticate"), {"password": typed})
    flows.post(reverse("accounts:reauthenticate"), {"password": first})
    flows.post(reverse("accounts:password_change"), {"current_password": first,
                                                     "new_password": second,
                                                     "new_password_confirm": second})
    flows.post(reverse("accounts:email"), {"email": "ann.two@example.com"})
    flows.post(flows.link("ann.two@example.com", "verification token"))
    new = EmailAddress.objects.get(email="ann.two@example.com")
    flows.post(reverse("accounts:email"), {"action": "primary", "address": new.pk})
    flows.post(reverse("accounts:sessions"), {"session": "others"})
    flows.post(reverse("accounts:logout"))

    # Reset by link, sign in by link, and by the API.
    flows.post(reverse("accounts:password_reset"), {"email": "ann.two@example.com"})
    reset = flows.link("ann.two@example.com", "reset token")
    flows.client.get(reset)
    flows.post(reset, {"new_password": third, "new_password_confirm": third})
    flows.post(reverse("accounts:magic_link"), {"email": "ann.two@example.com"})
    magic = flows.link("ann.two@example.com", "magic-link token")
    flows.client.get(magic)
    flows.post(magic)
    flows.post(reverse("accounts:logout"))
    assert flows.api("login/", {"email": "ann.two@example.com",
                                "password": third}).status_code == 200
    flows.api("reauthenticate/", {"password": typed})
    flows.api("logout/", {})

    # A refused link: a CSRF failure on a page whose URL holds a live token, an expired
    # attempt at a used token, and a rate limit on the sign-in form.
    flows.post(reverse("accounts:magic_link"), {"email": "ann.two@example.com"})
    live = flows.link("ann.two@example.com", "magic-link token")
    strict = Client(enforce_csrf_checks=True)
    assert strict.post(live, {}).status_code == 403
    flows.post(magic)
    with override_settings(AUTHSUITE_ACCOUNTS_RATE_LIMITS={"login": {"ip": "1/m"}}):
        flows.post(reverse("accounts:login"), {"email": "ann.two@example.com", "password": typed})
        flows.post(reverse("accounts:login"), {"email": "ann.two@example.com", "password": typed})

    for session in Session.objects.all():
        flows.add("stored session key", session.session_key)

    # Everything above left its trace...
    recorded = set(Event.objects.values_list("action", flat=True))
    for action in ("accounts.signup", "accounts.login.failed", "accounts.account.locked",
                   "accounts.reauthenticated", "accounts.password.changed",
                   "accounts.email.changed", "accounts.session.ended",
                   "accounts.password.reset_completed", "accounts.magic_link.used",
                   "authsuite.csrf_failed", "authsuite.rate_limited", "audit.alert.sent"):
        assert action in recorded, action
    alerts = list(OutboxMessage.objects.filter(template="audit/email/alert"))
    assert alerts
    assert caplog.records
    assert ann.pk

    # ...and none of it holds a secret.
    chain.seal_all()
    event_texts = [all_text(e) for e in Event.objects.all()]
    alert_texts = [json.dumps(m.context) for m in alerts]
    log_texts = _log_texts(caplog)
    for label, value in flows.values.items():
        for text in event_texts:
            assert value not in text, f"{label} in an event: {text}"
        for text in alert_texts:
            assert value not in text, f"{label} in an alert mail: {text}"
        for text in log_texts:
            assert value not in text, f"{label} in a log line: {text[:500]}"


TOKEN = "2zO20MRateLGkVdGDdNE2j8VWecct5Nsp4rBhaEs-5s"


def test_djangos_request_loggers_get_the_redacting_filter():
    from audit.app_settings import app_settings
    from audit.redaction import RedactSecrets

    assert "django.security.csrf" in app_settings.REDACT_LOGGERS
    for name in app_settings.REDACT_LOGGERS:
        assert any(isinstance(f, RedactSecrets) for f in logging.getLogger(name).filters), name


def test_token_segments_are_blanked_in_log_lines():
    from audit.redaction import RedactSecrets

    record = logging.LogRecord("django.request", logging.WARNING, __file__, 1,
                               "Bad Request: %s", (f"/accounts/magic-link/{TOKEN}/",), None)
    RedactSecrets().filter(record)
    assert record.getMessage() == "Bad Request: /accounts/magic-link/…/"
    line = logging.LogRecord("django.server", logging.INFO, __file__, 1,
                             f'"POST /accounts/password/reset/{TOKEN}/ HTTP/1.1" 302', (), None)
    RedactSecrets().filter(line)
    assert TOKEN not in line.getMessage()
    assert "/accounts/password/reset/…/ HTTP/1.1" in line.getMessage()
    plain = logging.LogRecord("django.request", logging.WARNING, __file__, 1,
                              "Not Found: %s", ("/accounts/sessions/12/",), None)
    RedactSecrets().filter(plain)
    assert plain.getMessage() == "Not Found: /accounts/sessions/12/"


def test_template_lookup_tracebacks_are_dropped():
    import sys

    from audit.redaction import RedactSecrets

    try:
        raise KeyError(f"context with {TOKEN}")
    except KeyError:
        info = sys.exc_info()
    record = logging.LogRecord("django.template", logging.DEBUG, __file__, 1,
                               "Exception while resolving variable '%s'.", ("x",), info)
    RedactSecrets().filter(record)
    assert record.exc_info is None
    assert TOKEN not in logging.Formatter().format(record)


def test_an_unresolved_path_keeps_its_shape_without_the_token():
    from audit.redaction import safe_path

    assert safe_path(None, f"/accounts/email/verify/{TOKEN}/") == "/accounts/email/verify/…/"
    assert safe_path(None, "/admin/audit/event/") == "/admin/audit/event/"
