from django.urls import path

from caredeck.notify import views

urlpatterns = [
    path("notifications/", views.notification_list, name="notification-list"),
    path(
        "notifications/<int:notification_id>/read/",
        views.notification_read,
        name="notification-read",
    ),
    path("notifications/read-all/", views.notification_read_all, name="notification-read-all"),
    path("notifications/settings/", views.notification_settings, name="notification-settings"),
    path("notifications/webhooks/", views.webhook_list, name="webhook-list"),
    path(
        "notifications/webhooks/<int:webhook_id>/", views.webhook_detail, name="webhook-detail"
    ),
    path(
        "notifications/webhooks/<int:webhook_id>/test/", views.webhook_test, name="webhook-test"
    ),
    path(
        "notifications/webhooks/<int:webhook_id>/rotate-secret/",
        views.webhook_rotate_secret,
        name="webhook-rotate-secret",
    ),
    path(
        "notifications/webhooks/<int:webhook_id>/delete/",
        views.webhook_delete,
        name="webhook-delete",
    ),
    path("notifications/deliveries/", views.delivery_list, name="delivery-list"),
    path(
        "notifications/deliveries/<int:message_id>/",
        views.delivery_detail,
        name="delivery-detail",
    ),
    path(
        "notifications/deliveries/<int:message_id>/retry/",
        views.delivery_retry,
        name="delivery-retry",
    ),
]
