"""Core system checks (ids ``authsuite.*``)."""

from __future__ import annotations

from django.apps import apps
from django.conf import settings
from django.core import checks
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.utils.module_loading import import_string

from authsuite.app_settings import app_settings
from authsuite.cookies import cookie_prefix_problem

REQUIRED_APPS = {
    "accounts": ["authsuite"],
}


@checks.register()
def check_required_apps(app_configs=None, **kwargs):
    errors = []
    for app, needs in REQUIRED_APPS.items():
        if not apps.is_installed(app):
            continue
        for need in needs:
            if not apps.is_installed(need):
                errors.append(checks.Error(
                    f"'{app}' needs '{need}' in INSTALLED_APPS.",
                    hint=f"Add '{need}' to INSTALLED_APPS.", obj="INSTALLED_APPS",
                    id="authsuite.E001",
                ))
    return errors


@checks.register()
def check_settings(app_configs=None, **kwargs):
    errors = []
    try:
        app_settings.IPV6_CLIENT_PREFIX  # noqa: B018 - read to validate
    except (TypeError, ValueError) as error:
        errors.append(checks.Error(
            str(error), hint="Use a prefix length from 32 to 128 (64 is usual).",
            obj="AUTHSUITE_IPV6_CLIENT_PREFIX", id="authsuite.E003"))
    # Found now rather than when pending mail or a kept link is next opened.
    errors += key_list_errors(lambda: app_settings.SECRET_BOX_KEY_FALLBACKS,
                              setting="AUTHSUITE_SECRET_BOX_KEY_FALLBACKS", check_id="authsuite.E005")
    return errors


@checks.register()
def check_time_zone(app_configs=None, **kwargs):
    """Under ``USE_TZ = False`` Django keeps local times of ``TIME_ZONE``: where that zone
    sets its clocks back, the hour it repeats names two instants, and PostgreSQL, given one
    of its times, takes the later where Python takes the earlier."""
    if settings.USE_TZ or not _observes_daylight_saving(settings.TIME_ZONE):
        return []
    return [checks.Warning(
        f"USE_TZ is False and TIME_ZONE {settings.TIME_ZONE!r} changes its clocks: times of "
        "the hour it repeats are ambiguous, so sessions, links and lockouts may end an hour "
        "off around a change, and audit events of that hour fail verification as edited.",
        hint="Set USE_TZ = True (Django's default), or TIME_ZONE = 'UTC'.",
        obj="USE_TZ", id="authsuite.W007",
    )]


def _observes_daylight_saving(name) -> bool:
    import zoneinfo
    from datetime import datetime

    try:
        zone = zoneinfo.ZoneInfo(name) if name else None
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        return False  # Django's own check refuses an unknown TIME_ZONE
    if zone is None:
        return False
    year = datetime.now().year
    return len({datetime(year, month, 1, tzinfo=zone).utcoffset() for month in (1, 7)}) > 1


def key_list_errors(read, *, setting: str, check_id: str) -> list[checks.Error]:
    """The error of a setting listing earlier keys (``read()`` reads and validates it), if
    it is not a list of non-empty strings."""
    try:
        read()
    except ValueError as error:
        return [checks.Error(
            str(error), hint="List each earlier key as a non-empty string: ['old-key'], "
                             "not 'old-key'.", obj=setting, id=check_id)]
    return []


def reported_cookie_warnings(name: str, *, setting: str, check_id: str) -> list[checks.Warning]:
    """The warning of a cookie of the suite that holds a secret whose ``name`` error
    reports would show the value of. Django's reports (the 500 mailed to ``ADMINS``) list
    the request's cookies, hiding a value only where the name looks secret to the
    project's reporter filter (``DEFAULT_EXCEPTION_REPORTER_FILTER``: by default a name
    holding "auth", "token", "key", "secret", ... which the suite's default names do)."""
    from django.http import HttpRequest

    request, shown = HttpRequest(), "cookie value shown"
    request.COOKIES = {name: shown}
    reporter_filter = import_string(settings.DEFAULT_EXCEPTION_REPORTER_FILTER)()
    if reporter_filter.get_safe_cookies(request).get(name) != shown:
        return []
    return [checks.Warning(
        f"{setting} {name!r}: error reports would show this cookie's value, which lets its "
        "holder act for the browser it was given to.",
        hint="Keep 'auth', 'token', 'key' or 'secret' in the name (Django's reports hide "
             "such cookies), as the default does.", obj=setting, id=check_id,
    )]


@checks.register()
def check_mail(app_configs=None, **kwargs):
    """Django's SMTP backend waits for the server for ever unless EMAIL_TIMEOUT is set
    (Django's default is None). A send that hangs past AUTHSUITE_MAIL_CLAIM_TIMEOUT loses
    its claim: another worker takes the message over and it may go out twice, while the
    hung one holds a worker. The delivery task's soft time limit gives a slow send up
    within the claim, but the backend's closing QUIT may then wait EMAIL_TIMEOUT more: it
    must fit between the soft and the hard limit (``outbox.delivery_time_limits``)."""
    from authsuite.outbox import delivery_time_limits

    try:
        backend = import_string(settings.EMAIL_BACKEND)
    except ImportError:
        return []  # Django reports it at the first send; nothing to say about timeouts
    if not (isinstance(backend, type) and issubclass(backend, SMTPBackend)):
        return []
    timeout, claim = settings.EMAIL_TIMEOUT, app_settings.MAIL_CLAIM_TIMEOUT
    soft, hard = delivery_time_limits()
    bound = hard - soft if soft is not None else claim
    if timeout is not None and (not isinstance(timeout, int | float) or timeout < bound):
        return []  # (a timeout that is no number fails every send, loudly: not this check's)
    return [checks.Warning(
        f"EMAIL_TIMEOUT is {timeout!r} with the SMTP backend: a send to a server that stops "
        f"answering can outlive AUTHSUITE_MAIL_CLAIM_TIMEOUT ({claim} s) and its task's time "
        f"limits, and the message be taken over and sent twice.",
        hint=f"Set EMAIL_TIMEOUT to a few seconds (10, say): it bounds each exchange with "
             f"the server, so keep it below {bound} s, the time the delivery task has between "
             f"its soft and hard limits (a tenth of AUTHSUITE_MAIL_CLAIM_TIMEOUT).",
        obj="EMAIL_TIMEOUT", id="authsuite.W004",
    )]


@checks.register()
def check_sender(app_configs=None, **kwargs):
    """Django's mail sends an address whose local part is not ASCII RFC 2047-encoded
    (``=?utf-8?...?=@example.com``): another address, which no mailbox receives. As the
    sender of every message (``From`` and the envelope's), replies and bounces would go
    nowhere, and receivers checking the sender's domain see a stranger. (A recipient's is
    refused at sending: ``authsuite.outbox.headers.recipient``.)"""
    from email.utils import parseaddr

    local, at, _domain = parseaddr(app_settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")
    if not at or local.isascii():
        return []
    return [checks.Warning(
        f"The sender's address in {app_settings.DEFAULT_FROM_EMAIL!r} has a local part that "
        f"is not ASCII: Django's mail sends it encoded, as another address that receives "
        f"nothing, so replies and bounces are lost.",
        hint="Use an ASCII local part (the display name and the domain may be "
             "internationalised): AUTHSUITE_DEFAULT_FROM_EMAIL, or DEFAULT_FROM_EMAIL.",
        obj="AUTHSUITE_DEFAULT_FROM_EMAIL", id="authsuite.W009",
    )]


def _task_app():
    """The Celery app the suite's ``@shared_task`` tasks are queued on in this process."""
    from celery import current_app

    return current_app._get_current_object()


@checks.register()
def check_celery_app(app_configs=None, **kwargs):
    """Every email and the audit chain's sealing are Celery tasks, queued on the current app.
    A process that loaded no app of the project's (one imported by the WSGI module only,
    not by ``manage.py``) queues them on Celery's own default app, which reads none of the
    ``CELERY_`` settings: with no broker named and not eager, it publishes to
    ``amqp://localhost``, where no worker may ever take them."""
    app = _task_app()
    if app.conf.broker_url or app.conf.task_always_eager:
        return []
    return [checks.Warning(
        f"The suite's tasks (every email, the audit chain's sealing) are queued on the Celery "
        f"app {app.main!r}, which names no broker and does not run them eagerly: they go to "
        f"amqp://localhost, which is likely not where a worker takes them.",
        hint="Load the project's Celery app in every process, commands included: define it "
             "in the project's package (app.config_from_object(\"django.conf:settings\", "
             "namespace=\"CELERY\")) and import it in the package's __init__.py; then set "
             "CELERY_BROKER_URL, or CELERY_TASK_ALWAYS_EAGER without a broker.",
        obj="CELERY_BROKER_URL", id="authsuite.W010",
    )]


#: Caches whose ``add`` and ``incr`` are a read then a write (Django's generic ``incr``).
NON_ATOMIC_CACHES = ("django.core.cache.backends.filebased.FileBasedCache",
                     "django.core.cache.backends.db.DatabaseCache")
DUMMY_CACHE = "django.core.cache.backends.dummy.DummyCache"
LOCMEM_CACHE = "django.core.cache.backends.locmem.LocMemCache"


@checks.register(checks.Tags.caches, checks.Tags.security)
def check_caches(app_configs=None, **kwargs):
    """The cache of the rate limits (``RATELIMIT_USE_CACHE``, ``default`` unless set) and
    the default one, which makes a passkey challenge single use (``cache.add``)."""
    from authsuite.ratelimit import cache_alias

    errors = []
    counters = cache_alias()
    for alias in dict.fromkeys([counters, "default"]):
        backend = settings.CACHES.get(alias, {}).get("BACKEND", "")
        if backend == DUMMY_CACHE:
            # Its add() always succeeds and its get() finds nothing: every attempt is the
            # first of its window.
            errors.append(checks.Error(
                f"CACHES[{alias!r}] is the dummy cache, which keeps nothing: no rate limit "
                "ever refuses an attempt, and a passkey challenge can be answered twice.",
                hint="Use Redis (django-redis) or memcached in production, the local-memory "
                     "cache in development.", obj="CACHES", id="authsuite.E006",
            ))
        elif alias == counters and backend in NON_ATOMIC_CACHES:
            errors.append(checks.Warning(
                f"CACHES[{alias!r}] is {backend.rsplit('.', 1)[1]}, whose counters are a read "
                "then a write: attempts made at the same moment (a script's parallel "
                "requests) count as one, and pass the rate limits by that many.",
                hint="Use Redis (django-redis) or memcached, whose increments are atomic.",
                obj="CACHES", id="authsuite.W005",
            ))
    return errors


@checks.register(checks.Tags.caches, checks.Tags.security, deploy=True)
def check_caches_shared(app_configs=None, **kwargs):
    """The local-memory cache is each process's own: behind gunicorn's N workers, every
    worker counts its own attempts, and the limits are N times what they say."""
    from authsuite.ratelimit import cache_alias

    counters = cache_alias()
    backend = settings.CACHES.get(counters, {}).get("BACKEND", "")
    if settings.DEBUG or backend != LOCMEM_CACHE:
        return []
    return [checks.Warning(
        f"CACHES[{counters!r}] is the local-memory cache, which each process keeps for "
        "itself: with several web processes, each counts its own attempts and the rate "
        "limits allow that many times more.",
        hint="Use Redis (django-redis) or memcached, shared by every process.",
        obj="CACHES", id="authsuite.W006",
    )]


@checks.register(checks.Tags.security)
def check_cookie_prefixes(app_configs=None, **kwargs):
    """A session or CSRF cookie name with a prefix its settings break: browsers drop the
    cookie, and nobody can sign in (or post a form)."""
    cookies = [("SESSION_COOKIE", settings.SESSION_COOKIE_NAME, settings.SESSION_COOKIE_SECURE,
                settings.SESSION_COOKIE_DOMAIN, settings.SESSION_COOKIE_PATH)]
    if not settings.CSRF_USE_SESSIONS:
        cookies.append(("CSRF_COOKIE", settings.CSRF_COOKIE_NAME, settings.CSRF_COOKIE_SECURE,
                        settings.CSRF_COOKIE_DOMAIN, settings.CSRF_COOKIE_PATH))
    errors = []
    for prefix, name, secure, domain, path in cookies:
        problem = cookie_prefix_problem(name, secure=secure, domain=domain, path=path)
        if problem:
            errors.append(checks.Error(
                f"{prefix}_NAME {name!r} {problem}: browsers drop such a cookie.",
                hint=f"Serve the site over HTTPS with {prefix}_SECURE = True, no "
                     f"{prefix}_DOMAIN and {prefix}_PATH = '/', or drop the prefix.",
                obj=f"{prefix}_NAME", id="authsuite.E004",
            ))
    return errors


@checks.register(checks.Tags.security, deploy=True)
def check_production(app_configs=None, **kwargs):
    errors = []
    if app_settings.TRUSTED_PROXY_COUNT < 0:
        errors.append(checks.Error(
            "AUTHSUITE_TRUSTED_PROXY_COUNT cannot be negative.", hint="Use 0 or more.",
            obj="AUTHSUITE_TRUSTED_PROXY_COUNT", id="authsuite.E002",
        ))
    if not settings.DEBUG and "authsuite.mailbox" in settings.INSTALLED_APPS:
        errors.append(checks.Warning(
            "The demo mailbox app is installed with DEBUG off.",
            hint="Remove 'authsuite.mailbox' from INSTALLED_APPS in production.",
            obj="INSTALLED_APPS", id="authsuite.W001",
        ))
    if not settings.DEBUG and settings.EMAIL_BACKEND.endswith("locmem.EmailBackend"):
        errors.append(checks.Warning(
            "EMAIL_BACKEND keeps mail in memory: nobody receives it.",
            hint="Configure SMTP (EMAIL_URL) in production.", obj="EMAIL_BACKEND",
            id="authsuite.W002",
        ))
    patterns = [h for h in settings.ALLOWED_HOSTS if h == "*" or h.startswith(".")]
    if not settings.DEBUG and not app_settings.BASE_URL and patterns:
        # Links in emails are then built on the request's Host header: whoever asks for a
        # victim's reset or sign-in link chooses the host it sends the victim's token to.
        errors.append(checks.Warning(
            f"AUTHSUITE_BASE_URL is not set and ALLOWED_HOSTS accepts hosts by pattern "
            f"({', '.join(patterns)}): emailed links point at whatever host a request names.",
            hint="Set AUTHSUITE_BASE_URL (https://id.example.com), or list exact hosts in "
                 "ALLOWED_HOSTS.", obj="AUTHSUITE_BASE_URL", id="authsuite.W003",
        ))
    if settings.SECURE_SSL_REDIRECT and app_settings.BASE_URL.lower().startswith("http://"):
        # Links in emails carry tokens: they would cross the network in the clear on a
        # site that otherwise answers only over HTTPS.
        errors.append(checks.Warning(
            "AUTHSUITE_BASE_URL is an http:// URL while SECURE_SSL_REDIRECT is on: emailed "
            "links, and the tokens in them, would travel unencrypted.",
            hint="Use the site's https:// URL.", obj="AUTHSUITE_BASE_URL",
            id="authsuite.W008",
        ))
    return errors
