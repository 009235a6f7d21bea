"""The admin's edges: what a hand-made request, a partial permission or another of Django's
own admin pages could otherwise do (a 500, a takeover, a flow bypassed)."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse

from accounts import tokens
from accounts.models import EmailAddress, OneTimeToken, UserSession
from authsuite.admin_input import SafeInputMixin
from authsuite.models import OutboxMessage
from passkeys.models import Passkey
from tests.accounts.support import member_with
from tests.audit.support import form_data
from tests.conftest import STRONG_PASSWORD
from tests.factories import UserFactory, user_without_address
from tests.helpers import user_admin_url

User = get_user_model()
pytestmark = pytest.mark.django_db


@pytest.fixture
def su(staff):
    client = Client()
    client.force_login(staff)
    return client


def change_form(client, user):
    return form_data(client.get(user_admin_url("change", user.pk)).content.decode(), "user_form")


def row_index(form, address):
    return next(k.split("-")[1] for k, v in form.items()
                if k.endswith("-id") and v == [str(address.pk)])



@pytest.mark.parametrize("source", [("accounts", "emailaddress", "user"),
                                    ("passkeys", "passkey", "user"),
                                    ("authsuite", "outboxmessage", "user")])
def test_a_select_boxs_search_too_long_finds_nothing(su, source):
    app, model, field = source
    response = su.get("/admin/autocomplete/", {"app_label": app, "model_name": model,
                                               "field_name": field, "term": "a" * 255})
    assert response.status_code == 200
    assert response.json()["results"] == []


@pytest.mark.parametrize("second", ["DELETE", "verified"])
def test_one_address_row_posted_twice_is_a_form_error(su, second):
    ann = UserFactory(email="ann@example.com")
    work = EmailAddress.objects.create(user=ann, email="ann.work@example.com")
    form = change_form(su, ann)
    n = int(form["email_addresses-TOTAL_FORMS"][0])
    form[f"email_addresses-{row_index(form, work)}-DELETE"] = ["on"]
    form.update({f"email_addresses-{n}-id": [str(work.pk)], f"email_addresses-{n}-{second}": ["on"],
                 "email_addresses-TOTAL_FORMS": [str(n + 1)],
                 "email_addresses-INITIAL_FORMS": [str(n + 1)]})

    response = su.post(user_admin_url("change", ann.pk), form)

    assert response.status_code == 200
    assert "A row is listed twice. Reload the page." in response.content.decode()
    assert EmailAddress.objects.filter(pk=work.pk, verified=False).exists()


@pytest.mark.parametrize(("typed", "named"), [
    ("Ann\u202eetileS", "U+202E (RIGHT-TO-LEFT OVERRIDE)"), ("Ann\x1b[31m", "U+001B"),
    ("Ann\tLee", "U+0009"), ("Ann\x85Lee", "U+0085"),
    ("Ann\u200fLee", "U+200F (RIGHT-TO-LEFT MARK)"), ("\u061cAnn", "U+061C (ARABIC LETTER MARK)"),
])
def test_a_name_with_control_characters_is_a_form_error(su, typed, named):
    ann = UserFactory(email="ann@example.com")
    form = change_form(su, ann)
    field = "name" if "name" in form else "first_name"
    before = form[field]
    form[field] = [typed]

    response = su.post(user_admin_url("change", ann.pk), form)

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors[field] == [f"Remove the control character {named}."]
    assert errors.as_data()[field][0].code == "control_characters"
    assert [getattr(User.objects.get(pk=ann.pk), field)] == before


def test_several_control_characters_are_named_together(su):
    ann = UserFactory(email="ann@example.com")
    form = change_form(su, ann)
    field = "name" if "name" in form else "first_name"
    form[field] = ["\u202eAnn\u2066Lee\u2069\u202e\x01\x02"]

    response = su.post(user_admin_url("change", ann.pk), form)

    assert response.context["adminform"].form.errors[field] == [
        "Remove the control characters U+202E (RIGHT-TO-LEFT OVERRIDE), U+2066 (LEFT-TO-RIGHT "
        "ISOLATE), U+2069 (POP DIRECTIONAL ISOLATE) and 2 others."]


@pytest.mark.parametrize("stored", ["Ann\u200fLee", "\u061cAnn", "Ann\u200e", "Ann\u202eetileS"])
def test_a_name_stored_with_a_control_character_does_not_stop_other_changes(su, stored):
    # Saved before the rule covered it (LRM, RLM and ALM were accepted once): staff who
    # change something else save the account, and the name stays as it is.
    ann = UserFactory(email="ann@example.com")
    form = change_form(su, ann)
    field = "name" if "name" in form else "first_name"
    User.objects.filter(pk=ann.pk).update(**{field: stored})
    form = change_form(su, ann)
    assert form[field] == [stored]
    form.pop("is_active", None)

    response = su.post(user_admin_url("change", ann.pk), form)

    assert response.status_code == 302, response.context["adminform"].form.errors
    ann = User.objects.get(pk=ann.pk)
    assert not ann.is_active
    assert getattr(ann, field) == stored


def test_a_name_stored_with_a_control_character_is_refused_once_edited(su):
    ann = UserFactory(email="ann@example.com")
    form = change_form(su, ann)
    field = "name" if "name" in form else "first_name"
    User.objects.filter(pk=ann.pk).update(**{field: "Ann\u200fLee"})
    form = change_form(su, ann)
    form[field] = ["Ann\u200fLea"]

    response = su.post(user_admin_url("change", ann.pk), form)

    assert response.context["adminform"].form.errors[field] == [
        "Remove the control character U+200F (RIGHT-TO-LEFT MARK)."]
    assert getattr(User.objects.get(pk=ann.pk), field) == "Ann\u200fLee"


def test_a_group_name_with_control_characters_is_a_form_error(su):
    response = su.post("/admin/auth/group/add/", {"name": "help\u2067desk"})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["name"] == [
        "Remove the control character U+2067 (RIGHT-TO-LEFT ISOLATE)."]
    assert not Group.objects.exists()


def test_a_group_named_with_a_control_character_keeps_its_name_and_takes_other_changes(su):
    helpdesk = Group.objects.create(name="help\u200fdesk")
    view = Permission.objects.get(codename="view_user")

    response = su.post(f"/admin/auth/group/{helpdesk.pk}/change/",
                       {"name": "help\u200fdesk", "permissions": [str(view.pk)]})

    assert response.status_code == 302
    helpdesk.refresh_from_db()
    assert helpdesk.name == "help\u200fdesk"
    assert list(helpdesk.permissions.all()) == [view]


def test_a_list_editable_name_is_checked_once_changed(rf):
    # A project's admin built on SafeInputMixin may edit names on its list page too.
    class GroupListAdmin(SafeInputMixin, admin.ModelAdmin):
        list_display = ["id", "name"]
        list_editable = ["name"]

    form = GroupListAdmin(Group, admin.AdminSite()).get_changelist_form(rf.get("/"))
    stored = Group.objects.create(name="help\u200fdesk")
    kept = form({"name": "help\u200fdesk"}, instance=stored)
    typed = form({"name": "help\u2067desk"}, instance=stored)

    assert kept.is_valid(), kept.errors
    assert not typed.is_valid()
    assert typed.errors["name"] == ["Remove the control character U+2067 (RIGHT-TO-LEFT ISOLATE)."]


# --- groups -----------------------------------------------------------------------------------

def test_the_group_admin_answers_bad_input_with_a_message(su):
    Group.objects.create(name="g")
    for selection in (["abc"], ["9" * 30]):
        response = su.post("/admin/auth/group/", {"action": "delete_selected", "index": "0",
                                                  "_selected_action": selection})
        assert response.status_code in (200, 302)
    added = su.post("/admin/auth/group/add/", {"name": "h", "permissions": ["9" * 30]})
    assert added.status_code == 200 and added.context["adminform"].form.errors["permissions"]
    searched = su.get("/admin/auth/group/", {"q": "a" * 60_000})
    assert searched.status_code == 302 and "e=1" in searched["Location"]
    assert list(Group.objects.values_list("name", flat=True)) == ["g"]


def test_only_superusers_give_a_group_permissions():
    member, client = member_with("view_group", "change_group")
    helpdesk = Group.objects.create(name="helpdesk")
    member.groups.add(helpdesk)

    client.post(f"/admin/auth/group/{helpdesk.pk}/change/",
                {"name": "helpdesk desk", "permissions": [str(p.pk) for p in Permission.objects.all()]})

    helpdesk.refresh_from_db()
    assert helpdesk.name == "helpdesk desk"  # the rest of the group is theirs to change
    assert not helpdesk.permissions.exists()
    assert not User.objects.get(pk=member.pk).has_perm(f"{User._meta.app_label}.delete_user")


def test_superusers_still_give_a_group_permissions(su):
    helpdesk = Group.objects.create(name="helpdesk")
    view = Permission.objects.get(codename="view_user")
    assert su.post(f"/admin/auth/group/{helpdesk.pk}/change/",
                   {"name": "helpdesk", "permissions": [str(view.pk)]}).status_code == 302
    assert list(helpdesk.permissions.all()) == [view]


# --- other staff's accounts -------------------------------------------------------------------

def test_staff_cannot_take_over_another_staff_members_account():
    boss = UserFactory(email="boss@example.com", is_staff=True)
    admins = Group.objects.create(name="admins")
    admins.permissions.set(Permission.objects.all())
    boss.groups.add(admins)
    _member, client = member_with("view_user", "change_user", "delete_user")

    page = client.get(user_admin_url("change", boss.pk))
    assert page.status_code == 200 and 'name="email"' not in page.content.decode()  # view only
    form = form_data(page.content.decode(), "user_form")
    form["email"] = ["attacker@example.net"]
    assert client.post(user_admin_url("change", boss.pk), form).status_code == 403
    for action in ("send_password_reset", "deactivate", "end_all_sessions",
                   "require_password_change", "reset_mfa"):
        client.post(user_admin_url("changelist"), {"action": action, "index": "0",
                                                   "_selected_action": [boss.pk]})
    assert client.post(user_admin_url("delete", boss.pk), {"post": "yes"}).status_code == 403

    boss.refresh_from_db()
    assert boss.email == "boss@example.com" and boss.is_active
    assert not OutboxMessage.objects.filter(to__in=["attacker@example.net", "boss@example.com"]
                                            ).exists()


def test_staff_cannot_lift_the_guessing_limit_of_another_staff_members_account(staff):
    # A lock and the consecutive-failure count are what stop an online guess of the
    # password: staff who could clear them on a superuser's account could guess it for ever.
    from accounts.models import LoginThrottle

    boss = UserFactory(email="boss@example.com", is_staff=True)
    plain = UserFactory(email="plain@example.com")
    for account in (staff, boss, plain):
        LoginThrottle.objects.create(identifier=account.email, ip="", lockouts=1,
                                     consecutive_failures=100)
    member, client = member_with("view_user", "change_user", "view_loginthrottle",
                                 "delete_loginthrottle")

    client.post(user_admin_url("changelist"), {"action": "unlock", "index": "0",
                                               "_selected_action": [staff.pk, boss.pk, plain.pk]})
    # Nor through the throttle admin, where a row deleted is an account unlocked unrecorded.
    rows = list(LoginThrottle.objects.values_list("pk", flat=True))
    client.post("/admin/accounts/loginthrottle/", {
        "action": "delete_selected", "index": "0", "_selected_action": rows, "post": "yes"})

    assert sorted(LoginThrottle.objects.values_list("identifier", flat=True)) == [
        "boss@example.com", staff.email]
    assert client.post(f"/admin/accounts/loginthrottle/{rows[0]}/delete/",
                       {"post": "yes"}).status_code == 403


@pytest.mark.parametrize("page", [
    "change",
    pytest.param("add", marks=pytest.mark.own_user_model),  # the suite's add form: an email
])
def test_staff_below_superuser_cannot_open_the_admin_to_someone(page):
    # Admin access is a privilege like the others: a staff member could otherwise make an
    # account whose address they hold staff (on the add page, or an existing one), or give
    # the admin to someone whose permissions were meant for the site only.
    _member, client = member_with("view_user", "change_user", "add_user")
    plain = UserFactory(email="plain@example.com")
    if page == "change":
        form = change_form(client, plain)
        url = user_admin_url("change", plain.pk)
    else:
        form = form_data(client.get(user_admin_url("add")).content.decode(), "user_form")
        form["email"] = ["helper@example.net"]
        url = user_admin_url("add")
    form["is_staff"] = ["on"]

    assert client.post(url, form).status_code == 302  # saved, all but that

    assert User.objects.filter(email="helper@example.net").exists() == (page == "add")
    assert not User.objects.filter(is_staff=True).exclude(pk=_member.pk).exists()


def test_staff_still_change_their_own_account_and_people_who_are_not_staff():
    member, client = member_with("view_user", "change_user")
    plain = UserFactory(email="plain@example.com")
    for user, new in ((member, "me.new@example.com"), (plain, "plain.new@example.com")):
        form = change_form(client, user)
        form["email"] = [new]
        assert client.post(user_admin_url("change", user.pk), form).status_code == 302
        user.refresh_from_db()
        assert user.email == new


def test_staff_remove_the_passkeys_of_people_who_are_not_staff_only():
    _member, client = member_with("view_passkey", "delete_passkey")
    other_staff = UserFactory(is_staff=True)
    plain = UserFactory()
    kept = Passkey.objects.create(user=other_staff, credential_id="a", public_key=b"x", name="k")
    removed = Passkey.objects.create(user=plain, credential_id="b", public_key=b"x", name="k")

    client.post("/admin/passkeys/passkey/", {"action": "remove_passkeys", "index": "0",
                                             "_selected_action": [kept.pk, removed.pk]})

    assert list(Passkey.objects.all()) == [kept]


# --- Django's own admin pages that would go around the suite's flows --------------------------

def test_the_admins_password_change_is_the_suites(staff):
    client = Client()
    client.post(reverse("accounts:login"), {"email": staff.email, "password": STRONG_PASSWORD})
    raw = tokens.token_issue(user=staff, purpose=OneTimeToken.Purpose.PASSWORD_RESET,
                             email=staff.email, lifetime=3600)

    response = client.post("/admin/password_change/", {
        "old_password": STRONG_PASSWORD, "new_password1": "a brand new passphrase 42",
        "new_password2": "a brand new passphrase 42"})

    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:password_change")
    staff.refresh_from_db()
    assert staff.check_password(STRONG_PASSWORD)
    assert tokens.token_peek(raw, purpose=OneTimeToken.Purpose.PASSWORD_RESET) is not None


def test_the_admins_sign_out_is_the_suites(staff):
    client = Client()
    client.post(reverse("accounts:login"), {"email": staff.email, "password": STRONG_PASSWORD})
    assert UserSession.objects.filter(user=staff, ended_at__isnull=True).count() == 1

    response = client.post("/admin/logout/")

    assert response.status_code == 302 and response["Location"] == reverse("accounts:login")
    assert not UserSession.objects.filter(user=staff, ended_at__isnull=True).exists()
    assert client.get("/admin/").status_code == 302


# --- actions and deletion ---------------------------------------------------------------------

@pytest.mark.parametrize("stored", ["", "not-an-address"])
def test_no_reset_link_for_an_account_without_an_address(su, stored):
    odd = user_without_address("odd@example.com", "pw")
    User.objects.filter(pk=odd.pk).update(**{User.get_email_field_name(): stored})

    response = su.post(user_admin_url("changelist"), {
        "action": "send_password_reset", "index": "0", "_selected_action": [odd.pk]}, follow=True)

    assert "No link for these users, who have no email address" in response.content.decode()
    assert not OutboxMessage.objects.exists()
    assert not OneTimeToken.objects.filter(user=odd).exists()


def test_a_superuser_deletes_a_user_with_a_passkey(su):
    user = UserFactory()
    passkey = Passkey.objects.create(user=user, credential_id="c", public_key=b"x", name="k")
    assert su.get(f"/admin/passkeys/passkey/{passkey.pk}/delete/").status_code == 403

    response = su.post(user_admin_url("delete", user.pk), {"post": "yes"})

    assert response.status_code == 302
    assert not User.objects.filter(pk=user.pk).exists()
    assert not Passkey.objects.exists()


def test_disabling_an_account_on_its_page_is_recorded_as_the_staff_members_act(su, staff):
    from audit.models import Event

    ann = UserFactory(email="ann@example.com", password=STRONG_PASSWORD)
    browser = Client()
    browser.post(reverse("accounts:login"), {"email": ann.email, "password": STRONG_PASSWORD})
    start = Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    form = change_form(su, ann)
    form.pop("is_active", None)

    assert su.post(user_admin_url("change", ann.pk), form).status_code == 302

    events = Event.objects.filter(pk__gt=start)
    deactivated = events.get(action="accounts.account.deactivated")
    assert (deactivated.actor_id, deactivated.target_id) == (str(staff.pk), str(ann.pk))
    ended = events.get(action="accounts.session.ended")
    assert (ended.actor_id, ended.target_id) == (str(staff.pk), str(ann.pk))
    assert UserSession.objects.get(user=ann).end_reason == "deactivated"
    assert not OneTimeToken.objects.filter(user=ann, used_at=None, voided_at=None).exists()


def test_enabling_an_account_on_its_page_is_recorded_as_the_staff_members_act(su, staff):
    from accounts.flows.account import account_deactivate
    from audit.models import Event

    ann = UserFactory(email="ann@example.com", password=STRONG_PASSWORD)
    browser = Client()
    browser.post(reverse("accounts:login"), {"email": ann.email, "password": STRONG_PASSWORD})
    account_deactivate(ann, by=staff)
    start = Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    form = change_form(su, ann)
    assert "is_active" not in form
    form["is_active"] = ["on"]

    assert su.post(user_admin_url("change", ann.pk), form).status_code == 302

    assert User.objects.get(pk=ann.pk).is_active
    events = Event.objects.filter(pk__gt=start)
    reactivated = events.get(action="accounts.account.reactivated")
    assert (reactivated.actor_id, reactivated.target_type, reactivated.target_id) == (
        str(staff.pk), "user", str(ann.pk))
    # Nothing disabled with the account comes back with it: the browser signs in afresh.
    assert UserSession.objects.get(user=ann).end_reason == "deactivated"
    assert browser.get(reverse("accounts:profile")).status_code == 302

    again = change_form(su, ann)  # saved again, still active: no second event
    assert su.post(user_admin_url("change", ann.pk), again).status_code == 302
    assert events.filter(action="accounts.account.reactivated").count() == 1

