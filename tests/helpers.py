"""Helpers to read what the suite mailed."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from django.core import mail

LINK_RE = re.compile(r"https?://[^\s<>\"']+")


def outbox_for(email: str) -> list:
    return [m for m in mail.outbox if email in m.to]


def last_link(email: str) -> str:
    """The path of the last link mailed to ``email``."""
    messages = outbox_for(email)
    assert messages, f"no mail for {email}"
    links = LINK_RE.findall(messages[-1].body)
    assert links, "the last message has no link"
    return urlsplit(links[0]).path


def token_from(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]
