from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "caredeck.monitoring"
    label = "monitoring"
    verbose_name = "Synthetic monitoring"

    def ready(self) -> None:
        from caredeck.monitoring import audited  # noqa: F401 - registers the audited kinds
