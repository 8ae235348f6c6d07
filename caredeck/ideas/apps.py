from django.apps import AppConfig


class IdeasConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "caredeck.ideas"
    label = "ideas"

    def ready(self) -> None:
        from caredeck.ideas import audited  # noqa: F401 - registers audited kinds
