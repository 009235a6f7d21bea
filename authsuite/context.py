"""Who is asking: client IP, user agent and request id for the current request.

One middleware resolves them once; flows, rate limits and the audit log read them through
:func:`current` so that code outside a view (signals receivers, flows called from a command)
sees the same values, or an empty context when there is no request. Work done later on a
request's behalf (the mail worker deciding what a link request gets) keeps the request's
context with it (:func:`snapshot`) and runs under it again (:func:`restored`), so what it
records says who asked, from where.
"""

from __future__ import annotations

import codecs
import contextvars
import ipaddress
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import (
    RequestDataTooBig,
    SuspiciousMultipartForm,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http.multipartparser import MultiPartParser, MultiPartParserError
from django.urls import get_script_prefix, set_script_prefix
from django.utils.http import parse_header_parameters

from authsuite import crypto
from authsuite.app_settings import app_settings

UNREADABLE_URLCONF = "authsuite.unreadable"
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_MAX_USER_AGENT = 512


@dataclass(frozen=True, slots=True)
class RequestContext:
    ip: str | None = None
    user_agent: str = ""
    request_id: str = ""
    #: Set only where a request's context is restored without the request (see
    #: :func:`restored`): its session's reference (:func:`session_ref`).
    session_ref: str = ""


_EMPTY = RequestContext()
_current: contextvars.ContextVar[RequestContext] = contextvars.ContextVar(
    "authsuite_request_context", default=_EMPTY
)


_request: contextvars.ContextVar = contextvars.ContextVar("authsuite_request", default=None)


def current_request():
    """The HttpRequest being served (for receivers of model signals), or None."""
    return _request.get()


def current() -> RequestContext:
    """The context of the request being served, or an empty one."""
    return _current.get()


def session_ref(request) -> str:
    """A short keyed digest of the request's session key: lets the audit events of one
    session be grouped, and can never be turned back into a usable session key."""
    session = getattr(request, "session", None)
    key = getattr(session, "session_key", None) if session is not None else None
    return crypto.token_digest(key, purpose="audit-session")[:16] if key else ""


def snapshot(request) -> dict:
    """What work done later on behalf of ``request`` needs of it, as JSON: its context
    (client IP, user agent, request id), its session's reference and the script prefix
    its URLs are reversed under. :func:`restored` puts it back."""
    ctx = current()
    return {"ip": ctx.ip, "user_agent": ctx.user_agent, "request_id": ctx.request_id,
            "session_ref": session_ref(request), "script_prefix": get_script_prefix()}


@contextmanager
def restored(saved: dict) -> Iterator[RequestContext]:
    """Run as the request ``saved`` (:func:`snapshot`) came from, without the request itself:
    :func:`current` gives its context, :func:`current_request` None (there is no request
    here, also where the work runs right after it, as with eager Celery), and URLs are
    reversed under its script prefix."""
    ctx = RequestContext(ip=saved.get("ip"), user_agent=saved.get("user_agent", ""),
                         request_id=saved.get("request_id", ""),
                         session_ref=saved.get("session_ref", ""))
    token, request_token = _current.set(ctx), _request.set(None)
    prefix = get_script_prefix()
    set_script_prefix(saved.get("script_prefix") or "/")
    try:
        yield ctx
    finally:
        set_script_prefix(prefix)
        _request.reset(request_token)
        _current.reset(token)


def _valid_ip(value: str) -> str | None:
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id is not None:
        # A zone id ("fe80::1%eth0") names an interface of the host that wrote it, not the
        # client, and may be of any length and hold any character: kept, it would reach
        # the IP columns (a 500 where the database holds them to an address or a length),
        # the rate-limit keys and the audit log. The address alone is the client.
        address = ipaddress.IPv6Address(address.packed)
    return str(address)


def client_ip(request) -> str | None:
    """REMOTE_ADDR, or the address the trusted proxies saw when TRUSTED_PROXY_COUNT > 0.

    Each trusted proxy appends the address it received the request from, so with N proxies
    the client is the N-th entry from the right. Entries further left are client-supplied
    and never trusted. An IPv6 address is taken without its zone id (``fe80::1%eth0`` is
    ``fe80::1``).
    """
    remote = _valid_ip(request.META.get("REMOTE_ADDR", "") or "")
    proxies = app_settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote
    forwarded = [p for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if p.strip()]
    if len(forwarded) < proxies:
        return remote
    return _valid_ip(forwarded[-proxies]) or remote


def build(request) -> RequestContext:
    supplied = request.META.get("HTTP_X_REQUEST_ID", "")
    request_id = supplied if _REQUEST_ID_RE.match(supplied) else uuid.uuid4().hex
    user_agent = request.META.get("HTTP_USER_AGENT", "")[:_MAX_USER_AGENT]
    # Control characters never leave this function: they could forge lines in logs.
    if not user_agent.isprintable():
        user_agent = "".join(ch for ch in user_agent if ch.isprintable())
    return RequestContext(ip=client_ip(request), user_agent=user_agent, request_id=request_id)


_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def limit_key(ip: str | None) -> str:
    """What rate limits and lockouts count a client by.

    An IPv4 address as it is; an IPv6 address by its network (``IPV6_CLIENT_PREFIX``, a /64
    by default: "2001:db8:1:2::/64"), the block one subscriber is usually given, so that its
    addresses count as the one client they are; an IPv6 address that carries an IPv4 client
    (IPv4-mapped, NAT64, 6to4, Teredo, IPv4-compatible) by that IPv4 address, so that the
    clients behind one gateway are not one client; "unknown" when there is no address.
    """
    return _limit_key(ip, app_settings.IPV6_CLIENT_PREFIX)


@lru_cache(maxsize=4096)
def _limit_key(ip: str | None, prefix: int) -> str:
    if not ip:
        return "unknown"
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip  # not an address (a caller's own placeholder): counted as given
    if address.version == 4:
        return str(address)
    if address.is_loopback or address.is_unspecified:
        return str(address)
    embedded = address.ipv4_mapped or address.sixtofour or (
        address.teredo[1] if address.teredo else None)
    if embedded is None and (any(address in net for net in _NAT64) or int(address) < 2**32):
        embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if embedded is not None:
        return str(embedded)
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def ratelimit_ip(request) -> str:
    """``RATELIMIT_IP_META_KEY`` hook so django-ratelimit sees the same client IP (it groups
    IPv6 addresses by network itself, ``RATELIMIT_IPV6_MASK``)."""
    ctx = getattr(request, "authsuite", None) or build(request)
    return ctx.ip or "0.0.0.0"


#: Where :func:`content_type_guard` keeps a Content-Type it took off a request.
SET_ASIDE = "authsuite.content_type_set_aside"


def _breaks_django(content_type: str) -> bool:
    """Whether Django fails building a request with this Content-Type: its parser raises on
    an RFC 2231 parameter naming an unknown charset (``x*=no-such''y``), and ``codecs.lookup``
    on a charset holding NUL (``charset=utf\\x00-8``, or ``charset*=utf-8''%00`` in plain
    ASCII). Both are ValueErrors, where Django expects only a LookupError."""
    try:
        _media_type, params = parse_header_parameters(content_type)
        codecs.lookup(params.get("charset", "utf-8"))
    except LookupError:
        return False
    except ValueError:
        return True
    return False


def content_type_guard(sender, environ=None, scope=None, **kwargs) -> None:
    """``request_started`` receiver: take off a Content-Type Django cannot read.

    Django reads the header while it builds the request, before any middleware: such a
    header makes it raise there, whatever the path and method, and the server answers its own
    500 (no ``handler500``, none of the security headers). The signal comes just before,
    with the WSGI environ or the ASGI scope: the request is built without the header, which
    is kept under :data:`SET_ASIDE`, and :class:`RequestContextMiddleware` answers 400.
    """
    if environ is not None:
        content_type = environ.get("CONTENT_TYPE", "")
        if content_type and _breaks_django(content_type):
            environ["CONTENT_TYPE"] = ""
            environ[SET_ASIDE] = content_type
    elif scope is not None and scope.get("type") == "http":
        headers = list(scope.get("headers", ()))
        # Read as Django's ASGIRequest reads it: every content-type header, joined.
        content_type = ",".join(v.decode("latin1") for n, v in headers if n == b"content-type")
        if content_type and _breaks_django(content_type):
            scope["headers"] = [(n, v) for n, v in headers if n != b"content-type"]
            scope[SET_ASIDE] = content_type


def _set_aside(request) -> str | None:
    """The Content-Type :func:`content_type_guard` took off ``request``, if it did."""
    return (getattr(request, "scope", None) or request.META).get(SET_ASIDE)


def unreadable(request) -> str | None:
    """Why Django cannot read ``request``, in a sentence its client is shown, or None when it
    can: a Content-Type naming a charset other than UTF-8 (or one Django could not parse at
    all: :func:`content_type_guard`), a Content-Length that is not a number, more query
    fields than ``DATA_UPLOAD_MAX_NUMBER_FIELDS``. Django raises on them wherever they are
    first read (a ValueError from the CSRF check for the length: a 500), and with DEBUG on
    its error page reads them again and fails in turn. The middleware sends them to a 400
    before anything tries (``authsuite.unreadable``), which gives this reason."""
    if _set_aside(request):
        return "The Content-Type header of the request cannot be parsed."
    meta = request.META
    length = meta.get("CONTENT_LENGTH", "")
    if length and not (length.isascii() and length.isdigit()):
        return "The Content-Length header of the request is not a number."
    limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
    if limit is not None and meta.get("QUERY_STRING", "").count("&") >= limit:
        return f"The query string has more than {limit} fields."
    # Django decodes the query string, and a form body, in the charset the Content-Type
    # names, whatever the method and type: UTF-7 turns "+2AA-" in a query into a lone
    # surrogate that no later encode survives.
    _content_type, params = parse_header_parameters(meta.get("CONTENT_TYPE", ""))
    if params.get("charset", "utf-8").lower() not in ("utf-8", "utf8"):
        return "The request names a character set other than UTF-8."
    return None


def body_refused(exception) -> str | None:
    """Why Django refused to read a request's body, in a sentence its client is shown, from
    what it raised reading it (a 413: ``authsuite.views.bad_request``, the API's error
    handler), or None for any other exception: more fields than
    ``DATA_UPLOAD_MAX_NUMBER_FIELDS``, more files than ``DATA_UPLOAD_MAX_NUMBER_FILES``, a
    body over ``DATA_UPLOAD_MAX_MEMORY_SIZE``. Said by the limit, never by the exception's
    own text."""
    if isinstance(exception, TooManyFieldsSent):
        return f"The request body has more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} fields."
    if isinstance(exception, TooManyFilesSent):
        return f"The request body has more than {settings.DATA_UPLOAD_MAX_NUMBER_FILES} files."
    if isinstance(exception, RequestDataTooBig):
        return (f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} "
                "bytes.")
    return None


def body_unparsable(request, exception) -> str | None:
    """Why Django could not parse a request's multipart body, in a sentence its client is
    shown, from what it raised parsing it (a 400: ``authsuite.views.bad_request``), or None
    for any other exception: a Content-Type naming no boundary Django takes (none, empty,
    over 201 characters, other than printable ASCII, ending in a space) or holding other
    than ASCII, or a body whose parts Django cannot read (a file's base64 cut short, a
    part's headers over Django's limit). Said from the request and the kind of exception,
    never by its text, which holds what the client sent."""
    if not isinstance(exception, (MultiPartParserError, SuspiciousMultipartForm)):
        return None
    content_type = request.META.get("CONTENT_TYPE", "")
    if not content_type.isascii():
        return "The Content-Type header of the request cannot be parsed."
    _media_type, params = parse_header_parameters(content_type)
    boundary = params.get("boundary")
    if not boundary or not MultiPartParser.boundary_re.fullmatch(boundary):
        return "The Content-Type header of the request names no valid multipart boundary."
    return "The request body is not valid multipart form data."


#: The URL namespaces of the suite's pages and API: the routes whose methods are checked
#: before anything else (:meth:`RequestContextMiddleware.process_view`).
SUITE_NAMESPACES = frozenset({"accounts", "mfa", "passkeys", "audit", "authsuite_api"})


#: Where a function view of the suite keeps the methods it answers
#: (``authsuite.views.require_methods``).
ALLOWED_METHODS = "authsuite_allowed_methods"


def allowed_methods(view_func) -> list[str] | None:
    """The methods a view answers, as its ``Allow`` header names them: a class-based view's
    (HEAD wherever GET is), a function view's under ``authsuite.views.require_methods``; None
    for a view that does not say (any other function)."""
    declared = getattr(view_func, ALLOWED_METHODS, None)
    if declared is not None:
        return list(declared)
    view_class = getattr(view_func, "view_class", None)
    if view_class is None:
        return None
    names = getattr(view_func, "view_initkwargs", {}).get("http_method_names",
                                                          view_class.http_method_names)
    return [name.upper() for name in names
            if hasattr(view_class, name) or (name == "head" and hasattr(view_class, "get"))]


#: The path parameter of a route of the suite whose URL holds a secret: an emailed link's
#: token (``/accounts/password/reset/<token>/``, ``/passkeys/signup/<token>/``...).
SECRET_PARAMETER = "token"
#: Referrer policies that never send a page's path, nor so its token.
_PATHLESS_POLICIES = frozenset({"no-referrer", "origin", "strict-origin"})
#: What an answer at such a URL asks instead of the site's policy, when that one sends the
#: path (Django's default ``same-origin`` sends it to the site's own pages, scripts and
#: styles): the origin alone. Not ``no-referrer``: a browser then sends ``Origin: null``
#: with the page's form, and Django's CSRF check refuses it.
SECRET_URL_REFERRER_POLICY = "strict-origin"


def keep_secret_urls_out_of_referer(request, response) -> None:
    """An answer at a URL of the suite that holds a token (its ``SECRET_PARAMETER``) tells
    the browser never to send that URL as ``Referer``: not to the page's scripts and
    styles, not to a page a link on it leads to, even the site's own (whose access logs,
    and any CDN or proxy in front of it, would keep the token). Whatever the answer: the
    link's confirmation page (the passkey sign-up's), a used or expired link's, a rate
    limit's, a form posted straight to the link with an error in it, a 405."""
    match = getattr(request, "resolver_match", None)
    if (match is None or SECRET_PARAMETER not in match.kwargs
            or not SUITE_NAMESPACES.intersection(match.app_names)):
        return
    configured = {name.strip() for name in response.get("Referrer-Policy", "").split(",")}
    if not configured <= _PATHLESS_POLICIES:
        response["Referrer-Policy"] = SECRET_URL_REFERRER_POLICY


class RequestContextMiddleware:
    """Resolve the request context once and expose it as ``request.authsuite``; refuse a
    method a route of the suite does not answer before anything else looks at the request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        ctx = build(request)
        request.authsuite = ctx
        token = _current.set(ctx)
        request_token = _request.set(request)
        if unreadable(request) is not None:
            # Whatever the path, the one view that reads nothing answers it, through the
            # rest of the middleware like any request.
            request.urlconf = UNREADABLE_URLCONF
        try:
            response = self.get_response(request)
        finally:
            _request.reset(request_token)
            _current.reset(token)
        response["X-Request-ID"] = ctx.request_id
        keep_secret_urls_out_of_referer(request, response)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        in_suite = match is not None and SUITE_NAMESPACES.intersection(match.app_names)
        # A function view of the suite says so wherever a URLconf routes it (the demo's home
        # page and mailbox are in no namespace of the suite).
        if not in_suite and not hasattr(view_func, ALLOWED_METHODS):
            return None
        allowed = allowed_methods(view_func)
        if allowed is not None and request.method not in allowed:
            # A method the route does not answer changes nothing: 405, before the sign-in
            # (a redirect, a 403), a recent sign-in, the CSRF check (a 403 for PROPFIND,
            # audited as a forgery) or the body are looked at, for everyone alike. The
            # methods a route answers are no secret: the schema lists them.
            from authsuite.views import method_not_allowed  # authsuite.views imports this module

            return method_not_allowed(request, allowed)
        if request.method == "POST" and not getattr(view_func, "csrf_exempt", False):
            # The form is read now, as the CSRF check is about to read it: one Django refuses
            # (too many fields or files, too large: ``body_refused``) is then a 413 that says
            # why, whoever posts it, before a view acts on a request it never read (a
            # sign-out reads no field) or sends its visitor to sign in. The API's views
            # (exempt: DRF checks CSRF itself) read their JSON bodies on their own.
            request.POST  # noqa: B018 - reading is the point
        return None
