from django.urls import path

from audit import views

urlpatterns = [
    path("security/events/", views.SecurityActivityAPIView.as_view(), name="security_events"),
    path("security/alerts/", views.AlertPreferencesAPIView.as_view(), name="security_alerts"),
]
