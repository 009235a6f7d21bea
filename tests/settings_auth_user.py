"""The test settings on django.contrib.auth's User instead of the suite's own.

The suite works with any user model that has an email field; this project proves it on
the most common other one, whose login field is a username and whose email is optional and
not unique. Tests about the suite's own model carry the ``own_user_model`` marker and are
left out of this run.
"""

from tests.settings import *  # noqa: F403

AUTH_USER_MODEL = "auth.User"
