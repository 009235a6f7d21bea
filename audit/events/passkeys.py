"""Audit events of the passkeys app."""

from audit import recorder
from audit.registry import declare
from passkeys import signals as s


def _owner(kwargs):
    return recorder.user_target(kwargs.get("user"))


P = "passkeys"
declare(P, s.passkey_added, "passkeys.added", data=("passkey_id", "name", "aaguid"))
declare(P, s.passkey_renamed, "passkeys.renamed", data=("passkey_id", "name"))
declare(P, s.passkey_removed, "passkeys.removed", data=("passkey_id", "name", "reset", "batch"),
        target=_owner, actor="by")
declare(P, s.passkey_used, "passkeys.used", data=("passkey_id", "ceremony"))
declare(P, s.passkey_failed, "passkeys.failed", outcome="failure", data=("ceremony", "reason"))
declare(P, s.passkey_clone_detected, "passkeys.clone_detected", outcome="denied",
        data=("passkey_id", "stored_count", "received_count"))
