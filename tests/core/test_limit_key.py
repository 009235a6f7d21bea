"""``context.limit_key``: what rate limits and lockouts count a client by."""

import pytest
from django.test import override_settings

from authsuite.context import limit_key


@pytest.mark.parametrize(("ip", "key"), [
    ("203.0.113.7", "203.0.113.7"),
    ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
    ("2001:0db8:0001:0002:0000:0000:0000:0009", "2001:db8:1:2::/64"),
    ("::ffff:203.0.113.7", "203.0.113.7"),  # an IPv4 client seen through IPv6
    ("64:ff9b::203.0.113.7", "203.0.113.7"),  # NAT64: each IPv4 client its own key
    ("64:ff9b::198.51.100.9", "198.51.100.9"),
    ("64:ff9b:1::cb00:7107", "203.0.113.7"),  # local-use NAT64 prefix
    ("2002:cb00:7107::1", "203.0.113.7"),  # 6to4
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "192.0.2.45"),  # Teredo: the client's IPv4
    ("::203.0.113.7", "203.0.113.7"),  # IPv4-compatible (deprecated)
    ("::1", "::1"),
    ("::", "::"),
    ("", "unknown"),
    (None, "unknown"),
    ("unknown", "unknown"),  # not an address: as given
])
def test_keys(ip, key):
    assert limit_key(ip) == key


def test_the_key_fits_the_lockout_column():
    from accounts.models import LoginThrottle

    longest = limit_key("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
    assert len(longest) <= LoginThrottle._meta.get_field("ip").max_length


def test_django_ratelimit_keys_by_the_hook_for_every_kind_of_client():
    """django-ratelimit masks what the hook returns itself: the hook gives it an address."""
    from django.test import RequestFactory
    from django_ratelimit.core import is_ratelimited

    for remote in ("2001:db8:1:2::9", "203.0.113.7", "", "::ffff:203.0.113.7"):
        request = RequestFactory().get("/", REMOTE_ADDR=remote)
        assert is_ratelimited(request, group="hook", key="ip", rate="5/m", increment=True) is False


@pytest.mark.parametrize(("prefix", "key"), [
    (56, "2001:db8:1:200::/56"), (48, "2001:db8:1::/48"), (128, "2001:db8:1:2ff::9/128"),
])
def test_the_ipv6_prefix_is_a_setting(prefix, key):
    with override_settings(AUTHSUITE_IPV6_CLIENT_PREFIX=prefix):
        assert limit_key("2001:db8:1:2ff::9") == key
    assert limit_key("2001:db8:1:2ff::9") == "2001:db8:1:2ff::/64"


@pytest.mark.parametrize("prefix", [0, 31, 129])
def test_a_prefix_out_of_range_is_refused(prefix):
    with override_settings(AUTHSUITE_IPV6_CLIENT_PREFIX=prefix), pytest.raises(ValueError):
        limit_key("2001:db8::1")
