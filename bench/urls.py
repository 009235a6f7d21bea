"""The application's URLs, and the empty form view ``bench login`` measures its floor with."""

from django.http import HttpResponseRedirect
from django.urls import path
from django.views.decorators.http import require_POST

from authsuite.urls import handler400, handler403, handler404, handler500  # noqa: F401 - as the site
from authsuite.urls import urlpatterns as application_urlpatterns


@require_POST
def empty_post(request):
    """A form POST that does nothing: what the middleware (session, CSRF, security headers,
    request context) costs any request, sign-in or not."""
    return HttpResponseRedirect("/accounts/")


urlpatterns = [path("bench/empty-post/", empty_post), *application_urlpatterns]
