from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "caredeck.web"
    label = "web"
    verbose_name = "Pages"
