from django.apps import AppConfig


class NotifyConfig(AppConfig):
    name = "caredeck.notify"
    label = "notify"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from caredeck.notify import audited  # noqa: F401  (registers audited kinds)
