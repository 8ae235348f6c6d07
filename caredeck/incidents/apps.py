from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "caredeck.incidents"
    label = "incidents"

    def ready(self) -> None:
        from caredeck.incidents import audited  # noqa: F401 - registers audited kinds
