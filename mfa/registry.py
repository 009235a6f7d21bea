"""Second factors other apps contribute (passkeys register one).

A *factor provider* is a callable ``(user) -> QuerySet`` of a user's rows of that factor
that make the account one with a second factor, where ``user`` is a user or
``OuterRef("pk")``: confirmed rows, and rows disabled for safety (a passkey flagged as a
clone), since disabling a factor must never let the password alone sign in. A user with
any such row "has MFA", and the MFA stage applies at sign-in. Querysets rather than
answers, so that every factor is asked about in the one query of the login stages (see
:meth:`accounts.pipeline.Stage.facts`). A factor's *remover*, ``(user, *, request, by)``,
takes every row of it from a user, as staff resetting two-step verification do (the reset
counts the rows first, by the provider, and reads nothing the remover returns);
``describe(count) -> str`` names that many rows in the reset's message to the user ("2
passkeys"). ``usable(user) -> QuerySet`` gives the rows that can be proven now, when not all
can (a passkey flagged as cloned cannot); by default, every row. Before the user's row is
locked, the reset locks the provider's rows (:func:`rows_lock`): a factor's flows take its
row first, then the user's.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import Exists, OuterRef

FACT_PREFIX = "mfa_factor_"

_providers: dict[str, Callable] = {}
_removers: dict[str, Callable] = {}
_describers: dict[str, Callable] = {}
_usable: dict[str, Callable] = {}
_facts: dict[str, Exists] = {}


def register_factor(name: str, provider: Callable, *, remove: Callable | None = None,
                    describe: Callable | None = None, usable: Callable | None = None) -> None:
    _providers[name] = provider
    if remove is not None:
        _removers[name] = remove
    if describe is not None:
        _describers[name] = describe
    if usable is not None:
        _usable[name] = usable
    _facts.clear()


def unregister_factor(name: str) -> None:
    _providers.pop(name, None)
    _removers.pop(name, None)
    _describers.pop(name, None)
    _usable.pop(name, None)
    _facts.clear()


def usable_factors(user) -> list[str]:
    """The registered factors of which ``user`` has a row that can be proven now."""
    return [name for name, rows in _providers.items() if _usable.get(name, rows)(user).exists()]


def rows_lock(user) -> None:
    """Lock ``user``'s rows of every registered factor until the current transaction ends
    (``SELECT ... FOR UPDATE`` of those rows alone; nothing on a database without row locks,
    such as SQLite), factor by factor in the order they were registered, each by primary
    key. A factor's row comes before the user's row (:func:`accounts.users.lock_user_row`),
    the order in which a sign-in with that factor and its removal take them."""
    for rows in _providers.values():
        list(rows(user).select_for_update(of=("self",)).order_by("pk")
             .values_list("pk", flat=True))


def count(name: str, user) -> int:
    """How many rows of factor ``name`` make ``user``'s account one with a second factor."""
    return _providers[name](user).count()


def names() -> list[str]:
    """The registered factors' names, in the order they were registered."""
    return list(_providers)


def removers() -> dict[str, Callable]:
    """Each factor's remover, by the factor's name."""
    return dict(_removers)


def describe(name: str, count: int) -> str:
    """``count`` rows of factor ``name``, as the user is told of them."""
    describer = _describers.get(name)
    return describer(count) if describer is not None else f"{count} × {name}"


def factor_facts() -> dict[str, Exists]:
    """Login-stage facts: whether the user has each registered factor."""
    if not _facts:
        _facts.update({f"{FACT_PREFIX}{name}": Exists(rows(OuterRef("pk")))
                       for name, rows in _providers.items()})
    return dict(_facts)


def has_factor(facts: dict) -> bool:
    return any(value for name, value in facts.items() if name.startswith(FACT_PREFIX))
