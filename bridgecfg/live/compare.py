"""Compare two kernel snapshots field by field.

Rollback checks use it to prove that a restore gave back the snapshot exactly, and
verification uses it to compare the desired after-state with the current one. Every
difference becomes one line such as
`link br0: mtu desired 1500, current 9000`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Optional, Sequence

from bridgecfg.live.constants import IFA_F_TENTATIVE, RT_SCOPE_LINK
from bridgecfg.live.state import (
    AddressState,
    KernelSnapshot,
    LinkState,
    RouteState,
    RuleState,
)

# Tentative is a passing state of duplicate address detection, not configuration.
ADDRESS_FLAGS_IGNORED = IFA_F_TENTATIVE


@dataclass(frozen=True)
class CompareOptions:
    """Strictness settings of a comparison, and the labels of its two sides."""

    expected_label: str = "expected"
    actual_label: str = "actual"
    lifetime_tolerance: float = 2.0
    ignore_extra_link_local: bool = False
    bridge_options_subset: bool = False


class _Report:
    def __init__(self, options: CompareOptions) -> None:
        self.options = options
        self.lines: list[str] = []

    def field(self, subject: str, name: str, expected: object, actual: object) -> None:
        if expected != actual:
            self.lines.append(
                f"{subject}: {name} {self.options.expected_label} {expected}, "
                f"{self.options.actual_label} {actual}"
            )

    def presence(self, subject: str, expected_present: bool) -> None:
        state = ("present", "absent") if expected_present else ("absent", "present")
        self.lines.append(
            f"{subject}: {self.options.expected_label} {state[0]}, "
            f"{self.options.actual_label} {state[1]}"
        )


def compare_snapshots(
    expected: KernelSnapshot, actual: KernelSnapshot, options: CompareOptions
) -> list[str]:
    """Return one line per difference between `expected` and `actual`."""
    report = _Report(options)
    shift = _capture_shift(expected, actual)
    _compare_links(report, expected.links, actual.links)
    _compare_addresses(report, expected.addresses, actual.addresses, shift)
    _compare_routes(report, expected.routes, actual.routes, shift)
    _compare_rules(report, expected.rules, actual.rules)
    return report.lines


def _capture_shift(expected: KernelSnapshot, actual: KernelSnapshot) -> float:
    """Return the seconds between two captures, by the monotonic clock when possible."""
    if expected.boot_id and expected.boot_id == actual.boot_id:
        return actual.monotonic_at - expected.monotonic_at
    return actual.captured_at - expected.captured_at


def _compare_links(
    report: _Report, expected: Sequence[LinkState], actual: Sequence[LinkState]
) -> None:
    actual_by_name = {link.name: link for link in actual}
    for want in expected:
        have = actual_by_name.get(want.name)
        subject = f"link {want.name}"
        if have is None:
            report.lines.append(
                f"{subject}: not recorded in the {report.options.actual_label} snapshot"
            )
            continue
        if want.present != have.present:
            report.presence(subject, want.present)
            continue
        if want.present:
            _compare_present_link(report, subject, want, have)


def _compare_present_link(
    report: _Report, subject: str, want: LinkState, have: LinkState
) -> None:
    # bridgecfg creates and deletes bridges, so their index may change legitimately.
    if want.kind != "bridge" and want.ifindex is not None:
        report.field(subject, "ifindex", want.ifindex, have.ifindex)
    report.field(subject, "kind", want.kind, have.kind)
    report.field(subject, "MAC", want.mac, have.mac)
    report.field(subject, "MTU", want.mtu, have.mtu)
    report.field(subject, "admin state", _updown(want.up), _updown(have.up))
    report.field(subject, "master", want.master, have.master)
    _compare_bridge_options(report, subject, want.bridge_options, have.bridge_options)


def _updown(up: bool) -> str:
    return "up" if up else "down"


def _compare_bridge_options(
    report: _Report,
    subject: str,
    want: Optional[dict[str, int]],
    have: Optional[dict[str, int]],
) -> None:
    if want is None:
        return
    have = have or {}
    names = set(want) if report.options.bridge_options_subset else set(want) | set(have)
    for name in sorted(names):
        report.field(subject, name, want.get(name), have.get(name))


def _address_key(address: AddressState) -> tuple[str, int]:
    return (address.address, address.prefixlen)


def _group_addresses(
    addresses: Sequence[AddressState],
) -> dict[tuple[str, int], list[AddressState]]:
    groups: dict[tuple[str, int], list[AddressState]] = defaultdict(list)
    for address in addresses:
        groups[(address.ifname, address.family)].append(address)
    return groups


def _compare_addresses(
    report: _Report,
    expected: Sequence[AddressState],
    actual: Sequence[AddressState],
    shift: float,
) -> None:
    want_groups = _group_addresses(expected)
    have_groups = _group_addresses(actual)
    for group in sorted(set(want_groups) | set(have_groups)):
        want = want_groups.get(group, [])
        have = _drop_unexpected_link_local(report.options, want, have_groups.get(group, []))
        _compare_address_group(report, want, have, shift)


def _drop_unexpected_link_local(
    options: CompareOptions, want: list[AddressState], have: list[AddressState]
) -> list[AddressState]:
    # The kernel gives every IPv6 link its own link-local address. Verification
    # accepts such addresses even when the desired state does not list them.
    if not options.ignore_extra_link_local:
        return have
    wanted = {_address_key(address) for address in want}
    return [
        address
        for address in have
        if _address_key(address) in wanted
        or not (address.family == 6 and address.scope == RT_SCOPE_LINK)
    ]


def _compare_address_group(
    report: _Report,
    want: list[AddressState],
    have: list[AddressState],
    shift: float,
) -> None:
    have_by_key = {_address_key(address): address for address in have}
    want_keys = [_address_key(address) for address in want]
    for address in want:
        subject = f"address {address.cidr} on {address.ifname}"
        other = have_by_key.get(_address_key(address))
        if other is None:
            report.presence(subject, True)
        else:
            _compare_address_fields(report, subject, address, other, shift)
    for address in have:
        if _address_key(address) not in want_keys:
            report.presence(f"address {address.cidr} on {address.ifname}", False)
    _compare_ipv4_order(report, want, have)


def _compare_ipv4_order(
    report: _Report, want: list[AddressState], have: list[AddressState]
) -> None:
    # The order of IPv4 addresses decides the primary one and so the source
    # address the kernel picks. IPv6 order does not, so it is not compared.
    if not want or want[0].family != 4:
        return
    common = {_address_key(a) for a in want} & {_address_key(a) for a in have}
    want_order = [a.cidr for a in want if _address_key(a) in common]
    have_order = [a.cidr for a in have if _address_key(a) in common]
    report.field(f"IPv4 addresses on {want[0].ifname}", "order", want_order, have_order)


def _compare_address_fields(
    report: _Report,
    subject: str,
    want: AddressState,
    have: AddressState,
    shift: float,
) -> None:
    report.field(subject, "peer", want.peer, have.peer)
    report.field(subject, "scope", want.scope, have.scope)
    report.field(subject, "label", want.label, have.label)
    report.field(
        subject,
        "flags",
        hex(want.flags & ~ADDRESS_FLAGS_IGNORED),
        hex(have.flags & ~ADDRESS_FLAGS_IGNORED),
    )
    report.field(subject, "broadcast", want.broadcast, have.broadcast)
    report.field(subject, "metric", want.metric, have.metric)
    report.field(subject, "proto", want.proto, have.proto)
    _compare_lifetime(report, subject, "valid_lft", want.valid_lft, have.valid_lft, shift)
    _compare_lifetime(
        report, subject, "preferred_lft", want.preferred_lft, have.preferred_lft, shift
    )


def _compare_lifetime(
    report: _Report,
    subject: str,
    name: str,
    want: Optional[int],
    have: Optional[int],
    shift: float,
) -> None:
    """Compare remaining seconds, allowing for the time between the two captures."""
    if want is None or have is None:
        report.field(subject, name, _forever(want), _forever(have))
        return
    remaining = want - shift
    if abs(have - remaining) > report.options.lifetime_tolerance:
        report.field(subject, name, f"{remaining:.0f}s", f"{have}s")


def _forever(value: Optional[int]) -> str:
    return "forever" if value is None else f"{value}s"


def _route_subject(route: RouteState) -> str:
    return f"route {route.destination} table {route.table} metric {route.priority}"


def _group_routes(routes: Sequence[RouteState]) -> dict[tuple[object, ...], list[RouteState]]:
    groups: dict[tuple[object, ...], list[RouteState]] = defaultdict(list)
    for route in routes:
        groups[route.identity()].append(route)
    for members in groups.values():
        members.sort(key=lambda route: (route.oif or "", route.gateway or ""))
    return groups


def _compare_routes(
    report: _Report,
    expected: Sequence[RouteState],
    actual: Sequence[RouteState],
    shift: float,
) -> None:
    want_groups = _group_routes(expected)
    have_groups = _group_routes(actual)
    for key in want_groups.keys() | have_groups.keys():
        want = want_groups.get(key, [])
        have = have_groups.get(key, [])
        for want_route, have_route in zip(want, have):
            _compare_route_fields(report, want_route, have_route, shift)
        for route in want[len(have):]:
            report.presence(f"route {route.describe()}", True)
        for route in have[len(want):]:
            report.presence(f"route {route.describe()}", False)


def _compare_route_fields(
    report: _Report, want: RouteState, have: RouteState, shift: float
) -> None:
    subject = _route_subject(want)
    report.field(subject, "device", want.oif, have.oif)
    report.field(subject, "gateway", want.gateway, have.gateway)
    report.field(subject, "proto", want.proto, have.proto)
    report.field(subject, "scope", want.scope, have.scope)
    report.field(subject, "prefsrc", want.prefsrc, have.prefsrc)
    report.field(subject, "onlink", want.onlink, have.onlink)
    report.field(subject, "pref", want.pref, have.pref)
    report.field(subject, "metrics", want.metrics, have.metrics)
    report.field(subject, "unsupported attributes", want.unsupported, have.unsupported)
    _compare_lifetime(report, subject, "expires", want.expires, have.expires, shift)


def _compare_rules(
    report: _Report, expected: Sequence[RuleState], actual: Sequence[RuleState]
) -> None:
    remaining = list(actual)
    for rule in expected:
        if rule in remaining:
            remaining.remove(rule)
        else:
            report.presence(f"rule {rule.describe()}", True)
    for rule in remaining:
        report.presence(f"rule {rule.describe()}", False)
