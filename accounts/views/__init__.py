"""HTML views: each translates a form into a flow call and the flow's outcome into a page.

Every page sets ``Cache-Control: no-store`` (never_cache) and hides passwords from error
reports (sensitive_post_parameters). Templates are view attributes, so a project can point
any page at its own template.

The views are grouped by flow: ``base`` (what every page shares), ``login``, ``reauth``,
``signup``, ``password``, ``email``, ``sessions`` and ``account``. Every view is importable
from here as before.
"""

from accounts.views.account import AccountCloseView, AccountExportView, ProfileView
from accounts.views.base import (
    TOKEN_IN_SESSION,
    AuthPageMixin,
    ConfirmForm,
    FlowFormView,
    TokenConfirmView,
)
from accounts.views.email import EmailVerifyView, EmailView, VerifyForm
from accounts.views.login import LoginView, LogoutView, MagicLinkConfirmView, MagicLinkRequestView
from accounts.views.password import (
    PasswordChangeRequiredView,
    PasswordChangeView,
    PasswordResetConfirmView,
    PasswordResetDoneView,
    PasswordResetView,
)
from accounts.views.reauth import REAUTH_NEXT_KEY, ReauthenticateConfirmView, ReauthenticateView
from accounts.views.sessions import SessionsView
from accounts.views.signup import SignupView, VerificationSentView

__all__ = [
    "REAUTH_NEXT_KEY",
    "TOKEN_IN_SESSION",
    "AccountCloseView",
    "AccountExportView",
    "AuthPageMixin",
    "ConfirmForm",
    "EmailVerifyView",
    "EmailView",
    "FlowFormView",
    "LoginView",
    "LogoutView",
    "MagicLinkConfirmView",
    "MagicLinkRequestView",
    "PasswordChangeRequiredView",
    "PasswordChangeView",
    "PasswordResetConfirmView",
    "PasswordResetDoneView",
    "PasswordResetView",
    "ProfileView",
    "ReauthenticateConfirmView",
    "ReauthenticateView",
    "SessionsView",
    "SignupView",
    "TokenConfirmView",
    "VerificationSentView",
    "VerifyForm",
]
