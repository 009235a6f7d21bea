"""System checks of the passkeys app: each id is raised by the misconfiguration it names,
with a hint and the setting it is about, and the test settings raise none."""

from __future__ import annotations

import pytest
from django.core import checks
from django.test import override_settings

from passkeys import checks as passkey_checks
from passkeys.checks import check_passkeys
from tests.passkeys.authenticator import AttestationCA


def ids() -> list[str]:
    return [m.id for m in check_passkeys()]


def only(check_id: str) -> checks.CheckMessage:
    messages = check_passkeys()
    assert [m.id for m in messages] == [check_id], [m.id for m in messages]
    message = messages[0]
    assert message.level == checks.ERROR
    assert message.hint and message.obj and message.msg
    return message


def test_the_test_settings_pass():
    assert ids() == []


@pytest.mark.parametrize("rp_id", ["", "https://example.com", "example.com/", "example.com:443",
                                   "Example.com", " example.com"])
def test_e001_rp_id_is_not_a_domain(rp_id):
    with override_settings(AUTHSUITE_PASSKEYS_RP_ID=rp_id, AUTHSUITE_PASSKEYS_ORIGINS=[]):
        assert only("authsuite_passkeys.E001").obj == "AUTHSUITE_PASSKEYS_RP_ID"


@pytest.mark.parametrize("origin", ["localhost:8000", "ftp://localhost", "http://localhost:8000/",
                                    "http://localhost/path", "http://"])
def test_e002_origin_is_not_scheme_host_port(origin):
    with override_settings(AUTHSUITE_PASSKEYS_ORIGINS=[origin]):
        assert only("authsuite_passkeys.E002").obj == "AUTHSUITE_PASSKEYS_ORIGINS"


@pytest.mark.parametrize("rp_id,origin", [
    ("example.com", "https://example.org"), ("example.com", "https://notexample.com"),
    ("example.com", "https://example.com.evil.net"), ("login.example.com", "https://example.com"),
])
def test_e003_origin_does_not_match_the_rp_id(rp_id, origin):
    with override_settings(AUTHSUITE_PASSKEYS_RP_ID=rp_id, AUTHSUITE_PASSKEYS_ORIGINS=[origin]):
        assert only("authsuite_passkeys.E003").obj == "AUTHSUITE_PASSKEYS_ORIGINS"


@pytest.mark.parametrize("origin", ["https://example.com", "https://login.example.com:8443"])
def test_origins_within_the_rp_id_pass(origin):
    with override_settings(AUTHSUITE_PASSKEYS_RP_ID="example.com",
                           AUTHSUITE_PASSKEYS_ORIGINS=[origin]):
        assert ids() == []


def test_e004_plain_http_away_from_localhost():
    with override_settings(AUTHSUITE_PASSKEYS_RP_ID="example.com",
                           AUTHSUITE_PASSKEYS_ORIGINS=["http://example.com"]):
        assert only("authsuite_passkeys.E004").obj == "AUTHSUITE_PASSKEYS_ORIGINS"


def test_e005_signed_cookie_sessions():
    with override_settings(SESSION_ENGINE="django.contrib.sessions.backends.signed_cookies"):
        assert only("authsuite_passkeys.E005").obj == "SESSION_ENGINE"


@pytest.mark.parametrize("value", ["always", "", "Required"])
def test_e006_user_verification(value):
    with override_settings(AUTHSUITE_PASSKEYS_USER_VERIFICATION=value):
        assert only("authsuite_passkeys.E006").obj == "AUTHSUITE_PASSKEYS_USER_VERIFICATION"


@pytest.mark.parametrize("formats,roots", [(["none"], {}), (["packed"], {}), (["tpm"], {"packed": ["x"]})])
def test_e007_required_attestation_that_nothing_could_satisfy(formats, roots):
    with override_settings(AUTHSUITE_PASSKEYS_ATTESTATION_FORMATS=formats,
                           AUTHSUITE_PASSKEYS_ATTESTATION_ROOT_CERTS=roots):
        assert only("authsuite_passkeys.E007").obj == "AUTHSUITE_PASSKEYS_ATTESTATION_FORMATS"


@pytest.mark.parametrize("formats", [["apple"], ["packed"]])
def test_required_attestation_with_roots_passes(formats):
    roots = {"packed": [AttestationCA.create().root_pem()]}
    with override_settings(AUTHSUITE_PASSKEYS_ATTESTATION_FORMATS=formats,
                           AUTHSUITE_PASSKEYS_ATTESTATION_ROOT_CERTS=roots):
        assert ids() == []


@pytest.mark.parametrize("algorithms", [[], [-7, -999], ["ES256"]])
def test_e008_algorithms(algorithms):
    with override_settings(AUTHSUITE_PASSKEYS_ALGORITHMS=algorithms):
        assert only("authsuite_passkeys.E008").obj == "AUTHSUITE_PASSKEYS_ALGORITHMS"


def test_e009_resident_key():
    with override_settings(AUTHSUITE_PASSKEYS_RESIDENT_KEY="always"):
        assert only("authsuite_passkeys.E009").obj == "AUTHSUITE_PASSKEYS_RESIDENT_KEY"


@pytest.mark.parametrize("missing", ["accounts", "authsuite"])
def test_e010_required_apps(monkeypatch, missing):
    installed = passkey_checks.apps.is_installed
    monkeypatch.setattr(passkey_checks.apps, "is_installed",
                        lambda name: name != missing and installed(name))
    message = only("authsuite_passkeys.E010")
    assert missing in message.msg and message.obj == "INSTALLED_APPS"


def test_the_checks_are_registered():
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    wrong = override_settings(AUTHSUITE_PASSKEYS_RP_ID="example.com",
                              AUTHSUITE_PASSKEYS_ORIGINS=["https://example.org"])
    with wrong, pytest.raises(SystemCheckError, match="authsuite_passkeys.E003"):
        call_command("check")


def test_w001_a_signup_template_without_the_link_reference(tmp_path, settings):
    (tmp_path / "passkeys").mkdir()
    (tmp_path / "passkeys" / "signup_complete.html").write_text(
        '<button data-passkey="signup" data-token="{{ view.kwargs.token }}">Create</button>')
    assert passkey_checks.check_signup_template() == []
    with override_settings(TEMPLATES=[{**settings.TEMPLATES[0], "DIRS": [str(tmp_path)]}]):
        (message,) = passkey_checks.check_signup_template()
    assert message.id == "authsuite_passkeys.W001" and message.level == checks.WARNING
    assert message.obj == "passkeys/signup_complete.html" and "link_reference" in message.hint
