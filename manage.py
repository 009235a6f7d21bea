#!/usr/bin/env python
"""Run the authsuite demo project (authsuite/settings.py)."""

import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "authsuite.settings")
    from django.core.management import execute_from_command_line

    import authsuite.celery  # noqa: F401 - the project's Celery app, for .delay() from commands

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
