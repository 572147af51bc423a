"""Which ifcfg keys belong to the layer-3 configuration that moves from a port to its bridge.

A port's IP configuration is never applied by the network scripts (ifup-eth leaves the
port path before any IP setup) and NetworkManager drops it when it normalises a port
profile, so every such key moves to the bridge with its meaning unchanged.
"""

from __future__ import annotations

from typing import Tuple

from bridgecfg.derive.lines import matches_any

# IPv4 addressing, routing, ARP and DNS keys that the network scripts and NetworkManager
# read for the interface that carries the addresses.
IPV4_KEYS: Tuple[str, ...] = (
    "IPADDR*", "PREFIX*", "NETMASK*", "BROADCAST*", "NETWORK", "GATEWAY*", "METRIC", "DEFROUTE",
    "ARPCHECK*", "ARPUPDATE", "ARPING_WAIT", "ACD_TIMEOUT", "SRCADDR", "PEERROUTES", "IPV4_*",
)
DNS_KEYS: Tuple[str, ...] = ("DNS*", "DOMAIN", "PEERDNS", "RES_OPTIONS")
DHCP_KEYS: Tuple[str, ...] = ("DHCP_*", "DHCPV6C*", "PERSISTENT_DHCLIENT")
IPV6_KEYS: Tuple[str, ...] = ("IPV6INIT", "IPV6ADDR*", "IPV6_*")
# firewalld's zone is set by ifup-post, which never runs for a port.
OTHER_KEYS: Tuple[str, ...] = ("ZONE",)

LAYER3_KEYS: Tuple[str, ...] = IPV4_KEYS + DNS_KEYS + DHCP_KEYS + IPV6_KEYS + OTHER_KEYS

# Keys that both stay on the port and are copied to the bridge.
COPIED_KEYS: Tuple[str, ...] = ("MTU",)

IPV4_ADDRESS_KEYS: Tuple[str, ...] = ("IPADDR*", "PREFIX*", "NETMASK*", "GATEWAY*", "BROADCAST*", "NETWORK")
IPV6_ADDRESS_KEYS: Tuple[str, ...] = ("IPV6ADDR", "IPV6ADDR_SECONDARIES", "IPV6_DEFAULTGW", "IPV6_AUTOCONF",
                                      "DHCPV6C", "IPV6INIT")
DNS_SETTING_KEYS: Tuple[str, ...] = ("DNS[0-9]*", "DOMAIN")

# Keys that must never appear on a generated bridge file: they either bind a profile to
# one NIC (UUID, HWADDR), would turn the bridge into a bond or VLAN, or make it a port.
BRIDGE_FORBIDDEN_KEYS: Tuple[str, ...] = (
    "UUID", "HWADDR", "MACADDR", "BRIDGE", "BRIDGE_UUID", "MASTER", "MASTER_UUID", "SLAVE", "TEAM_MASTER",
    "TEAM_PORT_CONFIG", "VLAN", "PHYSDEV", "VLAN_ID", "BONDING_*",
)


def is_layer3(key: str) -> bool:
    return matches_any(key, LAYER3_KEYS)
