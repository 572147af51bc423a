"""Derive the desired port and bridge profiles of one bridge from the current files."""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Set, Tuple

from bridgecfg import model
from bridgecfg.current.host import BridgeCurrent, PortCurrent
from bridgecfg.current.hostfiles import SCRIPTS_DIR
from bridgecfg.current.readings import BOOTPROTO_DHCP, BOOTPROTO_STATIC, read_bool, read_bootproto, read_type
from bridgecfg.derive import addresses, keys
from bridgecfg.derive.desired import DesiredFile
from bridgecfg.derive.lines import EditableFile, Entry, matches_any
from bridgecfg.derive.ports import has_layer3
from bridgecfg.errors import HostConflict
from bridgecfg.render.quoting import Verbatim

# The kernel's default forward delay, in seconds, used when STP is on and none is given.
DEFAULT_FORWARD_DELAY = 15


def bridge_path(current: BridgeCurrent) -> str:
    if current.existing is not None:
        return current.existing.path
    return f"{SCRIPTS_DIR}/ifcfg-{current.desired.name}"


def bridge_profile_name(current: BridgeCurrent) -> str:
    return current.existing.name if current.existing is not None else current.desired.name


def check_existing_bridge(current: BridgeCurrent, carrier: Optional[PortCurrent]) -> None:
    """Raise when an existing bridge profile, or its absence, rules out the conversion."""
    bridge = current.desired.name
    existing = current.existing
    if existing is None:
        half_done = [port for port in current.ports if port.profile.parsed.get("BRIDGE") == bridge]
        if half_done:
            port = half_done[0]
            raise HostConflict(f"{port.profile.path} already has BRIDGE={bridge}, but the bridge profile "
                               f"{bridge_path(current)} is missing. bridgecfg does not guess the addresses of a "
                               "half-converted host: restore the port's backup, or write the bridge profile, "
                               "then run bridgecfg again")
        return
    if not read_type(existing.parsed, canonical="Bridge"):
        raise HostConflict(f"{existing.path} defines {bridge} with TYPE={existing.parsed.get('TYPE') or '(none)'}, "
                           "not a bridge; choose another bridge name or fix that profile")
    if carrier is not None and has_layer3(existing.parsed):
        raise HostConflict(f"both {carrier.profile.path} and {existing.path} carry IP configuration; bridgecfg "
                           f"will not merge them. Remove the addresses from one of the two files")
    _check_ports_agree_with_bridge(current)


def _check_ports_agree_with_bridge(current: BridgeCurrent) -> None:
    """Raise when a port reads NM_CONTROLLED or ONBOOT differently from the existing bridge profile.

    A new bridge takes both keys from its port, but an existing one keeps its own, so a
    port added to it must already agree. An explicit nm_controlled setting rewrites
    NM_CONTROLLED in every file, so only ONBOOT is compared then.
    """
    existing = current.existing
    assert existing is not None
    compared = ("ONBOOT",) if current.desired.nm_controlled is not None else ("NM_CONTROLLED", "ONBOOT")
    for key in compared:
        bridge_value = read_bool(existing.parsed, key, default=True)
        differing = [port for port in current.ports
                     if read_bool(port.profile.parsed, key, default=True) != bridge_value]
        if differing:
            readings = ", ".join(f"{port.name} {'no' if bridge_value else 'yes'} ({port.profile.path})"
                                 for port in differing)
            raise HostConflict(f"the ports of {current.desired.name} disagree with {existing.path} about {key} "
                               f"(bridge {'yes' if bridge_value else 'no'}, {readings}); a bridge managed half by "
                               f"NetworkManager or brought up half at boot fails. Set the same {key} in the "
                               "bridge's and every port's profile")


def derive_port(port: PortCurrent, desired: model.Bridge, bridge_device: str, notes: List[str]) -> DesiredFile:
    """Keep the port's identity and link keys, drop its layer-3 keys, and make it a port."""
    editable = EditableFile.from_shell_file(port.profile.parsed)
    editable.remove(lambda key: not keys.is_layer3(key))
    editable.set("BOOTPROTO", BOOTPROTO_STATIC)
    editable.set("BRIDGE", bridge_device)
    if desired.nm_controlled is not None:
        editable.set("NM_CONTROLLED", "yes" if desired.nm_controlled else "no")
    if desired.mtu is not None and _port_mtu(port) < desired.mtu:
        editable.set("MTU", str(desired.mtu))
        notes.append(f"{port.name}: MTU raised to {desired.mtu}, because the kernel clamps a bridge's MTU to "
                     "its smallest port's")
    return DesiredFile.edited(port.profile.path, "ifcfg-port.j2", editable, port.profile.source)


def _port_mtu(port: PortCurrent) -> int:
    value = port.profile.parsed.get("MTU") or ""
    return int(value) if value.isdigit() else 1500


def layer3_entries(carrier: Optional[PortCurrent], desired: model.Bridge, notes: List[str]) -> EditableFile:
    """Collect the layer-3 keys that move to the bridge, normalised, then apply the explicit settings."""
    moved = EditableFile.empty()
    if carrier is not None:
        profile = carrier.profile.parsed
        source = EditableFile.from_shell_file(profile)
        moved.entries = [entry for entry in source.entries if entry.key is not None and keys.is_layer3(entry.key)]
        addresses.normalise_ipv4(profile, moved, notes)
        addresses.check_ipv6(profile)
        notes.extend(addresses.prefix_notes(profile))
        _rewrite_device_values(moved, carrier.name, desired.name)
    _apply_ipv4(moved, desired)
    _apply_ipv6(moved, desired)
    _apply_dns(moved, desired)
    return moved


def _apply_ipv4(moved: EditableFile, desired: model.Bridge) -> None:
    if desired.ipv4 == "inherit":
        return
    settings: List[Tuple[str, str]] = []
    if isinstance(desired.ipv4, model.StaticAddresses):
        for number, network in enumerate(desired.ipv4.networks()):
            index = "" if number == 0 else str(number)
            settings.append((f"IPADDR{index}", str(network.ip)))
            settings.append((f"PREFIX{index}", str(network.prefixlen)))
        if desired.ipv4.gateway:
            settings.append(("GATEWAY", desired.ipv4.gateway))
    _replace_keys(moved, keys.IPV4_ADDRESS_KEYS, settings)


def _apply_ipv6(moved: EditableFile, desired: model.Bridge) -> None:
    if desired.ipv6 == "inherit":
        return
    settings = [("IPV6INIT", "yes"), ("IPV6_AUTOCONF", "no")]
    if desired.ipv6 == "dhcp":
        settings.append(("DHCPV6C", "yes"))
    else:
        assert isinstance(desired.ipv6, model.StaticAddresses)
        settings.append(("IPV6ADDR", desired.ipv6.addresses[0]))
        if len(desired.ipv6.addresses) > 1:
            settings.append(("IPV6ADDR_SECONDARIES", " ".join(desired.ipv6.addresses[1:])))
        if desired.ipv6.gateway:
            settings.append(("IPV6_DEFAULTGW", desired.ipv6.gateway))
    _replace_keys(moved, keys.IPV6_ADDRESS_KEYS, settings)


def _apply_dns(moved: EditableFile, desired: model.Bridge) -> None:
    if desired.dns is None:
        return
    settings = [(f"DNS{number}", server) for number, server in enumerate(desired.dns.servers, start=1)]
    if desired.dns.search:
        settings.append(("DOMAIN", " ".join(desired.dns.search)))
    _replace_keys(moved, keys.DNS_SETTING_KEYS, settings)


def _replace_keys(editable: EditableFile, patterns: Sequence[str], settings: List[Tuple[str, str]]) -> None:
    """Set the keys that match patterns to exactly the given settings, removing the others.

    A key that is already there keeps its place, so a second run over an existing bridge
    file leaves it byte for byte as it is. A new key goes after the last key of its
    family, or at the end when the file has none of them.
    """
    wanted = {key for key, _ in settings}
    editable.remove(lambda key: key in wanted or not matches_any(key, patterns))
    for key, value in settings:
        family = [name for name in editable.keys() if matches_any(name, patterns)]
        if family and key not in family:
            editable.set_after(family[-1], key, value)
        else:
            editable.set(key, value)


def _rewrite_device_values(editable: EditableFile, port: str, bridge: str) -> None:
    """Point device-naming values at the bridge: GATEWAYDEV, IPV6_DEFAULTDEV and a %port zone."""
    for key in ("GATEWAYDEV", "IPV6_DEFAULTDEV"):
        if editable.get(key) == port:
            editable.set(key, bridge)
    gateway = editable.get("IPV6_DEFAULTGW")
    if gateway and gateway.endswith(f"%{port}"):
        editable.set("IPV6_DEFAULTGW", gateway[: -len(port)] + bridge)


def rewrite_network_file(editable: EditableFile, port: str, bridge: str) -> None:
    _rewrite_device_values(editable, port, bridge)


def bootproto_for(carrier: Optional[PortCurrent], desired: model.Bridge) -> str:
    if desired.ipv4 == "dhcp":
        return BOOTPROTO_DHCP
    if isinstance(desired.ipv4, model.StaticAddresses) or carrier is None:
        return BOOTPROTO_STATIC
    return read_bootproto(carrier.profile.parsed)


def bridge_mac(ports: List[PortCurrent], carrier: Optional[PortCurrent], policy: str) -> Optional[str]:
    """Resolve the MAC policy: None for 'none', the port's MAC for 'inherit', else the given MAC."""
    if policy == "none":
        return None
    if policy != "inherit":
        return policy
    port = carrier or ports[0]
    values = port.profile.parsed.values
    for source in (values.get("MACADDR"), values.get("HWADDR"), port.mac):
        if source:
            return model.parse_mac(source)
    raise HostConflict(f"--mac inherit: {port.name} has no MACADDR or HWADDR in {port.profile.path} and no MAC "
                       f"under /sys/class/net/{port.name}/address; give the MAC explicitly with --mac")


def derive_new_bridge(current: BridgeCurrent, carrier: Optional[PortCurrent], notes: List[str]) -> DesiredFile:
    """Build a new bridge profile: identity, the moved layer-3 keys, then the bridge settings."""
    desired = current.desired
    reference = carrier or current.ports[0]
    profile = reference.profile.parsed
    moved = layer3_entries(carrier, desired, notes)
    onboot = "yes" if read_bool(profile, "ONBOOT", default=True) else "no"
    nm_controlled = _nm_controlled(desired, reference)
    mtu = str(desired.mtu) if desired.mtu is not None else profile.get("MTU") or None
    mac = bridge_mac(list(current.ports), carrier, desired.mac)
    bootproto = bootproto_for(carrier, desired)
    stp = "yes" if desired.stp else "no"
    delay = str(desired.forward_delay if desired.forward_delay is not None
                else DEFAULT_FORWARD_DELAY if desired.stp else 0)
    context = {
        "header": Verbatim(f"# Bridge {desired.name}, created by bridgecfg from the profile of {reference.name}"),
        "device": desired.name,
        "onboot": onboot,
        "bootproto": bootproto,
        "settings": moved.entries,
        "stp": stp,
        "delay": delay,
        "mtu": mtu,
        "macaddr": mac,
        "nm_controlled": nm_controlled,
    }
    intended: Dict[str, str] = {"DEVICE": desired.name, "TYPE": "Bridge", "ONBOOT": onboot, "BOOTPROTO": bootproto}
    intended.update(moved.values())
    intended.update({"STP": stp, "DELAY": delay})
    for key, value in (("MTU", mtu), ("MACADDR", mac), ("NM_CONTROLLED", nm_controlled)):
        if value is not None:
            intended[key] = value
    return DesiredFile(path=bridge_path(current), template="ifcfg-bridge.j2", context=context,
                       intended=intended, current=None)


def _nm_controlled(desired: model.Bridge, reference: PortCurrent) -> Optional[str]:
    if desired.nm_controlled is not None:
        return "yes" if desired.nm_controlled else "no"
    return reference.profile.parsed.get("NM_CONTROLLED")


def derive_existing_bridge(current: BridgeCurrent, carrier: Optional[PortCurrent], notes: List[str]) -> DesiredFile:
    """Edit an existing bridge profile: add the moved layer-3 keys and the settings given explicitly."""
    existing = current.existing
    assert existing is not None
    desired = current.desired
    editable = EditableFile.from_shell_file(existing.parsed)
    explicit = desired.model_fields_set
    if carrier is not None:
        editable.append_entries(layer3_entries(carrier, desired, notes).entries)
        editable.set("BOOTPROTO", bootproto_for(carrier, desired))
    else:
        _apply_ipv4(editable, desired)
        _apply_ipv6(editable, desired)
        _apply_dns(editable, desired)
        if desired.ipv4 != "inherit":
            editable.set("BOOTPROTO", bootproto_for(None, desired))
    _apply_explicit_settings(editable, current, carrier, explicit)
    return DesiredFile.edited(existing.path, "ifcfg-lines.j2", editable, existing.source)


def _apply_explicit_settings(editable: EditableFile, current: BridgeCurrent, carrier: Optional[PortCurrent],
                             explicit: Set[str]) -> None:
    desired = current.desired
    if "stp" in explicit:
        editable.set("STP", "yes" if desired.stp else "no")
        if desired.stp and desired.forward_delay is None:
            delay = editable.get("DELAY")
            if delay is None or not delay.isdigit() or not 2 <= int(delay) <= 30:
                editable.set("DELAY", str(DEFAULT_FORWARD_DELAY))
    if "forward_delay" in explicit and desired.forward_delay is not None:
        editable.set("DELAY", str(desired.forward_delay))
    if "mtu" in explicit and desired.mtu is not None:
        editable.set("MTU", str(desired.mtu))
    if "mac" in explicit:
        mac = _kept_inherited_mac(editable, current, carrier) or bridge_mac(list(current.ports), carrier, desired.mac)
        if mac is None:
            editable.remove_keys(["MACADDR"])
        else:
            editable.set("MACADDR", mac)
    if "nm_controlled" in explicit and desired.nm_controlled is not None:
        editable.set("NM_CONTROLLED", "yes" if desired.nm_controlled else "no")


def _kept_inherited_mac(editable: EditableFile, current: BridgeCurrent, carrier: Optional[PortCurrent]) -> Optional[str]:
    """Return the bridge's MACADDR when --mac inherit finds it already taken from one of the ports.

    On a second run the IP configuration has moved, so no port is the carrier any more and
    bridge_mac would fall back to the first port. Keeping a MACADDR that some port supplies
    makes the second run a no-op, whichever port the first run took it from.
    """
    existing = editable.get("MACADDR")
    if current.desired.mac != "inherit" or carrier is not None or not existing:
        return None
    wanted = _parsed_mac(existing)
    for port in current.ports:
        values = port.profile.parsed.values
        for source in (values.get("MACADDR"), values.get("HWADDR"), port.mac):
            if source and wanted is not None and _parsed_mac(source) == wanted:
                return existing
    return None


def _parsed_mac(value: str) -> Optional[str]:
    try:
        return model.parse_mac(value)
    except ValueError:
        return None


def moved_entries_for_port(port: PortCurrent) -> List[Entry]:
    """List the layer-3 assignments a port loses, for the notes of a port that is not the carrier."""
    source = EditableFile.from_shell_file(port.profile.parsed)
    return [entry for entry in source.entries if entry.key is not None and keys.is_layer3(entry.key)]
