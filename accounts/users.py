"""Finding users by email, for any user model with an email field."""

from __future__ import annotations

import re
import secrets

from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.db import router
from django.db.models import Q

from accounts.errors import AccountGone
from accounts.models import normalize_email
from authsuite import db


def email_field() -> str:
    return get_user_model().get_email_field_name()


def stores_is_active(model=None) -> bool:
    """Whether the user model keeps ``is_active`` in a column. ``AbstractBaseUser`` alone
    only has the constant ``is_active = True``: then every account is active, and none can
    be disabled (deactivation and ``CLOSE_ACTION="deactivate"`` need the column; system
    check ``authsuite_accounts.E011``)."""
    model = model or get_user_model()
    try:
        return model._meta.get_field("is_active").concrete
    except FieldDoesNotExist:
        return False


def active_only() -> dict:
    """Filter arguments that keep only active users, on any user model."""
    return {"is_active": True} if stores_is_active() else {}


def get_by_email(email: str):
    """The active or inactive user whose login address is ``email``, or None."""
    model = get_user_model()
    field = email_field()
    normalized = normalize_email(email)
    if not normalized:
        return None
    if getattr(model, "EMAIL_IS_NORMALIZED", False):
        # The suite's own user model (no default filter on its manager): an exact match,
        # compiled once, as this runs for every sign-in attempt.
        return db.get(model, using=router.db_for_read(model), where={field: normalized},
                      order_by="pk")
    return model._default_manager.filter(**{f"{field}__iexact": normalized}).first()


def login_address_taken(email: str, *, user=None) -> bool:
    """Whether ``email`` is the login address of an account other than ``user``."""
    model = get_user_model()
    field = email_field()
    normalized = normalize_email(email)
    if not normalized:
        return False
    lookup = field if getattr(model, "EMAIL_IS_NORMALIZED", False) else f"{field}__iexact"
    users = model._default_manager.filter(**{lookup: normalized})
    if user is not None and user.pk is not None:
        users = users.exclude(pk=user.pk)
    return users.exists()


def user_email(user) -> str:
    return getattr(user, email_field(), "") or ""


def within_reach(acting_user, queryset):
    """The users of ``queryset`` that ``acting_user`` (a staff member) may change, lock out,
    reset or deactivate: a superuser anyone; other staff the people who are not staff, and
    themselves. Django lets anyone with the change permission edit any account, and an
    account's address is the way into it (a reset link goes there): staff who could change
    another staff member's address could take over whatever that account may do."""
    if acting_user.is_superuser:
        return queryset
    return queryset.filter(Q(is_superuser=False, is_staff=False) | Q(pk=acting_user.pk))


def in_reach(acting_user, user) -> bool:
    """``within_reach`` for one user."""
    return acting_user.is_superuser or user.pk == acting_user.pk or not (
        getattr(user, "is_superuser", False) or getattr(user, "is_staff", False))


def lock_user_row(user, *, active: bool = False, using: str | None = None) -> bool:
    """Lock ``user``'s row until the current transaction ends (SELECT ... FOR NO KEY UPDATE;
    nothing on a database without row locks, such as SQLite). A flow that checks what the
    user has before adding to it (a second factor, one more passkey, an address) takes it
    first, so that two requests at once take turns and the second sees what the first added.
    Returns whether the row is there still (with ``active``, and the account enabled): a
    request that waited for the lock may find it deleted or disabled by the one before.

    Not FOR UPDATE: that would also hold up every insert of a row that refers to the user
    (a session, a mailed notice, a token), which takes a key-share lock on it. A request
    holding another lock this flow then waits for (an address's claims) would wait for this
    flow in turn: a deadlock, where now one of them simply goes first. It is the lock a
    sign-in's last_login update takes, so the two take turns just the same.

    ``using``: the database of the transaction the lock is for, where it is not the one
    the router picks for writing users (a delete's, which Django routes with the instance).
    """
    where = {"pk": user.pk, **(active_only() if active else {})}
    return (get_user_model()._default_manager.db_manager(using)
            .select_for_update(no_key=True).filter(**where)
            .values_list("pk", flat=True).first()) is not None


def account_row_lock(user) -> None:
    """:func:`lock_user_row` for a request that adds to ``user``'s account (an address, a
    factor): refused (``AccountGone``, 403) if the account was deleted while it waited,
    rather than failing at commit on rows that refer to it."""
    if not lock_user_row(user):
        raise AccountGone


def user_name(user) -> str:
    """The name the user gave, or their full name on a model without a ``name`` field."""
    if hasattr(user, "name"):
        return user.name or ""
    full_name = getattr(user, "get_full_name", None)
    return (full_name() if callable(full_name) else "") or ""


def set_user_email(user, email: str) -> None:
    setattr(user, email_field(), email)


def new_user(email: str, *, name: str = "", **fields):
    """An unsaved user of the project's model whose login address is ``email``.

    A model whose ``USERNAME_FIELD`` is not its email field (``django.contrib.auth``'s User,
    say) still gets a username: the address itself where the field can hold it and no one
    has it yet, otherwise one derived from it. Users never type it: they sign in by email.
    """
    model = get_user_model()
    user = model(**{email_field(): normalize_email(email)}, **fields)
    if name and hasattr(user, "name"):
        user.name = name
    elif name and hasattr(user, "first_name") and not user.first_name:
        # django.contrib.auth's User: the whole name as typed, never split into parts.
        user.first_name = name[: model._meta.get_field("first_name").max_length]
    if email_field() != model.USERNAME_FIELD:
        setattr(user, model.USERNAME_FIELD, _free_username(model, normalize_email(email)))
    return user


_NOT_IN_USERNAMES = re.compile(r"[^\w.@+-]")


def _free_username(model, email: str) -> str:
    """A username for ``email`` that passes Django's username validators and is not taken."""
    field = model._meta.get_field(model.USERNAME_FIELD)
    limit = field.max_length or 150
    base = _NOT_IN_USERNAMES.sub("_", email)[:limit] or "user"

    def suffixed() -> str:
        suffix = "-" + secrets.token_hex(4)
        return base[: limit - len(suffix)] + suffix

    # The address itself where it fits as it is: two sign-ups racing for it are racing for
    # one address, which the address rows settle. A name changed to fit ("o'brien" ->
    # "o_brien") could be another address's too, so it always gets a random tail.
    candidate = base if base == email else suffixed()
    manager = model._default_manager
    while manager.filter(**{f"{model.USERNAME_FIELD}__iexact": candidate}).exists():
        candidate = suffixed()
    return candidate
