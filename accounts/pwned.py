"""A client of the Pwned Passwords range API (k-anonymity), for ``PwnedPasswordsChecker``.

Only the first five hex digits of a password's SHA-1 leave the server: ``GET
<base>/range/<prefix>`` answers every suffix known under that prefix, one ``SUFFIX:COUNT``
line each (35 hex digits, the times it was seen), and the rest of the digest is matched
here. ``Add-Padding: true`` asks for padding lines (count 0) that make every answer about
the same size, so that its length does not tell an observer of the TLS stream which prefix
was asked for; they never count as a sighting.

Anything but a readable answer in time is :class:`BreachCheckUnavailable`, whose message
says what went wrong in words of this module's own: never the password, its digest, the
prefix or the URL asked (an exception's own text may quote the URL, and so the prefix).
"""

from __future__ import annotations

import http.client
import re
import socket
import threading
import time
import urllib.error
import urllib.request

from django.views.decorators.debug import sensitive_variables

import authsuite

#: More than any real answer (a padded range is a few hundred to two thousand lines of 40
#: bytes or so): a bigger body is no range answer, and is not read into memory.
MAX_BODY = 1024 * 1024
USER_AGENT = f"authsuite/{authsuite.__version__} (breached-password check)"
_LINE_RE = re.compile(r"([0-9A-Fa-f]{35}):([0-9]{1,12})")


class BreachCheckUnavailable(Exception):
    """The breach corpus could not be asked (timeout, connection refused, an HTTP error, an
    unreadable answer). Its message says why, and holds nothing of the password."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is refused (an HTTP error, so the check is unavailable): the API never
    redirects, and following one could send the prefix elsewhere, or over plain HTTP."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def range_url(base_url: str, prefix: str) -> str:
    return f"{base_url.rstrip('/')}/range/{prefix}"


def _reason(exc: BaseException) -> str:
    """What went wrong, in words that cannot hold the URL asked."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"the service answered HTTP {exc.code}"
    if isinstance(exc, TimeoutError):
        return "the service did not answer in time"
    if isinstance(exc, urllib.error.URLError):
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            return "the service did not answer in time"
        if isinstance(reason, OSError):
            return f"the service could not be reached ({reason.strerror or type(reason).__name__})"
        return "the service could not be reached"
    if isinstance(exc, OSError):
        return f"the connection failed ({exc.strerror or type(exc).__name__})"
    return f"the answer could not be read ({type(exc).__name__})"


def _read(response, deadline: float) -> bytes:
    """The body, read a socket read at a time, so that an answer trickled in slowly is
    given up on once the time allowed for the whole check has passed."""
    chunks, size = [], 0
    while True:
        if time.monotonic() > deadline:
            raise BreachCheckUnavailable("the service did not answer in time")
        chunk = response.read1(65536)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_BODY:
            raise BreachCheckUnavailable("the answer is too large to be a range answer")
        chunks.append(chunk)


def range_fetch(prefix: str, *, base_url: str, timeout: float) -> str:
    """The range answer for ``prefix`` (five upper-case hex digits), as text, within
    ``timeout`` seconds in all.

    The request runs on a thread of its own, which the caller waits for that long at most:
    a socket timeout bounds each wait on the network, not their sum, and no socket timeout
    bounds the name lookup at all. A lookup that hangs, a host whose addresses each take the
    timeout to refuse, a status line and headers trickled in a byte at a time would
    otherwise hold the request (a sign-up, a password change) for as long as they last.
    Given up on, the request's connection is shut, so its thread ends too.
    """
    url = range_url(base_url, prefix)
    # urllib would also open file:, ftp: and data: URLs; a base URL is checked at startup
    # (authsuite_accounts.E014), and here again, so that no setting can read a local file.
    if not url.lower().startswith(("https://", "http://")):
        raise BreachCheckUnavailable("the base URL is not an http(s) URL")
    fetch = _Fetch(url, timeout)
    worker = threading.Thread(target=fetch.run, name="authsuite-breach-check", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        fetch.cancel()
        raise BreachCheckUnavailable("the service did not answer in time")
    return fetch.result()


class _Fetch:
    """One request to the range API, made by :meth:`run` on a worker thread, and given up
    on by :meth:`cancel` from the caller's."""

    def __init__(self, url: str, timeout: float):
        self.url = url
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self._lock = threading.Lock()
        self._cancelled = False
        self._socket = None
        self._body: bytes | None = None
        self._error: BaseException | None = None

    def run(self) -> None:
        try:
            self._body = self._get()
        except BreachCheckUnavailable as exc:
            self._error = exc
        except (OSError, http.client.HTTPException, ValueError) as exc:
            self._error = BreachCheckUnavailable(_reason(exc))
        except Exception as exc:  # raised in the caller's thread, as it was raised here
            self._error = exc

    def result(self) -> str:
        if self._error is not None:
            raise self._error
        try:
            return self._body.decode("ascii")
        except UnicodeDecodeError:
            raise BreachCheckUnavailable("the answer is not a range answer (not ASCII)") from None

    def cancel(self) -> None:
        """The caller stopped waiting: shut the connection, if there is one, so that the
        read it is blocked in ends now; one still being opened is closed once it is."""
        with self._lock:
            self._cancelled = True
            sock = self._socket
        if sock is not None:
            try:
                # socket.socket's own shutdown, also for a TLS socket: the read blocked on it
                # returns, and the TLS object it reads through is left to that read.
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass  # closed meanwhile

    def _connected(self, sock) -> None:
        with self._lock:
            if not self._cancelled:
                self._socket = sock
                return
        sock.close()  # opened after the caller gave up (a slow name lookup): send nothing
        raise BreachCheckUnavailable("the service did not answer in time")

    def _connection_class(self, http_class):
        fetch = self

        class Connection(http_class):
            def connect(self):
                super().connect()
                fetch._connected(self.sock)

        return Connection

    def _get(self) -> bytes:
        fetch = self

        class HTTPHandler(urllib.request.HTTPHandler):
            def do_open(self, http_class, req, **kwargs):
                return super().do_open(fetch._connection_class(http_class), req, **kwargs)

        class HTTPSHandler(urllib.request.HTTPSHandler):
            def do_open(self, http_class, req, **kwargs):
                return super().do_open(fetch._connection_class(http_class), req, **kwargs)

        # Environment proxies (HTTPS_PROXY, NO_PROXY) are honoured: egress often goes
        # through one.
        opener = urllib.request.build_opener(_NoRedirects, HTTPHandler, HTTPSHandler)
        request = urllib.request.Request(self.url, headers={  # noqa: S310 - scheme checked
            "Add-Padding": "true", "User-Agent": USER_AGENT, "Accept": "text/plain",
        })
        with opener.open(request, timeout=self.timeout) as response:
            if response.status != 200:
                raise BreachCheckUnavailable(f"the service answered HTTP {response.status}")
            return _read(response, self.deadline)


def range_count(body: str, suffix: str) -> int:
    """Times ``suffix`` (35 upper-case hex digits) was seen, by a range answer's lines; 0
    when it is not listed, or listed as padding. Every line must be ``SUFFIX:COUNT``: an
    answer that is not one (an error page served with a 200, a truncated line, an empty
    body, which no real range is) is unavailable, never read as "not breached"."""
    count, lines = 0, 0
    for line in body.splitlines():
        line = line.strip()
        if not line:
            continue
        match = _LINE_RE.fullmatch(line)
        if match is None:
            raise BreachCheckUnavailable(f"the answer is not a range answer (line {lines + 1})")
        lines += 1
        if match.group(1).upper() == suffix:
            count = max(count, int(match.group(2)))
    if not lines:
        raise BreachCheckUnavailable("the answer is empty")
    return count


# Hidden whole, with the range request and the matching beneath: the digest is the
# password's unsalted SHA-1, as good as the password itself for a guessable one.
@sensitive_variables()
def sightings(digest: str, *, base_url: str, timeout: float) -> int:
    """Times the password whose upper-case SHA-1 hex digest is ``digest`` was seen in
    breaches, asking the range API for the digest's first five digits only."""
    prefix, suffix = digest[:5], digest[5:]
    return range_count(range_fetch(prefix, base_url=base_url, timeout=timeout), suffix)
