"""Every suite admin answers bad input with a message or the admin's own "invalid lookup"
page: a selection of ids that are not ids, list filters out of range, many-to-many ids the
database could not compare. Never a 500, never an export cut short, nothing changed."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from audit.models import Event
from tests.audit.support import form_data
from tests.factories import UserFactory
from tests.helpers import user_admin_url

pytestmark = pytest.mark.django_db

BAD_IDS = ["abc", "²", "1.5", "", "9" * 30, str(2**63), "-" + "9" * 30]
ADMINS = ["authsuite_outboxmessage", "audit_event", "passkeys_passkey", "accounts_loginthrottle"]


@pytest.fixture
def admin_client(staff):
    client = Client()
    client.force_login(staff)
    return client


def changelist(name: str) -> str:
    app, model = name.split("_", 1)
    return reverse(f"admin:{app}_{model}_changelist")


def actions_of(client, url: str) -> list[str]:
    response = client.get(url)
    assert response.status_code == 200
    form = response.context["action_form"]
    return [] if form is None else [value for value, _label in form.fields["action"].choices
                                    if value]


@pytest.mark.parametrize("name", ["user", *ADMINS])
def test_every_action_refuses_a_selection_of_bad_ids(admin_client, name):
    url = user_admin_url("changelist") if name == "user" else changelist(name)
    victim = UserFactory(email="victim@example.com")
    for action in actions_of(admin_client, url):
        for bad in BAD_IDS:
            response = admin_client.post(url, {"action": action, "index": 0,
                                               "_selected_action": [bad]})
            assert response.status_code == 302, (action, bad)  # the list again, as Django does
            assert "The selection is not valid" in " ".join(
                str(m) for m in response.wsgi_request._messages), (action, bad)
    victim.refresh_from_db()
    assert victim.is_active


@pytest.mark.parametrize(("name", "query"), [
    ("passkeys_passkey", "created_at__year=99999"),
    ("authsuite_outboxmessage", "created_at__year=99999"),
    ("audit_checkpoint", "created_at__year=99999"),
    ("audit_event", "occurred_at__year=99999"),
    ("audit_event", "period=x"),
    ("audit_event", "since=x"),
    ("audit_event", "zzz=1"),
])
def test_list_filters_out_of_range_are_an_invalid_lookup(admin_client, name, query):
    response = admin_client.get(f"{changelist(name)}?{query}")
    assert response.status_code == 302
    assert response["Location"].endswith("?e=1")
    assert admin_client.get(response["Location"]).status_code == 200


def test_an_integer_filter_too_large_for_the_column_lists_nothing(admin_client):
    # Django answers it without asking the database (no row can hold such a value).
    response = admin_client.get(f"{changelist('accounts_loginthrottle')}?failures={'9' * 30}")
    assert response.status_code == 200
    assert response.context["cl"].result_count == 0


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
@pytest.mark.parametrize("query", ["period=x", "since=x", "zzz=1", "occurred_at__year=99999"])
def test_an_audit_export_with_bad_filters_goes_back_to_the_list(admin_client, fmt, query):
    url = reverse("admin:audit_event_export", args=[fmt])
    response = admin_client.get(f"{url}?{query}")
    assert response.status_code == 302
    assert response["Location"] == f"{changelist('audit_event')}?e=1"


@pytest.mark.parametrize("action", ["export_csv", "export_jsonl"])
def test_an_audit_export_of_a_bad_selection_is_refused_before_streaming(admin_client, action):
    Event.objects.create(action="x", actor_id="1")
    response = admin_client.post(changelist("audit_event"), {
        "action": action, "index": 0, "_selected_action": ["9" * 30]}, follow=True)
    assert not response.streaming
    assert response.redirect_chain == [(changelist("audit_event"), 302)]
    assert b"The selection is not valid" in response.content


def spelled_otherwise(pk: int) -> list[str]:
    """``pk`` as no page writes it, though ``int()`` reads each as ``pk``: other digits (Arabic-
    Indic, full-width), padded with spaces, signed, grouped with an underscore."""
    digits = str(pk)
    return [digits.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")),
            digits.translate(str.maketrans("0123456789", "０１２３４５６７８９")),
            f" {digits} ", f"+{digits}", f"{digits}\n", f"0_{digits}"]


def test_an_action_refuses_an_id_spelled_otherwise(admin_client):
    # As the suite's pages refuse it: the selection names an account by digits no checkbox
    # sends, and is refused, not read as the account of that number.
    victim = UserFactory(email="victim@example.com")
    for spelled in spelled_otherwise(victim.pk):
        response = admin_client.post(user_admin_url("changelist"), {
            "action": "deactivate", "index": 0, "_selected_action": [spelled]})
        assert response.status_code == 302, spelled
        assert "The selection is not valid" in " ".join(
            str(m) for m in response.wsgi_request._messages), spelled
    victim.refresh_from_db()
    assert victim.is_active


@pytest.mark.parametrize("bad", ["9" * 30, str(2**63), "abc", "²", "spelled otherwise"])
def test_a_user_form_with_group_ids_the_database_cannot_take(admin_client, bad):
    ann = UserFactory(email="ann@example.com")
    group = Group.objects.create(name="Editors")
    url = user_admin_url("change", ann.pk)
    form = form_data(admin_client.get(url).content.decode(), "user_form")
    form["groups"] = ([str(group.pk), bad] if bad != "spelled otherwise"
                      else spelled_otherwise(group.pk))

    response = admin_client.post(url, form)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["groups"]
    assert not get_user_model().objects.get(pk=ann.pk).groups.exists()


# --- requests the admin refuses ---------------------------------------------------------------


@pytest.fixture
def staff_browser(staff):
    """Staff as their browser meets the CSRF check, with its token."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    client.get(reverse("admin:index"))
    client.token = client.cookies["csrftoken"].value
    return client


def deactivate_victim(client, body, content_type, **extra):
    """Post ``body`` to the user list's "deactivate" action: what it answers."""
    return client.generic("POST", user_admin_url("changelist"), body, content_type=content_type,
                          HTTP_X_CSRFTOKEN=client.token, **extra)


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_the_admins_sign_out_refuses_another_method_with_the_page(staff_browser, method):
    """The admin's sign-out is the suite's page, out of the suite's namespaces: Django's empty
    405 there, the suite's page that says why everywhere else."""
    response = staff_browser.generic(method, reverse("admin:logout"),
                                     HTTP_X_CSRFTOKEN=staff_browser.token)
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD, OPTIONS, POST"
    assert b"<h1>Method not allowed</h1>" in response.content
    assert staff_browser.get(reverse("admin:index")).status_code == 200  # still signed in


def test_an_admin_action_with_a_body_django_refuses_is_a_413_that_says_why(settings,
                                                                          staff_browser):
    """The CSRF check reads the body before any admin view: the 413 of the suite's pages."""
    victim = UserFactory(email="victim@example.com")
    fields = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
    many = "action=deactivate&index=0&" + "&".join(
        f"_selected_action={victim.pk}" for _ in range(fields))
    response = deactivate_victim(staff_browser, many, "application/x-www-form-urlencoded")
    assert response.status_code == 413
    assert f"The request body has more than {fields} fields.".encode() in response.content
    # A length over the limit is refused from the header, before a byte is read or waited for.
    response = deactivate_victim(staff_browser, f"action=deactivate&_selected_action={victim.pk}",
                                 "application/x-www-form-urlencoded",
                                 CONTENT_LENGTH=str(settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1))
    assert response.status_code == 413
    victim.refresh_from_db()
    assert victim.is_active


def test_an_admin_action_with_a_form_django_cannot_parse_is_a_400_that_says_why(staff_browser):
    victim = UserFactory(email="victim@example.com")
    body = (b'--x\r\nContent-Disposition: form-data; name="action"\r\n\r\ndeactivate\r\n--x--\r\n')
    response = deactivate_victim(staff_browser, body, "multipart/form-data; boundary=")
    assert response.status_code == 400
    assert b"names no valid multipart boundary" in response.content
    victim.refresh_from_db()
    assert victim.is_active


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_another_method_on_an_admin_page_changes_nothing(staff_browser, method):
    """Django's admin acts on a POST only, and answered any other method as a GET would be;
    the suite's site refuses it (405, with the methods its pages take)."""
    victim = UserFactory(email="victim@example.com")
    response = staff_browser.generic(method, user_admin_url("delete", victim.pk), "post=yes",
                                     content_type="application/x-www-form-urlencoded",
                                     HTTP_X_CSRFTOKEN=staff_browser.token)
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD, POST"
    assert get_user_model().objects.filter(pk=victim.pk).exists()
