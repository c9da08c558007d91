from django.urls import URLPattern, URLResolver, path

from notifications import views, webhooks

app_name = "notifications"

urlpatterns: list[URLPattern | URLResolver] = [
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/<int:message_id>/", views.inbox_open, name="inbox_open"),
    path("inbox/read-all/", views.inbox_read_all, name="inbox_read_all"),
    path(
        "inbox/announcements/<int:announcement_id>/",
        views.announcement_open,
        name="announcement_open",
    ),
    path(
        "inbox/attachments/<int:attachment_id>/",
        views.attachment_download,
        name="attachment_download",
    ),
    path("me/notifications/", views.preferences, name="preferences"),
    path(
        "notifications/receipts/aliyun-sms/", webhooks.aliyun_sms_report, name="receipt_aliyun_sms"
    ),
    path("notifications/receipts/wechat/", webhooks.wechat_event, name="receipt_wechat"),
]
