"""Readable device names from User-Agent headers (ua-parser)."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

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


@lru_cache(maxsize=1024)
def device_name(user_agent: str) -> str:
    """A readable name such as "Firefox 128 on Ubuntu" from a User-Agent header: ASCII
    letters, digits, spaces and hyphens only, and at most ``NAME_MAX`` characters."""
    if not user_agent:
        return "Unknown device"
    from ua_parser import parse

    result = parse(user_agent)
    browser = _shown(result.user_agent.family, PART_MAX) if result.user_agent else ""
    browser = browser or "Unknown browser"
    if result.user_agent and result.user_agent.major:
        browser = f"{browser} {_shown(result.user_agent.major, VERSION_MAX)}"
    system = _shown(result.os.family, PART_MAX) if result.os else ""
    if result.os and result.os.major and system not in ("Linux", "Ubuntu", "Other"):
        system = f"{system} {_shown(result.os.major, VERSION_MAX)}"
    if not system or system == "Other":
        name = browser if browser != "Other" else "Unknown device"
    else:
        name = f"{browser} on {system}"
    return " ".join(_NUMBER.sub(" ", name).split())[:NAME_MAX].strip(" -") or "Unknown device"
