from django.urls import path

from audit import views

app_name = "audit"
urlpatterns = [
    path("", views.SecurityActivityView.as_view(), name="security"),
    path("alerts/", views.AlertPreferencesView.as_view(), name="alert_preferences"),
]
