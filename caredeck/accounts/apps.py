from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "caredeck.accounts"
    label = "accounts"
    verbose_name = "Organizations and people"

    def ready(self) -> None:
        from caredeck.accounts import audited  # noqa: F401  (registers audited kinds)
