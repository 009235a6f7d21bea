"""Text fit for a log line: on one line, and without the secrets it may quote.

An operator's log is read by people and machines other than those who may see a mail's link
or an account's address: an error text that quotes a rejected message (an SMTP server's
"URL blocked" reply names the link) or a value a client sent (a CR/LF would start a forged
line of its own) passes through here before it is logged or shown to staff.
"""

from __future__ import annotations

from collections.abc import Iterable

from authsuite.text import BIDI_CONTROLS

REDACTED = "…"

# C0 and C1 controls, DEL, the Unicode line and paragraph separators and the bidi controls,
# escaped as \uXXXX: each could break a line, or make it read otherwise than it is.
_CONTROL = {i: f"\\u{i:04x}" for i in [*range(32), *range(127, 160), 0x2028, 0x2029,
                                        *map(ord, BIDI_CONTROLS)]}


def one_line(value, limit: int = 500) -> str:
    """``value`` as text on one line: control characters escaped, at most ``limit`` long."""
    text = "" if value is None else str(value)
    return text.translate(_CONTROL)[:limit]


def scrubbed(text: str, secrets: Iterable) -> str:
    """``text`` with every non-empty string of ``secrets`` blanked (the longest first, so a
    token inside its link goes with the link)."""
    for secret in sorted((s for s in secrets if isinstance(s, str) and s), key=len,
                         reverse=True):
        text = text.replace(secret, REDACTED)
    return text
