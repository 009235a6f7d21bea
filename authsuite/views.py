"""Core views: the demo home page and JSON-aware error handlers."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, requires_csrf_token
from django.views.decorators.debug import sensitive_variables

from authsuite import context, signals
from authsuite.api.errors import CSRF_MESSAGE, CoreError, envelope

#: Paths under it answer errors in the API's envelope, as do those under the suite's API
#: wherever the project includes it (:func:`_is_api`).
API_PREFIX = "/api/"
API_NAMESPACE = "authsuite_api"


def require_methods(*methods: str):
    """Django's ``require_http_methods`` for a function view of the suite: another method is
    :func:`method_not_allowed`. The view keeps the methods it answers
    (``context.allowed_methods``), so ``RequestContextMiddleware`` refuses another one before
    the CSRF check (a 403 "Form expired", audited as a forgery) or the body are looked at,
    as for the suite's class-based pages, wherever the view is routed."""
    allowed = [method.upper() for method in methods]

    def decorator(view):
        @wraps(view)
        def inner(request, *args, **kwargs):
            if request.method not in allowed:
                return method_not_allowed(request, allowed)
            return view(request, *args, **kwargs)

        setattr(inner, context.ALLOWED_METHODS, tuple(allowed))
        return inner

    return decorator


class PageMethodsMixin:
    """For a class-based page of the suite: a method it does not take is
    :func:`method_not_allowed`, wherever it is routed. Under the suite's namespaces
    ``RequestContextMiddleware`` refuses it first; elsewhere (the admin's sign-out is the
    suite's, a project may route a page in its own URLconf) Django's view would answer an
    empty 405."""

    def http_method_not_allowed(self, request, *args, **kwargs):
        return method_not_allowed(request, self._allowed_methods())


@sensitive_variables()
def render_confidential(response):
    """``response`` rendered now, beneath this frame, which hides every variable from error
    reports: for a page or an answer that shows a secret (new recovery codes, the key of an
    authenticator app being set up). Django's filter hides a marked frame's variables in
    every frame beneath it; left to the handler, the rendering runs after the view's marked
    frames have returned, and a failure in it (a project's template override, a renderer)
    would report the template's context, or the answer's data, secret and all."""
    response.render()
    return response


@require_methods("GET", "HEAD")
@never_cache  # it names the signed-in account
def home(request):
    return render(request, "authsuite/home.html")


def _is_api(request) -> bool:
    """Whether ``request`` is one for the JSON API: under ``/api/``, or under the suite's
    API wherever the project includes it (``path("auth/", include(...))``, a language
    prefix of ``i18n_patterns``). Its path is taken without the script prefix the site is
    served under (``FORCE_SCRIPT_NAME``, the server's SCRIPT_NAME): the URLconf never
    sees that one."""
    path = request.path_info
    if path.startswith(API_PREFIX):
        return True
    urlconf = getattr(request, "urlconf", None)
    if urlconf == context.UNREADABLE_URLCONF:
        urlconf = None  # every path leads to the bad-request view there
    try:
        match = resolve(path, urlconf)
    except Resolver404:
        return False
    # The API's include ends with a pattern taking every path under it (api_not_found).
    return API_NAMESPACE in match.app_names


@never_cache  # error answers are never cached: an API client or proxy would replay them
def bad_request(request, exception=None, reason: str | None = None):
    """``handler400``; ``reason``: why, in a sentence the client is shown (a request Django
    cannot read, ``authsuite.unreadable``). A multipart body Django could not parse says why
    too (``context.body_unparsable``); one it refused to read (too many fields or files, too
    large: ``context.body_refused``) is a 413 that says so. An exception's own text is never
    shown."""
    status = 400
    if reason is None and (refused := context.body_refused(exception)) is not None:
        reason, status = refused, 413
    if reason is None:
        reason = context.body_unparsable(request, exception)
    if _is_api(request):
        if status == 413:
            return JsonResponse(envelope(CoreError.TOO_LARGE, reason), status=413)
        return JsonResponse(envelope(CoreError.MALFORMED, reason or _("The request is malformed.")),
                            status=400)
    title = _("Request too large") if status == 413 else _("Bad request")
    return render(request, "authsuite/error.html", {"title": title, "detail": reason},
                  status=status)


@never_cache
def permission_denied(request, exception=None):
    signals.permission_denied.send(sender=None, request=request, path=request.path[:200])
    if _is_api(request):
        return JsonResponse(envelope(CoreError.PERMISSION_DENIED, _("Permission denied.")), status=403)
    return render(request, "authsuite/error.html", {"title": _("Permission denied")}, status=403)


@never_cache
def not_found(request, exception=None):
    if _is_api(request):
        return JsonResponse(envelope(CoreError.NOT_FOUND, _("Not found.")), status=404)
    return render(request, "authsuite/error.html", {"title": _("Page not found")}, status=404)


@never_cache
@csrf_exempt  # it changes nothing, and its answer is the same either way
@login_not_required  # the same answer signed in or not, under LoginRequiredMiddleware too
def api_not_found(request, path: str = ""):
    """Every path under the API that no endpoint has, whatever the method, DEBUG or the
    project's own 404 page: the envelope. A path one slash short of an endpoint says so
    (Django would otherwise redirect a GET, losing nothing, and refuse a POST with a
    RuntimeError in DEBUG or a redirect a client follows with a GET)."""
    message = _("Not found.")
    if not request.path.endswith("/") and _is_endpoint(request, request.path_info + "/"):
        message = _("Not found. API paths end with a slash.")
    return JsonResponse(envelope(CoreError.NOT_FOUND, message), status=404)


def _is_endpoint(request, path: str) -> bool:
    try:
        match = resolve(path, getattr(request, "urlconf", None))
    except Resolver404:
        return False
    return match.func is not api_not_found


@never_cache
def method_not_allowed(request, allowed: list[str]):
    """405 for a method a route of the suite does not answer, with the ``Allow`` header of
    the methods it does (``RequestContextMiddleware`` answers it before the view): the same
    sentence, in DRF's words, under the API in the envelope and on a page as the site's
    error page (Django's own 405 is empty: a stale form or a browser extension would land
    on a blank page)."""
    message = _('Method "%(method)s" not allowed.') % {"method": request.method}
    if _is_api(request):
        response = JsonResponse(envelope(CoreError.METHOD_NOT_ALLOWED, message), status=405)
    else:
        response = render(request, "authsuite/error.html",
                          {"title": _("Method not allowed"), "detail": message}, status=405)
    response["Allow"] = ", ".join(allowed)
    return response


@never_cache
def server_error(request):
    if _is_api(request):
        return JsonResponse(envelope(CoreError.SERVER_ERROR, _("Something went wrong.")), status=500)
    return render(request, "authsuite/error.html", {"title": _("Server error")}, status=500)


@never_cache
@requires_csrf_token
def csrf_failure(request, reason=""):
    signals.csrf_failed.send(sender=None, request=request, path=request.path[:200],
                             reason=str(reason)[:200])
    if _is_api(request):
        return JsonResponse(
            envelope(CoreError.CSRF_FAILED, _(CSRF_MESSAGE)),
            status=403,
        )
    return render(
        request, "authsuite/error.html",
        {"title": _("Form expired"), "detail": _("Reload the page and submit the form again.")},
        status=403,
    )
