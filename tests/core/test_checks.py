"""System checks: each id is triggered by the misconfiguration it names, and only by it.

Every message carries a hint and the setting it is about (``obj``). The demo and production
settings produce none of them.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core import checks
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.test import override_settings

from accounts.checks import check_accounts, check_link_templates
from authsuite.checks import (
    check_caches,
    check_caches_shared,
    check_celery_app,
    check_cookie_prefixes,
    check_mail,
    check_production,
    check_required_apps,
    check_sender,
    check_settings,
    check_time_zone,
)

ROOT = Path(__file__).resolve().parents[2]

CORE_IDS = ["authsuite.E001", "authsuite.E002", "authsuite.E003", "authsuite.E004",
            "authsuite.E005", "authsuite.E006", "authsuite.W001", "authsuite.W002", "authsuite.W003",
            "authsuite.W004", "authsuite.W005", "authsuite.W006",
            "authsuite.W007", "authsuite.W008", "authsuite.W009", "authsuite.W010"]
ACCOUNTS_IDS = [f"authsuite_accounts.E00{n}" for n in range(1, 9)] + [
    "authsuite_accounts.W005", "authsuite_accounts.W006", "authsuite_accounts.E012",
    "authsuite_accounts.W007", "authsuite_accounts.W008",
    "authsuite_accounts.W001", "authsuite_accounts.W002", "authsuite_accounts.W003",
    "authsuite_accounts.W004"]
ALL_IDS = CORE_IDS + ACCOUNTS_IDS

SESSION_TRACKING = "accounts.sessions.SessionTrackingMiddleware"
AUTHENTICATION = "django.contrib.auth.middleware.AuthenticationMiddleware"
REQUEST_CONTEXT = "authsuite.context.RequestContextMiddleware"
SMTP = "django.core.mail.backends.smtp.EmailBackend"
LOCMEM = "django.core.mail.backends.locmem.EmailBackend"
NORMALIZING = "accounts.hashers.NormalizingArgon2idPasswordHasher"
AS_TYPED = "accounts.hashers.Argon2idPasswordHasher"
PBKDF2 = "django.contrib.auth.hashers.PBKDF2PasswordHasher"
ARGON2_FIRST = [NORMALIZING, AS_TYPED, PBKDF2]


def all_messages() -> list[checks.CheckMessage]:
    return [*check_required_apps(), *check_settings(), *check_caches(), *check_caches_shared(),
            *check_cookie_prefixes(), *check_time_zone(),
            *check_mail(), *check_sender(), *check_celery_app(), *check_production(), *check_accounts(),
            *check_link_templates()]


def found(check_id: str) -> checks.CheckMessage:
    matching = [m for m in all_messages() if m.id == check_id]
    assert len(matching) == 1, [m.id for m in all_messages()]
    message = matching[0]
    assert message.hint, check_id
    assert message.obj, check_id
    assert message.msg, check_id
    expected_level = checks.WARNING if ".W" in check_id else checks.ERROR
    assert message.level == expected_level, check_id
    return message


def absent(check_id: str) -> None:
    assert check_id not in {m.id for m in all_messages()}


def middleware_without(*names: str) -> list[str]:
    return [m for m in settings.MIDDLEWARE if m not in names]


def clean_production(**overrides):
    """Settings under which no check fires, so each test changes one thing only."""
    values = {
        "DEBUG": False, "EMAIL_BACKEND": SMTP, "EMAIL_TIMEOUT": 10,
        "PASSWORD_HASHERS": ARGON2_FIRST,
        "AUTHSUITE_TRUSTED_PROXY_COUNT": 1, "CACHES": {"default": REDIS_CACHE},
        "INSTALLED_APPS": [a for a in settings.INSTALLED_APPS if a != "authsuite.mailbox"],
    }
    values.update(overrides)
    return override_settings(**values)


def test_the_clean_baseline_has_none():
    with clean_production():
        assert [m.id for m in all_messages() if m.id in ALL_IDS] == []


# --- authsuite.* -------------------------------------------------------------------------------


def test_e001_required_app_missing():
    absent("authsuite.E001")
    with clean_production(INSTALLED_APPS=[a for a in settings.INSTALLED_APPS
                                          if a not in ("authsuite", "authsuite.mailbox")]):
        message = found("authsuite.E001")
    assert "'authsuite'" in message.msg and message.obj == "INSTALLED_APPS"


@pytest.mark.parametrize("count", [-1, -5])
def test_e002_negative_proxy_count(count):
    with clean_production(AUTHSUITE_TRUSTED_PROXY_COUNT=count):
        assert found("authsuite.E002").obj == "AUTHSUITE_TRUSTED_PROXY_COUNT"
    with clean_production(AUTHSUITE_TRUSTED_PROXY_COUNT=0):
        absent("authsuite.E002")


@pytest.mark.parametrize("prefix", [0, 31, 129, "sixty-four"])
def test_e003_ipv6_prefix_out_of_range(prefix):
    with clean_production(AUTHSUITE_IPV6_CLIENT_PREFIX=prefix):
        assert found("authsuite.E003").obj == "AUTHSUITE_IPV6_CLIENT_PREFIX"
    with clean_production(AUTHSUITE_IPV6_CLIENT_PREFIX=56):
        absent("authsuite.E003")


@pytest.mark.parametrize("fallbacks", [
    "old-box-key", ["old-box-key", ""], [""], ["old-box-key", None], ("old-box-key", 3),
    {"old-box-key"},
])
def test_e005_secret_box_fallbacks_not_a_list_of_keys(fallbacks):
    """A bare string would be read as one key per character, and an empty string is no
    key: found at startup rather than when a mail or a kept link is next opened. The
    message names the setting and what is wrong with it, never a key."""
    with clean_production(AUTHSUITE_SECRET_BOX_KEY_FALLBACKS=fallbacks):
        message = found("authsuite.E005")
    assert message.obj == "AUTHSUITE_SECRET_BOX_KEY_FALLBACKS"
    assert "AUTHSUITE_SECRET_BOX_KEY_FALLBACKS" in message.msg
    assert "old-box-key" not in message.msg


@pytest.mark.parametrize("fallbacks", [[], ["old-box-key"], ("one", "two")])
def test_e005_not_for_a_list_of_keys(fallbacks):
    with clean_production(AUTHSUITE_SECRET_BOX_KEY_FALLBACKS=fallbacks):
        absent("authsuite.E005")


@pytest.mark.parametrize("cookie", [
    {"SESSION_COOKIE_NAME": "__Host-sessionid"},
    {"SESSION_COOKIE_NAME": "__Secure-sessionid"},
    {"SESSION_COOKIE_NAME": "__Host-sessionid", "SESSION_COOKIE_SECURE": True,
     "SESSION_COOKIE_DOMAIN": "example.com"},
    {"SESSION_COOKIE_NAME": "__Host-sessionid", "SESSION_COOKIE_SECURE": True,
     "SESSION_COOKIE_PATH": "/app/"},
    {"CSRF_COOKIE_NAME": "__Host-csrftoken"},
])
def test_e004_a_prefixed_cookie_name_its_settings_break(cookie):
    """Browsers drop a __Host- cookie that is not Secure, has a Domain or another Path, and a
    __Secure- one that is not Secure: nobody could sign in or post a form."""
    with clean_production(**cookie):
        message = found("authsuite.E004")
        assert message.obj == next(iter(cookie))


@pytest.mark.parametrize("cookie", [
    {"SESSION_COOKIE_NAME": "__Host-sessionid", "SESSION_COOKIE_SECURE": True},
    {"SESSION_COOKIE_NAME": "__Secure-sessionid", "SESSION_COOKIE_SECURE": True,
     "SESSION_COOKIE_DOMAIN": "example.com", "SESSION_COOKIE_PATH": "/app/"},
    {"CSRF_COOKIE_NAME": "__Host-csrftoken", "CSRF_USE_SESSIONS": True},  # no CSRF cookie
])
def test_e004_not_for_prefixes_that_hold(cookie):
    with clean_production(**cookie):
        absent("authsuite.E004")


DUMMY = {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}
LOCMEM_CACHE = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
REDIS_CACHE = {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": "redis://127.0.0.1:6379/0"}
FILE_CACHE = {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
              "LOCATION": "/tmp/authsuite-cache"}
DB_CACHE = {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "cache"}


@pytest.mark.parametrize("caches,counters", [
    ({"default": DUMMY}, None),
    ({"default": LOCMEM_CACHE, "limits": DUMMY}, "limits"),  # RATELIMIT_USE_CACHE's
    ({"default": DUMMY, "limits": LOCMEM_CACHE}, "limits"),  # passkey challenges'
])
def test_e006_a_cache_that_keeps_nothing(caches, counters):
    """The dummy cache's add() always succeeds: every attempt is the first of its window."""
    extra = {"RATELIMIT_USE_CACHE": counters} if counters else {}
    with clean_production(CACHES=caches, **extra):
        assert found("authsuite.E006").obj == "CACHES"


@pytest.mark.parametrize("cache", [FILE_CACHE, DB_CACHE])
def test_w005_rate_limits_on_a_cache_whose_counters_are_not_atomic(cache):
    with clean_production(CACHES={"default": cache}):
        assert found("authsuite.W005").obj == "CACHES"
    # The default cache only makes passkey challenges single use, with add().
    with clean_production(CACHES={"default": cache, "limits": REDIS_CACHE},
                          RATELIMIT_USE_CACHE="limits"):
        absent("authsuite.W005")


def test_w006_rate_limits_counted_by_each_process_in_production():
    with clean_production(CACHES={"default": LOCMEM_CACHE}):
        assert found("authsuite.W006").obj == "CACHES"
    with clean_production(CACHES={"default": LOCMEM_CACHE}, DEBUG=True):
        absent("authsuite.W006")
    with clean_production(CACHES={"default": LOCMEM_CACHE, "limits": REDIS_CACHE},
                          RATELIMIT_USE_CACHE="limits"):
        absent("authsuite.W006")


@pytest.mark.parametrize("cache", [LOCMEM_CACHE, REDIS_CACHE])
def test_e006_w005_not_for_caches_that_count(cache):
    with clean_production(CACHES={"default": cache}):
        absent("authsuite.E006")
        absent("authsuite.W005")


@pytest.mark.parametrize("zone", ["Europe/Paris", "America/New_York", "Australia/Sydney"])
def test_w007_naive_local_times_of_a_zone_that_changes_its_clocks(zone):
    with clean_production(USE_TZ=False, TIME_ZONE=zone):
        assert found("authsuite.W007").obj == "USE_TZ"
    with clean_production(USE_TZ=True, TIME_ZONE=zone):
        absent("authsuite.W007")


@pytest.mark.parametrize("zone", ["UTC", "Asia/Tokyo"])
def test_w007_not_for_a_zone_whose_clocks_never_change(zone):
    with clean_production(USE_TZ=False, TIME_ZONE=zone):
        absent("authsuite.W007")


def test_w001_demo_mailbox_in_production():
    with clean_production(INSTALLED_APPS=[*settings.INSTALLED_APPS]):
        assert "authsuite.mailbox" in settings.INSTALLED_APPS
        assert found("authsuite.W001").obj == "INSTALLED_APPS"
    with clean_production(DEBUG=True, INSTALLED_APPS=[*settings.INSTALLED_APPS]):
        absent("authsuite.W001")


def test_w002_mail_kept_in_memory():
    with clean_production(EMAIL_BACKEND=LOCMEM):
        assert found("authsuite.W002").obj == "EMAIL_BACKEND"
    with clean_production(EMAIL_BACKEND=LOCMEM, DEBUG=True):
        absent("authsuite.W002")


@pytest.mark.parametrize("hosts", [["*"], ["id.example.com", ".example.com"]])
def test_w003_emailed_links_on_a_host_the_request_chooses(hosts):
    """Without AUTHSUITE_BASE_URL a reset link takes the request's host: with a pattern in
    ALLOWED_HOSTS, whoever asks for a victim's reset link picks the host it points to."""
    with clean_production(ALLOWED_HOSTS=hosts):
        assert found("authsuite.W003").obj == "AUTHSUITE_BASE_URL"
    with clean_production(ALLOWED_HOSTS=hosts, AUTHSUITE_BASE_URL="https://id.example.com"):
        absent("authsuite.W003")
    with clean_production(ALLOWED_HOSTS=hosts, DEBUG=True):
        absent("authsuite.W003")
    with clean_production(ALLOWED_HOSTS=["id.example.com", "www.example.com"]):
        absent("authsuite.W003")


def test_w005_an_http_base_url_on_a_site_served_over_https():
    """Links in emails carry tokens: an http:// base would send them in the clear."""
    with clean_production(SECURE_SSL_REDIRECT=True, AUTHSUITE_BASE_URL="http://id.example.com"):
        assert found("authsuite.W008").obj == "AUTHSUITE_BASE_URL"
    with clean_production(SECURE_SSL_REDIRECT=True, AUTHSUITE_BASE_URL="https://id.example.com"):
        absent("authsuite.W008")
    with clean_production(SECURE_SSL_REDIRECT=False, AUTHSUITE_BASE_URL="http://id.example.com"):
        absent("authsuite.W008")


class TracingSMTPBackend(SMTPBackend):
    """A project's own SMTP backend: it inherits the wait for ever."""


@pytest.mark.parametrize("backend", [SMTP, "tests.core.test_checks.TracingSMTPBackend"])
@pytest.mark.parametrize("timeout", [None, 30, 299.5, 300, 301, 3600])
def test_w004_smtp_sends_that_can_outlive_their_claim(backend, timeout):
    """Django's SMTP backend waits for ever without EMAIL_TIMEOUT: a send to a server that
    stops answering outlives its claim (300 s), and the message is taken over and may go
    out twice. Given up at the task's soft limit (240 s), the backend's closing QUIT may
    wait EMAIL_TIMEOUT more: it must end before the hard limit (270 s)."""
    with clean_production(EMAIL_BACKEND=backend, EMAIL_TIMEOUT=timeout,
                          AUTHSUITE_MAIL_CLAIM_TIMEOUT=300):
        message = found("authsuite.W004")
    assert message.obj == "EMAIL_TIMEOUT"
    assert "EMAIL_TIMEOUT" in message.hint and "10" in message.hint
    assert "below 30 s" in message.hint


@pytest.mark.parametrize("sender", ["sécurité@example.com", "Sécurité <sécurité@example.com>"])
def test_w009_a_sender_whose_local_part_is_not_ascii(settings, sender):
    from django.core.mail.message import sanitize_address

    settings.AUTHSUITE_DEFAULT_FROM_EMAIL = sender
    message = found("authsuite.W009")
    assert message.obj == "AUTHSUITE_DEFAULT_FROM_EMAIL"
    # What the warning is about: Django's mail makes another address of it.
    assert "=?utf-8?b?c8OpY3VyaXTDqQ==?=@example.com" in sanitize_address(sender, "utf-8")


@pytest.mark.parametrize("sender", ["Sécurité <security@example.com>", "id@bücher.example",
                                    "webmaster@localhost"])
def test_w009_an_international_name_or_domain_is_fine(settings, sender):
    settings.AUTHSUITE_DEFAULT_FROM_EMAIL = sender
    absent("authsuite.W009")


@pytest.fixture
def task_app(monkeypatch):
    """The Celery app the suite's tasks are queued on: one that reads no setting."""
    from celery import Celery

    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)  # Celery reads it for any app
    app = Celery("someproject", set_as_current=False)
    monkeypatch.setattr("authsuite.checks._task_app", lambda: app)
    return app


def test_w010_tasks_queued_on_an_app_with_no_broker_that_is_not_eager(task_app):
    message = found("authsuite.W010")
    assert "'someproject'" in message.msg and "amqp://localhost" in message.msg
    assert "__init__.py" in message.hint


def test_w010_a_broker_or_eager_tasks_are_fine(task_app):
    task_app.conf.broker_url = "redis://127.0.0.1:6379/0"
    absent("authsuite.W010")
    task_app.conf.broker_url = None
    task_app.conf.task_always_eager = True
    absent("authsuite.W010")


@pytest.mark.own_settings  # a process of its own, which loads no Celery app unless told
@pytest.mark.parametrize("loads_the_app", [False, True])
def test_w010_a_process_that_loads_no_celery_app_of_the_projects(loads_the_app):
    """Celery's own default app, which a process that imports none gets, reads none of the
    CELERY_ settings: the test settings' eager tasks are not eager there."""
    script = ("import django; django.setup()\n"
              + ("import authsuite.celery\n" if loads_the_app else "")
              + "from django.core import checks\n"
              "print([m.id for m in checks.run_checks() if m.id == 'authsuite.W010'])")
    env = {k: v for k, v in os.environ.items() if k != "CELERY_BROKER_URL"}
    env["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[-2] == ("[]" if loads_the_app else "['authsuite.W010']")


def test_w004_a_claim_too_short_for_time_limits_bounds_the_timeout_itself():
    with clean_production(EMAIL_BACKEND=SMTP, EMAIL_TIMEOUT=1, AUTHSUITE_MAIL_CLAIM_TIMEOUT=2):
        absent("authsuite.W004")
    with clean_production(EMAIL_BACKEND=SMTP, EMAIL_TIMEOUT=2, AUTHSUITE_MAIL_CLAIM_TIMEOUT=2):
        assert "below 2 s" in found("authsuite.W004").hint


@pytest.mark.parametrize(("backend", "timeout", "claim"), [
    (SMTP, 10, 300),  # the demo's and the production profile's
    (SMTP, 29.5, 300),
    (SMTP, 60, 900),  # a longer claim
    ("tests.core.test_checks.TracingSMTPBackend", 10, 300),
    (LOCMEM, None, 300),  # not SMTP: nothing to wait for
    ("django.core.mail.backends.console.EmailBackend", None, 300),
    ("no.such.backend.EmailBackend", None, 300),  # not this check's to report
])
def test_w004_not_for_a_timeout_below_the_claim_or_another_backend(backend, timeout, claim):
    with clean_production(EMAIL_BACKEND=backend, EMAIL_TIMEOUT=timeout,
                          AUTHSUITE_MAIL_CLAIM_TIMEOUT=claim):
        absent("authsuite.W004")


def test_w004_runs_without_deploy():
    """A hung send blocks a worker in any environment, not only in production."""
    with clean_production(DEBUG=True, EMAIL_TIMEOUT=None):
        assert "authsuite.W004" in {m.id for m in checks.run_checks()}


# --- authsuite_accounts.* ----------------------------------------------------------------------


def test_accounts_e001_session_tracking_missing():
    with clean_production(MIDDLEWARE=middleware_without(SESSION_TRACKING)):
        assert found("authsuite_accounts.E001").obj == "MIDDLEWARE"
        absent("authsuite_accounts.E002")


@pytest.mark.parametrize("order", ["before", "no-auth-middleware"])
def test_accounts_e002_session_tracking_before_authentication(order):
    middleware = middleware_without(SESSION_TRACKING)
    if order == "before":
        middleware.insert(middleware.index(AUTHENTICATION), SESSION_TRACKING)
    else:
        middleware = [m for m in middleware if m != AUTHENTICATION] + [SESSION_TRACKING]
    with clean_production(MIDDLEWARE=middleware):
        assert found("authsuite_accounts.E002").obj == "MIDDLEWARE"
        absent("authsuite_accounts.E001")


def test_accounts_e003_request_context_missing():
    with clean_production(MIDDLEWARE=middleware_without(REQUEST_CONTEXT)):
        assert found("authsuite_accounts.E003").obj == "MIDDLEWARE"


@pytest.mark.parametrize("value", ["sometimes", "", "Mandatory", None])
def test_accounts_e004_email_verification(value):
    with clean_production(AUTHSUITE_ACCOUNTS_EMAIL_VERIFICATION=value):
        assert found("authsuite_accounts.E004").obj == "AUTHSUITE_ACCOUNTS_EMAIL_VERIFICATION"
    for valid in ("mandatory", "optional", "none"):
        with clean_production(AUTHSUITE_ACCOUNTS_EMAIL_VERIFICATION=valid):
            absent("authsuite_accounts.E004")


@pytest.mark.parametrize("value", ["shred", "", "Delete"])
def test_accounts_e005_close_action(value):
    with clean_production(AUTHSUITE_ACCOUNTS_CLOSE_ACTION=value):
        assert found("authsuite_accounts.E005").obj == "AUTHSUITE_ACCOUNTS_CLOSE_ACTION"
    with clean_production(AUTHSUITE_ACCOUNTS_CLOSE_ACTION="deactivate"):
        absent("authsuite_accounts.E005")


def test_accounts_e006_email_backend_missing():
    with clean_production(AUTHENTICATION_BACKENDS=["django.contrib.auth.backends.ModelBackend"]):
        assert found("authsuite_accounts.E006").obj == "AUTHENTICATION_BACKENDS"


def test_accounts_w001_argon2_not_first():
    pbkdf2_first = list(reversed(ARGON2_FIRST))
    with clean_production(PASSWORD_HASHERS=pbkdf2_first):
        assert found("authsuite_accounts.W001").obj == "PASSWORD_HASHERS"
    with clean_production(PASSWORD_HASHERS=pbkdf2_first, DEBUG=True):
        absent("authsuite_accounts.W001")


@pytest.mark.parametrize("first", [AS_TYPED, "django.contrib.auth.hashers.Argon2PasswordHasher"])
def test_accounts_w006_passwords_hashed_as_typed(first):
    # A project set up before passwords were normalised: its hasher hashes them as typed.
    with clean_production(PASSWORD_HASHERS=[first, PBKDF2]):
        message = found("authsuite_accounts.W006")
    assert message.obj == "PASSWORD_HASHERS"
    assert NORMALIZING in message.hint and first in message.hint
    with clean_production(PASSWORD_HASHERS=[NORMALIZING, first, PBKDF2]):
        absent("authsuite_accounts.W006")
    with clean_production(PASSWORD_HASHERS=[PBKDF2, first]):  # W001's case, said once
        absent("authsuite_accounts.W006")


@pytest.mark.parametrize("rest", [[], [PBKDF2]])
def test_accounts_e012_no_hasher_for_hashes_stored_as_typed(rest):
    with clean_production(PASSWORD_HASHERS=[NORMALIZING, *rest]):
        message = found("authsuite_accounts.E012")
    assert message.obj == "PASSWORD_HASHERS" and AS_TYPED in message.hint
    for legacy in (AS_TYPED, "django.contrib.auth.hashers.Argon2PasswordHasher"):
        with clean_production(PASSWORD_HASHERS=[NORMALIZING, *rest, legacy]):
            absent("authsuite_accounts.E012")


def test_a_hasher_path_that_does_not_import_is_left_to_django():
    with clean_production(PASSWORD_HASHERS=["accounts.hashers.NoSuchHasher", AS_TYPED]):
        absent("authsuite_accounts.W006")
        absent("authsuite_accounts.E012")


DJANGO_COMMON = "django.contrib.auth.password_validation.CommonPasswordValidator"
STABLE = {"NAME": "accounts.passwords.StableStringValidator"}


@pytest.mark.parametrize("name", [DJANGO_COMMON, "tests.core.test_checks.OwnValidator"])
def test_accounts_w007_a_validator_judging_the_password_as_typed(name):
    with clean_production(AUTH_PASSWORD_VALIDATORS=[*settings.AUTH_PASSWORD_VALIDATORS,
                                                    {"NAME": name}]):
        message = found("authsuite_accounts.W007")
    assert name in message.msg and message.obj == "AUTH_PASSWORD_VALIDATORS"
    assert "accounts.passwords.NormalFormValidator" in message.hint and name in message.hint
    wrapped = {"NAME": "accounts.passwords.NormalFormValidator", "OPTIONS": {"validator": name}}
    with clean_production(AUTH_PASSWORD_VALIDATORS=[*settings.AUTH_PASSWORD_VALIDATORS,
                                                    wrapped]):
        absent("authsuite_accounts.W007")
    # Hashed as typed, a password is rightly judged as typed (W006 is the warning then).
    with clean_production(PASSWORD_HASHERS=[AS_TYPED, PBKDF2],
                          AUTH_PASSWORD_VALIDATORS=[STABLE, {"NAME": name}]):
        absent("authsuite_accounts.W007")


class OwnValidator:
    """A project's own validator: the suite cannot know which form it judges."""

    def validate(self, password, user=None):
        return None


def own_validator_factory(**options):
    """A NAME may be a function that makes the validator: Django only calls it."""
    return OwnValidator()


def test_accounts_w007_a_validator_made_by_a_function():
    # issubclass() of a function raised TypeError: the whole check failed with it.
    name = "tests.core.test_checks.own_validator_factory"
    with clean_production(AUTH_PASSWORD_VALIDATORS=[*settings.AUTH_PASSWORD_VALIDATORS,
                                                    {"NAME": name}]):
        message = found("authsuite_accounts.W007")  # what it makes is given the password as typed
    assert name in message.msg and name in message.hint
    wrapped = {"NAME": "accounts.passwords.NormalFormValidator", "OPTIONS": {"validator": name}}
    with clean_production(AUTH_PASSWORD_VALIDATORS=[*settings.AUTH_PASSWORD_VALIDATORS,
                                                    wrapped]):
        absent("authsuite_accounts.W007")
    with clean_production(AUTH_PASSWORD_VALIDATORS=[wrapped]):
        found("authsuite_accounts.W008")


WRAPPED_STABLE = {"NAME": "accounts.passwords.NormalFormValidator",
                  "OPTIONS": {"validator": "accounts.passwords.StableStringValidator"}}


@pytest.mark.parametrize("stable", [
    STABLE,
    WRAPPED_STABLE,
    {"NAME": "accounts.passwords.NormalFormValidator",
     "OPTIONS": {"validator": "accounts.passwords.StableStringValidator", "options": {}}},
    {"NAME": "accounts.passwords.NormalFormValidator",
     "OPTIONS": {"validator": "accounts.passwords.NormalFormValidator",
                 "options": WRAPPED_STABLE["OPTIONS"]}},
])
def test_accounts_w008_counts_the_validator_listed_or_wrapped(stable):
    # Wrapped, StableStringValidator is given the normal form, where a code point Unicode
    # has not assigned is still unassigned: it refuses the same passwords. W008 warned of it
    # missing all the same.
    with clean_production(AUTH_PASSWORD_VALIDATORS=[{"NAME": "accounts.passwords.LengthValidator"},
                                                    stable]):
        absent("authsuite_accounts.W008")
        absent("authsuite_accounts.W007")


@pytest.mark.parametrize("validators", [
    [],
    [{"NAME": "accounts.passwords.LengthValidator"}],
    [{"NAME": "accounts.passwords.NormalFormValidator",
      "OPTIONS": {"validator": "accounts.passwords.LengthValidator"}}],
    [{"NAME": "accounts.passwords.NormalFormValidator",
      "OPTIONS": {"validator": "accounts.passwords.NoSuchValidator"}}],
    [{"NAME": "accounts.passwords.NormalFormValidator", "OPTIONS": {}}],
])
def test_accounts_w008_no_validator_refusing_unassigned_code_points(validators):
    with clean_production(AUTH_PASSWORD_VALIDATORS=validators):
        message = found("authsuite_accounts.W008")
    assert message.obj == "AUTH_PASSWORD_VALIDATORS"
    assert "accounts.passwords.StableStringValidator" in message.hint
    with clean_production(AUTH_PASSWORD_VALIDATORS=[*validators, STABLE]):
        absent("authsuite_accounts.W008")
    with clean_production(PASSWORD_HASHERS=[AS_TYPED, PBKDF2], AUTH_PASSWORD_VALIDATORS=validators):
        absent("authsuite_accounts.W008")


def test_a_validator_path_that_does_not_import_is_left_to_django():
    with clean_production(AUTH_PASSWORD_VALIDATORS=[
            STABLE, {"NAME": "accounts.passwords.NoSuchValidator"}, {"OPTIONS": {}}]):
        absent("authsuite_accounts.W007")
        absent("authsuite_accounts.W008")


@pytest.mark.parametrize(("memory", "time_cost"), [(19455, 2), (1024, 2), (19456, 1), (65536, 0)])
def test_accounts_e007_weak_argon2(memory, time_cost):
    with clean_production(AUTHSUITE_ACCOUNTS_ARGON2_MEMORY_COST=memory,
                          AUTHSUITE_ACCOUNTS_ARGON2_TIME_COST=time_cost):
        found("authsuite_accounts.E007")
    with clean_production(AUTHSUITE_ACCOUNTS_ARGON2_MEMORY_COST=19456,
                          AUTHSUITE_ACCOUNTS_ARGON2_TIME_COST=2):
        absent("authsuite_accounts.E007")


def test_accounts_e008_lockout_max_below_base():
    with clean_production(AUTHSUITE_ACCOUNTS_LOCKOUT_BASE=60, AUTHSUITE_ACCOUNTS_LOCKOUT_MAX=59):
        assert found("authsuite_accounts.E008").obj == "AUTHSUITE_ACCOUNTS_LOCKOUT_MAX"
    with clean_production(AUTHSUITE_ACCOUNTS_LOCKOUT_BASE=60, AUTHSUITE_ACCOUNTS_LOCKOUT_MAX=60):
        absent("authsuite_accounts.E008")


@pytest.mark.parametrize("target", ["no-such-page", "shop:index"])
def test_accounts_w005_login_redirect_names_no_url(target):
    with clean_production(LOGIN_REDIRECT_URL=target):
        assert found("authsuite_accounts.W005").obj == "LOGIN_REDIRECT_URL"
    for fine in ("accounts:sessions", "/welcome/", "https://app.example.com/"):
        with clean_production(LOGIN_REDIRECT_URL=fine):
            absent("authsuite_accounts.W005")


# --- registered with Django, silent on the shipped settings -----------------------------------


def test_the_checks_are_registered():
    with clean_production(AUTHSUITE_TRUSTED_PROXY_COUNT=-1, AUTHSUITE_ACCOUNTS_CLOSE_ACTION="shred"):
        ids = {m.id for m in checks.run_checks(include_deployment_checks=True)}
        assert {"authsuite.E002", "authsuite_accounts.E005"} <= ids
        # Deployment-only checks stay out of a plain `manage.py check`.
        assert "authsuite.E002" not in {m.id for m in checks.run_checks()}


def test_the_test_settings_produce_none():
    # The test settings use a fast hasher on purpose and say so in SILENCED_SYSTEM_CHECKS.
    reported = [m.id for m in checks.run_checks() if m.id in ALL_IDS and not m.is_silenced()]
    assert reported == []


def _check_deploy(tmp_path, **env_overrides) -> str:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PYTHONPATH")}
    env.update({"AUTHSUITE_VAR_DIR": str(tmp_path / "var")}, **env_overrides)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=300, check=False,
    )
    return result.stdout + result.stderr


@pytest.mark.own_settings  # manage.py in a process of its own, on the settings named
@pytest.mark.parametrize("email_url", ["", "smtp://smtp.example.com:25"])
def test_the_demo_settings_produce_none(tmp_path, email_url):
    output = _check_deploy(tmp_path, DJANGO_SETTINGS_MODULE="authsuite.settings",
                           EMAIL_URL=email_url)
    assert "System check identified" in output, output
    assert [i for i in ALL_IDS if f"({i})" in output] == [], output


@pytest.mark.own_settings  # manage.py in a process of its own, on the settings named
def test_the_production_settings_produce_none(tmp_path):
    output = _check_deploy(
        tmp_path, DJANGO_SETTINGS_MODULE="authsuite.settings_production",
        SECRET_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS="id.example.com",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", EMAIL_URL="smtp://smtp.example.com:25",
        REDIS_URL="redis://127.0.0.1:6379/0",  # required there; the checks do not connect
    )
    assert "System check identified" in output, output
    assert [i for i in ALL_IDS if f"({i})" in output] == [], output


def test_accounts_w003_a_verification_template_without_its_fields(tmp_path):
    (tmp_path / "accounts").mkdir()
    (tmp_path / "accounts" / "email_verify.html").write_text(
        '<form method="post">{% csrf_token %}<input type="hidden" name="link" '
        'value="{{ link_reference }}"><button>Verify</button></form>')
    engines = [{**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]}]
    with clean_production(TEMPLATES=engines):
        assert found("authsuite_accounts.W003").obj == "accounts/email_verify.html"
        absent("authsuite_accounts.W002")
    with clean_production():
        absent("authsuite_accounts.W003")


@pytest.mark.parametrize("site", ["AdminSite", "SuiteAdminSite", "MFAAdminSite"])
def test_accounts_w004_an_admin_with_its_own_sign_in(monkeypatch, site):
    from django.contrib import admin

    from accounts.admin_site import SuiteAdminSite
    from mfa.admin_site import MFAAdminSite

    sites = {"AdminSite": admin.AdminSite, "SuiteAdminSite": SuiteAdminSite,
             "MFAAdminSite": MFAAdminSite}
    monkeypatch.setattr(admin, "site", sites[site]())
    with clean_production():
        if site == "AdminSite":
            assert "lockout" in found("authsuite_accounts.W004").msg
        else:
            absent("authsuite_accounts.W004")
    with clean_production(INSTALLED_APPS=[a for a in settings.INSTALLED_APPS
                                          if a not in ("mfa.apps.MFAAdminConfig",
                                                       "authsuite.mailbox")]):
        absent("authsuite_accounts.W004")


def test_accounts_w002_a_confirmation_template_without_the_link_reference(tmp_path):
    (tmp_path / "accounts").mkdir()
    (tmp_path / "accounts" / "magic_link_confirm.html").write_text(
        '<form method="post">{% csrf_token %}<button>Sign in</button></form>')
    engines = [{**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]}]
    with clean_production(TEMPLATES=engines):
        assert found("authsuite_accounts.W002").obj == "accounts/magic_link_confirm.html"
    with clean_production():
        absent("authsuite_accounts.W002")
