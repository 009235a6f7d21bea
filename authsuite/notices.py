"""Which app sends a security notice.

An app that mails a notice of its own (accounts: "your password was changed") asks
:func:`is_claimed` first. The audit app claims the notices its alert rules send, so the
user gets one email, sent by the rule, and the alert leaves an audit event.
"""

from __future__ import annotations

from collections.abc import Callable

_claimers: list[Callable[[str], bool]] = []


def register_claimer(claimer: Callable[[str], bool]) -> None:
    if claimer not in _claimers:
        _claimers.append(claimer)


def is_claimed(notice: str) -> bool:
    return any(claimer(notice) for claimer in _claimers)
