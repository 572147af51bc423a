"""The kernel objects that a cutover touches, as plain JSON-serialisable models.

A `KernelSnapshot` records the links, addresses, routes and rules of a set of ports
and bridges at one moment. The same model also describes a desired after-state, so
that planning, verification and rollback all compare values of one type.

Lifetimes (address valid/preferred, IPv6 route expiry) are the seconds that remained
when the snapshot was captured. `elapsed_seconds()` turns them into remaining seconds
at a later moment.
"""

from __future__ import annotations

import ipaddress
import time
from typing import Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field

from bridgecfg.live.constants import (
    FIB_RULE_INVERT,
    IFA_F_NODAD,
    IFA_F_SECONDARY,
    SCOPE_NAMES,
    proto_name,
    table_name,
)

SNAPSHOT_FORMAT_VERSION = 1
BOOT_ID_PATH = "/proc/sys/kernel/random/boot_id"

Family = Literal[4, 6]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LinkState(_Model):
    """One network interface, or the record that it is absent."""

    name: str
    present: bool
    ifindex: Optional[int] = None
    kind: Optional[str] = None
    mac: Optional[str] = None
    mtu: Optional[int] = None
    up: bool = False
    master: Optional[str] = None
    bridge_options: Optional[dict[str, int]] = None


class AddressState(_Model):
    """One IPv4 or IPv6 address of a link (an RTM_NEWADDR message)."""

    ifname: str
    family: Family
    address: str
    prefixlen: int
    peer: Optional[str] = None
    scope: int = 0
    label: Optional[str] = None
    flags: int = 0
    broadcast: Optional[str] = None
    metric: Optional[int] = None
    proto: Optional[int] = None
    valid_lft: Optional[int] = None
    preferred_lft: Optional[int] = None

    @property
    def cidr(self) -> str:
        """The address with its prefix length, such as 192.0.2.10/24."""
        return f"{self.address}/{self.prefixlen}"

    @property
    def network(self) -> Union[ipaddress.IPv4Network, ipaddress.IPv6Network]:
        """The subnet that the address and its prefix length span."""
        return ipaddress.ip_network(self.cidr, strict=False)

    @property
    def is_secondary(self) -> bool:
        """Whether the kernel marks this IPv4 address secondary in its subnet."""
        return bool(self.flags & IFA_F_SECONDARY) and self.family == 4

    def describe(self) -> str:
        """Return the address in `ip address` words, such as `192.0.2.10/24 secondary`."""
        words = [self.cidr]
        if self.peer:
            words.append(f"peer {self.peer}")
        if self.scope:
            words.append(f"scope {SCOPE_NAMES.get(self.scope, self.scope)}")
        if self.is_secondary:
            words.append("secondary")
        if self.flags & IFA_F_NODAD:
            words.append("nodad")
        if self.valid_lft is not None:
            words.append(f"valid_lft {self.valid_lft}s")
        if self.preferred_lft is not None:
            words.append(f"preferred_lft {self.preferred_lft}s")
        return " ".join(words)


class RouteState(_Model):
    """One route of a routing table that names a recorded link as its device."""

    family: Family
    table: int
    dst: Optional[str] = None
    dst_len: int = 0
    src: Optional[str] = None
    src_len: int = 0
    tos: int = 0
    type: int = 1
    proto: int = 0
    scope: int = 0
    priority: int = 0
    oif: Optional[str] = None
    gateway: Optional[str] = None
    prefsrc: Optional[str] = None
    onlink: bool = False
    pref: Optional[int] = None
    expires: Optional[int] = None
    metrics: dict[str, int] = Field(default_factory=dict)
    unsupported: list[str] = Field(default_factory=list)

    @property
    def destination(self) -> str:
        """The destination in `ip route` words: `default` or a prefix."""
        if self.dst is None and self.dst_len == 0:
            return "default"
        return f"{self.dst}/{self.dst_len}"

    def identity(self) -> tuple[object, ...]:
        """Return what the kernel matches when a `replace` takes this route's place."""
        return (
            self.family,
            self.table,
            self.type,
            self.dst,
            self.dst_len,
            self.src,
            self.src_len,
            self.tos,
            self.priority,
        )

    def describe(self) -> str:
        """Return the route in `ip route` words."""
        words = [self.destination]
        if self.src is not None:
            words.append(f"from {self.src}/{self.src_len}")
        if self.gateway:
            words.append(f"via {self.gateway}")
        if self.oif:
            words.append(f"dev {self.oif}")
        words.append(f"table {table_name(self.table)}")
        words.append(f"proto {proto_name(self.proto)}")
        if self.priority:
            words.append(f"metric {self.priority}")
        if self.prefsrc:
            words.append(f"src {self.prefsrc}")
        if self.onlink:
            words.append("onlink")
        for name, value in sorted(self.metrics.items()):
            words.append(f"{name} {value}")
        return " ".join(words)


class RuleState(_Model):
    """One policy-routing rule that names a recorded link as iif or oif."""

    family: Family
    priority: int
    table: int
    action: int
    iifname: Optional[str] = None
    oifname: Optional[str] = None
    src: Optional[str] = None
    src_len: int = 0
    dst: Optional[str] = None
    dst_len: int = 0
    tos: int = 0
    flags: int = 0
    fwmark: Optional[int] = None
    fwmask: Optional[int] = None
    goto: Optional[int] = None
    suppress_prefixlen: Optional[int] = None
    suppress_ifgroup: Optional[int] = None
    protocol: Optional[int] = None
    unsupported: list[str] = Field(default_factory=list)

    def describe(self) -> str:
        """Return the rule in `ip rule` words."""
        words = [f"{self.priority}:"]
        if self.flags & FIB_RULE_INVERT:
            words.append("not")
        words.append(f"from {self.src}/{self.src_len}" if self.src else "from all")
        if self.dst:
            words.append(f"to {self.dst}/{self.dst_len}")
        if self.fwmark is not None:
            words.append(f"fwmark {self.fwmark:#x}")
        if self.iifname:
            words.append(f"iif {self.iifname}")
        if self.oifname:
            words.append(f"oif {self.oifname}")
        words.append(f"lookup {table_name(self.table)}")
        if self.family == 6:
            words.insert(0, "-6")
        return " ".join(words)


class CaptureTime(_Model):
    """The moment a snapshot was captured, by the wall clock and the monotonic clock."""

    captured_at: float = 0.0
    monotonic_at: float = 0.0
    boot_id: str = ""


class KernelSnapshot(_Model):
    """The links, addresses, routes and rules a cutover touches, in one namespace at one moment."""

    format_version: int = SNAPSHOT_FORMAT_VERSION
    netns: Optional[str] = None
    captured_at: float = 0.0
    monotonic_at: float = 0.0
    boot_id: str = ""
    ports: list[str]
    bridges: list[str]
    links: list[LinkState]
    addresses: list[AddressState] = Field(default_factory=list)
    routes: list[RouteState] = Field(default_factory=list)
    rules: list[RuleState] = Field(default_factory=list)

    def to_json(self) -> str:
        """Serialise the snapshot to indented JSON."""
        return self.model_dump_json(indent=2)

    @classmethod
    def from_json(cls, text: str) -> KernelSnapshot:
        """Parse a snapshot written by `to_json`."""
        return cls.model_validate_json(text)

    def clock(self) -> CaptureTime:
        """Return when the snapshot was captured."""
        return CaptureTime(
            captured_at=self.captured_at, monotonic_at=self.monotonic_at, boot_id=self.boot_id
        )

    def link(self, name: str) -> LinkState:
        """Return the recorded link called `name`."""
        for link in self.links:
            if link.name == name:
                return link
        raise KeyError(f"link {name} is not part of the snapshot")

    def addresses_of(self, name: str) -> list[AddressState]:
        """Return the addresses of link `name` in kernel order."""
        return [address for address in self.addresses if address.ifname == name]

    def routes_of(self, name: str) -> list[RouteState]:
        """Return the routes whose device is link `name`."""
        return [route for route in self.routes if route.oif == name]

    def rules_naming(self, name: str) -> list[RuleState]:
        """Return the rules whose iif or oif is link `name`."""
        return [rule for rule in self.rules if name in (rule.iifname, rule.oifname)]


def read_boot_id() -> str:
    """Return the kernel's boot id, which changes at every boot."""
    try:
        with open(BOOT_ID_PATH, encoding="ascii") as handle:
            return handle.read().strip()
    except OSError:
        return ""


def clock_now() -> tuple[float, float, str]:
    """Return the wall-clock time, the monotonic time and the boot id."""
    return time.time(), time.monotonic(), read_boot_id()


def elapsed_seconds(since: CaptureTime) -> float:
    """Return the seconds since the capture time `since`, never below zero.

    The monotonic clock is used while the boot is the same, because it does not
    jump when the wall clock is set. Across a reboot only the wall clock remains.
    """
    wall, monotonic, boot_id = clock_now()
    if boot_id and boot_id == since.boot_id:
        return max(0.0, monotonic - since.monotonic_at)
    return max(0.0, wall - since.captured_at)
