"""A Django project whose users guard URLs through
django.contrib.auth.handlers.modwsgi (tests/wsgi_auth.rs): settings."""
import os

SECRET_KEY = "mod-pyrite-test-only"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth"]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scratch", "django_auth.sqlite3"),
    }
}
# A fast hasher: the test is about the wiring, not about password hashing.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
