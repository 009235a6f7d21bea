"""Passkeys among the second factors: removing the last one turns two-step verification off
(recovery codes included), a passkey flagged as cloned never does, and staff resetting it
take passkeys too."""

from __future__ import annotations

import json

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts import authrecord
from audit.models import Event
from authsuite.models import OutboxMessage
from mfa import flows as mfa_flows
from mfa.models import RecoveryCodeSet, TrustedBrowser
from passkeys import flows as passkey_flows
from passkeys.models import Passkey
from tests.helpers import outbox_for, user_admin_url
from tests.mfa.support import Clock, api_post, enroll
from tests.passkeys.authenticator import SoftAuthenticator
from tests.passkeys.support import (
    ORIGIN,
    RECORD_KEY,
    actions,
    add_passkey,
    code,
    login,
    password_client,
)

pytestmark = pytest.mark.django_db


def recovery_codes(client) -> list[str]:
    response = api_post(client, "mfa/recovery-codes/")
    assert response.status_code == 200, response.content
    return response.json()["recovery_codes"]


def password_then_code(user, password, one_time_code):
    browser = Client()
    assert api_post(browser, "login/", {"email": user.email, "password": password}
                    ).json()["stage"] == "mfa"
    return api_post(browser, "mfa/challenge/", {"code": one_time_code})


def test_removing_the_last_passkey_voids_the_recovery_codes(user, password, monkeypatch):
    clock = Clock(monkeypatch)
    client = password_client(user, password)
    passkey = add_passkey(client)
    old = recovery_codes(client)

    assert client.delete(f"/api/auth/v1/passkeys/{passkey.pk}/").status_code == 204

    assert not RecoveryCodeSet.objects.filter(user=user).exists()
    assert actions(action="mfa.disabled", actor_id=str(user.pk)) == ["mfa.disabled"]
    assert api_post(Client(), "login/", {"email": user.email, "password": password}
                    ).json()["status"] == "authenticated"
    # The next factor comes with codes of its own; the old ones pass nothing.
    secret = api_post(client, "mfa/totp/setup/").json()["secret"]
    fresh = api_post(client, "mfa/totp/activate/", {"code": clock.code(secret)}
                     ).json()["recovery_codes"]
    assert len(fresh) == 10 and not set(fresh) & set(old)
    passed = password_then_code(user, password, fresh[0])
    assert passed.json().get("status") == "authenticated", passed.json()
    assert code(password_then_code(user, password, old[0])) == "mfa_code_invalid"


def test_removing_a_passkey_while_another_factor_remains_keeps_the_codes(user, password):
    client = password_client(user, password)
    first, second = add_passkey(client), add_passkey(client)
    codes = recovery_codes(client)

    assert client.delete(f"/api/auth/v1/passkeys/{first.pk}/").status_code == 204

    assert Passkey.objects.filter(pk=second.pk).exists()
    assert actions(action="mfa.disabled") == []
    assert password_then_code(user, password, codes[0]).json()["status"] == "authenticated"


def test_removing_the_authenticator_app_while_a_passkey_remains_keeps_the_codes(user,
                                                                                password):
    client = password_client(user, password)
    add_passkey(client)
    enroll(user, codes=False)
    codes = recovery_codes(client)

    assert client.delete("/api/auth/v1/mfa/totp/").status_code == 204

    assert password_then_code(user, password, codes[0]).json()["status"] == "authenticated"


def clone_detected(authenticator) -> None:
    """A copy of ``authenticator`` answers with a counter that did not increase."""
    assert login(Client(), authenticator, counter_step=5).status_code == 200
    assert code(login(Client(), authenticator, counter_step=0)) == "passkey_cloned"


def test_after_a_clone_the_owner_signs_in_with_a_recovery_code_and_removes_it(user,
                                                                               password):
    """A flagged passkey keeps two-step verification on; its owner passes the stage with a
    recovery code, and removing the flagged passkey then is like removing any last one."""
    authenticator, client = SoftAuthenticator(), password_client(user, password)
    passkey = add_passkey(client, authenticator)
    codes = recovery_codes(client)
    clone_detected(authenticator)

    owner = Client()
    assert api_post(owner, "login/", {"email": user.email, "password": password}
                    ).json()["stage"] == "mfa"
    assert api_post(owner, "mfa/challenge/", {"code": codes[0]}
                    ).json()["status"] == "authenticated"
    assert actions(action="mfa.disabled") == []

    assert owner.delete(f"/api/auth/v1/passkeys/{passkey.pk}/").status_code == 204

    assert actions(action="mfa.disabled", actor_id=str(user.pk)) == ["mfa.disabled"]
    assert not RecoveryCodeSet.objects.filter(user=user).exists()
    assert api_post(Client(), "login/", {"email": user.email, "password": password}
                    ).json()["status"] == "authenticated"


@pytest.fixture
def flagged_only(user, password, monkeypatch):
    """A session signed in with the password and the account's only passkey, which was
    flagged as cloned since; the reauthentication timeout has passed. Returns (session,
    authenticator, passkey)."""
    authenticator = SoftAuthenticator()
    passkey = add_passkey(password_client(user, password), authenticator)
    browser = Client()
    assert api_post(browser, "login/", {"email": user.email, "password": password}
                    ).json()["stage"] == "mfa"
    options = api_post(browser, "passkeys/second-factor/options/").json()
    assertion = authenticator.get(options, origin=ORIGIN)
    assert api_post(browser, "passkeys/second-factor/", {"credential": assertion}
                    ).json()["status"] == "authenticated"
    clone_detected(authenticator)
    start = authrecord.now()
    monkeypatch.setattr(authrecord, "now", lambda: start + 301)
    return browser, authenticator, passkey


def test_with_only_a_flagged_passkey_the_page_says_to_ask_staff(flagged_only, password):
    """No password form again and again, no passkey that will be refused: what is wrong and
    who can help."""
    browser, _authenticator, _passkey = flagged_only
    setup = reverse("mfa:totp_setup")
    page_url = browser.get(setup)["Location"]
    assert browser.post(page_url, {"password": password, "next": setup})["Location"] == setup

    assert browser.get(setup)["Location"] == page_url  # still refused
    page = browser.get(page_url).content.decode()

    assert "Ask the site's staff to reset two-step verification" in " ".join(page.split())
    assert 'name="password"' not in page
    assert 'data-passkey="reauth"' not in page
    assert reverse("mfa:challenge") not in page
    assert "confirm your second step too" not in page


def test_with_only_a_flagged_passkey_the_api_says_to_ask_staff(flagged_only, password):
    browser, authenticator, passkey = flagged_only
    assert code(browser.delete(f"/api/auth/v1/passkeys/{passkey.pk}/")
                ) == "reauthentication_required"  # the password first, as for anyone
    assert api_post(browser, "reauthenticate/", {"password": password}).status_code == 200

    response = browser.delete(f"/api/auth/v1/passkeys/{passkey.pk}/")

    assert response.status_code == 403
    assert code(response) == "second_factor_unavailable"
    assert "reset two-step verification" in response.json()["error"]["message"]
    # The flagged passkey still confirms nothing, and the action stays refused.
    options = api_post(browser, "passkeys/reauthenticate/options/").json()
    assert options["allowCredentials"] == []
    response = api_post(browser, "passkeys/reauthenticate/",
                        {"credential": authenticator.get(options, origin=ORIGIN)})
    assert code(response) == "passkey_cloned"
    assert code(browser.delete(f"/api/auth/v1/passkeys/{passkey.pk}/")
                ) == "second_factor_unavailable"
    assert Passkey.objects.filter(pk=passkey.pk).exists()


def test_with_every_recovery_code_used_the_page_says_to_ask_staff(flagged_only, user,
                                                                  password):
    from django.utils import timezone

    from mfa import recovery
    from mfa.models import RecoveryCode

    browser, _authenticator, _passkey = flagged_only
    recovery.generate(user)
    RecoveryCode.objects.update(used_at=timezone.now())
    api_post(browser, "reauthenticate/", {"password": password})

    page = browser.get(reverse("accounts:reauthenticate")).content.decode()

    assert "reset two-step verification" in page
    assert reverse("mfa:challenge") not in page


def test_with_a_recovery_code_left_the_page_offers_it(flagged_only, user, password):
    from mfa import recovery

    browser, _authenticator, passkey = flagged_only
    [first, *_rest] = recovery.generate(user)
    api_post(browser, "reauthenticate/", {"password": password})

    page = browser.get(reverse("accounts:reauthenticate")).content.decode()
    assert "confirm your second step too" in page
    assert "reset two-step verification" not in page
    assert f'href="{reverse("mfa:challenge")}"' in page

    assert api_post(browser, "mfa/challenge/", {"code": first}).status_code == 200
    assert browser.delete(f"/api/auth/v1/passkeys/{passkey.pk}/").status_code == 204


def challenge_page(user, password) -> str:
    """The sign-in's second-factor page, once the password is proven."""
    browser = Client()
    response = browser.post(reverse("accounts:login"), {"email": user.email,
                                                        "password": password})
    assert response["Location"] == reverse("mfa:challenge")
    return " ".join(browser.get(reverse("mfa:challenge")).content.decode().split())


def test_signing_in_with_only_a_flagged_passkey_the_page_says_to_ask_staff(user, password):
    authenticator = SoftAuthenticator()
    add_passkey(password_client(user, password), authenticator)
    clone_detected(authenticator)

    page = challenge_page(user, password)

    assert "Ask the site's staff to reset two-step verification" in page
    assert 'name="code"' not in page
    assert 'data-passkey="second-factor"' not in page


def test_signing_in_the_page_offers_only_the_ways_the_account_has(user, password):
    from mfa import recovery

    authenticator = SoftAuthenticator()
    add_passkey(password_client(user, password), authenticator)
    page = challenge_page(user, password)
    assert 'data-passkey="second-factor"' in page
    assert "authenticator app" not in page and 'name="code"' not in page  # no app, no codes

    recovery.generate(user)
    page = challenge_page(user, password)
    assert '<details class="recovery" open>' in page  # the one code form, unfolded
    assert "Use a recovery code</summary>" in page

    clone_detected(authenticator)
    page = challenge_page(user, password)
    assert 'data-passkey="second-factor"' not in page
    assert 'name="code"' in page and "reset two-step verification" not in page


def test_signing_in_with_an_app_alone_no_passkey_button(user, password):
    enroll(user)
    page = challenge_page(user, password)

    assert "Enter the code from your authenticator app." in page
    assert 'data-passkey="second-factor"' not in page
    assert "Use a recovery code instead" in page


def test_a_step_up_by_a_passkey_only_account_points_to_the_passkey(user, password):
    browser = password_client(user, password)
    add_passkey(browser, SoftAuthenticator())

    page = " ".join(browser.get(reverse("mfa:challenge") + "?next=/passkeys/"
                                ).content.decode().split())

    assert 'name="code"' not in page
    assert "confirm with it on the" in page
    assert f'href="{reverse("accounts:reauthenticate")}?next=/passkeys/"' in page


def test_a_step_up_before_any_factor_shows_the_forms(client, user):
    client.force_login(user)

    page = client.get(reverse("mfa:challenge")).content.decode()

    assert 'name="code"' in page and "reset two-step verification" not in page


def pending_methods(user, password) -> dict:
    response = api_post(Client(), "login/", {"email": user.email, "password": password})
    assert response.json()["stage"] == "mfa"
    return response.json()


def test_the_api_names_the_ways_through_the_second_factor(user, password):
    from mfa import recovery

    authenticator = SoftAuthenticator()
    add_passkey(password_client(user, password), authenticator)
    assert pending_methods(user, password)["methods"] == ["passkey"]
    enroll(user, codes=False)
    recovery.generate(user)
    assert pending_methods(user, password)["methods"] == ["totp", "passkey", "recovery_code"]


def test_the_api_says_when_no_way_through_is_left(user, password):
    authenticator = SoftAuthenticator()
    add_passkey(password_client(user, password), authenticator)
    clone_detected(authenticator)

    answer = pending_methods(user, password)

    assert answer["methods"] == []
    assert "Ask staff to reset two-step verification" in answer["message"]
    assert answer["status"] == "pending"  # still refused: the flagged passkey proves nothing


def test_a_clone_ends_every_trusted_browser(user, password):
    """A browser trusted since the passkey was copied may be the copy's: every browser
    asks for the second factor again."""
    authenticator, client = SoftAuthenticator(), password_client(user, password)
    add_passkey(client, authenticator)
    codes = recovery_codes(client)
    trusted = Client()
    api_post(trusted, "login/", {"email": user.email, "password": password})
    assert api_post(trusted, "mfa/challenge/", {"code": codes[0], "trust_browser": True}
                    ).json()["status"] == "authenticated"
    assert TrustedBrowser.objects.filter(user=user).exists()

    clone_detected(authenticator)

    assert not TrustedBrowser.objects.filter(user=user).exists()
    api_post(trusted, "logout/")
    assert api_post(trusted, "login/", {"email": user.email, "password": password}
                    ).json()["stage"] == "mfa"


def test_a_staff_reset_removes_passkeys_too(admin_client, user, password):
    intruder, client = SoftAuthenticator(), password_client(user, password)
    add_passkey(client, intruder)
    add_passkey(client)
    enroll(user)
    mail_before = len(outbox_for(user.email))

    response = admin_client.post(user_admin_url("changelist"),
                                 {"action": "reset_mfa", ACTION_CHECKBOX_NAME: [str(user.pk)]})

    assert response.status_code == 302
    assert not Passkey.objects.filter(user=user).exists()
    assert code(login(Client(), intruder)) == "passkey_unknown_credential"
    # Each passkey removal is recorded, by the staff member; one notice tells the user.
    removed = actions(action="passkeys.removed", target_id=str(user.pk))
    assert len(removed) == 2
    mail = outbox_for(user.email)[mail_before:]
    assert [m.subject.endswith("Two-step verification was reset") for m in mail
            if "reset" in m.subject.lower()] == [True]
    assert "passkeys" in next(m for m in mail if "reset" in m.subject.lower()).body
    assert api_post(Client(), "login/", {"email": user.email, "password": password}
                    ).json()["status"] == "authenticated"


@pytest.fixture
def every_kind_of_factor(user, password):
    """Two passkeys, an authenticator app and ten unused recovery codes."""
    client = password_client(user, password)
    add_passkey(client)
    add_passkey(client)
    enroll(user)
    OutboxMessage.objects.all().delete()
    mail.outbox.clear()
    return user


@pytest.mark.parametrize("audit_on", [True, False], ids=["alert", "notice"])
def test_a_staff_reset_is_one_message_saying_what_was_removed(every_kind_of_factor, staff,
                                                              settings, audit_on):
    """One message for the reset, not one more per passkey; the trail keeps every removal."""
    settings.AUTHSUITE_AUDIT_ENABLED = audit_on
    user = every_kind_of_factor

    mfa_flows.mfa_reset(user, by=staff)

    queued = OutboxMessage.objects.filter(to=user.email)
    assert queued.count() == 1
    assert len(outbox_for(user.email)) == 1
    message = outbox_for(user.email)[0]
    assert message.subject.endswith("Two-step verification was reset")
    body = " ".join(message.body.split())
    assert "removed every second factor it had: an authenticator app, 2 passkeys and 10 " \
           "unused recovery codes." in body
    if audit_on:
        assert len(actions(action="passkeys.removed", target_id=str(user.pk))) == 2
        reset = Event.objects.get(action="mfa.reset")
        assert json.loads(reset.data) == {"removed": {"totp": 1, "passkey": 2,
                                                      "recovery_codes": 10}}
        # The reset is the record: two-step verification did not go off by the user's doing.
        assert actions(action="mfa.disabled") == []


def test_a_staff_reset_names_only_what_the_account_had(user, staff, password):
    add_passkey(password_client(user, password))
    mail.outbox.clear()

    mfa_flows.mfa_reset(user, by=staff)

    body = " ".join(outbox_for(user.email)[0].body.split())
    assert "1 passkey" in body
    assert "authenticator app" not in body and "recovery code" not in body


def test_a_staff_reset_counts_a_factor_whose_remover_says_nothing(user, staff):
    """A project's factor whose remover returns nothing is still named, with its count."""
    from accounts.models import EmailAddress
    from mfa import registry

    taken = []
    registry.register_factor(
        "badge", lambda owner: EmailAddress.objects.filter(user=owner),
        remove=lambda owner, **_kwargs: taken.append(owner))
    try:
        removed = mfa_flows.mfa_reset(user, by=staff)
    finally:
        registry.unregister_factor("badge")

    assert taken == [user]
    assert removed == {"badge": EmailAddress.objects.filter(user=user).count()} != {"badge": 0}
    assert "1 × badge" in " ".join(outbox_for(user.email)[0].body.split())


def test_the_passkeys_remover_takes_every_passkey_and_leaves_the_counting_to_the_reset(
        user, staff, password):
    client = password_client(user, password)
    add_passkey(client)
    add_passkey(client)

    assert passkey_flows.passkeys_remove_all(user, by=staff) is None

    assert not Passkey.objects.filter(user=user).exists()
    assert len(actions(action="passkeys.removed", target_id=str(user.pk))) == 2


def test_a_passkey_removed_by_staff_on_its_own_is_still_told(user, staff, password):
    """Outside a reset, each passkey staff remove is its own message, as it always was."""
    passkey = add_passkey(password_client(user, password))
    mail.outbox.clear()

    passkey_flows.passkey_remove(None, user=user, passkey_id=passkey.pk, by=staff)

    assert [m.subject for m in outbox_for(user.email)] == [
        "authsuite demo: A passkey was removed"]


def test_a_staff_reset_removes_a_flagged_passkey_as_well(user, staff, password):
    passkey = add_passkey(password_client(user, password))
    Passkey.objects.filter(pk=passkey.pk).update(flagged_at="2026-01-01T00:00:00Z")

    mfa_flows.mfa_reset(user, by=staff)

    assert not Passkey.objects.filter(user=user).exists()


def test_each_passkey_added_is_mailed_however_soon_after_another(user, password):
    owner = password_client(user, password)
    add_passkey(owner)
    thief = Client()
    thief.cookies = owner.cookies  # a copy of the session cookie, minutes later
    add_passkey(thief)
    added = [m for m in outbox_for(user.email) if "passkey was added" in m.subject.lower()]
    assert len(added) == 2


# A passkey added since a password sign-in -----------------------------------------------------
# Once the account has a second factor, a sensitive action asks for two factors, whatever the
# session proved at its sign-in; the session that registers a passkey has proven it.


def test_registering_a_passkey_proves_it_in_this_session(user, password):
    client = password_client(user, password)
    key_before = client.session.session_key

    passkey = add_passkey(client, SoftAuthenticator())

    record = client.session[RECORD_KEY]
    assert "mfa" in record["amr"] and {"pwd", "hwk"} <= set(record["proven"])
    assert client.session.session_key != key_before  # as for any factor gained
    assert client.delete(f"/api/auth/v1/passkeys/{passkey.pk}/").status_code == 204


def test_a_passkey_added_since_a_password_sign_in_is_asked_for(user, password, monkeypatch):
    browser = password_client(user, password)
    authenticator = SoftAuthenticator()
    passkey = add_passkey(password_client(user, password), authenticator)  # another device
    url = f"/api/auth/v1/passkeys/{passkey.pk}/"

    response = browser.delete(url)
    assert response.status_code == 403 and code(response) == "second_factor_required"
    assert "second factor" in response.json()["error"]["message"]
    start = authrecord.now()
    monkeypatch.setattr(authrecord, "now", lambda: start + 301)
    assert api_post(browser, "reauthenticate/", {"password": password}).status_code == 200
    assert code(browser.delete(url)) == "second_factor_required"

    # The page sends the session to the reauthentication page, which offers the passkey
    # rather than the password again.
    response = browser.post(reverse("passkeys:manage"),
                            {"action": "remove", "passkey": str(passkey.pk)})
    page = browser.get(response["Location"]).content.decode()
    assert "confirm your second step too" in page
    assert 'name="password"' not in page and 'data-passkey="reauth"' in page
    assert Passkey.objects.filter(pk=passkey.pk).exists()

    options = api_post(browser, "passkeys/reauthenticate/options/").json()
    assert api_post(browser, "passkeys/reauthenticate/", {
        "credential": authenticator.get(options, origin=ORIGIN)}).status_code == 200
    assert browser.delete(url).status_code == 204


def test_a_password_session_whose_only_passkey_was_flagged_is_told_to_ask_staff(user,
                                                                                password):
    """Signed in with the password before the passkey was added, then flagged as cloned: the
    same clear answer as a session that proved it, not the password again and again."""
    browser = password_client(user, password)
    authenticator = SoftAuthenticator()
    passkey = add_passkey(password_client(user, password), authenticator)
    clone_detected(authenticator)

    response = browser.delete(f"/api/auth/v1/passkeys/{passkey.pk}/")
    assert response.status_code == 403 and code(response) == "second_factor_unavailable"

    setup = reverse("mfa:totp_setup")
    page_url = browser.get(setup)["Location"]
    page = browser.get(page_url).content.decode()
    assert "Ask the site's staff to reset two-step verification" in " ".join(page.split())
    assert 'name="password"' not in page and 'data-passkey="reauth"' not in page
    assert Passkey.objects.filter(pk=passkey.pk).exists()
