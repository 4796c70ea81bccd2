from django.contrib.auth.views import LogoutView
from django.urls import path

from . import views

app_name = "shop"
urlpatterns = [
    path("", views.today, name="today"),
    path("login/", views.ShopLoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(next_page="shop:login"), name="logout"),
    path("search/", views.search, name="search"),
    path("sale/", views.sale, name="sale"),
    path("c/<int:pk>/", views.customer, name="customer"),
    path("c/<int:pk>/timeline/", views.timeline, name="timeline"),
    path("c/<int:pk>/note/", views.add_note, name="add_note"),
    path("c/<int:pk>/interaction/", views.add_interaction, name="add_interaction"),
    path("c/<int:pk>/follow-up/", views.add_follow_up, name="add_follow_up"),
    path("customers/", views.customer_list, name="customers"),
    path("follow-ups/", views.follow_ups, name="follow_ups"),
    path("follow-ups/<int:pk>/done/", views.follow_up_done, name="follow_up_done"),
    path("follow-ups/<int:pk>/snooze/", views.follow_up_snooze, name="follow_up_snooze"),
    path("feedback/", views.feedback_inbox, name="feedback"),
    path("feedback/<int:pk>/reply/", views.feedback_answer, name="feedback_reply"),
    path("owner/", views.owner, name="owner"),
    path("owner/poster/", views.poster, name="poster"),
    path("owner/reports/", views.reports, name="reports"),
    path("owner/reports/<str:week>/", views.reports, name="report"),
    path("owner/campaigns/", views.campaigns, name="campaigns"),
    path("owner/campaigns/new/", views.campaign_new, name="campaign_new"),
    path("owner/campaigns/new/count/", views.campaign_count, name="campaign_count"),
    path("owner/campaigns/<int:pk>/", views.campaign, name="campaign"),
    path("owner/campaigns/<int:pk>/<str:action>/", views.campaign_action, name="campaign_action"),
    path("send/", views.send_list, name="send"),
    path("send/<int:pk>/sms/", views.send_message, {"channel": "sms"}, name="send_sms"),
    path("send/<int:pk>/wechat/", views.send_message, {"channel": "wechat"}, name="send_wechat"),
    path("manifest.webmanifest", views.manifest, name="manifest"),
    path("sw.js", views.service_worker, name="sw"),
    path("offline/", views.offline, name="offline"),
]
