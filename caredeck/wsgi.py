"""WSGI entry point, served by gunicorn (`caredeck web`)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "caredeck.settings")
application = get_wsgi_application()
