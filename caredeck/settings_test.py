"""Settings for the test suite: the real settings, with tasks run inline and a fast
password hasher. The database is still chosen by DATABASE_URL (SQLite or PostgreSQL)."""

import os
import tempfile

os.environ["CAREDECK_TESTING"] = "1"
os.environ.setdefault("CAREDECK_DATA_DIR", os.path.join(tempfile.gettempdir(), "caredeck-test"))

from caredeck.settings import *  # noqa: E402,F403

EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
