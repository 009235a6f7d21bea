from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("", views.ProfileView.as_view(), name="profile"),
    path("signup/", views.SignupView.as_view(), name="signup"),
    path("signup/verify/", views.VerificationSentView.as_view(), name="verification_sent"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("reauthenticate/", views.ReauthenticateView.as_view(), name="reauthenticate"),
    path("reauthenticate/<str:token>/", views.ReauthenticateConfirmView.as_view(),
         name="reauthenticate_confirm"),
    path("magic-link/", views.MagicLinkRequestView.as_view(), name="magic_link"),
    path("magic-link/<str:token>/", views.MagicLinkConfirmView.as_view(), name="magic_link_confirm"),
    path("email/", views.EmailView.as_view(), name="email"),
    path("email/verify/<str:token>/", views.EmailVerifyView.as_view(), name="email_verify"),
    path("password/change/", views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "password/required/", views.PasswordChangeRequiredView.as_view(),
        name="password_change_required",
    ),
    path("password/reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("password/reset/sent/", views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password/reset/<str:token>/", views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("sessions/", views.SessionsView.as_view(), name="sessions"),
    path("close/", views.AccountCloseView.as_view(), name="close"),
    path("export/", views.AccountExportView.as_view(), name="export"),
]
