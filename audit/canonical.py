"""Canonical bytes of an event, the MAC over them, and the chain hash.

Every stored string is cleaned first (control characters escaped as ``\\uXXXX``), so a
value can neither forge a line in an export or a log nor collide with the field separator.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from django.conf import settings

from audit.app_settings import app_settings

GENESIS = "0" * 64
SEP = "\x1f"
FIELDS = (
    "uid", "occurred_at", "actor_id", "actor_repr", "action", "outcome", "target_type",
    "target_id", "target_repr", "ip", "user_agent", "request_id", "session_ref", "data",
)
_CONTROL = {i: f"\\u{i:04x}" for i in [*range(32), 127]}


def clean(value, limit: int) -> str:
    """Text safe to store: control characters escaped, bounded length."""
    text = "" if value is None else str(value)
    return text.translate(_CONTROL)[:limit]


def dumps(data: dict) -> str:
    """Canonical JSON: sorted keys, no spaces, ASCII only (control chars escaped)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      default=str)


def key() -> bytes:
    configured = app_settings.SIGNING_KEY
    if configured:
        return configured.encode()
    return hashlib.sha256(b"authsuite.audit:" + settings.SECRET_KEY.encode()).digest()


def message(values) -> bytes:
    """``values`` in FIELDS order (occurred_at as a datetime)."""
    parts = list(values)
    parts[1] = parts[1].isoformat()
    return SEP.join(str(v) for v in parts).encode()


def event_mac(values, secret: bytes | None = None) -> str:
    return hmac.new(secret or key(), message(values), hashlib.sha256).hexdigest()


def link_hash(prev_hash: str, seq: int, mac: str) -> str:
    return hashlib.sha256(f"{prev_hash}:{seq}:{mac}".encode()).hexdigest()


def sign_checkpoint(seq: int, head_hash: str, created_at_iso: str,
                    secret: bytes | None = None) -> str:
    return hmac.new(secret or key(), f"checkpoint:{seq}:{head_hash}:{created_at_iso}".encode(),
                    hashlib.sha256).hexdigest()
