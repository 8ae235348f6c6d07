from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "caredeck.notify"
    label = "notify"
    verbose_name = "Notifications"
