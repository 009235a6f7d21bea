"""Model-signal receivers, connected in ``AccountsConfig.ready``."""

from __future__ import annotations

from accounts import sessions


def remember_active(sender, instance, **kwargs):
    if instance.pk is None:
        instance._authsuite_was_active = None
        return
    previous = sender._default_manager.filter(pk=instance.pk).values_list(
        "is_active", flat=True
    ).first()
    instance._authsuite_was_active = previous


def end_sessions_when_disabled(sender, instance, created, **kwargs):
    """However a user is disabled (admin form, shell, flow), their sessions end."""
    if not created and getattr(instance, "_authsuite_was_active", None) and not instance.is_active:
        sessions.sessions_end(instance, reason="deactivated")
