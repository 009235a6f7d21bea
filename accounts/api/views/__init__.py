"""JSON API of the accounts flows. Views only translate; flows decide.

The views are grouped by flow: ``base`` (what every view shares), ``login``, ``reauth``,
``signup``, ``email``, ``password``, ``sessions`` and ``account``. Every view is importable
from here as before.
"""

from accounts.api.views.account import AccountCloseView, AccountExportView
from accounts.api.views.base import AccountsAPIView, IsRecentlyAuthenticated, _from_flow
from accounts.api.views.email import (
    EmailDetailView,
    EmailListView,
    EmailPrimaryView,
    EmailResendView,
    EmailVerifyView,
)
from accounts.api.views.login import (
    CsrfView,
    LoginView,
    LogoutView,
    MagicLinkConfirmView,
    MagicLinkRequestView,
    SessionStateView,
)
from accounts.api.views.password import (
    PasswordChangeView,
    PasswordRequiredView,
    PasswordResetConfirmView,
    PasswordResetView,
)
from accounts.api.views.reauth import (
    ReauthenticateLinkConfirmView,
    ReauthenticateLinkView,
    ReauthenticateView,
)
from accounts.api.views.sessions import (
    SessionDetailView,
    SessionEndAllView,
    SessionEndOthersView,
    SessionListView,
)
from accounts.api.views.signup import SignupView

__all__ = [
    "AccountCloseView",
    "AccountExportView",
    "AccountsAPIView",
    "CsrfView",
    "EmailDetailView",
    "EmailListView",
    "EmailPrimaryView",
    "EmailResendView",
    "EmailVerifyView",
    "IsRecentlyAuthenticated",
    "LoginView",
    "LogoutView",
    "MagicLinkConfirmView",
    "MagicLinkRequestView",
    "PasswordChangeView",
    "PasswordRequiredView",
    "PasswordResetConfirmView",
    "PasswordResetView",
    "ReauthenticateLinkConfirmView",
    "ReauthenticateLinkView",
    "ReauthenticateView",
    "SessionDetailView",
    "SessionEndAllView",
    "SessionEndOthersView",
    "SessionListView",
    "SessionStateView",
    "SignupView",
    "_from_flow",
]
