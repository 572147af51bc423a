"""Capture what a cutover touches, and compare two captures.

`capture` reads the links, addresses, routes and rules of the named ports and
bridges through an open netlink handle. It skips what the kernel derives by itself:
routes with `proto kernel` (prefix routes of addresses, and the local, broadcast and
multicast entries of the local table). Those come back when the addresses do.

The snapshot is JSON (`KernelSnapshot.to_json` / `from_json`), so it can be stored
on disk before the first change and read back by another process after a crash.
"""

from __future__ import annotations

import logging
from typing import Any, Optional, Sequence

from bridgecfg.errors import InvalidInput
from bridgecfg.live.compare import CompareOptions, compare_snapshots
from bridgecfg.live.constants import AF_INET, AF_INET6, RTPROT_KERNEL
from bridgecfg.live.parse import (
    parse_address,
    parse_link,
    parse_route,
    parse_rule,
    route_devices,
)
from bridgecfg.live.state import (
    AddressState,
    KernelSnapshot,
    LinkState,
    RouteState,
    RuleState,
    clock_now,
)

log = logging.getLogger(__name__)

__all__ = ["KernelSnapshot", "capture", "diff_snapshots"]


def capture(
    ipr: Any,
    *,
    ports: Sequence[str],
    bridges: Sequence[str],
    netns: Optional[str] = None,
) -> KernelSnapshot:
    """Read the current state of `ports` and `bridges` through `ipr`.

    Links that do not exist are recorded as absent. `netns` is only written into
    the snapshot, so a later restore can open the same namespace.
    """
    names = list(ports) + [name for name in bridges if name not in ports]
    if len(set(names)) != len(names) or not names:
        raise InvalidInput(f"ports and bridges must be distinct, non-empty names: {names}")
    wall, monotonic, boot_id = clock_now()
    messages = {message["index"]: message for message in ipr.get_links()}
    index_to_name = {index: msg.get_attr("IFLA_IFNAME") for index, msg in messages.items()}
    links = _capture_links(names, messages, index_to_name)
    indexes = {link.ifindex: link.name for link in links if link.ifindex is not None}
    snapshot = KernelSnapshot(
        netns=netns,
        captured_at=wall,
        monotonic_at=monotonic,
        boot_id=boot_id,
        ports=list(ports),
        bridges=list(bridges),
        links=links,
        addresses=_capture_addresses(ipr, indexes),
        routes=_capture_routes(ipr, indexes, index_to_name),
        rules=_capture_rules(ipr, set(names)),
    )
    log.debug(
        "captured %d links, %d addresses, %d routes, %d rules",
        len(snapshot.links),
        len(snapshot.addresses),
        len(snapshot.routes),
        len(snapshot.rules),
    )
    return snapshot


def _capture_links(
    names: Sequence[str], messages: dict[int, Any], index_to_name: dict[int, str]
) -> list[LinkState]:
    by_name = {index_to_name[index]: message for index, message in messages.items()}
    links = []
    for name in names:
        message = by_name.get(name)
        if message is None:
            links.append(LinkState(name=name, present=False))
        else:
            links.append(parse_link(message, index_to_name.get))
    return links


def _capture_addresses(ipr: Any, indexes: dict[int, str]) -> list[AddressState]:
    addresses = []
    for message in ipr.get_addr():
        name = indexes.get(message["index"])
        if name is not None:
            addresses.append(parse_address(message, name))
    return addresses


def _capture_routes(
    ipr: Any, indexes: dict[int, str], index_to_name: dict[int, str]
) -> list[RouteState]:
    routes = []
    for family in (AF_INET, AF_INET6):
        for message in ipr.route("dump", family=family):
            if message["proto"] == RTPROT_KERNEL:
                continue
            if any(index in indexes for index in route_devices(message)):
                routes.append(parse_route(message, index_to_name.get))
    return routes


def _capture_rules(ipr: Any, names: set[str]) -> list[RuleState]:
    rules = []
    for family in (AF_INET, AF_INET6):
        for message in ipr.get_rules(family=family):
            rule = parse_rule(message)
            if rule.iifname in names or rule.oifname in names:
                rules.append(rule)
    return rules


def diff_snapshots(
    expected: KernelSnapshot,
    actual: KernelSnapshot,
    *,
    lifetime_tolerance: float = 2.0,
) -> list[str]:
    """Return every difference between two snapshots, one line each.

    An empty list proves that `actual` restored `expected`. Remaining lifetimes are
    compared after accounting for the time between the two captures, within
    `lifetime_tolerance` seconds. Interface indexes of bridges are not compared,
    because a restore may delete and re-create them.
    """
    options = CompareOptions(lifetime_tolerance=lifetime_tolerance)
    return compare_snapshots(expected, actual, options)
