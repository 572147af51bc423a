"""Check the kernel after a cutover: the state read back, and reachability.

`verify_state` captures the links, addresses, routes and rules again and compares
them with the desired after-state, one line per mismatch in the form
`route default table 254 metric 0: device desired br0, current eth0`.

Reachability is tested without ICMP, so it needs no CAP_NET_RAW:

- `NeighbourCheck`: send one UDP datagram to the discard port (9) of an address,
  which makes the kernel resolve it, then poll the neighbour table of the outgoing
  device until the entry is REACHABLE, STALE, DELAY, PERMANENT or NOARP;
- `TcpCheck`: open a TCP connection to an address and port within a timeout.

Run `select_checks` before the change. Only the checks that pass then are worth
requiring afterwards, so `run_checks` gets just those.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import time
from dataclasses import dataclass
from typing import Any, Optional, Sequence, Union

from bridgecfg.live.compare import CompareOptions, compare_snapshots
from bridgecfg.live.constants import (
    AF_INET,
    AF_INET6,
    NUD_DELAY,
    NUD_NAMES,
    NUD_NOARP,
    NUD_PERMANENT,
    NUD_REACHABLE,
    NUD_STALE,
)
from bridgecfg.live.netlink import open_socket
from bridgecfg.live.snapshot import capture
from bridgecfg.live.state import KernelSnapshot

log = logging.getLogger(__name__)

DISCARD_PORT = 9
RESOLVED_STATES = NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PERMANENT | NUD_NOARP
POLL_INTERVAL = 0.01


@dataclass(frozen=True)
class NeighbourCheck:
    """A gateway or peer address whose link-layer address must resolve."""

    address: str
    timeout: float = 3.0

    def describe(self) -> str:
        return f"neighbour {self.address} resolves"


@dataclass(frozen=True)
class TcpCheck:
    """A TCP service that must accept a connection."""

    address: str
    port: int
    timeout: float = 3.0

    def describe(self) -> str:
        return f"TCP connection to {_endpoint(self.address, self.port)}"


Check = Union[NeighbourCheck, TcpCheck]


def verify_state(ipr: Any, desired: KernelSnapshot) -> list[str]:
    """Return one line per difference between `desired` and the kernel now.

    Link-local IPv6 addresses that the kernel generated on its own, and bridge
    options that `desired` does not name, are not differences.
    """
    current = capture(ipr, ports=desired.ports, bridges=desired.bridges, netns=desired.netns)
    options = CompareOptions(
        expected_label="desired",
        actual_label="current",
        ignore_extra_link_local=True,
        bridge_options_subset=True,
    )
    return compare_snapshots(desired, current, options)


def gateway_checks(snapshot: KernelSnapshot, port: str) -> list[Check]:
    """Return a neighbour check for each gateway of the routes through `port`."""
    gateways = []
    for route in snapshot.routes_of(port):
        if route.gateway and route.gateway not in gateways:
            gateways.append(route.gateway)
    return [NeighbourCheck(address=gateway) for gateway in gateways]


def select_checks(ipr: Any, candidates: Sequence[Check], *, netns: Optional[str]) -> list[Check]:
    """Run `candidates` now and return those that pass, logging the others."""
    selected = []
    for check in candidates:
        failure = run_check(ipr, check, netns=netns)
        if failure is None:
            selected.append(check)
        else:
            log.warning("not requiring %s after the change: %s", check.describe(), failure)
    return selected


def run_checks(ipr: Any, checks: Sequence[Check], *, netns: Optional[str]) -> list[str]:
    """Run `checks` and return one line per failed check."""
    failures = []
    for check in checks:
        failure = run_check(ipr, check, netns=netns)
        if failure is not None:
            failures.append(f"{check.describe()}: {failure}")
    return failures


def run_check(ipr: Any, check: Check, *, netns: Optional[str]) -> Optional[str]:
    """Run one check; return None when it passes, else why it failed."""
    if isinstance(check, NeighbourCheck):
        return _check_neighbour(ipr, check, netns)
    return _check_tcp(check, netns)


def _family(address: str) -> int:
    return AF_INET if ipaddress.ip_address(address).version == 4 else AF_INET6


def _endpoint(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def _outgoing_index(ipr: Any, address: str) -> Optional[int]:
    """Return the device of a route through `address`, or of the route to it."""
    family = _family(address)
    for message in ipr.route("dump", family=family):
        if message.get_attr("RTA_GATEWAY") == address and message.get_attr("RTA_OIF"):
            return int(message.get_attr("RTA_OIF"))
    if ipaddress.ip_address(address).is_link_local:
        return None
    for message in ipr.route("get", dst=address, family=family):
        oif = message.get_attr("RTA_OIF")
        if oif:
            return int(oif)
    return None


def _send_probe(address: str, index: int, netns: Optional[str]) -> None:
    family = _family(address)
    with open_socket(netns, family, socket.SOCK_DGRAM) as probe:
        target: tuple[Any, ...] = (address, DISCARD_PORT)
        if family == AF_INET6:
            target = (address, DISCARD_PORT, 0, index)
        try:
            probe.sendto(b"bridgecfg neighbour probe", target)
        except OSError as error:
            log.debug("probe datagram to %s failed: %s", address, error)


def _neighbour_state(ipr: Any, address: str, index: int) -> int:
    for message in ipr.get_neighbours(family=_family(address)):
        if message["ifindex"] == index and message.get_attr("NDA_DST") == address:
            return int(message["state"])
    return 0


def _state_names(state: int) -> str:
    names = [name for bit, name in NUD_NAMES.items() if state & bit]
    return "|".join(names) or "no entry"


def _check_neighbour(ipr: Any, check: NeighbourCheck, netns: Optional[str]) -> Optional[str]:
    index = _outgoing_index(ipr, check.address)
    if index is None:
        return f"no route to {check.address}"
    _send_probe(check.address, index, netns)
    deadline = time.monotonic() + check.timeout
    state = 0
    while time.monotonic() < deadline:
        state = _neighbour_state(ipr, check.address, index)
        if state & RESOLVED_STATES:
            return None
        time.sleep(POLL_INTERVAL)
    return f"not resolved within {check.timeout:g} s (state {_state_names(state)})"


def _check_tcp(check: TcpCheck, netns: Optional[str]) -> Optional[str]:
    with open_socket(netns, _family(check.address), socket.SOCK_STREAM) as connection:
        connection.settimeout(check.timeout)
        try:
            connection.connect((check.address, check.port))
        except socket.timeout:
            return f"timed out after {check.timeout:g} s"
        except OSError as error:
            return f"connection failed: {error.strerror or error}"
    return None
