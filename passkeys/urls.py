from django.urls import path

from passkeys import views

app_name = "passkeys"
urlpatterns = [
    path("", views.ManageView.as_view(), name="manage"),
    path("signup/", views.SignupView.as_view(), name="signup"),
    path("signup/<str:token>/", views.SignupCompleteView.as_view(), name="signup_complete"),
]
