"""The group admin: permissions handed out by superusers only."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import admin as auth_admin
from django.contrib.auth.models import Group

from authsuite.admin_input import SafeInputMixin


class SuiteGroupAdmin(SafeInputMixin, auth_admin.GroupAdmin):
    """Django's group admin, answering bad input with a message; a group's permissions are
    for superusers to hand out, as a user's are (staff could otherwise give a group they
    belong to whatever they lack)."""

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser and "permissions" not in fields:
            fields.append("permissions")
        return fields


def adopt_group_admin(site=None) -> None:
    """Put ``SuiteGroupAdmin`` in place of Django's own group admin, if that is registered."""
    site = site or admin.site
    if type(site._registry.get(Group)) is auth_admin.GroupAdmin:
        site.unregister(Group)
        site.register(Group, SuiteGroupAdmin)
