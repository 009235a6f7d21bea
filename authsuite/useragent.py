"""Readable device names from User-Agent headers (ua-parser)."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from django.utils.translation import gettext, gettext_noop

# The header is the client's to choose: a version of 400 digits is parsed as one. Each part
# is kept short, and the whole fits any column it is stored in (200 characters).
PART_MAX = 40
VERSION_MAX = 10
NAME_MAX = 100

# The name is shown in security alert mails and on pages, and the parser passes on parts of
# the header (a crawler's own name, say). Whatever it lets through, a name holds only ASCII
# letters, digits, spaces and hyphens: no markup, no control, invisible or direction-changing
# characters, and nothing a mail program would make a link of (a scheme, a domain or an
# address needs ":", "." or "@"). Other characters become spaces, after NFKC folding so
# that a full-width letter is kept as its plain self rather than dropped.
_NOT_SHOWN = re.compile(r"[^A-Za-z0-9 -]+")
# Seven digits or more in a row, spaces and hyphens between them allowed, read as a phone
# number, which mail programs on phones turn into a link that calls it: no version or
# product name is that long.
_NUMBER = re.compile(r"[0-9](?:[ -]*[0-9]){6,}")


def _shown(text: str, limit: int) -> str:
    text = _NOT_SHOWN.sub(" ", unicodedata.normalize("NFKC", text[:limit * 4]))
    return " ".join(text.split())[:limit].strip(" -")


#: The words of a device name, translated where it is shown (:func:`device_label`) and kept
#: in English where it is stored (:func:`device_name`).
UNKNOWN_DEVICE = gettext_noop("Unknown device")
UNKNOWN_BROWSER = gettext_noop("Unknown browser")
# Translators: a device name, such as "Firefox 128 on Ubuntu".
BROWSER_ON_SYSTEM = gettext_noop("%(browser)s on %(system)s")


@lru_cache(maxsize=1024)
def device_parts(user_agent: str) -> tuple[str, str, str] | None:
    """What a User-Agent header tells of the device, as shown: the browser's name, its
    major version and the system ("Firefox", "128", "Ubuntu"), each "" where the header
    does not tell; None for no header."""
    if not user_agent:
        return None
    from ua_parser import parse

    result = parse(user_agent)
    browser = _shown(result.user_agent.family, PART_MAX) if result.user_agent else ""
    version = ""
    if result.user_agent and result.user_agent.major:
        version = _shown(result.user_agent.major, VERSION_MAX)
    system = _shown(result.os.family, PART_MAX) if result.os else ""
    if result.os and result.os.major and system not in ("Linux", "Ubuntu", "Other"):
        system = f"{system} {_shown(result.os.major, VERSION_MAX)}"
    return browser, version, "" if system == "Other" else system


def _named(user_agent: str, translate) -> str:
    parts = device_parts(user_agent)
    if parts is None:
        return translate(UNKNOWN_DEVICE)
    browser, version, system = parts
    browser = " ".join(filter(None, [browser or translate(UNKNOWN_BROWSER), version]))
    if not system:
        name = browser if browser != "Other" else translate(UNKNOWN_DEVICE)
    else:
        name = translate(BROWSER_ON_SYSTEM) % {"browser": browser, "system": system}
    return (" ".join(_NUMBER.sub(" ", name).split())[:NAME_MAX].strip(" -")
            or translate(UNKNOWN_DEVICE))


@lru_cache(maxsize=1024)
def device_name(user_agent: str) -> str:
    """A readable name such as "Firefox 128 on Ubuntu" from a User-Agent header, in
    English, as it is stored (a session's, a trusted browser's, an audit event's): ASCII
    letters, digits, spaces and hyphens only, and at most ``NAME_MAX`` characters."""
    return _named(user_agent, str)


def device_label(user_agent: str) -> str:
    """The device name of ``user_agent`` in the active language, as pages, the API and
    mails show it: the browser's and the system's names are the header's own, the words
    around them ("on", "Unknown device") translated."""
    return _named(user_agent, gettext)


def row_device_label(user_agent: str, device: str) -> str:
    """The device of a row that keeps the header and the name stored from it (a session, a
    trusted browser), as :func:`device_label` shows it; the stored name where the row has
    a name but no header (a trusted browser from before headers were kept, a row a
    project's own code wrote)."""
    if user_agent or device in ("", UNKNOWN_DEVICE):
        return device_label(user_agent)
    return device
