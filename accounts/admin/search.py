"""The user admins' search: whole addresses and names, each found on an index.

Django's admin searches each field with ``icontains`` (``UPPER(email) LIKE '%ann%'``), which
no index serves: on a site with hundreds of thousands of accounts every search read the
whole user table and joined every address to it, then counted the result with DISTINCT.
Here the search box takes one address, name or username, whole: an address in any case or
Unicode spelling is put in its normal form (``normalize_email``), as sign-up puts it, and
found among the login addresses and the accounts' other addresses (looked up first, so each
account is listed once without DISTINCT).
"""

from __future__ import annotations

from django.db.models import Q

from accounts.models import EmailAddress, normalize_email
from accounts.users import email_field
from authsuite.admin_lists import WholeTermSearchMixin

#: At most this many accounts are found holding one address (unverified, anyone may type it).
HOLDERS = 1000


def address_search(model, term: str) -> Q:
    """Accounts whose login address, or one of whose addresses, is ``term``."""
    address = normalize_email(term)
    if getattr(model, "EMAIL_IS_NORMALIZED", False):
        login = Q(**{email_field(): address})
    else:
        # Stored as typed (django.contrib.auth's User): found as sign-in finds it,
        # case-insensitively, on accounts.0009's index on UPPER(email) on PostgreSQL.
        login = Q(**{f"{email_field()}__iexact": address})
    # The accounts holding it as another address are read first, by their own index: in
    # an OR with the login address, a subquery would keep PostgreSQL from using an index
    # for either, and the list would be read whole in its own order to find them.
    holders = EmailAddress.objects.filter(email=address).values_list("user_id", flat=True)
    return login | Q(pk__in=list(holders[:HOLDERS]))


class UserSearchMixin(WholeTermSearchMixin):
    """An address (``address_search``) or, by ``search_lookups``, a name or username."""

    #: Lookups of the term in fields other than the addresses, each served by an index.
    search_lookups: tuple[str, ...] = ()

    def search_filter(self, term: str) -> Q:
        found = address_search(self.model, term)
        for lookup in self.search_lookups:
            found |= Q(**{lookup: term})
        return found
