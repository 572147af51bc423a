"""Plan a live cutover of host ports into a bridge, and its rollback. Pure: no I/O.

`desired_after_state` derives from a snapshot what the kernel should hold after the
cutover: the bridge (with the layer-3 port's MAC and MTU unless the request sets
them), the ports enslaved to it, and the layer-3 port's addresses, routes and rules
moved onto the bridge with every attribute kept. `plan_cutover`, `plan_rollback` and
`plan_restore` then order the changes with `planner.plan_changes`.

Before deriving anything, the request is checked against the snapshot, and what
bridgecfg could not move back is rejected with HostConflict.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from dataclasses import dataclass
from typing import Optional

from bridgecfg.errors import HostConflict, InvalidInput
from bridgecfg.live.constants import (
    IFA_F_SECONDARY,
    IFA_F_TEMPORARY,
    RT_SCOPE_UNIVERSE,
)
from bridgecfg.live.operations import Operation
from bridgecfg.live.planner import plan_changes
from bridgecfg.live.state import (
    AddressState,
    KernelSnapshot,
    LinkState,
    RouteState,
    RuleState,
)

log = logging.getLogger(__name__)

# Linux limits interface names to 15 bytes (IFNAMSIZ - 1).
IFNAME_PATTERN = re.compile(r"^[A-Za-z0-9_.\-@+]{1,15}$")
MAC_PATTERN = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
# The kernel accepts forward delays of 2 to 30 s while STP runs.
STP_FORWARD_DELAY_RANGE = (2.0, 30.0)
MTU_RANGE = (68, 65535)


@dataclass(frozen=True)
class CutoverRequest:
    """The parameters of a live cutover: the bridge to build and what moves onto it.

    `l3_port` is the port whose addresses, routes and rules move to the bridge, or
    None when no port carries layer 3. `addresses` lists the CIDRs to move; None
    moves every global address of `l3_port` (IPv6 temporary addresses excepted,
    because the kernel regenerates them). `forward_delay` is in seconds; None
    keeps the kernel's value. `mtu` and `mac` default to those of `l3_port`, or of
    the first port.
    """

    bridge: str
    ports: tuple[str, ...]
    l3_port: Optional[str] = None
    stp: bool = False
    forward_delay: Optional[float] = None
    mtu: Optional[int] = None
    mac: Optional[str] = None
    addresses: Optional[tuple[str, ...]] = None

    def __post_init__(self) -> None:
        for name in (self.bridge, *self.ports):
            _check_ifname(name)
        if not self.ports:
            raise InvalidInput(f"bridge {self.bridge}: at least one port is required")
        if len(set(self.ports)) != len(self.ports) or self.bridge in self.ports:
            raise InvalidInput(
                f"bridge {self.bridge} and ports {list(self.ports)} must be distinct names"
            )
        if self.l3_port is not None and self.l3_port not in self.ports:
            raise InvalidInput(
                f"layer-3 port {self.l3_port} is not one of the ports {list(self.ports)}"
            )
        _check_forward_delay(self.forward_delay, self.stp)
        if self.mtu is not None and not MTU_RANGE[0] <= self.mtu <= MTU_RANGE[1]:
            raise InvalidInput(f"invalid MTU {self.mtu}: use {MTU_RANGE[0]} to {MTU_RANGE[1]}")
        if self.mac is not None:
            _check_mac(self.mac)
        for cidr in self.addresses or ():
            _check_cidr(cidr)
        if self.addresses is not None and self.l3_port is None:
            raise InvalidInput("addresses to move need a layer-3 port (l3_port)")


def _check_ifname(name: str) -> None:
    if not IFNAME_PATTERN.match(name) or name in (".", ".."):
        raise InvalidInput(
            f"invalid interface name {name!r}: use 1 to 15 letters, digits or . _ - @ +"
        )


def _check_forward_delay(delay: Optional[float], stp: bool) -> None:
    if delay is None:
        return
    low, high = STP_FORWARD_DELAY_RANGE
    if delay < 0 or delay > high:
        raise InvalidInput(f"invalid forward delay {delay} s: use 0 to {high:g} s")
    if stp and delay < low:
        raise InvalidInput(
            f"invalid forward delay {delay} s with STP on: the kernel needs {low:g} to {high:g} s"
        )


def _check_mac(mac: str) -> None:
    if not MAC_PATTERN.match(mac):
        raise InvalidInput(f"invalid MAC {mac!r}: use six lower-case hex pairs such as 52:54:00:12:34:56")
    if int(mac[:2], 16) & 1:
        raise InvalidInput(f"invalid MAC {mac}: a multicast address cannot name a bridge")


def _check_cidr(cidr: str) -> None:
    try:
        ipaddress.ip_interface(cidr)
    except ValueError:
        raise InvalidInput(f"invalid address {cidr!r}: use ADDRESS/PREFIXLEN") from None
    if "/" not in cidr:
        raise InvalidInput(f"invalid address {cidr!r}: the prefix length is missing")


def plan_cutover(snapshot: KernelSnapshot, request: CutoverRequest) -> list[Operation]:
    """Return the make-before-break operations of the cutover from `snapshot`."""
    return plan_changes(snapshot, desired_after_state(snapshot, request))


def plan_rollback(snapshot: KernelSnapshot, request: CutoverRequest) -> list[Operation]:
    """Return the operations that undo a completed cutover, back to `snapshot`.

    The port's addresses and routes come back while it is still a bridge port,
    and it is released only afterwards, so the host keeps its addresses throughout.
    """
    return plan_changes(desired_after_state(snapshot, request), snapshot)


def plan_restore(snapshot: KernelSnapshot, current: KernelSnapshot) -> list[Operation]:
    """Return the operations that bring the `current` capture back to `snapshot`."""
    return plan_changes(current, snapshot)


def desired_after_state(snapshot: KernelSnapshot, request: CutoverRequest) -> KernelSnapshot:
    """Return what the kernel must hold once the cutover is complete."""
    _check_recorded(snapshot, request)
    _check_links(snapshot, request)
    moved = _addresses_to_move(snapshot, request)
    _check_layer3(snapshot, request, moved)
    return snapshot.model_copy(
        update={
            "links": [_desired_link(link, snapshot, request) for link in snapshot.links],
            "addresses": _desired_addresses(snapshot, request, moved),
            "routes": [_move_route(route, request) for route in snapshot.routes],
            "rules": [_move_rule(rule, request) for rule in snapshot.rules],
        }
    )


def _check_recorded(snapshot: KernelSnapshot, request: CutoverRequest) -> None:
    recorded = {link.name for link in snapshot.links}
    missing = [name for name in (request.bridge, *request.ports) if name not in recorded]
    if missing:
        raise InvalidInput(
            f"the snapshot does not record {missing}: capture it with "
            f"ports={list(request.ports)} and bridges=[{request.bridge!r}]"
        )


def _check_links(snapshot: KernelSnapshot, request: CutoverRequest) -> None:
    bridge = snapshot.link(request.bridge)
    if bridge.present and bridge.kind != "bridge":
        raise HostConflict(
            f"{request.bridge} exists and is a {bridge.kind or 'plain device'}, not a bridge; "
            "choose another bridge name"
        )
    for name in request.ports:
        port = snapshot.link(name)
        if not port.present:
            raise HostConflict(f"port {name} not found")
        if port.kind in ("bridge", "bond", "team"):
            raise HostConflict(f"port {name} is itself a {port.kind}; bridgecfg enslaves only plain devices")
        if port.master not in (None, request.bridge):
            raise HostConflict(
                f"port {name} is already enslaved to {port.master}; release it first"
            )


def _addresses_to_move(snapshot: KernelSnapshot, request: CutoverRequest) -> list[AddressState]:
    if request.l3_port is None:
        return []
    port_addresses = snapshot.addresses_of(request.l3_port)
    if request.addresses is None:
        return [address for address in port_addresses if _moves_by_default(address)]
    wanted = {str(ipaddress.ip_interface(cidr)) for cidr in request.addresses}
    chosen = [address for address in port_addresses if address.cidr in wanted]
    missing = wanted - {address.cidr for address in chosen}
    if missing:
        raise HostConflict(
            f"{request.l3_port} does not have the addresses {sorted(missing)}; "
            f"it has {[address.cidr for address in port_addresses]}"
        )
    return chosen


def _moves_by_default(address: AddressState) -> bool:
    if address.scope != RT_SCOPE_UNIVERSE:
        return False
    if address.family == 6 and address.flags & IFA_F_TEMPORARY:
        log.warning(
            "not moving temporary IPv6 address %s of %s: the kernel regenerates it",
            address.cidr,
            address.ifname,
        )
        return False
    return True


def _check_layer3(
    snapshot: KernelSnapshot, request: CutoverRequest, moved: list[AddressState]
) -> None:
    """Reject layer-3 configuration that would stop working or could not be moved."""
    for name in request.ports:
        if name == request.l3_port:
            continue
        global_addresses = [a.cidr for a in snapshot.addresses_of(name) if a.scope == RT_SCOPE_UNIVERSE]
        if global_addresses or snapshot.routes_of(name) or snapshot.rules_naming(name):
            raise HostConflict(
                f"port {name} carries addresses {global_addresses}, routes or rules that "
                "would stop working on a bridge port; name it as the layer-3 port or "
                "remove them first"
            )
    if request.l3_port is not None:
        _check_movable_routes(snapshot, request)
        _check_movable_rules(snapshot, request.l3_port)


def _check_movable_routes(snapshot: KernelSnapshot, request: CutoverRequest) -> None:
    assert request.l3_port is not None
    seen: dict[tuple[object, ...], RouteState] = {
        route.identity(): route for route in snapshot.routes_of(request.bridge)
    }
    for route in snapshot.routes_of(request.l3_port):
        if route.unsupported:
            raise HostConflict(
                f"route {route.describe()} uses {route.unsupported}, which bridgecfg "
                "cannot move and restore; move it by hand or remove it first"
            )
        other = seen.get(route.identity())
        if other is not None:
            raise HostConflict(
                f"routes {other.describe()} and {route.describe()} share table, "
                "destination and metric, so a replace onto the bridge would drop one; "
                "give them different metrics first"
            )
        seen[route.identity()] = route


def _check_movable_rules(snapshot: KernelSnapshot, port: str) -> None:
    for rule in snapshot.rules_naming(port):
        if rule.unsupported:
            raise HostConflict(
                f"rule {rule.describe()} uses {rule.unsupported}, which bridgecfg "
                "cannot recreate; move it by hand or remove it first"
            )


def _bridge_source_port(snapshot: KernelSnapshot, request: CutoverRequest) -> LinkState:
    return snapshot.link(request.l3_port or request.ports[0])


def _desired_link(link: LinkState, snapshot: KernelSnapshot, request: CutoverRequest) -> LinkState:
    if link.name == request.bridge:
        return _desired_bridge(link, snapshot, request)
    if link.name in request.ports:
        update: dict[str, object] = {"master": request.bridge, "up": True}
        if request.mtu is not None:
            update["mtu"] = request.mtu
        return link.model_copy(update=update)
    return link


def _desired_bridge(
    bridge: LinkState, snapshot: KernelSnapshot, request: CutoverRequest
) -> LinkState:
    source = _bridge_source_port(snapshot, request)
    options = dict(bridge.bridge_options or {})
    options["stp_state"] = 1 if request.stp else 0
    if request.forward_delay is not None:
        # The kernel takes and reports bridge times in 1/100 s (USER_HZ).
        options["forward_delay"] = round(request.forward_delay * 100)
    existing_mac = bridge.mac if bridge.present else None
    existing_mtu = bridge.mtu if bridge.present else None
    return LinkState(
        name=request.bridge,
        present=True,
        ifindex=bridge.ifindex,
        kind="bridge",
        mac=request.mac or existing_mac or source.mac,
        mtu=request.mtu or existing_mtu or source.mtu,
        up=True,
        master=None,
        bridge_options=options,
    )


def _relabel(label: Optional[str], port: str, bridge: str) -> Optional[str]:
    """Rename an IPv4 label such as `eth0:1` after the bridge, as the kernel requires."""
    if label is None:
        return None
    if label == port:
        return bridge
    if label.startswith(port + ":"):
        renamed = bridge + label[len(port):]
        if len(renamed) > 15:
            raise HostConflict(
                f"address label {label} would become {renamed}, longer than 15 characters; "
                "shorten the label or the bridge name"
            )
        return renamed
    return label


def _desired_addresses(
    snapshot: KernelSnapshot, request: CutoverRequest, moved: list[AddressState]
) -> list[AddressState]:
    moved_keys = {(address.address, address.prefixlen) for address in moved}
    result = []
    for link in snapshot.links:
        if link.name == request.bridge:
            result += _bridge_addresses(snapshot, request, moved)
        else:
            result += [
                address
                for address in snapshot.addresses_of(link.name)
                if not (link.name == request.l3_port and (address.address, address.prefixlen) in moved_keys)
            ]
    return result


def _bridge_addresses(
    snapshot: KernelSnapshot, request: CutoverRequest, moved: list[AddressState]
) -> list[AddressState]:
    assert request.l3_port is not None or not moved
    incoming = [
        address.model_copy(
            update={
                "ifname": request.bridge,
                "label": _relabel(address.label, request.l3_port or "", request.bridge),
            }
        )
        for address in moved
    ]
    incoming_keys = {(address.address, address.prefixlen) for address in incoming}
    existing = [
        address
        for address in snapshot.addresses_of(request.bridge)
        if (address.address, address.prefixlen) not in incoming_keys
    ]
    ipv4 = _kernel_ipv4_order([a for a in existing + incoming if a.family == 4])
    ipv6 = [a for a in existing + incoming if a.family == 6]
    return ipv4 + ipv6


def _kernel_ipv4_order(addresses: list[AddressState]) -> list[AddressState]:
    """Return IPv4 addresses as the kernel lists them after adding them in this order.

    The first address of a subnet is primary, later ones in the same subnet are
    secondary. The kernel lists primaries in insertion order, then secondaries.
    """
    primaries: list[AddressState] = []
    secondaries: list[AddressState] = []
    for address in addresses:
        shared = any(address.network == primary.network for primary in primaries)
        flags = address.flags | IFA_F_SECONDARY if shared else address.flags & ~IFA_F_SECONDARY
        placed = address.model_copy(update={"flags": flags})
        (secondaries if shared else primaries).append(placed)
    return primaries + secondaries


def _move_route(route: RouteState, request: CutoverRequest) -> RouteState:
    if request.l3_port is not None and route.oif == request.l3_port:
        return route.model_copy(update={"oif": request.bridge})
    return route


def _move_rule(rule: RuleState, request: CutoverRequest) -> RuleState:
    if request.l3_port is None:
        return rule
    update = {}
    if rule.iifname == request.l3_port:
        update["iifname"] = request.bridge
    if rule.oifname == request.l3_port:
        update["oifname"] = request.bridge
    return rule.model_copy(update=update) if update else rule
