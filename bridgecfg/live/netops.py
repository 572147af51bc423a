"""Perform one planned operation with pyroute2 IPRoute calls.

Every operation may run a second time after a crash, so each treats the kernel's
"already done" replies as success: EEXIST for a rule add, and for deletes ESRCH,
ENOENT, EADDRNOTAVAIL or a missing link. Adds of addresses and routes use
`replace`, which succeeds whether or not the object exists.
"""

from __future__ import annotations

import errno
import logging
import time
from typing import Any, Callable, Optional

from pyroute2 import NetlinkError  # type: ignore[import-untyped]

from bridgecfg.errors import ApplyFailed
from bridgecfg.live.constants import (
    AF_INET,
    AF_INET6,
    IFA_F_NODAD,
    IFA_SETTABLE_FLAGS,
    NUD_DELAY,
    NUD_PERMANENT,
    NUD_PROBE,
    NUD_REACHABLE,
    NUD_STALE,
    RTNH_F_ONLINK,
    RT_TABLE_LOCAL,
)
from bridgecfg.live.operations import (
    AddAddress,
    AddRule,
    CopyNeighbours,
    CreateBridge,
    DeleteAddress,
    DeleteLink,
    DeleteRoute,
    DeleteRule,
    Operation,
    ReplaceRoute,
    ResetAddressFlags,
    SetBridgeOptions,
    SetLink,
    SetMaster,
)
from bridgecfg.live.state import AddressState, CaptureTime, RouteState, RuleState, elapsed_seconds

log = logging.getLogger(__name__)

# Errors an operation may raise. NetlinkError (the kernel's refusal, with its errno
# in `code`) is no OSError subclass in pyroute2 0.9.
OPERATION_ERRORS = (NetlinkError, OSError, ValueError)

# Seconds to wait for the local route of a new IPv6 address, and between two looks.
LOCAL_ROUTE_TIMEOUT = 2.0
LOCAL_ROUTE_POLL = 0.001

# Errno values with which the kernel rejects a delete whose object is already gone.
NOT_FOUND = frozenset({errno.ESRCH, errno.ENOENT, errno.EADDRNOTAVAIL, errno.ENODEV})


def apply_operation(ipr: Any, operation: Operation) -> None:
    """Perform `operation`; raise ApplyFailed or one of OPERATION_ERRORS on failure."""
    handler = _HANDLERS[type(operation)]
    handler(ipr, operation)


def _index(ipr: Any, name: str) -> int:
    indexes = ipr.link_lookup(ifname=name)
    if not indexes:
        raise ApplyFailed(f"link {name} not found")
    return int(indexes[0])


def _optional_index(ipr: Any, name: str) -> Optional[int]:
    indexes = ipr.link_lookup(ifname=name)
    return int(indexes[0]) if indexes else None


def _family(version: int) -> int:
    return AF_INET if version == 4 else AF_INET6


def _bridge_arguments(options: dict[str, int]) -> dict[str, int]:
    return {f"br_{name}": value for name, value in options.items()}


def _create_bridge(ipr: Any, operation: CreateBridge) -> None:
    arguments: dict[str, Any] = {"ifname": operation.name, "kind": "bridge"}
    if operation.mac is not None:
        arguments["address"] = operation.mac
    if operation.mtu is not None:
        arguments["mtu"] = operation.mtu
    arguments.update(_bridge_arguments(operation.options))
    try:
        ipr.link("add", **arguments)
    except NetlinkError as error:
        if error.code != errno.EEXIST:
            raise
        log.info("bridge %s exists already; setting its options", operation.name)
        _set_bridge_options(ipr, SetBridgeOptions(name=operation.name, options=operation.options))
    if operation.up:
        ipr.link("set", index=_index(ipr, operation.name), state="up")


def _set_bridge_options(ipr: Any, operation: SetBridgeOptions) -> None:
    if operation.options:
        ipr.link(
            "set",
            index=_index(ipr, operation.name),
            kind="bridge",
            **_bridge_arguments(operation.options),
        )


def _set_link(ipr: Any, operation: SetLink) -> None:
    arguments: dict[str, Any] = {"index": _index(ipr, operation.name)}
    if operation.mac is not None:
        arguments["address"] = operation.mac
    if operation.mtu is not None:
        arguments["mtu"] = operation.mtu
    if operation.up is not None:
        arguments["state"] = "up" if operation.up else "down"
    ipr.link("set", **arguments)


def _set_master(ipr: Any, operation: SetMaster) -> None:
    master = 0 if operation.master is None else _index(ipr, operation.master)
    ipr.link("set", index=_index(ipr, operation.name), master=master)


def _lifetimes(address: AddressState, since: CaptureTime) -> Optional[dict[str, int]]:
    """Return the remaining lifetimes now; an empty dict means forever, None expired."""
    if address.valid_lft is None:
        return {}
    elapsed = int(elapsed_seconds(since))
    valid = address.valid_lft - elapsed
    if valid <= 0:
        return None
    preferred = address.valid_lft if address.preferred_lft is None else address.preferred_lft
    return {"valid_lft": valid, "preferred_lft": min(valid, max(0, preferred - elapsed))}


def _address_arguments(ipr: Any, address: AddressState) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "index": _index(ipr, address.ifname),
        "family": _family(address.family),
        "prefixlen": address.prefixlen,
        "scope": address.scope,
    }
    if address.peer is not None:
        arguments["address"] = address.peer
        arguments["local"] = address.address
    else:
        arguments["address"] = address.address
    return arguments


def _replace_address(ipr: Any, address: AddressState, since: CaptureTime, extra_flags: int) -> None:
    lifetimes = _lifetimes(address, since)
    if lifetimes is None:
        log.warning(
            "not adding %s to %s: its valid lifetime ran out since the snapshot",
            address.cidr,
            address.ifname,
        )
        return
    arguments = _address_arguments(ipr, address)
    arguments["flags"] = (address.flags & IFA_SETTABLE_FLAGS) | extra_flags
    optional = {
        "label": address.label,
        "broadcast": address.broadcast,
        "rt_priority": address.metric,
        "proto": address.proto,
    }
    arguments.update({key: value for key, value in optional.items() if value is not None})
    arguments.update(lifetimes)
    ipr.addr("replace", **arguments)


def _add_address(ipr: Any, operation: AddAddress) -> None:
    extra = IFA_F_NODAD if operation.nodad else 0
    _replace_address(ipr, operation.address, operation.since, extra)
    if operation.address.family == 6 and (operation.nodad or operation.address.flags & IFA_F_NODAD):
        _wait_for_local_route(ipr, operation.address)


def _wait_for_local_route(ipr: Any, address: AddressState) -> None:
    """Wait until the kernel has installed the local route of a new IPv6 address.

    Linux installs that route from the addrconf workqueue, even for a nodad address,
    so it can lag the netlink reply by milliseconds under load. Deleting the same
    address from the old device before then leaves no local route, and the host drops
    incoming packets for it (counted as Ip6InAddrErrors).
    """
    index = _index(ipr, address.ifname)
    deadline = time.monotonic() + LOCAL_ROUTE_TIMEOUT
    while True:
        for route in ipr.get_routes(family=AF_INET6, table=RT_TABLE_LOCAL):
            if route.get_attr("RTA_DST") == address.address and route.get_attr("RTA_OIF") == index:
                return
        if time.monotonic() >= deadline:
            log.warning("the local route of %s on %s did not appear within %g s", address.cidr, address.ifname,
                        LOCAL_ROUTE_TIMEOUT)
            return
        time.sleep(LOCAL_ROUTE_POLL)


def _reset_address_flags(ipr: Any, operation: ResetAddressFlags) -> None:
    _replace_address(ipr, operation.address, operation.since, 0)


def _ignore_missing(call: Callable[[], Any], description: str) -> None:
    try:
        call()
    except NetlinkError as error:
        if error.code not in NOT_FOUND:
            raise
        log.info("%s: already gone", description)


def _delete_address(ipr: Any, operation: DeleteAddress) -> None:
    address = operation.address
    if _optional_index(ipr, address.ifname) is None:
        log.info("%s: link %s already gone", operation.describe(), address.ifname)
        return
    arguments = _address_arguments(ipr, address)
    _ignore_missing(lambda: ipr.addr("del", **arguments), operation.describe())


def _route_arguments(ipr: Any, route: RouteState) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "family": _family(route.family),
        "table": route.table,
        "dst_len": route.dst_len,
        "src_len": route.src_len,
        "tos": route.tos,
        "type": route.type,
        "proto": route.proto,
        "scope": route.scope,
        "priority": route.priority,
    }
    if route.oif is not None:
        arguments["oif"] = _index(ipr, route.oif)
    optional = {
        "dst": route.dst,
        "src": route.src,
        "gateway": route.gateway,
        "prefsrc": route.prefsrc,
        "pref": route.pref,
    }
    arguments.update({key: value for key, value in optional.items() if value is not None})
    if route.onlink:
        arguments["flags"] = RTNH_F_ONLINK
    return arguments


def _replace_route(ipr: Any, operation: ReplaceRoute) -> None:
    route = operation.route
    arguments = _route_arguments(ipr, route)
    if route.metrics:
        arguments["metrics"] = dict(route.metrics)
    if route.expires is not None:
        # RTA_EXPIRES takes seconds; the kernel honours it for IPv6 routes only.
        arguments["expires"] = max(1, route.expires - int(elapsed_seconds(operation.since)))
    ipr.route("replace", **arguments)


def _delete_route(ipr: Any, operation: DeleteRoute) -> None:
    route = operation.route
    if route.oif is not None and _optional_index(ipr, route.oif) is None:
        log.info("%s: link %s already gone", operation.describe(), route.oif)
        return
    arguments = _route_arguments(ipr, route)
    _ignore_missing(lambda: ipr.route("del", **arguments), operation.describe())


# Entries whose link-layer address is known. A copy gets NUD_STALE, so the kernel
# uses it at once and confirms it later.
_RESOLVED = NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT


def _copy_neighbours(ipr: Any, operation: CopyNeighbours) -> None:
    source = _index(ipr, operation.source)
    target = _index(ipr, operation.target)
    copied = 0
    for family in (AF_INET, AF_INET6):
        for entry in ipr.get_neighbours(family=family, ifindex=source):
            lladdr = entry.get_attr("NDA_LLADDR")
            if entry["ifindex"] != source or not entry["state"] & _RESOLVED or not lladdr:
                continue
            ipr.neigh(
                "replace",
                family=family,
                ifindex=target,
                dst=entry.get_attr("NDA_DST"),
                lladdr=lladdr,
                state=NUD_STALE,
                flags=entry["flags"],
            )
            copied += 1
    log.info("copied %d neighbour entries from %s to %s", copied, operation.source, operation.target)


def _rule_arguments(rule: RuleState) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "family": _family(rule.family),
        "priority": rule.priority,
        "table": rule.table,
        "action": rule.action,
        "src_len": rule.src_len,
        "dst_len": rule.dst_len,
        "tos": rule.tos,
        "flags": rule.flags,
    }
    optional = {
        "iifname": rule.iifname,
        "oifname": rule.oifname,
        "src": rule.src,
        "dst": rule.dst,
        "fwmark": rule.fwmark,
        "fwmask": rule.fwmask,
        "goto": rule.goto,
        "suppress_prefixlen": rule.suppress_prefixlen,
        "suppress_ifgroup": rule.suppress_ifgroup,
        "protocol": rule.protocol,
    }
    arguments.update({key: value for key, value in optional.items() if value is not None})
    return arguments


def _add_rule(ipr: Any, operation: AddRule) -> None:
    try:
        ipr.rule("add", **_rule_arguments(operation.rule))
    except NetlinkError as error:
        if error.code != errno.EEXIST:
            raise
        log.info("%s: already present", operation.describe())


def _delete_rule(ipr: Any, operation: DeleteRule) -> None:
    arguments = _rule_arguments(operation.rule)
    _ignore_missing(lambda: ipr.rule("del", **arguments), operation.describe())


def _delete_link(ipr: Any, operation: DeleteLink) -> None:
    index = _optional_index(ipr, operation.name)
    if index is None:
        log.info("%s: already gone", operation.describe())
        return
    _ignore_missing(lambda: ipr.link("del", index=index), operation.describe())


_HANDLERS: dict[type, Callable[[Any, Any], None]] = {
    CreateBridge: _create_bridge,
    SetBridgeOptions: _set_bridge_options,
    SetLink: _set_link,
    SetMaster: _set_master,
    AddAddress: _add_address,
    ResetAddressFlags: _reset_address_flags,
    DeleteAddress: _delete_address,
    ReplaceRoute: _replace_route,
    DeleteRoute: _delete_route,
    CopyNeighbours: _copy_neighbours,
    AddRule: _add_rule,
    DeleteRule: _delete_rule,
    DeleteLink: _delete_link,
}
