from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "caredeck.core"
    label = "core"
    verbose_name = "CareDeck core"
