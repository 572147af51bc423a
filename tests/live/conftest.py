"""Fixtures of the live tests: namespaces that are always deleted, and a topology.

Live tests need root and `ip netns`; without them they are skipped. Each test gets
namespaces with fresh random names, deleted in teardown whether the test passed,
failed or raised.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Iterator

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from topology import Namespace, Topology, live_unavailable_reason  # noqa: E402

from bridgecfg.live.netlink import is_root_namespace, open_netlink  # noqa: E402


@pytest.fixture
def namespaces() -> Iterator[list[Namespace]]:
    """A list that tests append their namespaces to; every one is deleted afterwards."""
    reason = live_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    created: list[Namespace] = []
    try:
        yield created
    finally:
        for namespace in reversed(created):
            namespace.delete()


@pytest.fixture
def topology(namespaces: list[Namespace]) -> Topology:
    """The host, LAN and guest namespaces described in `topology.Topology`."""
    return Topology.build(namespaces)


@pytest.fixture
def host_netlink(topology: Topology) -> Iterator[Any]:
    """An IPRoute inside the host namespace, never the root namespace."""
    if is_root_namespace(topology.host.name):
        pytest.fail(f"{topology.host.name} is the root network namespace")
    ipr = open_netlink(topology.host.name)
    try:
        yield ipr
    finally:
        ipr.close()
