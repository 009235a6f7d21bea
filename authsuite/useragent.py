"""Readable device names from User-Agent headers (ua-parser)."""

from __future__ import annotations

from functools import lru_cache

# The header is the client's to choose: a version of 400 digits is parsed as one. Each part
# is kept short, and the whole fits any column it is stored in (200 characters).
PART_MAX = 40
VERSION_MAX = 10
NAME_MAX = 100


@lru_cache(maxsize=1024)
def device_name(user_agent: str) -> str:
    """A readable name such as "Firefox 128 on Ubuntu" from a User-Agent header."""
    if not user_agent:
        return "Unknown device"
    from ua_parser import parse

    result = parse(user_agent)
    browser = result.user_agent.family[:PART_MAX] if result.user_agent else "Unknown browser"
    if result.user_agent and result.user_agent.major:
        browser = f"{browser} {result.user_agent.major[:VERSION_MAX]}"
    system = result.os.family[:PART_MAX] if result.os else ""
    if result.os and result.os.major and system not in ("Linux", "Ubuntu", "Other"):
        system = f"{system} {result.os.major[:VERSION_MAX]}"
    if not system or system == "Other":
        return browser if browser != "Other" else "Unknown device"
    return f"{browser} on {system}"[:NAME_MAX]
