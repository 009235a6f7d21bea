from django.urls import path

from mfa import views

app_name = "mfa"
urlpatterns = [
    path("", views.IndexView.as_view(), name="index"),
    path("totp/setup/", views.TOTPSetupView.as_view(), name="totp_setup"),
    path("totp/remove/", views.TOTPRemoveView.as_view(), name="totp_remove"),
    path("recovery-codes/", views.RecoveryCodesView.as_view(), name="recovery_codes"),
    path("challenge/", views.ChallengeView.as_view(), name="challenge"),
    path("enroll/", views.EnrollView.as_view(), name="enroll"),
]
