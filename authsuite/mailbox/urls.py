from django.urls import path

from authsuite.mailbox import views

app_name = "mailbox"
urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("<int:pk>/", views.detail, name="detail"),
]
