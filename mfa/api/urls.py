from django.urls import path

from mfa.api import views

urlpatterns = [
    path("mfa/", views.StatusView.as_view(), name="mfa_status"),
    path("mfa/totp/setup/", views.TOTPSetupView.as_view(), name="mfa_totp_setup"),
    path("mfa/totp/activate/", views.TOTPActivateView.as_view(), name="mfa_totp_activate"),
    path("mfa/totp/", views.TOTPDeleteView.as_view(), name="mfa_totp"),
    path("mfa/challenge/", views.ChallengeView.as_view(), name="mfa_challenge"),
    path("mfa/recovery-codes/", views.RecoveryCodesView.as_view(), name="mfa_recovery_codes"),
    path("mfa/trusted-browsers/", views.TrustedListView.as_view(), name="mfa_trusted"),
    path("mfa/trusted-browsers/<int:pk>/", views.TrustedDetailView.as_view(),
         name="mfa_trusted_detail"),
]
