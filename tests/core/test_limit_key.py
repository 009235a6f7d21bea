"""``context.limit_key``: what rate limits and lockouts count a client by."""

import pytest

from authsuite.context import limit_key


@pytest.mark.parametrize(("ip", "key"), [
    ("203.0.113.7", "203.0.113.7"),
    ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
    ("2001:0db8:0001:0002:0000:0000:0000:0009", "2001:db8:1:2::/64"),
    ("::ffff:203.0.113.7", "::ffff:203.0.113.7"),  # an IPv4 client seen through IPv6
    ("::1", "::/64"),
    ("", "unknown"),
    (None, "unknown"),
])
def test_keys(ip, key):
    assert limit_key(ip) == key


def test_the_key_fits_the_lockout_column():
    from accounts.models import LoginThrottle

    longest = limit_key("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
    assert len(longest) <= LoginThrottle._meta.get_field("ip").max_length
