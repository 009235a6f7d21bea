"""Second factors other apps contribute (passkeys register one).

A *factor provider* is a callable ``(user) -> QuerySet`` of a user's rows of that factor
that can be used (confirmed, not disabled), where ``user`` is a user or
``OuterRef("pk")``. A user with any such row "has MFA", and the MFA stage applies at
sign-in. Querysets rather than answers, so that every factor is asked about in the one
query of the login stages (see :meth:`accounts.pipeline.Stage.facts`).
"""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import Exists, OuterRef

FACT_PREFIX = "mfa_factor_"

_providers: dict[str, Callable] = {}
_facts: dict[str, Exists] = {}


def register_factor(name: str, provider: Callable) -> None:
    _providers[name] = provider
    _facts.clear()


def unregister_factor(name: str) -> None:
    _providers.pop(name, None)
    _facts.clear()


def factor_facts() -> dict[str, Exists]:
    """Login-stage facts: whether the user has each registered factor."""
    if not _facts:
        _facts.update({f"{FACT_PREFIX}{name}": Exists(rows(OuterRef("pk")))
                       for name, rows in _providers.items()})
    return dict(_facts)


def has_factor(facts: dict) -> bool:
    return any(value for name, value in facts.items() if name.startswith(FACT_PREFIX))
