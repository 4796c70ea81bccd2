from django.urls import path

from . import views

app_name = "feedback"
urlpatterns = [
    path("<str:token>/", views.feedback_form, name="form"),
    path("<str:token>/thanks/", views.feedback_thanks, name="thanks"),
]
