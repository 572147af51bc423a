"""Compute the ordered operations that turn one kernel snapshot into another.

The same make-before-break order serves the cutover, the rollback and the restore
after a crash, because each is a move from a current snapshot to a target one:

1. create missing bridges (MAC, MTU, options), then fix MTU, MAC, options and up
   state of links that are, or will be, bridges or bridge ports;
2. enslave ports;
3. add the target addresses (IPv6 without duplicate address detection, so no
   tentative gap), then give them back their recorded flags;
4. install the target routes with `replace`, which takes over the route of the
   same table, destination and metric on the old device, after copying the old
   device's resolved neighbour entries to the new one;
5. add the target rules, then delete the rules the target lacks;
6. delete the addresses the target lacks, IPv4 secondaries before primaries, then
   any old route still left (IPv6 routes survive the loss of an address);
7. release ports, restore their MTU, MAC and down state;
8. delete the bridges the target lacks.

Step 6 also empties a bridge that step 8 deletes. Otherwise its prefix routes, listed
before those of the port, would keep taking the traffic after step 7 has left the
bridge without ports (IPv4 uses routes of a device without carrier).
"""

from __future__ import annotations

from typing import Optional

from bridgecfg.errors import HostConflict
from bridgecfg.live.constants import (
    IFA_F_NODAD,
    IFA_F_SECONDARY,
    IFA_SETTABLE_FLAGS,
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
from bridgecfg.live.state import (
    AddressState,
    CaptureTime,
    KernelSnapshot,
    LinkState,
    RouteState,
)

# Remaining lifetimes that differ by no more than this many seconds are equal.
LIFETIME_TOLERANCE = 2.0


def plan_changes(current: KernelSnapshot, target: KernelSnapshot) -> list[Operation]:
    """Return the operations that take the kernel from `current` to `target`.

    Both snapshots must record the same link names. An empty list means that
    `current` already matches `target`.
    """
    _check_same_links(current, target)
    doomed = _links_to_delete(current, target)
    since = target.clock()
    shift = _capture_shift(target, current)
    operations: list[Operation] = []
    operations += _create_links(current, target)
    operations += _prepare_links(current, target)
    operations += _enslave_ports(current, target)
    operations += _add_addresses(current, target, since, shift)
    operations += _replace_routes(current, target, since, shift)
    operations += _add_rules(current, target)
    operations += _delete_rules(current, target)
    operations += _delete_addresses(current, target)
    operations += _delete_routes(current, target, doomed, shift)
    operations += _release_ports(current, target)
    operations += _restore_links(current, target)
    operations += [DeleteLink(name=name) for name in doomed]
    return operations


def _check_same_links(current: KernelSnapshot, target: KernelSnapshot) -> None:
    current_names = sorted(link.name for link in current.links)
    target_names = sorted(link.name for link in target.links)
    if current_names != target_names:
        raise HostConflict(
            f"the snapshots record different links: {current_names} and {target_names}"
        )


def _capture_shift(since: KernelSnapshot, later: KernelSnapshot) -> float:
    if since.boot_id and since.boot_id == later.boot_id:
        return later.monotonic_at - since.monotonic_at
    return later.captured_at - since.captured_at


def _pairs(
    current: KernelSnapshot, target: KernelSnapshot
) -> list[tuple[LinkState, LinkState]]:
    return [(current.link(link.name), link) for link in target.links]


def _links_to_delete(current: KernelSnapshot, target: KernelSnapshot) -> list[str]:
    names = []
    for have, want in _pairs(current, target):
        if have.present and not want.present:
            if have.kind != "bridge":
                raise HostConflict(
                    f"{have.name} ({have.kind or 'device'}) exists but the target has "
                    "no such link; bridgecfg deletes only bridges"
                )
            names.append(have.name)
    return names


def _create_links(current: KernelSnapshot, target: KernelSnapshot) -> list[Operation]:
    operations: list[Operation] = []
    for have, want in _pairs(current, target):
        if want.present and not have.present:
            if want.kind != "bridge":
                raise HostConflict(
                    f"{want.name} is missing and bridgecfg can re-create only bridges; "
                    f"the {want.kind or 'device'} must come back by other means"
                )
            operations.append(
                CreateBridge(
                    name=want.name,
                    mac=want.mac,
                    mtu=want.mtu,
                    options=dict(want.bridge_options or {}),
                    up=want.up,
                )
            )
    return operations


def _is_early(link: LinkState) -> bool:
    """Tell whether a link's own changes belong before the addresses move.

    Bridges and ports that stay or become enslaved need their MTU and state first;
    released ports get theirs back only after they are released.
    """
    return link.kind == "bridge" or link.master is not None


def _link_changes(have: LinkState, want: LinkState, *, early: bool) -> list[Operation]:
    """Return the MAC, MTU and admin-state changes of one phase.

    A link goes up in the early phase and down in the late one, so that it is never
    down while it carries traffic. MAC and MTU change in the phase of `_is_early`.
    """
    if not (have.present and want.present):
        return []
    mac = mtu = None
    if _is_early(want) == early:
        mac = want.mac if want.mac != have.mac else None
        mtu = want.mtu if want.mtu != have.mtu else None
    up: Optional[bool] = None
    if want.up != have.up and want.up == early:
        up = want.up
    if mac is None and mtu is None and up is None:
        return []
    return [SetLink(name=want.name, mac=mac, mtu=mtu, up=up)]


def _prepare_links(current: KernelSnapshot, target: KernelSnapshot) -> list[Operation]:
    operations: list[Operation] = []
    for have, want in _pairs(current, target):
        operations += _link_changes(have, want, early=True)
        if have.present and want.present and want.bridge_options:
            changed = {
                name: value
                for name, value in want.bridge_options.items()
                if (have.bridge_options or {}).get(name) != value
            }
            if changed:
                operations.append(SetBridgeOptions(name=want.name, options=changed))
    return operations


def _restore_links(current: KernelSnapshot, target: KernelSnapshot) -> list[Operation]:
    operations: list[Operation] = []
    for have, want in _pairs(current, target):
        operations += _link_changes(have, want, early=False)
    return operations


def _enslave_ports(current: KernelSnapshot, target: KernelSnapshot) -> list[Operation]:
    return [
        SetMaster(name=want.name, master=want.master, previous=have.master)
        for have, want in _pairs(current, target)
        if want.present and want.master is not None and want.master != have.master
    ]


def _release_ports(current: KernelSnapshot, target: KernelSnapshot) -> list[Operation]:
    return [
        SetMaster(name=want.name, master=None, previous=have.master)
        for have, want in _pairs(current, target)
        if have.present and want.present and want.master is None and have.master is not None
    ]


def _address_key(address: AddressState) -> tuple[str, str, int]:
    return (address.ifname, address.address, address.prefixlen)


def _lifetime_equal(want: Optional[int], have: Optional[int], shift: float) -> bool:
    if want is None or have is None:
        return want == have
    return abs((want - shift) - have) <= LIFETIME_TOLERANCE


def _address_matches(want: AddressState, have: AddressState, shift: float) -> bool:
    """Tell whether `have` already carries every attribute that an add would set."""
    return (
        want.peer == have.peer
        and want.scope == have.scope
        and want.label == have.label
        and want.broadcast == have.broadcast
        and want.metric == have.metric
        and want.proto == have.proto
        and want.flags & IFA_SETTABLE_FLAGS == have.flags & IFA_SETTABLE_FLAGS
        and _lifetime_equal(want.valid_lft, have.valid_lft, shift)
        and _lifetime_equal(want.preferred_lft, have.preferred_lft, shift)
    )


def _insertion_order(addresses: list[AddressState]) -> list[AddressState]:
    # IPv4 keeps insertion order. IPv6 lists the newest address of a scope first,
    # so IPv6 addresses are added in reverse to end up in the recorded order.
    ipv4 = [address for address in addresses if address.family == 4]
    ipv6 = [address for address in addresses if address.family == 6]
    return ipv4 + list(reversed(ipv6))


def _misplaced_ipv4(current: KernelSnapshot, target: KernelSnapshot) -> list[AddressState]:
    """Return current IPv4 addresses that must be re-added to reach the target order.

    The kernel appends a new primary after the last primary and a secondary at the
    end, so an address already present keeps its place. Every present address that
    the target lists after the first out-of-place one is deleted and added again.
    This happens only when a crash left a port with part of its addresses, while
    the bridge still carries them all.
    """
    misplaced = []
    for link in target.links:
        want = [_address_key(a) for a in target.addresses_of(link.name) if a.family == 4]
        have_all = [a for a in current.addresses_of(link.name) if a.family == 4]
        have = [_address_key(a) for a in have_all if _address_key(a) in want]
        prefix = 0
        while prefix < len(have) and have[prefix] == want[prefix]:
            prefix += 1
        moved = set(want[prefix:])
        misplaced += [a for a in have_all if _address_key(a) in moved]
    return misplaced


def _add_addresses(
    current: KernelSnapshot, target: KernelSnapshot, since: CaptureTime, shift: float
) -> list[Operation]:
    misplaced = _misplaced_ipv4(current, target)
    removed = {_address_key(address) for address in misplaced}
    existing = {
        _address_key(address): address
        for address in current.addresses
        if _address_key(address) not in removed
    }
    adds: list[Operation] = [DeleteAddress(address=a) for a in _deletion_order(misplaced)]
    resets: list[Operation] = []
    for want in _insertion_order(list(target.addresses)):
        if not target.link(want.ifname).present:
            continue
        have = existing.get(_address_key(want))
        if have is not None:
            if not _address_matches(want, have, shift):
                adds.append(AddAddress(address=want, nodad=False, since=since))
            continue
        nodad = want.family == 6 and not want.flags & IFA_F_NODAD
        adds.append(AddAddress(address=want, nodad=nodad, since=since))
        if nodad:
            resets.append(ResetAddressFlags(address=want, since=since))
    return adds + resets


def _deletion_order(addresses: list[AddressState]) -> list[AddressState]:
    """Sort deletions: IPv4 secondaries, IPv4 primaries, then IPv6.

    Deleting a primary IPv4 address deletes its secondaries with it (the default
    promote_secondaries=0), so secondaries go first and each delete removes one.
    """

    def rank(address: AddressState) -> int:
        if address.family == 6:
            return 2
        return 0 if address.flags & IFA_F_SECONDARY else 1

    return sorted(addresses, key=rank)


def _delete_addresses(current: KernelSnapshot, target: KernelSnapshot) -> list[Operation]:
    wanted = {_address_key(address) for address in target.addresses}
    extra = [address for address in current.addresses if _address_key(address) not in wanted]
    return [DeleteAddress(address=address) for address in _deletion_order(extra)]


def _route_matches(want: RouteState, have: RouteState, shift: float) -> bool:
    fields = {"expires"}
    return want.model_dump(exclude=fields) == have.model_dump(exclude=fields) and (
        _lifetime_equal(want.expires, have.expires, shift)
    )


def _replace_routes(
    current: KernelSnapshot, target: KernelSnapshot, since: CaptureTime, shift: float
) -> list[Operation]:
    operations: list[Operation] = []
    copied: set[tuple[str, str]] = set()
    for want in target.routes:
        if want.oif is not None and not target.link(want.oif).present:
            continue
        if any(_route_matches(want, have, shift) for have in current.routes):
            continue
        for pair in _neighbour_sources(current, want):
            if pair not in copied:
                operations.append(CopyNeighbours(source=pair[0], target=pair[1]))
                copied.add(pair)
        operations.append(ReplaceRoute(route=want, since=since))
    return operations


def _neighbour_sources(current: KernelSnapshot, want: RouteState) -> list[tuple[str, str]]:
    """Return (source, target) device pairs whose neighbour entries `want` needs.

    A route that moves to another device would otherwise wait for address
    resolution there, and a bridge port cannot even complete it while enslaved.
    """
    if want.oif is None:
        return []
    pairs = []
    for have in current.routes:
        source = have.oif
        if source is None or source == want.oif or have.identity() != want.identity():
            continue
        if current.link(source).present:
            pairs.append((source, want.oif))
    return pairs


def _delete_routes(
    current: KernelSnapshot, target: KernelSnapshot, doomed: list[str], shift: float
) -> list[Operation]:
    operations: list[Operation] = []
    for have in current.routes:
        if have.oif in doomed:
            continue
        if not any(_route_matches(want, have, shift) for want in target.routes):
            operations.append(DeleteRoute(route=have))
    return operations


def _add_rules(current: KernelSnapshot, target: KernelSnapshot) -> list[Operation]:
    remaining = list(current.rules)
    operations: list[Operation] = []
    for rule in target.rules:
        if rule in remaining:
            remaining.remove(rule)
        else:
            operations.append(AddRule(rule=rule))
    return operations


def _delete_rules(current: KernelSnapshot, target: KernelSnapshot) -> list[Operation]:
    remaining = list(target.rules)
    operations: list[Operation] = []
    for rule in current.rules:
        if rule in remaining:
            remaining.remove(rule)
        else:
            operations.append(DeleteRule(rule=rule))
    return operations
