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


#: At most this many locked addresses are listed at once.
LOCKED = 1000


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
                    consecutive_failures__gte=app_settings.LOCKOUT_CONSECUTIVE_LIMIT))
            if getattr(queryset.model, "EMAIL_IS_NORMALIZED", False):
                # Throttles are keyed by the address in its normal form, as such a model
                # stores it: the locked addresses are read first, then their accounts by
                # the address's unique index, not each account's throttles in turn.
                identifiers = locked.values_list("identifier", flat=True).distinct()
                return queryset.filter(**{f"{email_field()}__in": list(identifiers[:LOCKED])})
            # Stored as typed (django.contrib.auth's User): each locked address is looked
            # for case-insensitively (on accounts.0009's index on UPPER(email) on
            # PostgreSQL), and what is found is checked against its throttle as it is kept.
            identifiers = locked.values_list("identifier", flat=True).distinct()[:LOCKED]
            candidates = Q(pk__in=[])
            for identifier in identifiers:
                candidates |= Q(**{f"{email_field()}__iexact": identifier})
            locked = locked.filter(identifier=OuterRef("email_lower"))
            return queryset.filter(candidates).annotate(
                email_lower=Lower(email_field())).filter(Exists(locked))
        return queryset
