from django.urls import path

from passkeys.api import views

urlpatterns = [
    path("passkeys/", views.PasskeyListView.as_view(), name="passkeys"),
    path("passkeys/<int:pk>/", views.PasskeyDetailView.as_view(), name="passkey_detail"),
    path("passkeys/register/options/", views.RegisterOptionsView.as_view(),
         name="passkeys_register_options"),
    path("passkeys/register/", views.RegisterView.as_view(), name="passkeys_register"),
    path("passkeys/login/options/", views.LoginOptionsView.as_view(),
         name="passkeys_login_options"),
    path("passkeys/login/", views.LoginView.as_view(), name="passkeys_login"),
    path("passkeys/second-factor/options/", views.SecondFactorOptionsView.as_view(),
         name="passkeys_second_factor_options"),
    path("passkeys/second-factor/", views.SecondFactorView.as_view(),
         name="passkeys_second_factor"),
    path("passkeys/reauthenticate/options/", views.ReauthOptionsView.as_view(),
         name="passkeys_reauth_options"),
    path("passkeys/reauthenticate/", views.ReauthView.as_view(), name="passkeys_reauth"),
    path("passkeys/signup/", views.SignupRequestView.as_view(), name="passkeys_signup"),
    path("passkeys/signup/options/", views.SignupOptionsView.as_view(),
         name="passkeys_signup_options"),
    path("passkeys/signup/complete/", views.SignupCompleteView.as_view(),
         name="passkeys_signup_complete"),
]
