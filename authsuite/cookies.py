"""Cookie name prefixes (``__Host-``, ``__Secure-``) and the attributes they demand."""

from __future__ import annotations

#: Cookie name prefixes browsers enforce: a cookie whose name starts with one and that breaks
#: its rule is dropped, silently (RFC 6265bis 4.1.3).
COOKIE_PREFIXES = ("__Host-", "__Secure-")


def cookie_prefix_problem(name: str, *, secure: bool, domain=None, path: str = "/") -> str:
    """Why browsers would drop a cookie named ``name`` set with these attributes, or ""."""
    if name.startswith("__Host-"):
        if not secure:
            return "is not set Secure"
        if domain:
            return "is set with a Domain"
        if path != "/":
            return "is set with a Path other than /"
    elif name.startswith("__Secure-") and not secure:
        return "is not set Secure"
    return ""


def secure_for(request, name: str) -> bool:
    """Whether the suite's own cookie ``name`` is set Secure: over HTTPS, wherever the
    session cookie is (``SESSION_COOKIE_SECURE``, behind a proxy that ends TLS), and always
    with a prefixed name, which browsers drop otherwise."""
    from django.conf import settings

    return (request.is_secure() or settings.SESSION_COOKIE_SECURE
            or name.startswith(COOKIE_PREFIXES))
