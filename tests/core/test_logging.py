"""What the suite tells an operator through logging: under ``authsuite.*`` names, each
failure to act on once at WARNING or above, with ids and never a secret, on one line."""

from __future__ import annotations

import importlib
import json
import logging
import pkgutil

SUITE_APPS = ("authsuite", "accounts", "mfa", "passkeys", "audit")


def records(caplog, level=logging.WARNING) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= level]


def rendered(record: logging.LogRecord) -> str:
    """The record as a JSON formatter would write it: every attribute, as text."""
    return json.dumps({k: str(v) for k, v in vars(record).items()}) + record.getMessage()


# --- names ----------------------------------------------------------------------------------


def _suite_modules():
    for app in SUITE_APPS:
        package = importlib.import_module(app)
        yield package
        for info in pkgutil.walk_packages(package.__path__, f"{app}."):
            if ".migrations." in info.name or info.name.startswith(("authsuite.settings",
                                                                    "authsuite.wsgi",
                                                                    "authsuite.asgi")):
                continue
            yield importlib.import_module(info.name)


def test_every_logger_of_the_suite_is_named_under_authsuite():
    """One prefix routes them all, and the app comes next (``authsuite.mfa``)."""
    loggers = {}
    for module in _suite_modules():
        for value in vars(module).values():
            if isinstance(value, logging.Logger):
                loggers[module.__name__] = value.name
    assert loggers
    wrong = {module: name for module, name in loggers.items()
             if name != "authsuite" and not name.startswith("authsuite.")}
    assert wrong == {}
