"""Optional security alerts can be turned off (after a recent authentication); critical ones
cannot; each change is audited; the page, the API and bad input."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from accounts import authrecord
from audit.alerts import NewDeviceSignIn, PasswordChanged
from audit.models import AlertOptOut, Event
from tests.accounts.support import api_get, api_post, error_code
from tests.audit.support import data
from tests.audit.test_alerts import CHROME, FIREFOX, alerts_to, sign_in

pytestmark = pytest.mark.django_db

NEW_DEVICE = NewDeviceSignIn().name
PASSWORD_CHANGED = PasswordChanged().name
API = "security/alerts/"


@pytest.fixture
def recent(client, user, password):
    """A browser signed in just now (its authentication is recent)."""
    sign_in(client, user, password, HTTP_USER_AGENT=FIREFOX)
    return client


@pytest.fixture
def stale(recent, monkeypatch):
    """The same browser, its authentication older than the reauthentication timeout."""
    monkeypatch.setattr(authrecord, "now", lambda: 2**40)
    return recent


def preference_events() -> list[dict]:
    return [data(e) for e in Event.objects.filter(action="audit.alert.preference_changed")
            .order_by("pk")]


def save(client, *enabled: str):
    """The security page's form as a browser sends it: the ticked boxes and its hidden
    ``form`` field (no box ticked: no ``enabled`` at all)."""
    return client.post(reverse("audit:alert_preferences"), {"form": "alerts",
                                                            "enabled": list(enabled)})


def test_a_user_who_turned_new_device_alerts_off_gets_none(recent, user, password):
    response = save(recent)  # every box unticked
    assert response.status_code == 302
    assert AlertOptOut.objects.filter(user_id=str(user.pk), rule=NEW_DEVICE).exists()
    assert preference_events() == [{"rule": NEW_DEVICE, "enabled": False}]

    sign_in(Client(), user, password, HTTP_USER_AGENT=CHROME)
    assert alerts_to(user.email, "New sign-in") == []

    save(recent, NEW_DEVICE)
    assert not AlertOptOut.objects.exists()
    assert preference_events()[-1] == {"rule": NEW_DEVICE, "enabled": True}
    sign_in(Client(), user, password,
            HTTP_USER_AGENT=CHROME.replace("Chrome/126", "Chrome/127"))
    assert len(alerts_to(user.email, "New sign-in")) == 1


def test_saving_unchanged_settings_records_nothing(recent):
    save(recent, NEW_DEVICE)
    assert preference_events() == []


def test_critical_alerts_cannot_be_turned_off(recent, user, password):
    save(recent)
    save(recent, PASSWORD_CHANGED)  # posted ticked though its box is disabled: nothing to do
    assert not AlertOptOut.objects.filter(rule=PASSWORD_CHANGED).exists()
    response = api_post(recent, API, {"rule": PASSWORD_CHANGED, "enabled": False})
    assert response.status_code == 400
    assert error_code(response) == "alert_required"
    assert not AlertOptOut.objects.filter(rule=PASSWORD_CHANGED).exists()


@pytest.mark.parametrize("body", [
    {},  # nothing at all
    {"session": "others"},  # another page's form
    {"enabled": []},
    {"form": "", "enabled": [NEW_DEVICE]},
    {"form": "sessions"},
], ids=["empty", "another-form", "no-marker", "blank-marker", "other-marker"])
def test_a_post_that_is_not_the_alert_form_changes_nothing(recent, body):
    # An unticked box is not sent, so these once read as every optional alert turned off:
    # the new-device alert silenced by a request that never showed its box.
    page = recent.post(reverse("audit:alert_preferences"), body)

    assert page.status_code == 200  # as every page answers a form with errors
    assert page.context["alert_form"].errors["form"] == [
        "These are not the alert settings: nothing was changed. Tick the alerts you want "
        "below and save them."]
    html = page.content.decode()
    assert "nothing was changed" in html
    assert f'value="{NEW_DEVICE}" checked>' in html  # the settings as they are
    assert '<input type="hidden" name="form" value="alerts">' in html  # saved next time
    assert not AlertOptOut.objects.exists()
    assert preference_events() == []
    assert "Your alert settings are saved." not in html


def test_the_page_s_own_form_says_it_is_the_alert_form(recent):
    html = recent.get(reverse("audit:security")).content.decode()
    assert '<input type="hidden" name="form" value="alerts">' in html


@pytest.mark.parametrize("enabled", [["audit.alerts.NoSuchRule"], [NEW_DEVICE, "x" * 300],
                                     ["\x00"]])
def test_an_alert_the_page_does_not_offer_is_a_form_error(recent, user, enabled):
    AlertOptOut.objects.create(user_id=str(user.pk), rule=NEW_DEVICE)

    page = recent.post(reverse("audit:alert_preferences"), {"form": "alerts",
                                                            "enabled": enabled})

    assert page.status_code == 200
    assert page.context["alert_form"].errors["enabled"]
    assert "There is no such alert: nothing was changed." in page.content.decode()
    assert AlertOptOut.objects.filter(rule=NEW_DEVICE).exists()
    assert preference_events() == []


def test_the_api_reads_no_missing_enabled_as_false(recent):
    # JSON only: a form-encoded body (where DRF reads an absent boolean as false) is refused
    # before it is read, and a JSON body without ``enabled`` is incomplete, not "off".
    url = "/api/auth/v1/" + API
    form = recent.post(url, {"rule": NEW_DEVICE})
    assert (form.status_code, error_code(form)) == (415, "unsupported_media_type")
    missing = api_post(recent, API, {"rule": NEW_DEVICE})
    assert (missing.status_code, error_code(missing)) == (400, "invalid")
    assert "enabled" in missing.json()["error"]["fields"]
    assert not AlertOptOut.objects.exists()
    assert preference_events() == []


def test_the_page_lists_every_alert_and_marks_the_critical_ones(recent):
    html = recent.get(reverse("audit:security")).content.decode()
    assert "Email alerts" in html
    assert f'value="{NEW_DEVICE}" checked>' in html
    assert f'value="{PASSWORD_CHANGED}" checked disabled>' in html


def test_changing_alerts_needs_a_recent_authentication(stale, user):
    response = save(stale)
    assert response.status_code == 302
    assert reverse("accounts:reauthenticate") in response["Location"]
    response = api_post(stale, API, {"rule": NEW_DEVICE, "enabled": False})
    assert response.status_code == 403
    assert error_code(response) == "reauthentication_required"
    assert not AlertOptOut.objects.exists()
    assert api_get(stale, API).status_code == 200  # reading them does not


def test_anonymous_users_get_nothing(client):
    assert save(client).status_code == 302
    assert api_get(client, API).status_code == 403
    assert api_post(client, API, {"rule": NEW_DEVICE, "enabled": False}).status_code == 403
    assert not AlertOptOut.objects.exists()


def test_the_api_lists_and_changes_alerts(recent, user):
    listed = {a["rule"]: a for a in api_get(recent, API).json()}
    assert listed[NEW_DEVICE] == {"rule": NEW_DEVICE, "subject": "New sign-in to your account",
                                  "critical": False, "enabled": True}
    assert listed[PASSWORD_CHANGED]["critical"] is True

    response = api_post(recent, API, {"rule": NEW_DEVICE, "enabled": False})
    assert response.status_code == 200
    assert {a["rule"]: a["enabled"] for a in response.json()}[NEW_DEVICE] is False
    assert AlertOptOut.objects.filter(user_id=str(user.pk), rule=NEW_DEVICE).count() == 1
    api_post(recent, API, {"rule": NEW_DEVICE, "enabled": False})  # again: no second row
    assert AlertOptOut.objects.count() == 1
    assert len(preference_events()) == 1


@pytest.mark.parametrize("body, code", [
    ({"rule": "audit.alerts.NoSuchRule", "enabled": False}, "alert_unknown"),
    ({"rule": "ü" * 50 + "<script>'; --", "enabled": False}, "alert_unknown"),
    ({"rule": NEW_DEVICE + "\x00", "enabled": False}, "invalid"),
    ({"rule": "x" * 201, "enabled": False}, "invalid"),
    ({"rule": NEW_DEVICE}, "invalid"),
    ({"enabled": False}, "invalid"),
    ({"rule": NEW_DEVICE, "enabled": "maybe"}, "invalid"),
    # Only JSON false turns an alert off: "no", 0 and "false" are a client's mistake.
    ({"rule": NEW_DEVICE, "enabled": "no"}, "invalid"),
    ({"rule": NEW_DEVICE, "enabled": 0}, "invalid"),
    ({"rule": NEW_DEVICE, "enabled": "false"}, "invalid"),
    ({"rule": NEW_DEVICE, "enabled": None}, "invalid"),
    ({"rule": ["a list"], "enabled": False}, "invalid"),
    ({"rule": 123, "enabled": False}, "invalid"),
    ({"rule": True, "enabled": False}, "invalid"),
    ([], "invalid"),
])
def test_bad_input_is_refused_with_a_code(recent, body, code):
    response = api_post(recent, API, body)
    assert response.status_code == 400, response.content
    assert error_code(response) == code
    assert not AlertOptOut.objects.exists()


def test_malformed_and_oversized_bodies_are_refused(recent):
    url = "/api/auth/v1/" + API
    malformed = recent.post(url, data="{not json", content_type="application/json")
    assert (malformed.status_code, error_code(malformed)) == (400, "malformed_request")
    huge = recent.post(url, data='{"rule": "' + "x" * 11_000_000 + '", "enabled": false}',
                       content_type="application/json")
    assert huge.status_code in (400, 413)
    assert not AlertOptOut.objects.exists()


def test_a_deleted_account_takes_its_alert_rows_with_it(recent, user):
    from audit.models import AlertSent
    from tests.factories import UserFactory

    other = UserFactory()
    for person in (user, other):
        AlertOptOut.objects.create(user_id=str(person.pk), rule=NEW_DEVICE)
        AlertSent.objects.create(user_id=str(person.pk), rule=PASSWORD_CHANGED)
    user_id = str(user.pk)
    events = Event.objects.filter(actor_id=user_id).count()
    assert events  # the sign-in that made ``recent``

    user.delete()

    assert set(AlertOptOut.objects.values_list("user_id", flat=True)) == {str(other.pk)}
    assert set(AlertSent.objects.values_list("user_id", flat=True)) == {str(other.pk)}
    assert Event.objects.filter(actor_id=user_id).count() == events  # the trail stays


def _resolved(schema: dict, node: dict) -> dict:
    while "$ref" in node or "allOf" in node:
        ref = node["$ref"] if "$ref" in node else node["allOf"][0]["$ref"]
        node = schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    return node


def _documented_rules(client) -> tuple[list, list]:
    schema = client.get("/api/auth/v1/schema/", {"format": "json"}).json()
    operations = schema["paths"]["/api/auth/v1/security/alerts/"]
    asked = _resolved(schema, operations["post"]["requestBody"]["content"]["application/json"][
        "schema"])["properties"]["rule"]
    listed = _resolved(schema, _resolved(schema, operations["get"]["responses"]["200"]["content"][
        "application/json"]["schema"])["items"])["properties"]["rule"]
    return _resolved(schema, asked)["enum"], _resolved(schema, listed)["enum"]


def test_the_schema_names_the_alerts_in_force(client, recent, settings):
    """``rule`` is one of the rules in force, in what the API is sent and what it answers:
    any other text is ``alert_unknown``, so the schema lists them."""
    in_force = [a["rule"] for a in api_get(recent, API).json()]
    assert _documented_rules(client) == (in_force, in_force)

    settings.AUTHSUITE_AUDIT_ALERT_RULES = ["audit.alerts.NewDeviceSignIn"]
    assert _documented_rules(client) == ([NEW_DEVICE], [NEW_DEVICE])
