from django.apps import AppConfig


class ProblemsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "caredeck.problems"
    label = "problems"

    def ready(self) -> None:
        from caredeck.problems import audited  # noqa: F401 - registers audited kinds
