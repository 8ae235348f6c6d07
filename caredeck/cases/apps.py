from django.apps import AppConfig


class CasesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "caredeck.cases"
    label = "cases"
    verbose_name = "Customer Care"

    def ready(self) -> None:
        from caredeck.cases import audited  # noqa: F401 - registers the audited kinds
