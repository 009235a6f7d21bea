"""Readable device names from User-Agent headers (ua-parser)."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1024)
def device_name(user_agent: str) -> str:
    """A readable name such as "Firefox 128 on Ubuntu" from a User-Agent header."""
    if not user_agent:
        return "Unknown device"
    from ua_parser import parse

    result = parse(user_agent)
    browser = result.user_agent.family if result.user_agent else "Unknown browser"
    if result.user_agent and result.user_agent.major:
        browser = f"{browser} {result.user_agent.major}"
    system = result.os.family if result.os else ""
    if result.os and result.os.major and system not in ("Linux", "Ubuntu", "Other"):
        system = f"{system} {result.os.major}"
    if not system or system == "Other":
        return browser if browser != "Other" else "Unknown device"
    return f"{browser} on {system}"
