"""Which signals become which audit events, declared once per app.

Each suite app's events are declared in ``audit/events/<app>.py`` with :func:`declare`;
``AuditConfig.ready`` connects the declarations of installed apps only. A declaration
copies a whitelist of signal kwargs into the event's data, so a secret added to a signal
later can never reach the log by accident.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.apps import apps
from django.dispatch import Signal

from audit import recorder


@dataclass
class Declaration:
    app_label: str
    signal: Signal
    action: str
    outcome: str = "success"
    data: tuple[str, ...] = ()
    actor: str = "user"
    target: Callable[[dict], tuple[str, str, str]] | None = None
    extra: Callable[[dict], dict] | None = None
    connected: bool = field(default=False, repr=False)

    def receiver(self, sender, **kwargs):
        recorder.from_signal(self, kwargs)


_declarations: list[Declaration] = []


def declare(app_label: str, signal: Signal, action: str, **options) -> Declaration:
    declaration = Declaration(app_label=app_label, signal=signal, action=action, **options)
    _declarations.append(declaration)
    return declaration


def declarations() -> list[Declaration]:
    return list(_declarations)


def connect_installed() -> None:
    for declaration in _declarations:
        if declaration.connected or not apps.is_installed(declaration.app_label):
            continue
        declaration.signal.connect(
            declaration.receiver, weak=False, dispatch_uid=f"audit:{declaration.action}"
        )
        declaration.connected = True
