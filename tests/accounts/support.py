"""Small helpers shared by the accounts behaviour tests: API calls, sign-in, mail, time."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from django.conf import settings
from django.contrib.auth.hashers import MD5PasswordHasher
from django.core import mail
from django.urls import reverse

from tests.helpers import LINK_RE, outbox_for

API = "/api/auth/v1/"
AUTH_KEY = "_auth_user_id"
RECORD_KEY = "_authsuite_auth"
FIREFOX_UBUNTU = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
_CSRF_RE = re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"|name="csrf-token" content="[^"]*"')


def api_post(client, path: str, data=None, **extra):
    return client.post(API + path, data or {}, content_type="application/json", **extra)


def api_get(client, path: str, **extra):
    return client.get(API + path, **extra)


def api_delete(client, path: str, **extra):
    return client.delete(API + path, **extra)


def error_code(response) -> str:
    return response.json()["error"]["code"]


def cookie_session_key(client) -> str:
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def plant_session(client) -> str:
    """An anonymous session someone else made, its key fixed in the victim's browser."""
    session = client.session
    session["planted"] = "by someone else"
    session.save()
    return session.session_key


def is_signed_in(client) -> bool:
    """Ask the server (not the test client's cookie jar) whether this client is signed in."""
    return api_get(client, "session/").json()["authenticated"]


def html_login(client, email: str, password: str, **data):
    extra = {k: data.pop(k) for k in list(data) if k.isupper()}
    return client.post(reverse("accounts:login"), {"email": email, "password": password, **data},
                       **extra)


def api_login(client, email: str, password: str, **data):
    extra = {k: data.pop(k) for k in list(data) if k.isupper()}
    return api_post(client, "login/", {"email": email, "password": password, **data}, **extra)


def signed_in_html(client, email: str, password: str, **extra):
    response = html_login(client, email, password, **extra)
    assert response.status_code == 302, response.content[:500]
    assert AUTH_KEY in client.session
    return response


def signed_in_api(client, email: str, password: str, **extra):
    response = api_login(client, email, password, **extra)
    assert response.status_code == 200, response.content
    assert response.json() == {"status": "authenticated"}
    return response


def links_to(email: str) -> list[str]:
    return [link for m in outbox_for(email) for link in LINK_RE.findall(m.body)]


def mail_subjects(email: str) -> list[str]:
    """Subjects of the mail sent to ``email``, lower-cased (an alert rule may send a notice)."""
    return [m.subject.lower() for m in outbox_for(email)]


def mailed(email: str, phrase: str) -> int:
    """How many messages to ``email`` have ``phrase`` in their subject (any case)."""
    return sum(phrase.lower() in subject for subject in mail_subjects(email))


def without_csrf(content: bytes) -> str:
    """A page with its per-response CSRF token blanked, to compare two responses."""
    return _CSRF_RE.sub("CSRF", content.decode())


def freeze(time_machine) -> datetime:
    """Stop the clock at the current real time; tests then move it with ``shift``."""
    start = datetime.now(tz=UTC).replace(microsecond=0)
    time_machine.move_to(start, tick=False)
    return start


def stored_session_in(store_class, **data) -> str:
    """The key of a session holding ``data``, written by a ``store_class`` of its own."""
    session = store_class()
    session.update(data)
    session.save()
    return session.session_key


def loaded_session_from(store_class, key: str):
    """The session under ``key`` as the next request sees it: a fresh store, data read."""
    session = store_class(key)
    session.keys()  # reads the data, as a request's first use of its session does
    return session


def clear_mail() -> None:
    mail.outbox.clear()


class CountingHasher(MD5PasswordHasher):
    """MD5 hasher that counts how often a password is actually hashed."""

    algorithm = "counting_md5"
    calls = 0

    def encode(self, password, salt):
        type(self).calls += 1
        return super().encode(password, salt)


def member_with(*codenames):
    """A staff member holding only the permissions ``codenames``, and a browser signed in
    as them: (member, client)."""
    from django.contrib.auth.models import Permission
    from django.test import Client

    from tests.factories import UserFactory

    member = UserFactory(is_staff=True)
    member.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(member)
    return member, client
