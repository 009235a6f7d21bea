"""The breach check against the Pwned Passwords range API (``PwnedPasswordsChecker``), asked
of a real local HTTP server that answers range requests computed from a few known passwords,
padded as the real service pads them, or that stalls, fails or answers garbage."""

from __future__ import annotations

import hashlib
import logging
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.contrib.auth import get_user_model
from django.core import checks
from django.test import override_settings

from accounts.passwords import PwnedPasswordsChecker
from accounts.pwned import BreachCheckUnavailable
from tests.accounts.support import api_post, error_code, html_login
from tests.helpers import last_link, token_from

pytestmark = pytest.mark.django_db
User = get_user_model()

#: The corpus the local service knows: password -> times seen.
CORPUS = {
    "quiet orange kettle": 42,
    "a lantern seen once only": 1,
    "three sightings of this phrase": 3,
}
#: Listed by the service as a padding line (count 0) under its own prefix: never breached.
PADDED = "padded but never breached"
CLEAN = "velvet harbour mosaic 0917"
SIGNUP_PAGE = "/accounts/signup/"
CHANGE_PAGE = "/accounts/password/change/"


def sha1(password: str) -> str:
    return hashlib.sha1(password.encode()).hexdigest().upper()


def range_answer(prefix: str) -> str:
    """What the real service answers for ``prefix`` with ``Add-Padding: true``: the known
    suffixes under it with their counts, others seen in breaches, and padding lines."""
    lines = [f"{sha1(p)[5:]}:{count}" for p, count in CORPUS.items() if sha1(p).startswith(prefix)]
    if sha1(PADDED).startswith(prefix):
        lines.append(f"{sha1(PADDED)[5:]}:0")
    lines += [f"{hashlib.sha1(f'{prefix}-{i}'.encode()).hexdigest().upper()[5:]}:{7 + i}"
              for i in range(5)]
    lines += [f"{hashlib.sha1(f'pad-{prefix}-{i}'.encode()).hexdigest().upper()[5:]}:0"
              for i in range(20)]
    return "\r\n".join(sorted(lines))


class RangeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - http.server's name
        pass  # the test reads self.server.requests instead of stderr

    def do_GET(self):
        server = self.server
        server.requests.append({"line": self.requestline, "path": self.path,
                                "headers": dict(self.headers.items())})
        mode = server.mode
        if mode == "stall":
            server.release.wait(10)
            return
        if mode in ("500", "503"):
            return self._answer(int(mode), b"Service unavailable, try later")
        if mode == "redirect":
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.1:9/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        match = re.fullmatch(r"/range/([0-9A-F]{5})", self.path)
        if match is None:
            return self._answer(404, b"Not found")
        body = range_answer(match.group(1)).encode()
        if mode == "garbage":
            body = b"<html><body>Captive portal: please sign in</body></html>"
        elif mode == "truncated":
            body = body[: len(body) // 2 - 7]
        elif mode == "empty":
            body = b""
        elif mode == "binary":
            body = b"\xff\xfe" + body
        elif mode == "trickle":
            return self._trickle(body)
        elif mode == "trickle_headers":
            return self._trickle_headers()
        self._answer(200, body)

    def _answer(self, status: int, body: bytes):
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _trickle(self, body: bytes):
        """Headers at once, then a line now and then: every read is quick, the whole slow."""
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        for line in body.splitlines(keepends=True):
            if self.server.release.wait(0.2):
                return
            self.wfile.write(line)
            self.wfile.flush()

    def _trickle_headers(self):
        """The status line, then a header a byte now and then for four seconds: every read
        is quick, the headers slow."""
        self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        self.wfile.flush()
        for _ in range(40):
            if self.server.release.wait(0.1):
                return
            self.wfile.write(b"a")
            self.wfile.flush()
        self.wfile.write(b"\r\nContent-Length: 0\r\n\r\n")


@pytest.fixture
def range_api(monkeypatch, settings):
    """The local service, and the checker set to ask it (no proxy: it is on this host)."""
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy",
                 "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    server = ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    server.daemon_threads = True
    server.mode = "ok"
    server.requests = []
    server.release = threading.Event()
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    # Polled often: shutting the server down waits for a poll (half a second by default).
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01},
                              daemon=True)
    thread.start()
    settings.AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_CHECKER = "accounts.passwords.PwnedPasswordsChecker"
    settings.AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_API_URL = server.url
    settings.AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_API_TIMEOUT = 0.6
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


def api_signup(client, email, password):
    return api_post(client, "signup/", {"email": email, "password": password})


def html_signup(client, email, password):
    return client.post(SIGNUP_PAGE, {"email": email, "password": password})


def change_page(client, current, new):
    return client.post(CHANGE_PAGE, {"current_password": current, "new_password": new,
                                     "new_password_confirm": new})


# --- what is asked, and what it answers -----------------------------------------------------

def test_only_the_five_character_prefix_is_sent_with_padding_asked_for(client, range_api):
    response = api_signup(client, "ann@example.com", CLEAN)

    assert response.status_code == 201
    digest = sha1(CLEAN)
    (request,) = range_api.requests
    assert request["path"] == f"/range/{digest[:5]}"
    assert request["headers"]["Add-Padding"] == "true"
    assert request["headers"]["User-Agent"].startswith("authsuite/")
    sent = request["line"] + repr(request["headers"])
    assert digest[5:11] not in sent and digest[5:].lower() not in sent.lower()
    assert CLEAN not in sent


@pytest.mark.parametrize("breached", list(CORPUS))
def test_a_breached_password_is_refused_at_signup(client, range_api, breached):
    response = api_signup(client, "ann@example.com", breached)
    assert response.status_code == 400
    assert error_code(response) == "password_invalid"
    assert response.json()["error"]["fields"]["password"] == [
        "This password has appeared in a data breach. Choose another one."]

    page = html_signup(client, "bob@example.com", breached)
    assert b"appeared in a data breach" in page.content
    assert not User.objects.exists()


def test_a_breached_password_is_refused_on_change(client, user, password, range_api):
    html_login(client, user.email, password)

    page = change_page(client, password, "quiet orange kettle")
    api = api_post(client, "password/change/", {"current_password": password,
                                                "new_password": "quiet orange kettle"})

    assert b"appeared in a data breach" in page.content
    assert error_code(api) == "password_invalid"
    user.refresh_from_db()
    assert user.check_password(password)
    # A clean one goes through, checked the same way.
    assert change_page(client, password, CLEAN).status_code == 302
    user.refresh_from_db()
    assert user.check_password(CLEAN)
    assert range_api.requests[-1]["path"] == f"/range/{sha1(CLEAN)[:5]}"


def test_a_padding_line_is_never_a_sighting(client, range_api):
    assert f"{sha1(PADDED)[5:]}:0" in range_answer(sha1(PADDED)[:5])
    assert PwnedPasswordsChecker().is_breached(PADDED) is False
    assert api_signup(client, "ann@example.com", PADDED).status_code == 201


def test_the_password_is_asked_for_in_its_normal_form(client, range_api):
    full_width = "ｑｕｉｅｔ ｏｒａｎｇｅ ｋｅｔｔｌｅ"  # hashed as "quiet orange kettle"
    response = api_signup(client, "ann@example.com", full_width)
    assert error_code(response) == "password_invalid"
    assert range_api.requests[-1]["path"] == f"/range/{sha1('quiet orange kettle')[:5]}"


@pytest.mark.parametrize(("min_count", "refused"), [
    (1, {"quiet orange kettle", "a lantern seen once only", "three sightings of this phrase"}),
    (3, {"quiet orange kettle", "three sightings of this phrase"}),
    (4, {"quiet orange kettle"}),
    (43, set()),
])
def test_a_password_seen_fewer_times_than_the_threshold_is_accepted(range_api, settings,
                                                                    min_count, refused):
    settings.AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_MIN_COUNT = min_count
    checker = PwnedPasswordsChecker()
    assert {p for p in CORPUS if checker.is_breached(p)} == refused
    assert not checker.is_breached(CLEAN)


# --- when the service cannot be asked -------------------------------------------------------

FAILURES = ["stall", "trickle", "500", "503", "garbage", "truncated", "empty", "binary",
            "redirect", "refused"]


def fail(range_api, failure):
    if failure == "refused":  # nothing listens there any more
        range_api.shutdown()
        range_api.server_close()
    else:
        range_api.mode = failure


def assert_nothing_of_the_password_logged(caplog, password):
    digest = sha1(password)
    text = "\n".join(record.getMessage() for record in caplog.records)
    text += "\n".join(str(record.args) for record in caplog.records)
    assert password not in text
    assert digest[:5] not in text and digest[5:11] not in text and digest not in text
    assert digest.lower()[:5] not in text


@pytest.mark.parametrize("failure", FAILURES)
def test_by_default_a_password_is_accepted_when_the_service_cannot_be_asked(
        client, range_api, caplog, failure):
    fail(range_api, failure)
    password = "a lantern seen once only"  # breached: accepted only because unchecked
    with caplog.at_level(logging.WARNING, logger="authsuite.accounts"):
        started = time.monotonic()
        response = api_signup(client, "ann@example.com", password)
        took = time.monotonic() - started

    assert response.status_code == 201
    assert User.objects.filter(email="ann@example.com").exists()
    warnings = [r for r in caplog.records if r.name == "authsuite.accounts"
                and "could not be made" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert "accepted unchecked" in warnings[0].getMessage()
    assert_nothing_of_the_password_logged(caplog, password)
    assert took < 5  # a stalled service holds a sign-up for about the timeout, no longer


@pytest.mark.parametrize("failure", FAILURES)
def test_refused_when_the_service_cannot_be_asked_if_so_configured(
        client, range_api, settings, caplog, failure):
    settings.AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_WHEN_UNAVAILABLE = "refuse"
    fail(range_api, failure)
    with caplog.at_level(logging.WARNING, logger="authsuite.accounts"):
        response = api_signup(client, "ann@example.com", CLEAN)
        page = html_signup(client, "bob@example.com", CLEAN)

    assert response.status_code == 503
    assert error_code(response) == "password_check_unavailable"
    assert response.json()["error"]["fields"]["password"] == [
        "This password could not be checked against known data breaches just now. "
        "Try again in a few minutes."]
    assert page.status_code == 200
    assert b"could not be checked against known data breaches" in page.content
    assert not User.objects.exists()
    assert [r for r in caplog.records if "the password is refused" in r.getMessage()]
    assert_nothing_of_the_password_logged(caplog, CLEAN)


def test_refused_unchecked_on_the_password_change_page_and_api(client, user, password, range_api,
                                                                settings):
    html_login(client, user.email, password)
    settings.AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_WHEN_UNAVAILABLE = "refuse"
    range_api.mode = "503"

    page = change_page(client, password, CLEAN)
    api = api_post(client, "password/change/", {"current_password": password,
                                                "new_password": CLEAN})

    assert b"could not be checked against known data breaches" in page.content
    assert api.status_code == 503 and error_code(api) == "password_check_unavailable"
    assert api.json()["error"]["fields"] == {"new_password": [
        "This password could not be checked against known data breaches just now. "
        "Try again in a few minutes."]}
    user.refresh_from_db()
    assert user.check_password(password)
    # The service back, the same password goes through.
    range_api.mode = "ok"
    assert change_page(client, password, CLEAN).status_code == 302


def test_a_reset_link_outlives_a_refusal_made_unchecked(client, user, range_api, settings):
    """Nothing is written while the check cannot be made: the link still works after."""
    settings.AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_WHEN_UNAVAILABLE = "refuse"
    api_post(client, "password/reset/", {"email": user.email})
    token = token_from(last_link(user.email))
    range_api.mode = "garbage"

    refused = api_post(client, "password/reset/confirm/", {"token": token, "new_password": CLEAN})

    assert refused.status_code == 503 and error_code(refused) == "password_check_unavailable"
    assert list(refused.json()["error"]["fields"]) == ["new_password"]
    range_api.mode = "ok"
    breached = api_post(client, "password/reset/confirm/", {"token": token,
                                                            "new_password": "quiet orange kettle"})
    assert error_code(breached) == "password_invalid"
    done = api_post(client, "password/reset/confirm/", {"token": token, "new_password": CLEAN})
    assert done.status_code == 200
    user.refresh_from_db()
    assert user.check_password(CLEAN)


def test_a_password_refused_for_another_reason_too_is_password_invalid(client, range_api, settings):
    settings.AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_WHEN_UNAVAILABLE = "refuse"
    range_api.mode = "500"
    response = api_signup(client, "ann@example.com", "short 0917")
    assert response.status_code == 400
    assert error_code(response) == "password_invalid"
    assert "Use at least 15 characters." in response.json()["error"]["fields"]["password"]


def test_a_slow_service_is_given_up_on_after_the_timeout(range_api, settings):
    settings.AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_API_TIMEOUT = 0.3
    range_api.mode = "stall"
    started = time.monotonic()
    with pytest.raises(BreachCheckUnavailable, match="did not answer in time"):
        PwnedPasswordsChecker().is_breached(CLEAN)
    assert 0.25 < time.monotonic() - started < 3


def test_headers_trickled_in_are_given_up_on_after_the_timeout(range_api, settings):
    """Each byte of the header arrives within the timeout: only the time of the whole check
    bounds it, and the sign-up waits that long, not as long as the service keeps talking."""
    settings.AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_API_TIMEOUT = 0.5
    range_api.mode = "trickle_headers"
    started = time.monotonic()
    with pytest.raises(BreachCheckUnavailable, match="did not answer in time"):
        PwnedPasswordsChecker().is_breached(CLEAN)
    assert time.monotonic() - started < 2


@pytest.fixture
def slow_name_lookup(monkeypatch, range_api, settings):
    """``pwned.test`` is the local service, found by a name lookup that takes seconds (no
    socket timeout bounds one); the lookup ends when the test releases it."""
    lookup = socket.getaddrinfo
    released = threading.Event()

    def slow(host, *args, **kwargs):
        if host == "pwned.test":
            released.wait(10)
            host = "127.0.0.1"
        return lookup(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", slow)
    settings.AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_API_URL = (
        f"http://pwned.test:{range_api.server_address[1]}")
    yield released
    released.set()


def test_a_slow_name_lookup_is_given_up_on_after_the_timeout(range_api, settings,
                                                             slow_name_lookup):
    settings.AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_API_TIMEOUT = 0.4
    started = time.monotonic()
    with pytest.raises(BreachCheckUnavailable, match="did not answer in time"):
        PwnedPasswordsChecker().is_breached(CLEAN)
    assert time.monotonic() - started < 2
    # The lookup given up on ends later: nothing is asked of the service then.
    slow_name_lookup.set()
    time.sleep(0.5)
    assert range_api.requests == []


@pytest.mark.parametrize(("failure", "reason"), [
    ("500", "HTTP 500"), ("503", "HTTP 503"), ("redirect", "HTTP 302"),
    ("garbage", "not a range answer"), ("empty", "empty"), ("trickle", "in time"),
    ("refused", "could not be reached"),
])
def test_the_reason_says_what_went_wrong(range_api, failure, reason):
    fail(range_api, failure)
    with pytest.raises(BreachCheckUnavailable, match=reason) as raised:
        PwnedPasswordsChecker().is_breached(CLEAN)
    message = str(raised.value)
    assert sha1(CLEAN)[:5] not in message and "127.0.0.1" not in message


def test_a_redirect_is_not_followed(range_api):
    range_api.mode = "redirect"
    with pytest.raises(BreachCheckUnavailable):
        PwnedPasswordsChecker().is_breached(CLEAN)
    assert len(range_api.requests) == 1


def test_no_url_but_http_is_ever_opened(tmp_path):
    planted = tmp_path / "range" / sha1(CLEAN)[:5]
    planted.parent.mkdir()
    planted.write_text(f"{sha1(CLEAN)[5:]}:5\r\n")
    checker = PwnedPasswordsChecker(base_url=f"file://{tmp_path}")
    with pytest.raises(BreachCheckUnavailable, match="not an http"):
        checker.is_breached(CLEAN)


# --- system checks --------------------------------------------------------------------------

def check_ids(**overrides) -> list[str]:
    with override_settings(**overrides):
        return [m.id for m in checks.run_checks() if m.id.startswith("authsuite_accounts.E01")]


def test_the_defaults_pass_the_checks():
    assert check_ids() == []


@pytest.mark.parametrize("url", [
    "http://api.pwnedpasswords.com", "ftp://mirror.example.com", "file:///srv/pwned",
    "https://", "api.pwnedpasswords.com", "https://user@mirror.example.com",
    "https://mirror.example.com/?x=1", "https://[::1", 42,
])
def test_a_base_url_that_cannot_be_used_is_an_error(url):
    assert check_ids(AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_API_URL=url) == [
        "authsuite_accounts.E014"]


def test_a_plain_http_base_url_is_allowed_under_debug():
    assert check_ids(DEBUG=True,
                     AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_API_URL="http://127.0.0.1:8080") == []
    assert check_ids(
        AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_API_URL="https://pwned.internal.example/v3/") == []


@pytest.mark.parametrize("timeout", [0, -1, "2", True, float("inf"), float("nan"), None])
def test_a_timeout_that_is_no_positive_number_is_an_error(timeout):
    assert check_ids(AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_API_TIMEOUT=timeout) == [
        "authsuite_accounts.E015"]


@pytest.mark.parametrize("timeout", [0.5, 2, 5.0])
def test_a_positive_timeout_passes(timeout):
    assert check_ids(AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_API_TIMEOUT=timeout) == []


@pytest.mark.parametrize("count", [0, -3, "1", 1.5, True, None])
def test_a_threshold_that_is_no_count_is_an_error(count):
    assert check_ids(AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_MIN_COUNT=count) == [
        "authsuite_accounts.E016"]


@pytest.mark.parametrize("when", ["Accept", "reject", "", None])
def test_an_unknown_unavailable_policy_is_an_error(when):
    assert check_ids(AUTHSUITE_ACCOUNTS_BREACHED_PASSWORD_WHEN_UNAVAILABLE=when) == [
        "authsuite_accounts.E017"]
