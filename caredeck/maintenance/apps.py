from django.apps import AppConfig


class MaintenanceConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "caredeck.maintenance"
    label = "maintenance"

    def ready(self) -> None:
        from caredeck.maintenance import audited  # noqa: F401 - registers audited kinds
