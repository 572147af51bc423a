"""Normalise the address keys that move to a bridge, keeping what they mean.

Both the network scripts and NetworkManager scan IPADDR, IPADDR0 and IPADDR1 when present,
then IPADDR2, IPADDR3 and so on until the first missing index. PREFIXn wins over
NETMASKn. A CIDR suffix written inside IPADDRn is split off here, because ifup-eth would
otherwise append a second one.
"""

from __future__ import annotations

import re
from typing import Dict, List, Optional, Tuple

import netaddr

from bridgecfg.current.shellvars import ShellFile
from bridgecfg.derive.lines import EditableFile
from bridgecfg.errors import UnreadableFile

_INDEX_SUFFIX = re.compile(r"^(IPADDR|PREFIX|NETMASK|GATEWAY|BROADCAST)(\d*)$")


def address_indexes(values: Dict[str, str]) -> List[str]:
    """Return the index suffixes of the IPv4 addresses that exist, in scan order.

    An empty IPADDRn counts as missing, as it does for both readers.
    """
    found = [index for index in ("", "0", "1") if values.get(f"IPADDR{index}")]
    number = 2
    while values.get(f"IPADDR{number}"):
        found.append(str(number))
        number += 1
    return found


def normalise_ipv4(profile: ShellFile, editable: EditableFile, notes: List[str]) -> None:
    """Rewrite the IPv4 address keys of an editable copy so that each address has one prefix.

    Raise UnreadableFile for an address or prefix that does not parse, or for a CIDR
    suffix that disagrees with PREFIXn or NETMASKn.
    """
    values = profile.values
    live = address_indexes(values)
    _drop_dead_indexes(profile, editable, live, notes)
    for index in live:
        address, prefix = _effective_address(profile, index)
        editable.set(f"IPADDR{index}", address)
        if values.get(f"PREFIX{index}"):
            # PREFIXn wins over NETMASKn for both readers, so a NETMASKn beside it is dead.
            editable.remove_keys([f"NETMASK{index}"])
        elif prefix is not None and not values.get(f"NETMASK{index}"):
            editable.set_after(f"IPADDR{index}", f"PREFIX{index}", str(prefix))


def _effective_address(profile: ShellFile, index: str) -> Tuple[str, Optional[int]]:
    key = f"IPADDR{index}"
    raw = profile.values[key]
    text, _, suffix = raw.partition("/")
    address = _parse_ipv4(profile, key, text)
    cidr = _parse_prefix(profile, key, suffix) if suffix else None
    prefix_key, netmask_key = f"PREFIX{index}", f"NETMASK{index}"
    prefix = _parse_prefix(profile, prefix_key, profile.values[prefix_key]) if profile.values.get(prefix_key) else None
    netmask = _parse_netmask(profile, netmask_key) if profile.values.get(netmask_key) else None
    if cidr is not None:
        other_key, other = (prefix_key, prefix) if prefix is not None else (netmask_key, netmask)
        if other is not None and other != cidr:
            raise UnreadableFile(profile.path, profile.line_of(key), key,
                                 f"{key}={raw} says /{cidr} but {other_key} says /{other}; make them agree")
        return address, cidr
    if prefix is not None:
        return address, prefix
    return address, netmask


def _drop_dead_indexes(profile: ShellFile, editable: EditableFile, live: List[str], notes: List[str]) -> None:
    for key in list(profile.values):
        match = _INDEX_SUFFIX.match(key)
        if match is None or match.group(2) == "" or match.group(2) in live:
            continue
        editable.remove_keys([key])
        notes.append(f"{profile.path}: {key} is never read, because the network scripts and NetworkManager stop "
                     f"at the first missing IPADDRn from IPADDR2 on; it is not carried over")


def _parse_ipv4(profile: ShellFile, key: str, text: str) -> str:
    # INET_PTON accepts dotted quads only. netaddr releases before 1.0 parse the inet_aton
    # way by default, which reads "10.1" as 10.0.0.1 and "010.0.0.1" as 8.0.0.1.
    try:
        address = netaddr.IPAddress(text, version=4, flags=netaddr.INET_PTON)
    except (netaddr.AddrFormatError, ValueError):
        raise UnreadableFile(profile.path, profile.line_of(key), key,
                             f"{text!r} is not an IPv4 address; fix the value") from None
    return str(address)


def _parse_prefix(profile: ShellFile, key: str, text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 32:
        raise UnreadableFile(profile.path, profile.line_of(key), key,
                             f"{text!r} is not an IPv4 prefix length (0 to 32); fix the value")
    return int(text)


def _parse_netmask(profile: ShellFile, key: str) -> int:
    text = profile.values[key]
    try:
        mask = netaddr.IPAddress(text, version=4, flags=netaddr.INET_PTON)
    except (netaddr.AddrFormatError, ValueError):
        mask = None
    if mask is None or not mask.is_netmask():
        raise UnreadableFile(profile.path, profile.line_of(key), key,
                             f"{text!r} is not a contiguous IPv4 netmask; write a PREFIX instead")
    return mask.netmask_bits()


def check_ipv6(profile: ShellFile) -> None:
    """Raise UnreadableFile for an IPv6 address key that does not parse."""
    values = profile.values
    for key in ("IPV6ADDR", "IPV6ADDR_SECONDARIES"):
        for item in (values.get(key) or "").split():
            _parse_ipv6(profile, key, item)
    gateway = values.get("IPV6_DEFAULTGW")
    if gateway:
        _parse_ipv6(profile, "IPV6_DEFAULTGW", gateway.partition("%")[0])


def _parse_ipv6(profile: ShellFile, key: str, item: str) -> None:
    text, _, suffix = item.partition("/")
    try:
        netaddr.IPAddress(text, version=6)
        valid = not suffix or (suffix.isdigit() and int(suffix) <= 128)
    except (netaddr.AddrFormatError, ValueError):
        valid = False
    if not valid:
        raise UnreadableFile(profile.path, profile.line_of(key), key,
                             f"{item!r} is not an IPv6 address with an optional /prefix; fix the value")


def prefix_notes(profile: ShellFile) -> List[str]:
    """Describe NETMASKn values that a PREFIXn beside them overrides."""
    notes = []
    for index in address_indexes(profile.values):
        prefix = profile.values.get(f"PREFIX{index}")
        netmask = profile.values.get(f"NETMASK{index}")
        if not prefix or not netmask or not prefix.isdigit():
            continue
        try:
            mask_bits = netaddr.IPAddress(netmask, version=4).netmask_bits()
        except (netaddr.AddrFormatError, ValueError):
            continue
        if mask_bits != int(prefix):
            notes.append(f"{profile.path}: NETMASK{index} {netmask} and PREFIX{index} {prefix} disagree; "
                         f"PREFIX{index} ({prefix}) is the effective value and is kept")
    return notes


def profile_addresses(profile: ShellFile) -> List[str]:
    """List the addresses a profile configures, as address/prefix, IPv4 first.

    An IPv4 address without any prefix gets the classful default, as both readers do;
    an IPv6 address without one gets /64, as the network scripts do.
    """
    found = []
    for index in address_indexes(profile.values):
        address, prefix = _effective_address(profile, index)
        if prefix is None:
            prefix = _classful_prefix(address)
        found.append(f"{address}/{prefix}")
    for key in ("IPV6ADDR", "IPV6ADDR_SECONDARIES"):
        for item in (profile.values.get(key) or "").split():
            text, _, suffix = item.partition("/")
            found.append(f"{netaddr.IPAddress(text, version=6)}/{suffix or 64}")
    return found


def _classful_prefix(address: str) -> int:
    first = int(address.split(".")[0])
    if first < 128:
        return 8
    if first < 192:
        return 16
    return 24
