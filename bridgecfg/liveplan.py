"""The live part of a plan: the netlink operations of the cutover and the risks to know about.

`gather_live` reads the kernel and the process's surroundings (the edge); `plan_live` is
a pure function of what it gathered, the desired topology and the derived files.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from bridgecfg import model
from bridgecfg.derive.desired import Desired
from bridgecfg.errors import HostConflict, InvalidInput
from bridgecfg.live.cutover import CutoverRequest, desired_after_state, plan_cutover
from bridgecfg.live.operations import Operation
from bridgecfg.live.state import KernelSnapshot

log = logging.getLogger(__name__)

LIVE_FROM_CHOICES = ("kernel", "files")


@dataclasses.dataclass(frozen=True)
class Surroundings:
    """Facts about the operator's session and NetworkManager that the live plan reports."""

    ssh_server_address: Optional[str]
    established_local_addresses: Tuple[str, ...]
    network_manager_running: bool


@dataclasses.dataclass
class LivePlan:
    """The cutover request, the snapshot it was planned from, its operations and notes."""

    request: CutoverRequest
    snapshot: KernelSnapshot
    operations: List[Operation]
    desired_after: KernelSnapshot
    notes: List[str]
    kernel_addresses: List[str]
    file_addresses: List[str]
    disagreement: Optional[str]
    network_manager: Optional[str]
    stp_outage_seconds: Optional[float]

    def to_json(self) -> Dict[str, Any]:
        return {
            "netns": self.snapshot.netns,
            "bridge": self.request.bridge,
            "ports": list(self.request.ports),
            "operations": [{"description": operation.describe(), **operation.model_dump(mode="json")}
                           for operation in self.operations],
            "notes": list(self.notes),
            "kernel_addresses": self.kernel_addresses,
            "file_addresses": self.file_addresses,
            "disagreement": self.disagreement,
            "network_manager": self.network_manager,
            "stp_outage_seconds": self.stp_outage_seconds,
        }


def single_bridge(topology: model.Topology) -> model.Bridge:
    # NOTE: the live cutover moves one bridge per transaction; a topology with several
    # bridges is written to files in one go, but applied live one bridge at a time.
    if len(topology.bridges) != 1:
        names = ", ".join(bridge.name for bridge in topology.bridges)
        raise InvalidInput(f"the live cutover handles one bridge per run, and the topology has {names}; apply "
                           "them one at a time, or add --files-only")
    return topology.bridges[0]


def gather_surroundings(*, target_is_current_namespace: bool, target_is_initial_namespace: bool) -> Surroundings:
    """Read SSH_CONNECTION, the caller's established TCP sockets and whether NetworkManager runs.

    The session and the sockets only matter when the target is the caller's namespace,
    and NetworkManager only manages the initial one.
    """
    ssh = os.environ.get("SSH_CONNECTION", "").split()
    server = ssh[2] if len(ssh) >= 4 else None
    sockets = _established_local_addresses() if target_is_current_namespace else ()
    return Surroundings(ssh_server_address=server if target_is_current_namespace else None,
                        established_local_addresses=sockets,
                        network_manager_running=target_is_initial_namespace and _network_manager_running())


def _established_local_addresses() -> Tuple[str, ...]:
    found = []
    for name, family in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 6)):
        try:
            lines = Path(name).read_text(encoding="ascii").splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            # Field 3 is the state; 01 is ESTABLISHED.
            if len(fields) > 3 and fields[3] == "01":
                found.append(_decode_proc_address(fields[1].split(":")[0], family))
    return tuple(found)


def _decode_proc_address(text: str, family: int) -> str:
    raw = bytes.fromhex(text)
    # /proc/net/tcp prints each 32-bit word in host (little-endian) byte order.
    words = [raw[index:index + 4][::-1] for index in range(0, len(raw), 4)]
    return str(ipaddress.ip_address(b"".join(words)))


def _network_manager_running() -> bool:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text(encoding="ascii").strip() == "NetworkManager":
                    return True
            except OSError:
                continue
    return False


def cutover_request(bridge: model.Bridge, desired: Desired, snapshot: KernelSnapshot,
                    *, live_from: Optional[str]) -> Tuple[CutoverRequest, List[str], List[str], Optional[str]]:
    """Build the cutover request, and compare the kernel's addresses with the files'."""
    carrier = desired.carriers.get(bridge.name)
    kernel = [address.cidr for address in snapshot.addresses_of(carrier)
              if address.scope == 0] if carrier else []
    files = [str(ipaddress.ip_interface(cidr)) for cidr in desired.file_addresses.get(carrier or "", [])]
    disagreement = None
    addresses: Optional[Tuple[str, ...]] = None
    is_dhcp = carrier in desired.dhcp_ports
    if carrier and not is_dhcp and sorted(kernel) != sorted(files):
        disagreement = (f"{carrier} holds {', '.join(kernel) or 'no global address'} in the kernel, but its "
                        f"profile configures {', '.join(files) or 'none'}")
        if live_from == "files":
            missing = sorted(set(files) - set(kernel))
            if missing:
                raise HostConflict(f"--live-from files: {carrier} does not hold {', '.join(missing)} in the kernel, "
                                   "so the cutover cannot move it; add it first, or use --live-from kernel")
            addresses = tuple(files)
    # The live bridge takes the port's MAC unless an explicit one is given, so that
    # neighbours need no new ARP or NDP entry; 'none' and 'inherit' only shape the files.
    mac = bridge.mac if bridge.mac not in ("none", "inherit") else None
    request = CutoverRequest(bridge=bridge.name, ports=tuple(bridge.ports), l3_port=carrier, stp=bridge.stp,
                             forward_delay=float(bridge.forward_delay) if bridge.forward_delay is not None else None,
                             mtu=bridge.mtu, mac=mac, addresses=addresses)
    return request, kernel, files, disagreement


def plan_live(bridge: model.Bridge, desired: Desired, snapshot: KernelSnapshot, surroundings: Surroundings,
              *, live_from: Optional[str]) -> LivePlan:
    """Order the cutover operations and collect the notes the operator must read first."""
    request, kernel, files, disagreement = cutover_request(bridge, desired, snapshot, live_from=live_from)
    operations = plan_cutover(snapshot, request)
    after = desired_after_state(snapshot, request)
    notes: List[str] = []
    carrier = request.l3_port
    if carrier:
        notes.extend(_session_notes(carrier, kernel, surroundings))
        if carrier in desired.dhcp_ports:
            notes.append(f"DHCP lease: {carrier} is on DHCP. The current addresses and routes move to {bridge.name} "
                         f"with their remaining lifetimes; the DHCP client (dhclient, or NetworkManager) must be "
                         f"restarted on {bridge.name} before the lease expires")
    if bridge.mac == "none":
        notes.append(f"after a reboot, {bridge.name}'s MAC is chosen by the kernel or udev, not taken from "
                     f"{carrier or bridge.ports[0]}: pin it with --mac inherit")
    notes.extend(_mtu_notes(snapshot, request))
    outage = None
    if bridge.stp:
        delay = float(bridge.forward_delay if bridge.forward_delay is not None else 15)
        outage = 2 * delay
        notes.append(f"STP on: about {outage:g} s (twice the forward delay) without forwarding while the port "
                     "goes through the listening and learning states")
    if not operations:
        # The running system already matches: nothing happens, so there is no risk to report.
        notes = []
        outage = None
    network_manager = None
    if operations and surroundings.network_manager_running and _managed_by_network_manager(desired, bridge):
        network_manager = _network_manager_message(bridge)
    return LivePlan(request=request, snapshot=snapshot, operations=operations, desired_after=after, notes=notes,
                    kernel_addresses=kernel, file_addresses=files, disagreement=disagreement,
                    network_manager=network_manager, stp_outage_seconds=outage)


def _session_notes(carrier: str, kernel: Sequence[str], surroundings: Surroundings) -> List[str]:
    held = {cidr.split("/")[0] for cidr in kernel}
    notes = []
    if surroundings.ssh_server_address in held:
        notes.append(f"the port carries your SSH connection: {carrier} holds {surroundings.ssh_server_address}, the "
                     "address this session came in on. Keep the confirm timeout on")
    others = sorted({address for address in surroundings.established_local_addresses if address in held}
                    - {surroundings.ssh_server_address or ""})
    if others:
        notes.append(f"established TCP connections use {', '.join(others)} on {carrier}; they survive the cutover "
                     "because the addresses move without a gap")
    return notes


def _mtu_notes(snapshot: KernelSnapshot, request: CutoverRequest) -> List[str]:
    mtus = {name: snapshot.link(name).mtu for name in request.ports if snapshot.link(name).present}
    wanted = request.mtu
    distinct = {mtu for mtu in mtus.values() if mtu is not None}
    if len(distinct) > 1 or (wanted is not None and any(mtu != wanted for mtu in distinct)):
        shown = ", ".join(f"{name} {mtu}" for name, mtu in mtus.items())
        return [f"MTU differs: {shown}{f', bridge {wanted}' if wanted else ''}; the kernel clamps the bridge "
                "to its smallest port's MTU"]
    return []


def _managed_by_network_manager(desired: Desired, bridge: model.Bridge) -> bool:
    if bridge.nm_controlled is not None:
        return bridge.nm_controlled
    return desired.nm_controlled.get(bridge.name, True)


def _network_manager_message(bridge: model.Bridge) -> str:
    ports = " ".join(bridge.ports)
    return (f"NetworkManager is running and manages {ports}; it would fight a netlink cutover, so bridgecfg does "
            f"not change the running system. Instead run: bridgecfg apply --files-only ..., then "
            f"nmcli connection load /etc/sysconfig/network-scripts/ifcfg-{bridge.name} and the port's profile, then "
            f"nmcli connection up ifcfg-{bridge.name}. That route has no automatic revert: keep a console open")
