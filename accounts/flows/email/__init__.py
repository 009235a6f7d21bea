"""Email addresses: verification, adding, making primary, removing.

Split by concern: ``claims`` (which account holds an address), ``verification``,
``addresses`` (the user's own changes) and ``staff`` (changes made in the admin). Every
flow is importable from here as before.
"""

from accounts.flows.email.addresses import (
    addresses_unproven_remove,
    email_add,
    email_make_primary,
    email_remove,
    links_to_old_address_void,
)
from accounts.flows.email.claims import (
    HOLDS,
    IN_USE,
    address_held,
    address_holder,
    address_rows_holder,
    claims_lock,
    claims_release,
    held_elsewhere,
    primary_address,
)
from accounts.flows.email.staff import email_add_by_staff, email_set_by_staff, email_verify_by_staff
from accounts.flows.email.verification import (
    INVALID_LINK,
    PASSWORD_NEEDED,
    SIGN_IN_NEEDED,
    address_proven_required,
    email_verify,
    email_verify_check,
    mark_verified,
    mark_verified_if_free,
    needs_verification,
    unproven_address,
    verification_needs_password,
    verification_resend,
    verification_send,
    verification_sign_in_required,
)

__all__ = [
    "HOLDS",
    "INVALID_LINK",
    "IN_USE",
    "PASSWORD_NEEDED",
    "SIGN_IN_NEEDED",
    "address_held",
    "address_holder",
    "address_rows_holder",
    "address_proven_required",
    "addresses_unproven_remove",
    "claims_lock",
    "claims_release",
    "email_add",
    "email_add_by_staff",
    "email_make_primary",
    "email_remove",
    "email_set_by_staff",
    "email_verify",
    "email_verify_by_staff",
    "email_verify_check",
    "held_elsewhere",
    "links_to_old_address_void",
    "mark_verified",
    "mark_verified_if_free",
    "needs_verification",
    "primary_address",
    "unproven_address",
    "verification_needs_password",
    "verification_resend",
    "verification_send",
    "verification_sign_in_required",
]
