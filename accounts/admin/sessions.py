"""The user admin's read-only list of an account's open sessions."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from accounts.models import UserSession


class OpenSessionsFormSet(forms.BaseInlineFormSet):
    """No rows: the account's open sessions are listed for reading (``open_sessions``)."""

    shown = 50

    @cached_property
    def open_sessions(self) -> dict:
        """The latest ``shown`` open sessions, and how many there are in all."""
        if self.instance.pk is None:
            return {"rows": [], "total": 0}
        found = UserSession.objects.filter(user=self.instance, ended_at__isnull=True).order_by(
            "-last_seen_at", "-pk")
        rows = list(found[:self.shown + 1])
        total = len(rows) if len(rows) <= self.shown else found.count()
        return {"rows": rows[:self.shown], "total": total}


class UserSessionInline(admin.TabularInline):
    """The account's open sessions, the latest first (ended ones are in the audit trail).

    A list to read, not rows of the form: nothing of it is posted back with the page, so an
    account with any number of sessions can still be saved. Staff end them with the "End
    all sessions" action."""

    model = UserSession
    formset = OpenSessionsFormSet
    template = "admin/accounts/open_sessions.html"
    extra = 0
    max_num = 0
    can_delete = False
    verbose_name_plural = _("open sessions")

    def get_queryset(self, request):
        return super().get_queryset(request).none()

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False
