"""Decide whether each port can join the bridge, and which one carries the IP configuration."""

from __future__ import annotations

from typing import List, Optional, Sequence

from bridgecfg.current.host import BridgeCurrent, PortCurrent
from bridgecfg.current.readings import BOOTPROTO_DHCP, read_bool, read_bootproto, read_type
from bridgecfg.current.shellvars import ShellFile
from bridgecfg.errors import HostConflict

# Keys that only a Wi-Fi profile carries. KEY_MGMT is not one of them: a wired 802.1X
# profile sets KEY_MGMT=IEEE8021X.
_WIFI_KEYS = ("ESSID", "WPA_PSK", "CHANNEL", "MODE", "WIFI_BAND", "SECURITYMODE")
_PORT_TYPES = {"ethernet": "Ethernet", "bond": "Bond", "vlan": "Vlan", "team": "Team"}
_ADDRESS_PREFIXES = ("IPADDR", "IPV6ADDR")


def check_port(port: PortCurrent, bridge: str) -> None:
    """Raise HostConflict when the port's profile cannot become a port of the bridge."""
    profile = port.profile.parsed
    path = port.profile.path
    if port.keyfiles:
        files = ", ".join(port.keyfiles)
        raise HostConflict(f"{port.name} is also configured by a NetworkManager keyfile ({files}); converting only "
                           f"{path} would leave a competing profile that puts the old addresses back on "
                           f"{port.name}. Remove or convert that profile first")
    _check_not_enslaved(port, profile, bridge)
    _check_type(port, profile)


def _check_not_enslaved(port: PortCurrent, profile: ShellFile, bridge: str) -> None:
    path = profile.path
    if profile.get("MASTER") or profile.get("MASTER_UUID") or read_bool(profile, "SLAVE", default=False):
        owner = profile.get("MASTER") or profile.get("MASTER_UUID")
        if owner:
            raise HostConflict(f"{port.name} is a slave of bond {owner} ({path} sets MASTER/SLAVE); bridge the "
                               f"bond instead: bridgecfg ... --port {owner}")
        raise HostConflict(f"{port.name} is marked as a bond slave ({path} sets SLAVE without MASTER); bridge "
                           "its bond instead, or remove SLAVE from the profile if the interface is in no bond")
    team_type = (profile.get("DEVICETYPE") or profile.get("TYPE") or "").lower()
    if profile.get("TEAM_MASTER") or team_type == "teamport":
        team = profile.get("TEAM_MASTER")
        target = f"the team device {team}" if team else "its team device"
        raise HostConflict(f"{port.name} is a team port ({path} sets TEAM_MASTER or TYPE=TeamPort); bridge "
                           f"{target} instead")
    other = profile.get("BRIDGE")
    if other and other != bridge:
        raise HostConflict(f"{port.name} is already a port of bridge {other} ({path} sets BRIDGE={other}); remove "
                           f"it from {other} first, or add it to {other} instead of {bridge}")
    if port.master and port.master != bridge:
        raise HostConflict(f"{port.name} is enslaved to {port.master} on the running system; release it first "
                           f"(ip link set {port.name} nomaster) or choose {port.master} as the bridge")


def _check_type(port: PortCurrent, profile: ShellFile) -> None:
    path = profile.path
    raw_type = profile.get("DEVICETYPE") or profile.get("TYPE") or ""
    word = raw_type.lower()
    if word in ("wireless", "wifi", "wi-fi") or any(profile.get(key) for key in _WIFI_KEYS):
        raise HostConflict(f"{port.name} is a Wi-Fi interface ({path}); a Wi-Fi client station cannot forward "
                           "other MAC addresses, so it cannot be a bridge port. Bridge a wired interface, or "
                           "route or NAT the guests' traffic instead")
    if profile.get("IPV6TUNNELIPV4"):
        raise HostConflict(f"{port.name} is an IPv6-in-IPv4 tunnel ({path} sets IPV6TUNNELIPV4); a tunnel carries no "
                           "Ethernet frames, so it cannot be a bridge port. Bridge an Ethernet interface instead")
    if word == "infiniband" or profile.get("CONNECTED_MODE") or profile.get("PKEY"):
        raise HostConflict(f"{port.name} is an InfiniBand interface ({path}); IP over InfiniBand cannot join an "
                           "Ethernet bridge. Bridge an Ethernet interface instead")
    if read_type(profile, canonical="Bridge"):
        raise HostConflict(f"{port.name} is itself a bridge ({path} has TYPE=Bridge); choose its Ethernet, bond "
                           "or VLAN port instead")
    if word and word not in _PORT_TYPES:
        raise HostConflict(f"{port.name} has TYPE={raw_type} ({path}); only Ethernet, bond, VLAN and team "
                           "interfaces can become bridge ports here")
    if word:
        read_type(profile, canonical=_PORT_TYPES[word])


def has_layer3(profile: ShellFile) -> bool:
    """Tell whether a profile configures addresses: static ones, DHCP or SLAAC."""
    values = profile.values
    if any(key.startswith(_ADDRESS_PREFIXES) and value for key, value in values.items()):
        return True
    if read_bootproto(profile) == BOOTPROTO_DHCP:
        return True
    if read_bool(profile, "DHCPV6C", default=False):
        return True
    return bool(values.get("IPV6_AUTOCONF")) and read_bool(profile, "IPV6_AUTOCONF", default=False)


def layer3_port(current: BridgeCurrent) -> Optional[PortCurrent]:
    """Return the one port that carries IP configuration, or None; raise if several do."""
    carriers = [port for port in current.ports if has_layer3(port.profile.parsed)]
    if len(carriers) > 1:
        listed = ", ".join(f"{port.name} ({port.profile.path})" for port in carriers)
        raise HostConflict(f"several ports of {current.desired.name} carry IP configuration: {listed}. A bridge "
                           "has one IP configuration; remove the addresses from all ports but one")
    return carriers[0] if carriers else None


def check_ports_agree(ports: Sequence[PortCurrent], bridge: str) -> None:
    """Raise when the ports disagree about NM_CONTROLLED or ONBOOT, which the bridge must share."""
    for key in ("NM_CONTROLLED", "ONBOOT"):
        readings: List[str] = []
        for port in ports:
            value = read_bool(port.profile.parsed, key, default=True)
            readings.append(f"{port.name} {'yes' if value else 'no'}")
        if len({reading.split()[1] for reading in readings}) > 1:
            raise HostConflict(f"the ports of {bridge} disagree about {key} ({', '.join(readings)}); a bridge "
                               f"managed half by NetworkManager or brought up half at boot fails. Set the same "
                               f"{key} in every port's profile")
