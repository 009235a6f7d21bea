"""System checks of the accounts app (ids ``authsuite_accounts.*``)."""

from __future__ import annotations

import math
from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from accounts.app_settings import CLEAR_SITE_DATA_DIRECTIVES, app_settings
from accounts.users import stores_is_active
from authsuite.checks import reported_cookie_warnings

MIDDLEWARE_SESSION = "accounts.sessions.SessionTrackingMiddleware"
MIDDLEWARE_AUTH = "django.contrib.auth.middleware.AuthenticationMiddleware"
MIDDLEWARE_CONTEXT = "authsuite.context.RequestContextMiddleware"
HASHER_NORMALIZING = "accounts.hashers.NormalizingArgon2idPasswordHasher"
HASHER_AS_TYPED = "accounts.hashers.Argon2idPasswordHasher"


def _stores_is_active() -> bool:
    try:
        return stores_is_active()
    except ImproperlyConfigured:  # a broken AUTH_USER_MODEL: Django's own check says so
        return True


@checks.register(checks.Tags.security)
def check_accounts(app_configs=None, **kwargs):
    errors = []
    middleware = list(settings.MIDDLEWARE)
    if MIDDLEWARE_SESSION not in middleware:
        errors.append(checks.Error(
            "SessionTrackingMiddleware is not installed.",
            hint=f"Add '{MIDDLEWARE_SESSION}' to MIDDLEWARE after AuthenticationMiddleware.",
            obj="MIDDLEWARE", id="authsuite_accounts.E001",
        ))
    elif MIDDLEWARE_AUTH not in middleware or (
        middleware.index(MIDDLEWARE_SESSION) < middleware.index(MIDDLEWARE_AUTH)
    ):
        errors.append(checks.Error(
            "SessionTrackingMiddleware must come after AuthenticationMiddleware.",
            hint="Move it below 'django.contrib.auth.middleware.AuthenticationMiddleware'.",
            obj="MIDDLEWARE", id="authsuite_accounts.E002",
        ))
    if MIDDLEWARE_CONTEXT not in middleware:
        errors.append(checks.Error(
            "RequestContextMiddleware is not installed.",
            hint=f"Add '{MIDDLEWARE_CONTEXT}' near the top of MIDDLEWARE.",
            obj="MIDDLEWARE", id="authsuite_accounts.E003",
        ))
    if app_settings.EMAIL_VERIFICATION not in ("mandatory", "optional", "none"):
        errors.append(checks.Error(
            f"AUTHSUITE_ACCOUNTS_EMAIL_VERIFICATION is {app_settings.EMAIL_VERIFICATION!r}.",
            hint="Use 'mandatory', 'optional' or 'none'.",
            obj="AUTHSUITE_ACCOUNTS_EMAIL_VERIFICATION", id="authsuite_accounts.E004",
        ))
    if app_settings.CLOSE_ACTION not in ("delete", "deactivate"):
        errors.append(checks.Error(
            f"AUTHSUITE_ACCOUNTS_CLOSE_ACTION is {app_settings.CLOSE_ACTION!r}.",
            hint="Use 'delete' or 'deactivate'.",
            obj="AUTHSUITE_ACCOUNTS_CLOSE_ACTION", id="authsuite_accounts.E005",
        ))
    backends = list(settings.AUTHENTICATION_BACKENDS)
    if "accounts.backends.EmailBackend" not in backends:
        errors.append(checks.Error(
            "accounts.backends.EmailBackend is not in AUTHENTICATION_BACKENDS.",
            hint="Add 'accounts.backends.EmailBackend'.",
            obj="AUTHENTICATION_BACKENDS", id="authsuite_accounts.E006",
        ))
    hashers = list(settings.PASSWORD_HASHERS)
    if hashers and "argon2" not in hashers[0].lower() and not settings.DEBUG:
        errors.append(checks.Warning(
            "The first password hasher is not Argon2id.",
            hint=f"Put '{HASHER_NORMALIZING}' first in PASSWORD_HASHERS, and "
                 f"'{HASHER_AS_TYPED}' after it.",
            obj="PASSWORD_HASHERS", id="authsuite_accounts.W001",
        ))
    errors.extend(_normal_form_errors(hashers))
    errors.extend(_validator_warnings(hashers))
    if app_settings.ARGON2_MEMORY_COST < 19456 or app_settings.ARGON2_TIME_COST < 2:
        errors.append(checks.Error(
            "Argon2id parameters are below OWASP's minimum (19 MiB, t=2).",
            hint="Raise AUTHSUITE_ACCOUNTS_ARGON2_MEMORY_COST / _TIME_COST.",
            obj="AUTHSUITE_ACCOUNTS_ARGON2_MEMORY_COST", id="authsuite_accounts.E007",
        ))
    if app_settings.LOCKOUT_MAX < app_settings.LOCKOUT_BASE:
        errors.append(checks.Error(
            "AUTHSUITE_ACCOUNTS_LOCKOUT_MAX is shorter than AUTHSUITE_ACCOUNTS_LOCKOUT_BASE.",
            hint="Make the longest lockout at least as long as the first.",
            obj="AUTHSUITE_ACCOUNTS_LOCKOUT_MAX", id="authsuite_accounts.E008",
        ))
    errors.extend(_frontend_url_errors())
    if not 1 <= app_settings.LOCKOUT_CONSECUTIVE_LIMIT <= 100:
        errors.append(checks.Error(
            "AUTHSUITE_ACCOUNTS_LOCKOUT_CONSECUTIVE_LIMIT must be between 1 and 100.",
            hint="NIST SP 800-63B-4 allows at most 100 consecutive failed attempts.",
            obj="AUTHSUITE_ACCOUNTS_LOCKOUT_CONSECUTIVE_LIMIT", id="authsuite_accounts.E009",
        ))
    max_sessions = app_settings.MAX_SESSIONS
    if max_sessions is not None and (type(max_sessions) is not int or max_sessions < 1):
        errors.append(checks.Error(
            "AUTHSUITE_ACCOUNTS_MAX_SESSIONS must be None or an integer of at least 1.",
            hint="None lets an account keep any number of sessions; 1 keeps only the newest.",
            obj="AUTHSUITE_ACCOUNTS_MAX_SESSIONS", id="authsuite_accounts.E013",
        ))
    errors.extend(_clear_site_data_errors())
    errors.extend(_breach_check_errors())
    if app_settings.CLOSE_ACTION == "deactivate" and not _stores_is_active():
        errors.append(checks.Error(
            "AUTHSUITE_ACCOUNTS_CLOSE_ACTION is 'deactivate', but the user model has no "
            "is_active field to keep that in.",
            hint="Add an is_active BooleanField to the user model, or close accounts by "
                 "deleting them (CLOSE_ACTION='delete').",
            obj="AUTHSUITE_ACCOUNTS_CLOSE_ACTION", id="authsuite_accounts.E011",
        ))
    if (redirect_problem := _login_redirect_problem()) is not None:
        # A warning: a project that picks its URLconf per request (per host, per tenant)
        # may resolve at request time a name the root URLconf lacks.
        errors.append(checks.Warning(
            f"The sign-in's default destination {redirect_problem}: every sign-in without "
            "a safe next would fail.",
            hint="Set LOGIN_REDIRECT_URL (or AUTHSUITE_ACCOUNTS_LOGIN_REDIRECT_URL) to a URL "
                 "pattern's name, with its namespace, or to a path; unset, it is the suite's "
                 "accounts:profile, which needs the suite's URLs included.",
            obj="LOGIN_REDIRECT_URL", id="authsuite_accounts.W005",
        ))
    if _admin_signs_in_itself():
        errors.append(checks.Warning(
            "The Django admin signs staff in with its own form, which none of the suite's "
            "rate limits, lockout or login stages guard; its sign-out and password change "
            "are Django's too.",
            hint="Replace 'django.contrib.admin' with 'accounts.apps.SuiteAdminConfig' (or "
                 "'mfa.apps.MFAAdminConfig', which also asks for a second factor) in "
                 "INSTALLED_APPS; an AdminConfig of your own names a site based on "
                 "accounts.admin_site.SuiteAdminSite as its default_site.",
            obj="INSTALLED_APPS", id="authsuite_accounts.W004",
        ))
    errors += reported_cookie_warnings(app_settings.LOCKOUT_DEVICE_COOKIE_NAME,
                                       setting="AUTHSUITE_ACCOUNTS_LOCKOUT_DEVICE_COOKIE_NAME",
                                       check_id="authsuite_accounts.W010")
    return errors


def _clear_site_data_errors() -> list:
    value = app_settings.CLEAR_SITE_DATA
    names = (value,) if isinstance(value, str) else value
    if isinstance(names, list | tuple) and all(
            isinstance(name, str) and name in CLEAR_SITE_DATA_DIRECTIVES for name in names):
        return []
    return [checks.Error(
        f"AUTHSUITE_ACCOUNTS_CLEAR_SITE_DATA must list Clear-Site-Data directives, not {value!r}.",
        hint="A list of names, unquoted, from: "
             + ", ".join(sorted(CLEAR_SITE_DATA_DIRECTIVES, key=str.lower))
             + "; [] sends no Clear-Site-Data header.",
        obj="AUTHSUITE_ACCOUNTS_CLEAR_SITE_DATA", id="authsuite_accounts.E019",
    )]


def _hasher_classes(paths: list[str]) -> list[type] | None:
    try:
        return [import_string(path) for path in paths]
    except ImportError:  # Django's own use of the setting reports the wrong path
        return None


def _normal_form_errors(paths: list[str]) -> list:
    """Passwords hashed as typed while the suite's normalising Argon2id is not first (the
    same password then signs in from one device and not another), and the normalising one
    first without a hasher for the hashes stored before it (every one of them refused)."""
    from django.contrib.auth.hashers import Argon2PasswordHasher

    from accounts.hashers import NormalizingArgon2idPasswordHasher

    classes = _hasher_classes(paths)
    if not classes:
        return []
    first = classes[0]
    if not issubclass(first, Argon2PasswordHasher):
        return []  # W001 says what to put first
    if not issubclass(first, NormalizingArgon2idPasswordHasher):
        return [checks.Warning(
            "Passwords are hashed as typed: the same password typed in another Unicode form "
            "(an accented letter composed or not, full-width letters, a ligature) is refused.",
            hint=f"Put '{HASHER_NORMALIZING}' first in PASSWORD_HASHERS and keep "
                 f"'{paths[0]}' after it: the hashes stored so far still sign in and are "
                 "stored in the normal form at their next sign-in.",
            obj="PASSWORD_HASHERS", id="authsuite_accounts.W006",
        )]
    if not any(cls.algorithm == Argon2PasswordHasher.algorithm for cls in classes):
        return [checks.Error(
            f"PASSWORD_HASHERS has no hasher for the '{Argon2PasswordHasher.algorithm}' "
            "hashes stored before passwords were normalised: every account with one "
            "could no longer sign in with its password.",
            hint=f"Add '{HASHER_AS_TYPED}' after '{paths[0]}' (a project that never "
                 "stored such hashes loses nothing by listing it).",
            obj="PASSWORD_HASHERS", id="authsuite_accounts.E012",
        )]
    return []


def _validator_classes() -> list[tuple[str, object, object]]:
    """Each importable ``NAME`` of AUTH_PASSWORD_VALIDATORS with what it names (a class, or
    a function that makes the validator: Django only calls it) and its ``OPTIONS`` (Django's
    own use of the setting reports a wrong one)."""
    found = []
    for entry in settings.AUTH_PASSWORD_VALIDATORS:
        try:
            found.append((entry["NAME"], import_string(entry["NAME"]), entry.get("OPTIONS")))
        except (AttributeError, ImportError, KeyError, TypeError):
            continue
    return found


def _is_one_of(named, classes) -> bool:
    """Whether ``named`` is a class among (or under) ``classes``. A function that makes a
    validator is none: what it makes is known only by calling it, which a check does not."""
    return isinstance(named, type) and issubclass(named, classes)


def _lists(named, options, validator: type) -> bool:
    """Whether the validator ``named`` (with ``options``) is ``validator``, listed as it is or
    wrapped in NormalFormValidator (``OPTIONS``: ``{"validator": ..., "options": ...}``,
    itself wrapped again or not), which gives it the normal form: StableStringValidator then
    refuses the same passwords, a code point Unicode has not assigned being its own normal
    form, and BreachedPasswordValidator asks about the same string."""
    from accounts.passwords import NormalFormValidator

    if _is_one_of(named, validator):
        return True
    if not (_is_one_of(named, NormalFormValidator) and isinstance(options, dict)):
        return False
    try:
        inner = import_string(options["validator"])
    except (AttributeError, ImportError, KeyError, TypeError):
        return False  # NormalFormValidator itself reports it, ImproperlyConfigured
    return _lists(inner, options.get("options"), validator)


def _refuses_unassigned(named, options) -> bool:
    from accounts.passwords import StableStringValidator

    return _lists(named, options, StableStringValidator)


def _validator_warnings(hasher_paths: list[str]) -> list:
    """While passwords are hashed in their normal form, validators that judge another string
    than the one hashed (a common password in full-width letters passes Django's own list),
    and no validator refusing the passwords whose normal form a Unicode upgrade may change."""
    from accounts.hashers import NormalizingArgon2idPasswordHasher
    from accounts.passwords import NORMAL_FORM_VALIDATORS

    hashers = _hasher_classes(hasher_paths)
    if not hashers or not issubclass(hashers[0], NormalizingArgon2idPasswordHasher):
        return []  # passwords hashed as typed are judged as typed: W006 is the warning
    validators = _validator_classes()
    warnings = [checks.Warning(
        f"The password validator {name} judges the password as typed, not in the normal "
        "form it is hashed in: a password it refuses passes it typed in full-width letters "
        "or with a ligature.",
        hint="Wrap it: {'NAME': 'accounts.passwords.NormalFormValidator', 'OPTIONS': "
             f"{{'validator': '{name}'}}}}, with its own OPTIONS, if any, as 'options'.",
        obj="AUTH_PASSWORD_VALIDATORS", id="authsuite_accounts.W007",
    ) for name, named, _options in validators if not _is_one_of(named, NORMAL_FORM_VALIDATORS)]
    if not any(_refuses_unassigned(named, options) for _name, named, options in validators):
        warnings.append(checks.Warning(
            "No password validator refuses code points Unicode has not assigned yet: a "
            "password holding one may stop matching its hash after a Python upgrade.",
            hint="Add {'NAME': 'accounts.passwords.StableStringValidator'} to "
                 "AUTH_PASSWORD_VALIDATORS.",
            obj="AUTH_PASSWORD_VALIDATORS", id="authsuite_accounts.W008",
        ))
    return warnings


def _api_url_problem(url) -> str | None:
    """Why the range API's base URL cannot be used, or None if it can: it must be absolute,
    with a host and nothing a path is appended to badly (a query, a fragment) or that would
    be sent along (a user), and https unless DEBUG, since the prefix and the answer would
    otherwise cross the network in clear and could be changed on the way."""
    try:
        parts = urlsplit(url) if isinstance(url, str) else None
        host = parts.hostname if parts is not None else None
    except ValueError:
        parts = host = None
    if parts is None or parts.scheme not in ("https", "http") or not host or "@" in parts.netloc \
            or parts.query or parts.fragment:
        return "must be an absolute http(s) URL with a host, and no user, query or fragment"
    if parts.scheme == "http" and not settings.DEBUG:
        return "must use https outside DEBUG"
    return None


def _breach_check_errors() -> list:
    """The settings of the range API breach check (``PwnedPasswordsChecker``), checked
    whether or not it is the configured checker: a value that is wrong is wrong on the day
    the checker is turned on."""
    errors = []
    url = app_settings.BREACHED_PASSWORD_API_URL
    if (problem := _api_url_problem(url)) is not None:
        errors.append(checks.Error(
            f"AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_API_URL {problem}.",
            hint="Leave it unset for https://api.pwnedpasswords.com, or give the https URL "
                 "of a mirror answering /range/<prefix>.",
            obj="AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_API_URL", id="authsuite_accounts.E014",
        ))
    timeout = app_settings.BREACHED_PASSWORD_API_TIMEOUT
    if (not isinstance(timeout, int | float) or isinstance(timeout, bool)
            or not math.isfinite(timeout) or timeout <= 0):
        errors.append(checks.Error(
            "AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_API_TIMEOUT must be a number of seconds "
            "above 0.",
            hint="A couple of seconds (the default is 2.0): a sign-up waits that long at "
                 "most when the service does not answer.",
            obj="AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_API_TIMEOUT", id="authsuite_accounts.E015",
        ))
    min_count = app_settings.BREACHED_PASSWORD_MIN_COUNT
    if type(min_count) is not int or min_count < 1:
        errors.append(checks.Error(
            "AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_MIN_COUNT must be an integer of at least 1.",
            hint="1 refuses a password seen in any breach; padding lines (count 0) never "
                 "count as a sighting.",
            obj="AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_MIN_COUNT", id="authsuite_accounts.E016",
        ))
    when = app_settings.BREACHED_PASSWORD_WHEN_UNAVAILABLE
    if when not in ("accept", "refuse"):
        errors.append(checks.Error(
            f"AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_WHEN_UNAVAILABLE is {when!r}.",
            hint="Use 'accept' (the password is accepted and a warning logged) or 'refuse'.",
            obj="AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_WHEN_UNAVAILABLE",
            id="authsuite_accounts.E017",
        ))
    return errors + _breach_checker_errors()


def _breach_checker_problem(path: str) -> str | None:
    """Why the configured checker cannot be used, or None: its path names no class of the
    interface, or (the local list) no file the process can read. Either would otherwise be
    found by the first sign-up: a 500, or each password accepted unchecked."""
    from accounts.passwords import BreachedPasswordChecker, LocalListChecker

    try:
        named = import_string(path)
    except (ImportError, TypeError, ValueError):
        return "names no class that can be imported"
    if not _is_one_of(named, BreachedPasswordChecker):
        return "names no subclass of accounts.passwords.BreachedPasswordChecker"
    if _is_one_of(named, LocalListChecker):
        file = app_settings.BREACHED_PASSWORD_FILE
        if not file:
            return "is the local list, but AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_FILE is not set"
        try:
            with open(file, "rb"):
                pass
        except OSError as exc:
            return (f"is the local list, but AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_FILE cannot "
                    f"be read ({exc.strerror or type(exc).__name__})")
    return None


def _breach_checker_errors() -> list:
    """A checker that cannot be used, and one that no password validator asks."""
    from accounts.passwords import BreachedPasswordValidator

    path = app_settings.BREACHED_PASSWORD_CHECKER
    if not path:
        return []
    found = []
    if (problem := _breach_checker_problem(path)) is not None:
        found.append(checks.Error(
            f"AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_CHECKER {problem}.",
            hint="Give 'accounts.passwords.PwnedPasswordsChecker', "
                 "'accounts.passwords.LocalListChecker' with a readable file, or the dotted "
                 "path of your own subclass of BreachedPasswordChecker.",
            obj="AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_CHECKER", id="authsuite_accounts.E018",
        ))
    if not any(_lists(named, options, BreachedPasswordValidator)
               for _name, named, options in _validator_classes()):
        found.append(checks.Warning(
            "AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_CHECKER is set, but no password validator "
            "asks it: no password is checked against known breaches.",
            hint="Add {'NAME': 'accounts.passwords.BreachedPasswordValidator'} to "
                 "AUTH_PASSWORD_VALIDATORS.",
            obj="AUTH_PASSWORD_VALIDATORS", id="authsuite_accounts.W009",
        ))
    return found


def _login_redirect_problem() -> str | None:
    """Why the sign-in's default destination cannot be resolved, or None if it can. A name
    that is no URL pattern of the root URLconf would answer every sign-in without a
    ``next`` with a 500."""
    from django.urls import NoReverseMatch

    try:
        app_settings.LOGIN_REDIRECT_URL  # noqa: B018 - resolving it is the check
    except NoReverseMatch as error:
        return f"names no URL pattern of the root URLconf ({error})"
    return None


def _admin_signs_in_itself() -> bool:
    from django.apps import apps

    if not apps.is_installed("django.contrib.admin"):
        return False
    from django.contrib import admin

    from accounts.admin_site import SuiteAdminSite

    return not isinstance(admin.site, SuiteAdminSite)


LINK_EMAILS = ("magic_link", "verify_email", "password_reset", "passkey_signup", "reauthenticate")
#: The pages emails link to without a token: sign-up (a notice to an address no account
#: has), the security page and the alert settings (every alert).
LINK_PAGES = ("signup", "security", "alert_preferences")


def _frontend_url_errors() -> list:
    """Each front-end link: a known email or page, an absolute URL (https unless DEBUG) with
    no user information; an email's with one ``{token}``, in its path: never in the host
    (DNS would see it), a query string or a fragment; a page's with none."""
    errors = []
    for name, url in app_settings.FRONTEND_URLS.items():
        url = str(url)
        parts = urlsplit(url)
        problem = None
        if name not in LINK_EMAILS + LINK_PAGES:
            problem = (f"{name!r} is not an emailed link (one of "
                       f"{', '.join(LINK_EMAILS + LINK_PAGES)})")
        elif name in LINK_PAGES and "{token}" in url:
            problem = f"the URL for {name!r} is a page's, which no token goes to"
        elif name in LINK_EMAILS and (url.count("{token}") != 1
                                      or parts.path.count("{token}") != 1):
            problem = f"the URL for {name!r} must hold {{token}} once, in its path"
        elif parts.scheme not in ("https", "http") or not parts.hostname or "@" in parts.netloc:
            problem = f"the URL for {name!r} must be absolute, with a host and no user"
        elif parts.scheme == "http" and not settings.DEBUG:
            problem = f"the URL for {name!r} must use https"
        if problem:
            errors.append(checks.Error(
                f"AUTHSUITE_ACCOUNTS_FRONTEND_URLS: {problem}.",
                hint="For example {'magic_link': 'https://app.example.com/sign-in/{token}'}.",
                obj="AUTHSUITE_ACCOUNTS_FRONTEND_URLS", id="authsuite_accounts.E010",
            ))
    return errors


@checks.register(checks.Tags.templates)
def check_link_templates(app_configs=None, **kwargs):
    """A project's own confirmation template for an emailed link must post the link's
    reference (``accounts.links``), or every confirmation is refused."""
    from django.template import TemplateDoesNotExist, TemplateSyntaxError
    from django.template.loader import get_template

    from accounts import views

    warnings = []
    for view in (views.EmailVerifyView, views.MagicLinkConfirmView, views.PasswordResetConfirmView):
        try:
            template = get_template(view.template_name)
        except TemplateDoesNotExist:
            continue  # Django's own template checks report a missing template
        except TemplateSyntaxError:
            # One that does not compile (a tag library of an app left out: authsuite.E001
            # says which) fails as the page; judging its source here would only hide why.
            continue
        source = getattr(getattr(template, "template", None), "source", None)
        if source is not None and "link_reference" not in source:
            warnings.append(checks.Warning(
                f"The template {view.template_name} does not post the link's reference, so "
                "every confirmation of that kind of link will be refused.",
                hint='Add <input type="hidden" name="link" value="{{ link_reference }}"> '
                     "inside its form.",
                obj=view.template_name, id="authsuite_accounts.W002",
            ))
        if view is views.EmailVerifyView and source is not None and not any(
                marker in source for marker in ("authsuite/form.html", "{{ form", "password")):
            warnings.append(checks.Warning(
                f"The template {view.template_name} does not render its form's fields, so a "
                "browser not signed in as the account cannot give the password it needs.",
                hint='Add {% if needs_password %}{% include "authsuite/form.html" %}{% endif %} '
                     "inside its form.",
                obj=view.template_name, id="authsuite_accounts.W003",
            ))
    return warnings
