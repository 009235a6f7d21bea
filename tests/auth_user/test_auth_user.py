"""A project on django.contrib.auth's User: a username login field, an optional email.

Collected only under ``tests.settings_auth_user``; the rest of the suite runs there too
(less the ``own_user_model`` tests), so every flow is proven on this model. Here: what only
such a model needs, the usernames the suite makes and the admin it gets.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth import admin as auth_admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User as AuthUser
from django.core import checks
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from accounts.admin import (
    USER_ACTIONS,
    USER_INLINES,
    AuthUserAdmin,
    SuiteUserAdminMixin,
    adopt_user_admin,
)
from accounts.models import EmailAddress
from accounts.users import new_user
from tests.accounts.support import api_get, api_post, html_login, is_signed_in, signed_in_api
from tests.conftest import STRONG_PASSWORD
from tests.factories import UserFactory
from tests.helpers import last_link, link_form, open_link, user_admin_url

pytestmark = pytest.mark.django_db


def test_the_project_is_on_auth_user():
    assert get_user_model() is AuthUser


def test_system_checks_pass_and_the_suites_user_table_is_not_created():
    errors = [m for m in checks.run_checks(include_deployment_checks=False)
              if m.level >= checks.ERROR]
    assert errors == []
    call_command("check", fail_level="ERROR")  # as manage.py check does
    tables = connection.introspection.table_names()
    assert "auth_user" in tables
    assert "accounts_user" not in tables


def sign_up(email: str, name: str = "Ann") -> AuthUser:
    client = Client()
    response = client.post(reverse("accounts:signup"),
                           {"email": email, "password": STRONG_PASSWORD, "name": name})
    assert response.status_code == 302
    page, confirm = open_link(client, last_link(email.lower()))
    assert client.post(confirm, link_form(page, password=STRONG_PASSWORD)).status_code == 302
    return AuthUser.objects.get(email=email.lower())


def test_sign_up_verify_and_sign_in_by_email():
    user = sign_up("Ann@Example.com")

    assert user.username == "ann@example.com"
    assert user.has_usable_password() and user.is_active
    assert EmailAddress.objects.get(user=user).verified
    client = Client()
    assert html_login(client, "ANN@example.com", STRONG_PASSWORD)["Location"] == "/accounts/"
    assert is_signed_in(client)


def test_a_username_already_taken_gets_a_suffix():
    # Made by staff: username looks like Ann's address, but the account's address is another.
    staff_made = AuthUser.objects.create_user("ann@example.com", "someone@example.org",
                                              STRONG_PASSWORD)
    user = sign_up("ann@example.com")

    assert user.pk != staff_made.pk
    assert user.username.startswith("ann@example.com-")
    assert len(user.username) == len("ann@example.com-") + 8
    # Sign-in is by the account's address, whatever its username.
    client = Client()
    html_login(client, "ann@example.com", STRONG_PASSWORD)
    assert client.session["_auth_user_id"] == str(user.pk)
    other = Client()
    html_login(other, "someone@example.org", STRONG_PASSWORD)
    assert other.session["_auth_user_id"] == str(staff_made.pk)


@pytest.mark.parametrize("email", [
    "o'brien!x{y}@example.com",
    "\u00e9lodie@exampl\u00e9.fr",
    "a" * 64 + "@" + "b" * 180 + ".example",
])
def test_usernames_made_from_any_address_pass_djangos_username_rules(email):
    user = new_user(email)
    user.set_unusable_password()
    AuthUser._meta.get_field("username").clean(user.username, user)  # validators, max_length
    user.save()
    assert len(user.username) <= AuthUser._meta.get_field("username").max_length
    assert "'" not in user.username and "{" not in user.username


def test_the_api_reports_the_address_not_the_username(client):
    user = UserFactory(email="ann@example.com", first_name="Ann", last_name="Archer")
    AuthUser.objects.filter(pk=user.pk).update(username="not-the-address")
    signed_in_api(client, "ann@example.com", STRONG_PASSWORD)

    state = api_get(client, "session/").json()
    assert state["user"]["email"] == "ann@example.com"
    assert state["user"]["name"] == "Ann Archer"
    export = api_get(client, "account/export/").json()
    assert export["user"]["username"] == "not-the-address"
    assert export["user"]["name"] == "Ann Archer"


def test_api_sign_up_makes_a_username(client):
    response = api_post(client, "signup/", {"email": "bo@example.com", "password": STRONG_PASSWORD})
    assert response.status_code in (201, 202)
    assert AuthUser.objects.get(email="bo@example.com").username == "bo@example.com"


# --- admin ----------------------------------------------------------------------------------

NO_INLINE_ROWS = {
    "email_addresses-TOTAL_FORMS": "0", "email_addresses-INITIAL_FORMS": "0",
    "auth_sessions-TOTAL_FORMS": "0", "auth_sessions-INITIAL_FORMS": "0",
}


@pytest.fixture
def admin_client(staff):
    client = Client()
    client.force_login(staff)
    return client


def test_the_user_list_is_searched_by_a_whole_address_or_username(admin_client):
    # Each on an index (``accounts.admin.search``): the login address case-insensitively
    # (accounts.0009's index on UPPER(email) on PostgreSQL), another of the account's
    # addresses, the username as it is.
    ann = UserFactory(email="ann@example.com")
    AuthUser.objects.filter(pk=ann.pk).update(email="Ann@Example.com", username="annie")
    EmailAddress.objects.create(user=ann, email="ann.work@example.org")
    bob = UserFactory(email="bob@example.com")

    def found(query: str) -> set[str]:
        response = admin_client.get(user_admin_url("changelist"), {"q": query})
        assert response.status_code == 200
        return {u.username for u in response.context["cl"].result_list}

    assert found("ANN@example.COM") == {"annie"}
    assert found("ann.work@example.org") == {"annie"}
    assert found("annie") == {"annie"}
    assert found(bob.username) == {bob.username}
    assert found("ann") == set()  # a part of a username or an address


def test_djangos_user_admin_is_replaced_by_the_suites():
    registered = admin.site._registry[AuthUser]
    assert type(registered) is AuthUserAdmin
    assert registered.inlines == USER_INLINES


def test_staff_add_a_user_with_a_username_and_address_but_no_password(admin_client):
    page = admin_client.get(user_admin_url("add"))
    assert b'name="username"' in page.content and b'name="email"' in page.content
    assert b'type="password"' not in page.content

    response = admin_client.post(user_admin_url("add"), {
        "username": "new.person", "email": "New.Person@Example.com",
        "password1": "chosen by staff 123", "password2": "chosen by staff 123",
        "usable_password": "true", **NO_INLINE_ROWS,
    })

    assert response.status_code == 302, response.context["adminform"].form.errors
    created = AuthUser.objects.get(username="new.person")
    assert created.email == "new.person@example.com"
    assert not created.has_usable_password()


def test_staff_cannot_add_an_address_someone_signs_in_with(admin_client):
    UserFactory(email="taken@example.com")
    response = admin_client.post(user_admin_url("add"),
                                 {"username": "other", "email": "TAKEN@example.com",
                                  **NO_INLINE_ROWS})
    assert response.status_code == 200
    assert "email" in response.context["adminform"].form.errors
    assert not AuthUser.objects.filter(username="other").exists()


def test_a_login_address_stored_in_another_spelling_is_left_as_it_is(admin_client):
    # The project's table keeps its own spelling (migration 0008 leaves it): saving the
    # page for another field neither rewrites the address nor verifies it.
    from django.core import mail

    from tests.audit.support import form_data

    ann = UserFactory(email="ann@example.com", verified_email=False)
    AuthUser.objects.filter(pk=ann.pk).update(email="Ann@Example.com")
    url = user_admin_url("change", ann.pk)
    form = form_data(admin_client.get(url).content.decode(), "user_form")
    form["is_staff"] = ["on"]
    mail.outbox.clear()

    response = admin_client.post(url, form)

    assert response.status_code == 302, response.context["adminform"].form.errors
    ann.refresh_from_db()
    # Not the suite's normal form (Django's own User.clean lower-cases the domain only).
    assert (ann.email, ann.is_staff) == ("Ann@example.com", True)
    assert not EmailAddress.objects.filter(user=ann, verified=True).exists()
    assert mail.outbox == []


def test_a_login_address_retyped_in_another_case_keeps_its_stored_spelling(admin_client):
    # Retyped in the suite's normal form, it is still the address the account had: kept as
    # stored, not verified by staff, and nobody is told of a change that is none.
    from django.core import mail

    from tests.audit.support import form_data

    ann = UserFactory(email="ann@example.com", verified_email=False)
    AuthUser.objects.filter(pk=ann.pk).update(email="Ann@example.com")
    url = user_admin_url("change", ann.pk)
    form = form_data(admin_client.get(url).content.decode(), "user_form")
    form["email"] = ["ann@example.com"]
    mail.outbox.clear()

    response = admin_client.post(url, form)

    assert response.status_code == 302, response.context["adminform"].form.errors
    ann.refresh_from_db()
    assert ann.email == "Ann@example.com"
    assert not EmailAddress.objects.filter(user=ann, verified=True).exists()
    assert mail.outbox == []


def test_the_change_form_has_no_password_field(admin_client):
    user = UserFactory()
    page = admin_client.get(user_admin_url("change", user.pk))
    assert page.status_code == 200
    assert "password" not in page.context["adminform"].form.fields
    assert b"/password/" not in page.content
    assert b'name="email_addresses-TOTAL_FORMS"' in page.content
    assert b'name="auth_sessions-TOTAL_FORMS"' in page.content


def test_a_projects_own_user_admin_gains_addresses_sessions_and_actions():
    class ProjectUserAdmin(auth_admin.UserAdmin):
        actions = ["project_action"]

        @admin.action(description="Project action")
        def project_action(self, request, queryset):
            pass

    site = admin.AdminSite(name="project")
    site.register(AuthUser, ProjectUserAdmin)

    adopt_user_admin(site)
    adopt_user_admin(site)  # a second call adds nothing twice

    adopted = site._registry[AuthUser]
    assert isinstance(adopted, ProjectUserAdmin)  # the project's admin stays, in front of it
    assert isinstance(adopted, SuiteUserAdminMixin)  # the suite's rules
    assert adopted.inlines == USER_INLINES
    assert adopted.actions == ["project_action", *USER_ACTIONS]


def test_staff_cannot_clear_a_login_address(admin_client):
    from tests.audit.support import form_data

    user = UserFactory(email="ann@example.com")
    form = form_data(admin_client.get(user_admin_url("change", user.pk)).content.decode(),
                     "user_form")
    form["email"] = [""]

    response = admin_client.post(user_admin_url("change", user.pk), form)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["email"] == [
        "People sign in with their email address: enter one."]
    user.refresh_from_db()
    assert user.email == "ann@example.com"
    assert not EmailAddress.objects.filter(email="").exists()


def test_the_name_typed_at_sign_up_is_kept():
    user = sign_up("named@example.com", name="Ann Marie Archer")
    assert user.first_name == "Ann Marie Archer"


def test_two_sign_ups_of_one_address_at_once_make_one_account(monkeypatch):
    """auth_user.email is not unique. When the username is taken (the address moved to
    another account) each sign-up gets its own random one, so only the address rows can
    stop the second: the one-primary-owner constraint does, as if both had checked the
    address before either committed."""
    from accounts.flows import signup as signup_flow

    AuthUser.objects.create_user("new@example.com", "moved@example.com", STRONG_PASSWORD)
    first = Client().post(reverse("accounts:signup"),
                          {"email": "new@example.com", "password": STRONG_PASSWORD})
    monkeypatch.setattr(signup_flow, "address_holder", lambda email: None)  # checked too early
    second = Client().post(reverse("accounts:signup"),
                           {"email": "new@example.com", "password": STRONG_PASSWORD})

    assert first.status_code == second.status_code == 302
    assert AuthUser.objects.filter(email="new@example.com").count() == 1
    assert EmailAddress.objects.filter(email="new@example.com", primary=True).count() == 1


def test_an_account_without_an_address_still_meets_the_lockout(client):
    """A session of a user with no email (auth.User allows it) cannot guess the password
    through reauthentication without limit."""
    from accounts.models import LoginThrottle

    user = AuthUser.objects.create_user("no-address", "", STRONG_PASSWORD)
    client.force_login(user)
    for _ in range(5):
        response = api_post(client, "reauthenticate/", {"password": "not my password at all"})
        assert response.status_code == 400
    locked = api_post(client, "reauthenticate/", {"password": STRONG_PASSWORD})

    assert locked.status_code == 429
    assert LoginThrottle.objects.filter(identifier=f"user:{user.pk}").exists()


def test_an_account_without_a_login_address_confirms_an_added_one_with_its_password():
    user = AuthUser.objects.create_user("no-address", "", STRONG_PASSWORD)
    signed_in = Client()
    signed_in.force_login(user)
    assert api_post(signed_in, "emails/", {"email": "found@example.com"}).status_code == 202
    token = last_link("found@example.com").rstrip("/").rsplit("/", 1)[-1]

    wrong = api_post(Client(), "email/verify/", {"token": token, "password": "not it at all"})
    right = api_post(Client(), "email/verify/", {"token": token, "password": STRONG_PASSWORD})

    assert wrong.status_code == 400
    assert wrong.json()["error"]["code"] == "password_incorrect"
    assert right.status_code == 200, right.content
    assert EmailAddress.objects.get(email="found@example.com").verified


def test_addresses_that_become_one_username_never_share_it():
    """"a'b@x.org" and "a_b@x.org" both become "a_b@x.org" under Django's username rules:
    the changed one always gets a random tail, so two sign-ups cannot race for one name."""
    changed, exact = new_user("a'b@example.org"), new_user("a_b@example.org")
    assert exact.username == "a_b@example.org"
    assert changed.username.startswith("a_b@example.org-") and len(changed.username) == 24
