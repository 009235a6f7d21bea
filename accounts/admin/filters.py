"""List filters of the user admin: verified address, locked now."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.app_settings import app_settings
from accounts.models import EmailAddress, LoginThrottle
from accounts.users import email_field


class VerifiedFilter(admin.SimpleListFilter):
    title = _("email verified")
    parameter_name = "verified"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request, queryset):
        verified = EmailAddress.objects.filter(user=OuterRef("pk"), primary=True, verified=True)
        if self.value() == "yes":
            return queryset.filter(Exists(verified))
        if self.value() == "no":
            return queryset.exclude(Exists(verified))
        return queryset


class LockedFilter(admin.SimpleListFilter):
    title = _("locked")
    parameter_name = "locked"

    def lookups(self, request, model_admin):
        return [("yes", _("Locked now"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            locked = LoginThrottle.objects.filter(
                Q(locked_until__gt=timezone.now())
                | Q(ip=LoginThrottle.ACCOUNT_WIDE,
                    consecutive_failures__gte=app_settings.LOCKOUT_CONSECUTIVE_LIMIT),
                identifier=OuterRef("email_lower"),
            )
            return queryset.annotate(email_lower=Lower(email_field())).filter(Exists(locked))
        return queryset
