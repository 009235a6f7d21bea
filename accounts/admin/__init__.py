"""Staff manage users here: search, filters, addresses and sessions, and safe actions.

Staff never see or set a raw password: the password field is not on the form and the
admin's set-password page is not routed; they send a reset link instead.

The admin is split by what it shows: ``users`` (the user admins and how a project's user
model gets one), ``addresses`` and ``sessions`` (its inlines), ``actions``, ``filters``,
``forms``, ``groups`` and ``throttles``. Every name is importable from here as before.
"""

from accounts.admin.actions import (
    USER_ACTIONS,
    deactivate,
    end_all_sessions,
    reactivate,
    require_password_change,
    send_password_reset,
    unlock,
)
from accounts.admin.addresses import EmailAddressForm, EmailAddressFormSet, EmailAddressInline
from accounts.admin.filters import LockedFilter, VerifiedFilter
from accounts.admin.forms import (
    AS_SHOWN,
    PASSWORD_FIELDS,
    AsShownFormMixin,
    AuthUserAddForm,
    without_password_fields,
)
from accounts.admin.groups import SuiteGroupAdmin, adopt_group_admin
from accounts.admin.sessions import OpenSessionsFormSet, UserSessionInline
from accounts.admin.throttles import LoginThrottleAdmin
from accounts.admin.users import (
    PRIVILEGE_FIELDS,
    USER_INLINES,
    AuthUserAdmin,
    SuiteUserAdminMixin,
    UserAdmin,
    adopt_user_admin,
    adopted,
)

__all__ = [
    "AS_SHOWN",
    "PASSWORD_FIELDS",
    "PRIVILEGE_FIELDS",
    "USER_ACTIONS",
    "USER_INLINES",
    "AsShownFormMixin",
    "AuthUserAddForm",
    "AuthUserAdmin",
    "EmailAddressForm",
    "EmailAddressFormSet",
    "EmailAddressInline",
    "LockedFilter",
    "LoginThrottleAdmin",
    "OpenSessionsFormSet",
    "SuiteGroupAdmin",
    "SuiteUserAdminMixin",
    "UserAdmin",
    "UserSessionInline",
    "VerifiedFilter",
    "adopt_group_admin",
    "adopt_user_admin",
    "adopted",
    "deactivate",
    "end_all_sessions",
    "reactivate",
    "require_password_change",
    "send_password_reset",
    "unlock",
    "without_password_fields",
]

adopt_user_admin()
adopt_group_admin()
