"""Guards for sensitive actions: a recent authentication ("sudo mode") is required."""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.urls import reverse

from accounts import authrecord


def reauthentication_redirect(request):
    """To /accounts/reauthenticate/, and back to this page after."""
    query = urlencode({"next": request.get_full_path()})
    return redirect(f"{reverse('accounts:reauthenticate')}?{query}")


def reauthentication_required(view=None, *, max_age: int | None = None):
    """Redirect to /accounts/reauthenticate/ unless the user authenticated recently."""

    def decorator(func):
        @login_required
        @wraps(func)
        def wrapper(request, *args, **kwargs):
            if not authrecord.is_recent(request, max_age):
                return reauthentication_redirect(request)
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
            return reauthentication_redirect(request)
        return super().dispatch(request, *args, **kwargs)
