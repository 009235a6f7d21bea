"""Passkey flows: register, sign in (passwordless or as a second factor), manage.

Split by what the user does: ``registration``, ``authentication`` and ``management``, with
what they share in ``common``. Every flow is importable from here as before.
"""

from passkeys.flows.authentication import (
    login_options,
    login_verify,
    reauth_button,
    reauth_options,
    reauth_verify,
    second_factor_button,
    second_factor_options,
    second_factor_verify,
    usable_passkeys,
)
from passkeys.flows.common import (
    CEREMONY_LOGIN,
    CEREMONY_REAUTH,
    CEREMONY_REGISTER,
    CEREMONY_SECOND_FACTOR,
    amr_for,
    passkey_name,
    provider_name,
    user_handle,
)
from passkeys.flows.management import (
    can_sign_in_without,
    describe,
    export_section,
    passkey_remove,
    passkey_rename,
    passkeys_remove,
    passkeys_remove_all,
    removed_summary,
)
from passkeys.flows.registration import passkey_store, register_options, register_verify

__all__ = [
    "CEREMONY_LOGIN",
    "CEREMONY_REAUTH",
    "CEREMONY_REGISTER",
    "CEREMONY_SECOND_FACTOR",
    "amr_for",
    "can_sign_in_without",
    "describe",
    "export_section",
    "login_options",
    "login_verify",
    "passkey_name",
    "passkey_remove",
    "passkey_rename",
    "passkey_store",
    "passkeys_remove",
    "passkeys_remove_all",
    "provider_name",
    "reauth_button",
    "reauth_options",
    "reauth_verify",
    "register_options",
    "register_verify",
    "removed_summary",
    "second_factor_button",
    "second_factor_options",
    "second_factor_verify",
    "usable_passkeys",
    "user_handle",
]
