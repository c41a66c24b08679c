# Django's own mod_wsgi auth functions, as its documentation wires them
# ("Authenticating against Django's user database from Apache").
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_auth_settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth.handlers.modwsgi import check_password, groups_for_user  # noqa: E402,F401


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("user=%s" % environ.get("REMOTE_USER")).encode()]
