"""Staff see a user's passkeys (provider, last use, flags) and can remove one."""

from itertools import groupby

from django.contrib import admin
from django.contrib.auth import get_permission_codename, get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.admin.actions import reach_of
from accounts.admin.search import address_search
from accounts.models import normalize_email
from authsuite.admin_input import ReadOnlyAdminMixin, SafeInputMixin
from authsuite.admin_lists import EstimatedCountMixin, WholeTermSearchMixin
from authsuite.spelling import address_column
from passkeys import flows
from passkeys.models import Passkey, PendingSignup


@admin.register(Passkey)
class PasskeyAdmin(EstimatedCountMixin, SafeInputMixin, WholeTermSearchMixin, admin.ModelAdmin):
    list_display = ["name", "user", "provider", "created_at", "last_used_at", "backup_eligible",
                    "backup_state", "flagged_at"]
    list_filter = ["backup_eligible", "backup_state", ("flagged_at", admin.EmptyFieldListFilter)]
    # A whole address, on an index: the passkeys of the account that holds it
    # (``accounts.admin.search``).
    search_fields = ["user__email__exact", "user__email_addresses__email__exact"]
    list_select_related = ["user"]
    fields = ["user", "name", "provider", "aaguid", "attestation_format", "transports",
              "sign_count", "backup_eligible", "backup_state", "user_verified", "created_at",
              "last_used_at", "flagged_at"]
    readonly_fields = fields
    actions = ["remove_passkeys"]

    def search_filter(self, term: str) -> Q:
        model = get_user_model()
        return Q(user__in=model._default_manager.filter(address_search(model, term)).values("pk"))

    @admin.display(description=_("provider"))
    def provider(self, obj):
        return flows.provider_name(obj.aaguid) or "—"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        # Removal goes through the action: audited and the user is told. Only the
        # deletion of a whole account, which takes its passkeys along, asks about one
        # passkey (``obj``); the passkey's own delete page is refused below.
        return obj is not None and self.has_remove_permission(request)

    def delete_view(self, request, object_id, extra_context=None):
        raise PermissionDenied

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # No "Delete" link to the page refused above: the list's action removes a passkey.
        return super().change_view(request, object_id, form_url,
                                   {**(extra_context or {}), "show_delete": False})

    def has_remove_permission(self, request) -> bool:
        # Django's own delete permission; has_delete_permission is off (removal is this action).
        return request.user.has_perm(f"{self.opts.app_label}.{get_permission_codename('delete', self.opts)}")

    @admin.action(description=_("Remove selected passkeys (the users are told)"),
                  permissions=["remove"])
    def remove_passkeys(self, request, queryset):
        # Only superusers act on other staff members' factors.
        queryset = reach_of(self, request, queryset, user_field="user")
        chosen = queryset.select_related("user").order_by("user_id", "pk")
        count = 0
        # One flow call per user: each user is told once, however many of theirs were chosen.
        for _user_id, passkeys in groupby(chosen, key=lambda passkey: passkey.user_id):
            passkeys = list(passkeys)
            count += flows.passkeys_remove(request, user=passkeys[0].user,
                                           passkey_ids=[p.pk for p in passkeys],
                                           by=request.user)
        self.message_user(request, _("%(n)d passkeys removed.") % {"n": count})


class PendingSignupStateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("live", _("waiting")), ("used", _("used")), ("voided", _("replaced")),
                ("expired", _("expired"))]

    def queryset(self, request, queryset):
        now = timezone.now()
        unused = queryset.filter(used_at__isnull=True, voided_at__isnull=True)
        return {
            "live": unused.filter(expires_at__gt=now),
            "used": queryset.filter(used_at__isnull=False),
            "voided": queryset.filter(voided_at__isnull=False),
            "expired": unused.filter(expires_at__lte=now),
        }.get(self.value(), queryset)


@admin.register(PendingSignup)
class PendingSignupAdmin(EstimatedCountMixin, ReadOnlyAdminMixin, SafeInputMixin,
                         WholeTermSearchMixin, admin.ModelAdmin):
    """Passkey-only sign-ups waiting for their mailed link, for staff asked "where is my
    link?": shown, never edited (the link's token is only a digest; a new request from the
    sign-up page mails a new one). The periodic clean-up removes those that are done."""

    # The address typed, as staff must read it: a look-alike marked.
    list_display = [address_column(PendingSignup, "email"), "name", "created_at", "expires_at",
                    "state"]
    list_filter = [PendingSignupStateFilter]
    # A whole address, in its normal form, on an index.
    search_fields = ["email__exact"]
    ordering = ["-created_at"]
    fields = [address_column(PendingSignup, "email"), "name", "created_at", "expires_at",
              "used_at", "voided_at"]
    readonly_fields = fields

    def search_filter(self, term: str) -> Q:
        return Q(email=normalize_email(term))

    @admin.display(description=_("state"))
    def state(self, obj):
        if obj.used_at:
            return _("used")
        if obj.voided_at:
            return _("replaced")
        return _("expired") if obj.expires_at <= timezone.now() else _("waiting")
