"""A project's own user admin (here Django's UserAdmin, as projects subclass it) keeps its
pages and gains the suite's rules: no password pages or fields, other staff accounts for
superusers, the login address through the flows."""

from __future__ import annotations

import pytest
from django import forms
from django.contrib import admin
from django.contrib.auth import admin as auth_admin
from django.contrib.auth.hashers import is_password_usable
from django.contrib.auth.models import Permission
from django.contrib.auth.models import User as AuthUser
from django.test import Client
from django.urls import path

from accounts.admin import adopt_user_admin
from accounts.models import EmailAddress
from authsuite.urls import urlpatterns as project_urls
from tests.audit.support import form_data
from tests.factories import UserFactory


class ProjectUserAdmin(auth_admin.UserAdmin):
    list_display = ["username", "email", "is_staff"]


site = admin.AdminSite(name="project_admin")
site.register(AuthUser, ProjectUserAdmin)
adopt_user_admin(site)
urlpatterns = [path("project-admin/", site.urls), *project_urls]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

BASE = "/project-admin/auth/user/"


@pytest.fixture
def su(staff):
    client = Client()
    client.force_login(staff)
    return client


def test_the_projects_list_stays(su):
    ann = UserFactory(email="ann@example.com")
    response = su.get(BASE)
    assert response.status_code == 200
    # Its columns, the address's shown as staff must read it (a look-alike marked).
    columns = [getattr(c, "__name__", c) for c in response.context["cl"].list_display]
    assert columns[1:] == ["username", "email", "is_staff"]
    assert ann.username in response.content.decode()


def test_no_set_password_page_and_no_password_on_the_change_page(su):
    ann = UserFactory(email="ann@example.com")

    assert su.get(f"{BASE}{ann.pk}/password/").status_code == 404
    page = su.get(f"{BASE}{ann.pk}/change/")
    assert page.status_code == 200
    assert "password" not in page.context["adminform"].form.fields
    assert b"/password/" not in page.content


def test_staff_add_an_account_without_a_password(su):
    page = su.get(f"{BASE}add/")
    assert not {"password1", "password2", "usable_password"} & set(
        page.context["adminform"].form.fields)
    form = form_data(page.content.decode(), "user_form")
    form["username"] = ["newcomer"]

    response = su.post(f"{BASE}add/", form)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert not is_password_usable(AuthUser.objects.get(username="newcomer").password)


def test_staff_cannot_change_another_staff_members_address():
    member = UserFactory(is_staff=True)
    member.user_permissions.add(*Permission.objects.filter(
        codename__in=["view_user", "change_user"]))
    colleague = UserFactory(email="colleague@example.com", is_staff=True)
    client = Client()
    client.force_login(member)
    page = client.get(f"{BASE}{colleague.pk}/change/")
    form = form_data(page.content.decode(), "user_form")
    form["email"] = ["mine@example.com"]

    client.post(f"{BASE}{colleague.pk}/change/", form)

    assert AuthUser.objects.get(pk=colleague.pk).email == "colleague@example.com"


@pytest.mark.parametrize(("typed", "stored"), [
    ("  Ann.New@Example.COM ", "ann.new@example.com"),
    # ｕｓｅｒ＠ｅｘａｍｐｌｅ.ｃｏｍ: taken in its normal form before it is checked
    ("\uff55\uff53\uff45\uff52\uff20\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.\uff43\uff4f\uff4d",
     "user@example.com"),
])
def test_the_login_address_is_changed_through_the_flows(su, typed, stored):
    ann = UserFactory(email="ann@example.com")
    form = form_data(su.get(f"{BASE}{ann.pk}/change/").content.decode(), "user_form")
    form["email"] = [typed]

    response = su.post(f"{BASE}{ann.pk}/change/", form)

    assert response.status_code == 302, response.context["adminform"].form.errors
    ann.refresh_from_db()
    assert ann.email == stored
    assert EmailAddress.objects.get(user=ann, primary=True).email == stored


def test_a_plain_model_admin_is_adopted_too(staff):
    plain = admin.AdminSite(name="plain_project_admin")
    plain.register(AuthUser, admin.ModelAdmin)
    adopt_user_admin(plain)
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.user = staff
    user_admin = plain._registry[AuthUser]
    ann = UserFactory(email="ann@example.com")

    form = user_admin.get_form(request, ann)

    assert "password" not in form.base_fields and "email" in form.base_fields
    assert not any("password" in options["fields"]
                   for _name, options in user_admin.get_fieldsets(request, ann))


def test_fields_on_one_line_lose_the_password_too(staff):
    class LinedAdmin(admin.ModelAdmin):
        fieldsets = [(None, {"fields": [["username", "password"], ("first_name", "last_name"),
                                        "email"]})]

    lined = admin.AdminSite(name="lined_project_admin")
    lined.register(AuthUser, LinedAdmin)
    adopt_user_admin(lined)
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.user = staff
    ann = UserFactory(email="ann@example.com")

    [(_name, options)] = lined._registry[AuthUser].get_fieldsets(request, ann)

    assert options["fields"][:3] == [("username",), ("first_name", "last_name"), "email"]


class VettedCreationForm(auth_admin.AdminUserCreationForm):
    """A project's add form: Django's, with rules of its own for the username."""

    def clean_username(self):
        username = self.cleaned_data["username"]
        if username.startswith("admin"):
            raise forms.ValidationError("Usernames may not start with admin.")
        return username


class VettedChangeForm(auth_admin.UserChangeForm):
    first_name = forms.CharField(max_length=30, required=False,
                                 widget=forms.TextInput(attrs={"class": "vetted"}))


class VettedUserAdmin(auth_admin.UserAdmin):
    add_form = VettedCreationForm
    form = VettedChangeForm


vetted = admin.AdminSite(name="vetted_project_admin")
vetted.register(AuthUser, VettedUserAdmin)
adopt_user_admin(vetted)
urlpatterns.insert(0, path("vetted-admin/", vetted.urls))
VETTED = "/vetted-admin/auth/user/"


def test_a_projects_forms_keep_their_own_rules_without_the_password(su):
    page = su.get(f"{VETTED}add/")
    form = page.context["adminform"].form
    assert isinstance(form, VettedCreationForm)
    assert not {"password1", "password2", "usable_password"} & set(form.fields)
    data = form_data(page.content.decode(), "user_form")
    data["username"] = ["administrator"]

    refused = su.post(f"{VETTED}add/", data)

    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors["username"] == [
        "Usernames may not start with admin."]
    assert not AuthUser.objects.filter(username="administrator").exists()

    data["username"] = ["newcomer"]
    response = su.post(f"{VETTED}add/", data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert not is_password_usable(AuthUser.objects.get(username="newcomer").password)


def test_a_projects_change_form_keeps_its_widgets_without_the_hash(su):
    ann = UserFactory(email="ann@example.com")

    page = su.get(f"{VETTED}{ann.pk}/change/")

    form = page.context["adminform"].form
    assert isinstance(form, VettedChangeForm)
    assert "password" not in form.fields
    assert form.fields["first_name"].widget.attrs["class"] == "vetted"
    assert b"/password/" not in page.content


class DocumentedCreationForm(forms.ModelForm):
    """The add form of Django's documented custom-user example: its own password fields,
    read with cleaned_data[...] when saving."""

    password1 = forms.CharField(label="Password", widget=forms.PasswordInput)
    password2 = forms.CharField(label="Password confirmation", widget=forms.PasswordInput)

    class Meta:
        model = AuthUser
        fields = ["username", "email"]

    def clean_password2(self):
        password1 = self.cleaned_data.get("password1")
        password2 = self.cleaned_data.get("password2")
        if password1 and password2 and password1 != password2:
            raise forms.ValidationError("Passwords don't match")
        return password2

    def save(self, commit=True):
        user = super().save(commit=False)
        user.set_password(self.cleaned_data["password1"])
        if commit:
            user.save()
        return user


class DocumentedUserAdmin(auth_admin.UserAdmin):
    add_form = DocumentedCreationForm
    add_fieldsets = [(None, {"fields": ["username", "email", "password1", "password2"]})]


documented = admin.AdminSite(name="documented_project_admin")
documented.register(AuthUser, DocumentedUserAdmin)
adopt_user_admin(documented)
urlpatterns.insert(0, path("documented-admin/", documented.urls))


def test_the_documented_add_form_saves_an_account_without_a_password(su):
    page = su.get("/documented-admin/auth/user/add/")
    assert not {"password1", "password2"} & set(page.context["adminform"].form.fields)
    data = form_data(page.content.decode(), "user_form")
    data["username"] = ["newcomer"]
    data["password1"] = data["password2"] = ["typed anyway, never kept"]  # a forged post

    response = su.post("/documented-admin/auth/user/add/", data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert not is_password_usable(AuthUser.objects.get(username="newcomer").password)
