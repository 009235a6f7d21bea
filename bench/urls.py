"""The application's URLs, plus the two views ``bench login`` measures its sign-in against:
an empty form POST (the floor) and Django's own sign-in, bare (the reference)."""

from django.contrib import auth
from django.http import HttpResponseBadRequest, HttpResponseRedirect
from django.urls import path
from django.views.decorators.http import require_POST

from authsuite.urls import handler400, handler403, handler404, handler500  # noqa: F401 - as the site
from authsuite.urls import urlpatterns as application_urlpatterns


@require_POST
def empty_post(request):
    """A form POST that does nothing: what the middleware (session, CSRF, security headers,
    request context) costs any request, sign-in or not."""
    return HttpResponseRedirect("/accounts/")


@require_POST
def bare_sign_in(request):
    """Django's own password sign-in and nothing else: ``authenticate()`` and ``login()``
    (session key rotated, ``last_login`` updated, session row written), then a redirect.
    No form, rate limit, lockout, stages, authentication record, tracked session or audit
    event: the least a password sign-in through this middleware can cost."""
    user = auth.authenticate(
        request, email=request.POST.get("email", ""), password=request.POST.get("password", ""))
    if user is None:
        return HttpResponseBadRequest()
    auth.login(request, user, backend="accounts.backends.EmailBackend")
    return HttpResponseRedirect("/accounts/")


urlpatterns = [
    path("bench/empty-post/", empty_post),
    path("bench/bare-sign-in/", bare_sign_in),
    *application_urlpatterns,
]
