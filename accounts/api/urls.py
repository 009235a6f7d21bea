from django.urls import path

from . import views

urlpatterns = [
    path("csrf/", views.CsrfView.as_view(), name="csrf"),
    path("session/", views.SessionStateView.as_view(), name="session"),
    path("signup/", views.SignupView.as_view(), name="signup"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("reauthenticate/", views.ReauthenticateView.as_view(), name="reauthenticate"),
    path("reauthenticate/link/", views.ReauthenticateLinkView.as_view(),
         name="reauthenticate_link"),
    path("reauthenticate/link/confirm/", views.ReauthenticateLinkConfirmView.as_view(),
         name="reauthenticate_link_confirm"),
    path("magic-link/", views.MagicLinkRequestView.as_view(), name="magic_link"),
    path("magic-link/confirm/", views.MagicLinkConfirmView.as_view(), name="magic_link_confirm"),
    path("email/verify/", views.EmailVerifyView.as_view(), name="email_verify"),
    path("emails/", views.EmailListView.as_view(), name="emails"),
    path("emails/<int:pk>/", views.EmailDetailView.as_view(), name="email_detail"),
    path("emails/<int:pk>/primary/", views.EmailPrimaryView.as_view(), name="email_primary"),
    path("emails/<int:pk>/resend/", views.EmailResendView.as_view(), name="email_resend"),
    path("password/change/", views.PasswordChangeView.as_view(), name="password_change"),
    path("password/reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("password/reset/confirm/", views.PasswordResetConfirmView.as_view(),
         name="password_reset_confirm"),
    path("password/required/", views.PasswordRequiredView.as_view(), name="password_required"),
    path("sessions/", views.SessionListView.as_view(), name="sessions"),
    path("sessions/<int:pk>/", views.SessionDetailView.as_view(), name="session_detail"),
    path("sessions/end-others/", views.SessionEndOthersView.as_view(), name="sessions_end_others"),
    path("sessions/end-all/", views.SessionEndAllView.as_view(), name="sessions_end_all"),
    path("account/export/", views.AccountExportView.as_view(), name="account_export"),
    path("account/close/", views.AccountCloseView.as_view(), name="account_close"),
]
