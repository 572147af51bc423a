"""Derive the desired files from the current host files and the desired topology.

Everything here is a pure function of the data that `bridgecfg.current` gathered: no
file is read and nothing is written.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Set

from bridgecfg.current.host import BridgeCurrent, CurrentHost, PortCurrent
from bridgecfg.current.readings import BOOTPROTO_DHCP, read_bool, read_bootproto
from bridgecfg.derive import addresses
from bridgecfg.derive import bridge as bridge_files
from bridgecfg.derive.companions import move_companions
from bridgecfg.derive.desired import Desired, DesiredFile
from bridgecfg.derive.lines import EditableFile
from bridgecfg.derive.ports import check_port, check_ports_agree, layer3_port


def derive(current: CurrentHost) -> Desired:
    """Return every file the conversion creates, rewrites or removes, with notes for the user."""
    result = Desired(files=[], notes=[])
    claimed: Set[str] = set()
    moves: Dict[str, str] = {}
    for bridge in current.bridges:
        result.files.extend(_derive_bridge(bridge, result, claimed, moves))
    network = _derive_network(current, moves)
    if network is not None:
        result.files.append(network)
    return result


def _derive_bridge(current: BridgeCurrent, result: Desired, claimed: Set[str],
                   moves: Dict[str, str]) -> List[DesiredFile]:
    desired = current.desired
    notes = result.notes
    for port in current.ports:
        check_port(port, desired.name)
    check_ports_agree(current.ports, desired.name)
    carrier = layer3_port(current)
    bridge_files.check_existing_bridge(current, carrier)

    files = [bridge_files.derive_port(port, desired, desired.name, notes) for port in current.ports]
    if current.existing is None:
        files.append(bridge_files.derive_new_bridge(current, carrier, notes))
    else:
        files.append(bridge_files.derive_existing_bridge(current, carrier, notes))
    files.extend(move_companions(current, bridge_files.bridge_profile_name(current), claimed))

    result.carriers[desired.name] = carrier.name if carrier is not None else None
    reference = carrier or current.ports[0]
    result.nm_controlled[desired.name] = read_bool(reference.profile.parsed, "NM_CONTROLLED", default=True)
    if carrier is not None:
        moves[carrier.name] = desired.name
        notes.extend(_carrier_notes(current, carrier))
        result.file_addresses[carrier.name] = addresses.profile_addresses(carrier.profile.parsed)
        if read_bootproto(carrier.profile.parsed) == BOOTPROTO_DHCP:
            result.dhcp_ports.append(carrier.name)
    for port in current.ports:
        if port is not carrier:
            dropped = [entry.key for entry in bridge_files.moved_entries_for_port(port) if entry.key]
            if dropped:
                notes.append(f"{port.profile.path}: {', '.join(dropped)} removed; the bridge takes its IP "
                             "configuration from " + (carrier.name if carrier else "no port"))
    return files


def _carrier_notes(current: BridgeCurrent, carrier: PortCurrent) -> List[str]:
    notes = []
    desired = current.desired
    parsed = carrier.profile.parsed
    if bridge_files.bootproto_for(carrier, desired) == "dhcp" and desired.mac == "none":
        notes.append(f"{carrier.name} uses DHCP; {desired.name} may present a different MAC and receive a different "
                     f"address. Make sure you have console access or a DHCP reservation, or pin the MAC with "
                     "--mac inherit")
    if any("cloud-init" in line.text for line in parsed.lines if line.key is None):
        notes.append(f"{carrier.profile.path} was written by cloud-init, which may rewrite the network files on "
                     "the next boot; disable its network configuration (network: {config: disabled})")
    if parsed.get("GATEWAY") is None and any(key.startswith("GATEWAY") and key[7:].isdigit() for key in parsed.values):
        notes.append(f"{carrier.profile.path} sets its gateway only as GATEWAYn, which NetworkManager reads but the "
                     "network scripts ignore; it is kept as it is")
    return notes


def _derive_network(current: CurrentHost, moves: Dict[str, str]) -> Optional[DesiredFile]:
    if current.network is None or not moves:
        return None
    editable = EditableFile.from_shell_file(current.network.parsed)
    for port, bridge in moves.items():
        bridge_files.rewrite_network_file(editable, port, bridge)
    if editable.values() == current.network.parsed.values:
        return None
    return DesiredFile.edited(current.network.path, "ifcfg-lines.j2", editable, current.network.source)
