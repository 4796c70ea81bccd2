from django.urls import path

from . import views

app_name = "membership"
urlpatterns = [
    path("<str:token>/", views.card_page, name="card"),
]
