"""Absolute URLs for links that leave the site (emails)."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.utils.http import url_has_allowed_host_and_scheme

from authsuite.app_settings import app_settings


def absolute_url(request, path: str) -> str:
    if app_settings.BASE_URL:
        return app_settings.BASE_URL + path
    if request is None:
        return "http://localhost" + path
    url = request.build_absolute_uri(path)
    if settings.SECURE_SSL_REDIRECT and url.startswith("http://"):
        # The site answers only over HTTPS: a link in mail, a token in it, must not cross
        # its first hop in the clear because the request that asked for it came over HTTP
        # (a path in SECURE_REDIRECT_EXEMPT, a proxy that does not say it was HTTPS).
        url = "https://" + url.removeprefix("http://")
    return url


def origin(request) -> str:
    """Scheme and host of the links built for ``request``: ``origin(request) + path`` is
    ``absolute_url(request, path)`` for a path that begins with one "/". Kept by work done
    later on the request's behalf (the mail worker), which has no request to ask."""
    return absolute_url(request, "/")[:-1]


def safe_next(request, url: str | None, fallback: str | Callable[[], str]) -> str:
    """``url`` if it stays on an allowed host (and scheme), else ``fallback``: a URL, or a
    callable that gives one, called only then. A setting that names a URL (resolving it is a
    lookup, and fails for a name the URLconf lacks) is then read only when no safe ``url``
    was given."""
    if url and len(url) <= 2000 and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return fallback() if callable(fallback) else fallback
