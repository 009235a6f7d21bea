"""The URLconf of a request Django cannot read (:func:`authsuite.context.unreadable`).

Every path leads to the bad-request view, so the request still passes through the whole
middleware stack, which adds its security headers (CSP, X-Frame-Options, nosniff, ...) to
the 400 as to any answer. Nothing on the way reads the body or the query: the view is
exempt from the CSRF check, the one step that would read the body. The answer says why
the request cannot be read (the page's text, the API's error message).
"""

from django.urls import re_path, set_urlconf
from django.views.decorators.csrf import csrf_exempt

from authsuite import context
from authsuite.views import bad_request


@csrf_exempt
def unreadable(request):
    # Links on the error page name the site's own URLs, not this URLconf's.
    set_urlconf(None)
    return bad_request(request, reason=context.unreadable(request))


urlpatterns = [re_path(r"", unreadable)]
