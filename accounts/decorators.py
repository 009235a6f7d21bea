"""Guards for sensitive actions: a recent authentication ("sudo mode") is required."""

from __future__ import annotations

import re
from functools import wraps
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.urls import reverse

from accounts import authrecord
from accounts.app_settings import app_settings

MAX_AGE_RE = re.compile(r"[0-9]{1,9}")


def reauthentication_redirect(request, max_age: int | None = None):
    """To /accounts/reauthenticate/, and back to this page after.

    A view that demands a more recent authentication than the default tells the page
    (``max_age``), so that it asks for the factors that age needs: judged by the default,
    a code proven at sign-in would still count, the page would ask for the password only,
    and the view would send the user straight back.
    """
    params = {"next": request.get_full_path()}
    if _shorter(max_age) is not None:
        params["max_age"] = max_age
    return redirect(f"{reverse('accounts:reauthenticate')}?{urlencode(params)}")


def requested_max_age(request) -> int | None:
    """The age the view that sent the user to the reauthentication page demands, or None
    for the default.

    It comes from the page's address, so anyone can write it: it is taken only when it is
    shorter than the default, so that it may make the page ask for more, never for less.
    (The view checks its own age again in any case.)
    """
    raw = request.POST.get("max_age") or request.GET.get("max_age") or ""
    # ASCII digits only: int() would also read "٦٠" or " 60 ".
    return _shorter(int(raw)) if MAX_AGE_RE.fullmatch(raw) else None


def _shorter(max_age: int | None) -> int | None:
    if max_age is None or not 0 <= max_age < app_settings.REAUTHENTICATION_TIMEOUT:
        return None
    return max_age


def reauthentication_required(view=None, *, max_age: int | None = None):
    """Redirect to /accounts/reauthenticate/ unless the user authenticated recently."""

    def decorator(func):
        @login_required
        @wraps(func)
        def wrapper(request, *args, **kwargs):
            if not authrecord.is_recent(request, max_age):
                return reauthentication_redirect(request, max_age)
            return func(request, *args, **kwargs)

        return wrapper

    return decorator(view) if view is not None else decorator


class ReauthenticationRequiredMixin:
    """Class-based view version of :func:`reauthentication_required`."""

    reauthentication_max_age: int | None = None

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            from django.contrib.auth.views import redirect_to_login

            return redirect_to_login(request.get_full_path())
        if not authrecord.is_recent(request, self.reauthentication_max_age):
            return reauthentication_redirect(request, self.reauthentication_max_age)
        return super().dispatch(request, *args, **kwargs)
