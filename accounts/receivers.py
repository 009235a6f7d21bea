"""Model-signal receivers, connected in ``AccountsConfig.ready``."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import router
from django.db.models.signals import post_save, pre_delete, pre_save
from django.utils import timezone

from accounts import lockout, sessions, tokens
from accounts.errors import SignInRefused
from accounts.users import active_only, lock_user_row, stores_is_active
from authsuite import db
from authsuite.signals import connect_model, deleted_meanwhile, deleted_meanwhile_mark


def remember_active(sender, instance, **kwargs):
    update_fields = kwargs.get("update_fields")
    if (instance.pk is None or (update_fields is not None and "is_active" not in update_fields)
            or not stores_is_active(sender)):
        # A new user, or a save that cannot change is_active (last_login at every sign-in):
        # no query needed to know that no session must end.
        instance._authsuite_was_active = None
        return
    previous = sender._default_manager.filter(pk=instance.pk).values_list(
        "is_active", flat=True
    ).first()
    instance._authsuite_was_active = previous


def recovered_at_sign_in(sender, user, method, **kwargs):
    """A sign-in by anything but the password (an emailed link, a passkey) ends the failed
    password checks in a row; a password sign-in has done so already."""
    if method != "password":
        lockout.recovered(user)


def end_sessions_when_disabled(sender, instance, created, **kwargs):
    """However a user is disabled (admin form, shell, flow), their sessions end and the
    links mailed to them die: enabling the account again revives neither."""
    if not created and getattr(instance, "_authsuite_was_active", None) and not instance.is_active:
        sessions.sessions_end(instance, reason="deactivated")
        tokens.tokens_void(user=instance)


def connect_user_model() -> None:
    """Connect the receivers of the user model's signals, for the model and its proxies
    (``authsuite.signals.connect_model``)."""
    user_model = get_user_model()
    connect_model(pre_save, remember_active, user_model, dispatch_uid="accounts.remember_active")
    connect_model(post_save, end_sessions_when_disabled, user_model,
                  dispatch_uid="accounts.end_sessions_when_disabled")
    connect_model(pre_delete, lock_before_delete, user_model,
                  dispatch_uid="accounts.lock_before_delete")
    connect_model(pre_delete, forget_before_delete, user_model,
                  dispatch_uid="accounts.forget_before_delete")


def lock_before_delete(sender, instance, using, **kwargs):
    """pre_delete of the user model: the account's row is locked before any row is deleted.

    Django's delete removes the rows that refer to the account (its sessions among them)
    before the account's own row. A sign-in of the account holds that row from its
    last_login update (an adoption from its lock) until it commits, and past
    ``MAX_SESSIONS`` locks the sessions it ends: the delete and the sign-in could each hold
    what the other waits for, and PostgreSQL broke the deadlock with an error, a 500 on one
    of them. Locked first, as a sign-in takes it, the two take turns: a sign-in that waited
    finds the account gone and is refused, an adoption signs the browser out.

    One statement per account deleted, in the delete's transaction (Django sends pre_delete
    inside it, before its first DELETE). A queryset's delete (the admin's "delete selected")
    sends it for each account in key order: two such deletes lock their rows in one order.

    A delete that waited for another's to commit finds the row gone and deletes nothing;
    the instance is marked so (``authsuite.signals.deleted_meanwhile``), and the trail
    records one deletion, not one per staff member who asked for it."""
    if not lock_user_row(instance, using=using):
        deleted_meanwhile_mark(instance)


def forget_before_delete(sender, instance, **kwargs):
    """pre_delete of the user model (after ``lock_before_delete``), however the account is
    deleted (closed by its owner, deleted by staff or by the project's code): what it
    leaves in rows that name it without a foreign key goes in the delete's transaction
    (``accounts.flows.account.account_forget``). Read before the delete removes its
    addresses; nothing to do for a delete that found the account deleted already."""
    if not deleted_meanwhile(instance):
        from accounts.flows.account import account_forget

        account_forget(instance)


def last_login_update(sender, user, **kwargs):
    """``last_login`` at each sign-in, as Django's ``update_last_login`` sets it, in one
    statement and without the user's save signals (nothing else on the user changes).

    The write is also the sign-in's last look at the account: only a row still enabled is
    written (on a model with an ``is_active`` column), and a deactivation holds that row's
    lock until it commits. A sign-in whose credentials were checked just before a
    deactivation committed writes nothing, and is refused (``SignInRefused``, its writes
    rolled back) instead of keeping a session the deactivation did not see and end."""
    model = user._meta.model
    user.last_login = timezone.now()
    written = db.update(model, using=router.db_for_write(model, instance=user),
                        where={"pk": user.pk, **active_only()},
                        values={"last_login": user.last_login})
    if not written:
        raise SignInRefused
