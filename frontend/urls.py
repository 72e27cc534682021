from django.urls import path

from frontend import views

app_name = "frontend"

urlpatterns = [
    path("", views.landing, name="landing"),
    path("health/", views.health, name="health"),
    path("verify/<str:token>/", views.verify_email, name="verify-email"),
    path("payouts/return/", views.payouts_return, name="payouts-return"),
    path("payouts/refresh/", views.payouts_return, name="payouts-refresh"),
]
