"""Django's own auth signals and staff changes to users, groups and permissions.

Changes made in the admin are recorded with who made them and the before/after values of
the changed fields; password hashes are masked. Sign-ins, sign-outs and failed sign-ins
through Django's own ``login``/``logout``/``authenticate`` (a third-party login view) are
recorded unless a suite flow already records them.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete, pre_save

from audit import recorder
from authsuite import context
from authsuite.signals import connect_model, deleted_meanwhile, deleted_meanwhile_mark

MASKED = {"password"}
SKIPPED = {"last_login"}


def _admin_request():
    """The request being served, if a Django admin site serves it: any site, whatever its
    name (its URLs' namespace), as every site's URLs are of the application "admin"."""
    request = context.current_request()
    match = getattr(request, "resolver_match", None) if request is not None else None
    if match is None or "admin" not in (match.app_names or []):
        return None
    return request


def _snapshot(instance) -> dict:
    values = {}
    for f in instance._meta.concrete_fields:
        if f.name in SKIPPED:
            continue
        values[f.name] = "********" if f.name in MASKED else _text(f.value_from_object(instance))
    return values


def _text(value):
    if value is None or isinstance(value, bool | int):
        return value
    return str(value)[:200]


def _concrete(model):
    """The model itself for a proxy of it: a change made through a proxy (a project's
    admin of "staff accounts") is recorded under the model's own names."""
    return model._meta.concrete_model


def _target(instance):
    label = _concrete(instance)._meta.label_lower
    if isinstance(instance, get_user_model()):
        # An account is named by its address as stored, as everywhere in the trail
        # (``recorder.user_target``), not by its ``__str__``.
        return (label, *recorder.user_fields(instance))
    return (label, str(instance.pk), str(instance)[:254])


def _name(instance) -> str:
    """How an event names a related object: an account by its address as stored (as
    ``_target``), anything else by its ``__str__``."""
    if isinstance(instance, get_user_model()):
        return recorder.user_fields(instance)[1]
    return str(instance)


def remember_before(sender, instance, **kwargs):
    if _admin_request() is None or instance.pk is None:
        return
    previous = sender._default_manager.filter(pk=instance.pk).first()
    instance._audit_before = _snapshot(previous) if previous is not None else None


def record_save(sender, instance, created, **kwargs):
    request = _admin_request()
    if request is None:
        return
    after = _snapshot(instance)
    before = getattr(instance, "_audit_before", None) or {}
    changes = {
        name: {"before": before.get(name), "after": value}
        for name, value in after.items()
        if created or before.get(name) != value
    }
    if not changes:
        return
    if "password" in changes:
        changes["password"] = {"before": "********", "after": "******** (changed)"}
    verb = "created" if created else "changed"
    recorder.write(action=f"admin.{_concrete(sender)._meta.model_name}.{verb}", request=request,
                   user=request.user, target=_target(instance), data={"changes": changes})


def lock_before_delete(sender, instance, using, **kwargs):
    """pre_delete of a group or permission deleted in the admin: its row is locked first (in
    the delete's transaction), so a delete that waited for another staff member's finds it
    gone, is marked (``authsuite.signals.deleted_meanwhile``) and is not recorded: one
    deletion, one event. Accounts are locked so by ``accounts.receivers``, for every delete."""
    if _admin_request() is None:
        return
    model = _concrete(sender)
    if (model._base_manager.db_manager(using).select_for_update().filter(pk=instance.pk)
            .values_list("pk", flat=True).first()) is None:
        deleted_meanwhile_mark(instance)


def record_delete(sender, instance, **kwargs):
    request = _admin_request()
    if request is None or deleted_meanwhile(instance):
        return
    recorder.write(action=f"admin.{_concrete(sender)._meta.model_name}.deleted",
                   request=request,
                   user=request.user, target=_target(instance))


def record_m2m(sender, instance, action, model, pk_set, **kwargs):
    request = _admin_request()
    if request is None or action not in ("post_add", "post_remove", "post_clear"):
        return
    names = sorted(_name(o) for o in model._default_manager.filter(pk__in=pk_set or []))[:50]
    model_name = _concrete(instance)._meta.model_name
    relation = sender._meta.model_name.replace(f"{model_name}_", "")
    recorder.write(
        action=f"admin.{model_name}.{relation}_changed", request=request,
        user=request.user, target=_target(instance),
        data={"change": action.replace("post_", ""), "related": names},
    )


# Namespaces of the suite's own views: their flows record sign-ins and sign-outs with more
# context (method, amr), so Django's signals sent from there are not recorded twice.
SUITE_NAMESPACES = {"accounts", "mfa", "passkeys", "oidc", "rbac", "audit", "authsuite_api"}


def _outside_suite(request) -> bool:
    match = getattr(request, "resolver_match", None) if request is not None else None
    return match is None or not (set(match.namespaces or []) & SUITE_NAMESPACES)


def record_logged_in(sender, request, user, **kwargs):
    """A sign-in by code outside the suite (a third-party login view, ``client.login``)."""
    if _outside_suite(request):
        recorder.write(action="auth.login.succeeded", request=request, user=user,
                       data={"via": "django.contrib.auth"})


def record_logged_out(sender, request, user, **kwargs):
    if user is not None and _outside_suite(request):
        recorder.write(action="auth.logout", request=request, user=user,
                       data={"via": "django.contrib.auth"})


def record_login_failed(sender, credentials, request=None, **kwargs):
    if request is not None and getattr(request, "_authsuite_flow", False):
        return  # the suite's own flow records this attempt with more context
    recorder.write(action="auth.login.failed", outcome="failure", request=request,
                   data={"backend_path": str(getattr(sender, "__name__", sender))[:100]})


def connect() -> None:
    """Connect the receivers, for the user model, groups and permissions and for each of
    their proxies (``authsuite.signals.connect_model``): a change made through a proxy's
    admin is recorded as one made to the model itself."""
    from audit.alerts import forget_user

    user_model = get_user_model()
    for model in (user_model, Group, Permission):
        uid = f"audit:{model._meta.label_lower}"
        connect_model(pre_save, remember_before, model, dispatch_uid=f"{uid}:pre")
        connect_model(post_save, record_save, model, dispatch_uid=f"{uid}:post")
        connect_model(post_delete, record_delete, model, dispatch_uid=f"{uid}:delete")
        if model is not user_model:
            connect_model(pre_delete, lock_before_delete, model, dispatch_uid=f"{uid}:lock")
    connect_model(post_delete, forget_user, user_model, dispatch_uid="audit.forget_user_alerts")
    for relation in ("groups", "user_permissions"):
        field = getattr(user_model, relation, None)
        if field is not None:  # custom user models may have no PermissionsMixin
            m2m_changed.connect(record_m2m, sender=field.through,
                                dispatch_uid=f"audit:user.{relation}")
    m2m_changed.connect(record_m2m, sender=Group.permissions.through,
                        dispatch_uid="audit:group.permissions")
    user_login_failed.connect(record_login_failed, dispatch_uid="audit:user_login_failed")
    user_logged_in.connect(record_logged_in, dispatch_uid="audit:user_logged_in")
    user_logged_out.connect(record_logged_out, dispatch_uid="audit:user_logged_out")
