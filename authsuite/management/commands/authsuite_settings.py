"""Print every AUTHSUITE_* setting with its default and description (Markdown table).

A default that is a Django setting's value (``DEFAULT_FROM_EMAIL``...) is printed as that
setting's name, not as the value it has in the project running the command.
"""

from __future__ import annotations

import inspect

from django.apps import apps
from django.core.management.base import BaseCommand
from django.utils.module_loading import import_string

from authsuite.conf import AppSettings

SETTINGS_OBJECTS = {
    "authsuite": "authsuite.app_settings.app_settings",
    "accounts": "accounts.app_settings.app_settings",
    "mfa": "mfa.app_settings.app_settings",
    "passkeys": "passkeys.app_settings.app_settings",
    "audit": "audit.app_settings.app_settings",
}


class DjangoDefault:
    """Stands for a Django setting a default falls back to; shown by name."""

    def __init__(self, name: str):
        self.name = name

    def __str__(self) -> str:
        return f"Django's `{self.name}`"


class Derived:
    """Stands for a default worked out from other settings; its meaning says how."""

    def __str__(self) -> str:
        return "see meaning"


def shown_default(default) -> str:
    """The default as the settings reference prints it."""
    if isinstance(default, DjangoDefault | Derived):
        return str(default)
    return "`" + repr(default).replace("|", "\\|") + "`"


def settings_objects() -> list[tuple[str, AppSettings]]:
    return [(label, import_string(path)) for label, path in SETTINGS_OBJECTS.items()
            if apps.is_installed(label)]


def rows(obj: AppSettings):
    """(name, default, description) for each documented property, defaults unoverridden."""
    for name, prop in vars(type(obj)).items():
        if not isinstance(prop, property) or not name.isupper():
            continue
        doc = " ".join(inspect.getdoc(prop).split()) if prop.__doc__ else ""
        probe = type(obj)()
        probe._setting = lambda _name, default: default  # read the built-in default
        # A fallback to a Django setting is named, not read: this project's value is not
        # the default elsewhere.
        probe._django = lambda name, default=None: DjangoDefault(name)
        try:
            default = prop.fget(probe)
        except Exception:  # noqa: BLE001 - defaults derived from other settings
            default = Derived()
        yield obj.prefix + name, default, doc


class Command(BaseCommand):
    help = __doc__

    def create_parser(self, prog_name, subcommand, **kwargs):
        return super().create_parser(
            prog_name, subcommand, epilog="Exit status: 0; 2 for a usage error. The table is "
            "printed at any verbosity: it is what the command is for.", **kwargs)

    def handle(self, *args, **options):
        for label, obj in settings_objects():
            self.stdout.write(f"\n#### {label}\n")
            self.stdout.write("| Setting | Default | Meaning |\n|---|---|---|")
            for name, default, doc in rows(obj):
                self.stdout.write(f"| `{name}` | {shown_default(default)} | {doc.replace('|', '/')} |")
