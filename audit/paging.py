"""Keyset paging (``?before=<id>``), shared by the admin list, the page and the API."""

from __future__ import annotations

import re

_KEY = re.compile(r"^[0-9]{1,18}$")


def keyset(value: str | None) -> int | None:
    """A ``before=`` value as an id, or None: ASCII digits only (``"²".isdigit()`` is true)
    and within a 64-bit key, so no input reaches the database as an error."""
    return int(value) if value and _KEY.match(value) else None
