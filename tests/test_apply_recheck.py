"""The comparison between the plan shown to the operator and the plan made again under the lock."""

from __future__ import annotations

from typing import Optional

from bridgecfg.apply import comparable_operations
from bridgecfg.live.operations import AddAddress
from bridgecfg.live.state import AddressState, CaptureTime


def _add(address: str, valid: Optional[int], preferred: Optional[int]) -> AddAddress:
    state = AddressState(ifname="br0", family=4, address=address, prefixlen=24, valid_lft=valid,
                         preferred_lft=preferred)
    return AddAddress(address=state, since=CaptureTime())


def test_shrunk_lifetimes_compare_equal() -> None:
    shown = [_add("203.0.113.5", 3599, 1799)]
    again = [_add("203.0.113.5", 3581, 1781)]

    assert comparable_operations(shown) == comparable_operations(again)


def test_other_address_compares_unequal() -> None:
    shown = [_add("203.0.113.5", 3599, 1799)]
    again = [_add("203.0.113.6", 3599, 1799)]

    assert comparable_operations(shown) != comparable_operations(again)


def test_lifetime_words_are_dropped() -> None:
    assert comparable_operations([_add("203.0.113.5", 3599, 1799)]) == [
        "add 203.0.113.5/24 valid_lft preferred_lft to br0"]
