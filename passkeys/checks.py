"""System checks of the passkeys app (ids ``authsuite_passkeys.*``)."""

from urllib.parse import urlsplit

from django.apps import apps
from django.conf import settings
from django.core import checks

from passkeys.app_settings import ALGORITHM_NAMES, app_settings
from passkeys.ceremonies import BUILTIN_ROOT_FORMATS


def _within(host: str, rp_id: str) -> bool:
    return host == rp_id or host.endswith("." + rp_id)


@checks.register(checks.Tags.security)
def check_passkeys(app_configs=None, **kwargs):
    errors = []
    for needed in ("authsuite", "accounts"):
        if not apps.is_installed(needed):
            errors.append(checks.Error(
                f"'passkeys' needs '{needed}' in INSTALLED_APPS.",
                hint=f"Add '{needed}' to INSTALLED_APPS.", obj="INSTALLED_APPS",
                id="authsuite_passkeys.E010",
            ))
    rp_id = app_settings.RP_ID
    if (not rp_id or "://" in rp_id or "/" in rp_id or ":" in rp_id
            or rp_id != rp_id.strip().lower()):
        errors.append(checks.Error(
            f"AUTHSUITE_PASSKEYS_RP_ID {rp_id!r} is not a domain.",
            hint="Use the registrable domain only, in lower case, e.g. 'example.com'.",
            obj="AUTHSUITE_PASSKEYS_RP_ID", id="authsuite_passkeys.E001",
        ))
    for origin in app_settings.ORIGINS:
        parts = urlsplit(origin)
        if parts.scheme not in ("https", "http") or not parts.hostname or parts.path:
            errors.append(checks.Error(
                f"Passkey origin {origin!r} is not scheme://host[:port].",
                hint="Fix AUTHSUITE_PASSKEYS_ORIGINS.", obj="AUTHSUITE_PASSKEYS_ORIGINS",
                id="authsuite_passkeys.E002",
            ))
        elif not _within(parts.hostname, rp_id):
            errors.append(checks.Error(
                f"Passkey origin {origin!r} does not match the RP ID {rp_id!r}.",
                hint="Every origin's host must be the RP ID or a subdomain of it.",
                obj="AUTHSUITE_PASSKEYS_ORIGINS", id="authsuite_passkeys.E003",
            ))
        elif parts.scheme == "http" and parts.hostname != "localhost":
            errors.append(checks.Error(
                f"Passkey origin {origin!r} is not HTTPS.",
                hint="Browsers allow WebAuthn over HTTP only on localhost.",
                obj="AUTHSUITE_PASSKEYS_ORIGINS", id="authsuite_passkeys.E004",
            ))
    if settings.SESSION_ENGINE.endswith("signed_cookies"):
        errors.append(checks.Error(
            "Passkey challenges must be stored server-side; signed-cookie sessions are not.",
            hint="Use a database or cache session engine.", obj="SESSION_ENGINE",
            id="authsuite_passkeys.E005",
        ))
    if app_settings.USER_VERIFICATION not in ("required", "preferred", "discouraged"):
        errors.append(checks.Error(
            "AUTHSUITE_PASSKEYS_USER_VERIFICATION must be required, preferred or discouraged.",
            hint="Use 'required' (default).", obj="AUTHSUITE_PASSKEYS_USER_VERIFICATION",
            id="authsuite_passkeys.E006",
        ))
    if app_settings.RESIDENT_KEY not in ("required", "preferred", "discouraged"):
        errors.append(checks.Error(
            "AUTHSUITE_PASSKEYS_RESIDENT_KEY must be required, preferred or discouraged.",
            hint="Use 'preferred' (default): usernameless sign-in where the authenticator can.",
            obj="AUTHSUITE_PASSKEYS_RESIDENT_KEY", id="authsuite_passkeys.E009",
        ))
    for fmt in app_settings.ATTESTATION_FORMATS:
        if fmt == "none" or (fmt not in BUILTIN_ROOT_FORMATS
                             and not app_settings.ATTESTATION_ROOT_CERTS.get(fmt)):
            errors.append(checks.Error(
                f"Attestation format {fmt!r} is required but nothing could ever be trusted "
                "with it.",
                hint="Give its root certificates in AUTHSUITE_PASSKEYS_ATTESTATION_ROOT_CERTS "
                     "(a required 'none' makes no sense), or leave ATTESTATION_FORMATS empty.",
                obj="AUTHSUITE_PASSKEYS_ATTESTATION_FORMATS", id="authsuite_passkeys.E007",
            ))
    unknown = [alg for alg in app_settings.ALGORITHMS if alg not in ALGORITHM_NAMES]
    if not app_settings.ALGORITHMS or unknown:
        errors.append(checks.Error(
            f"AUTHSUITE_PASSKEYS_ALGORITHMS must list COSE algorithms among "
            f"{sorted(ALGORITHM_NAMES)}; got {app_settings.ALGORITHMS!r}.",
            hint="Keep the default [-7, -8, -257] (ES256, EdDSA, RS256).",
            obj="AUTHSUITE_PASSKEYS_ALGORITHMS", id="authsuite_passkeys.E008",
        ))
    return errors


@checks.register(checks.Tags.templates)
def check_signup_template(app_configs=None, **kwargs):
    """A project's own passkey sign-up page must hand its script the link's reference
    (``data-link="{{ link_reference }}"``): the token is no longer in the page's URL, so a
    copy made when it was (``view.kwargs.token``) has every sign-up refused."""
    from django.template import TemplateDoesNotExist, TemplateSyntaxError
    from django.template.loader import get_template

    from passkeys.views import SignupCompleteView

    name = SignupCompleteView.template_name
    try:
        template = get_template(name)
    except (TemplateDoesNotExist, TemplateSyntaxError):
        return []  # Django's own template checks, or the page itself, say why
    source = getattr(getattr(template, "template", None), "source", None)
    if source is None or "link_reference" in source:
        return []
    return [checks.Warning(
        f"The template {name} does not hand its script the link's reference, so every "
        "sign-up with a passkey from an emailed link will be refused.",
        hint='Give its sign-up button data-link="{{ link_reference }}" (instead of a token).',
        obj=name, id="authsuite_passkeys.W001",
    )]
