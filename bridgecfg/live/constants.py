"""Numeric values of the Linux rtnetlink API that the live engine reads and writes.

The values come from the kernel's UAPI headers (linux/if_addr.h, linux/rtnetlink.h,
linux/fib_rules.h, linux/neighbour.h), which keep them stable. They are spelled out
here so that the pure modules need no pyroute2 import.
"""

from __future__ import annotations

AF_INET = 2
AF_INET6 = 10

# Sentinel of an address lifetime that never ends (ifa_cacheinfo).
INFINITY_LIFETIME = 0xFFFFFFFF

# Address flags (IFA_F_*).
IFA_F_SECONDARY = 0x01
IFA_F_NODAD = 0x02
IFA_F_OPTIMISTIC = 0x04
IFA_F_DADFAILED = 0x08
IFA_F_HOMEADDRESS = 0x10
IFA_F_DEPRECATED = 0x20
IFA_F_TENTATIVE = 0x40
IFA_F_PERMANENT = 0x80
IFA_F_MANAGETEMPADDR = 0x100
IFA_F_NOPREFIXROUTE = 0x200
IFA_F_MCAUTOJOIN = 0x400
IFA_F_STABLE_PRIVACY = 0x800
# IPv6 reuses the secondary bit for temporary (privacy) addresses.
IFA_F_TEMPORARY = IFA_F_SECONDARY

# Flags a caller may set when adding an address. The kernel derives the others
# (secondary, tentative, permanent, deprecated, dadfailed) itself.
IFA_SETTABLE_FLAGS = (
    IFA_F_NODAD
    | IFA_F_OPTIMISTIC
    | IFA_F_HOMEADDRESS
    | IFA_F_MANAGETEMPADDR
    | IFA_F_NOPREFIXROUTE
    | IFA_F_MCAUTOJOIN
)

# Scopes (RT_SCOPE_*).
RT_SCOPE_UNIVERSE = 0
RT_SCOPE_LINK = 253
RT_SCOPE_HOST = 254
SCOPE_NAMES = {0: "global", 200: "site", 253: "link", 254: "host", 255: "nowhere"}

# Routing tables (RT_TABLE_*).
RT_TABLE_UNSPEC = 0
RT_TABLE_DEFAULT = 253
RT_TABLE_MAIN = 254
RT_TABLE_LOCAL = 255
TABLE_NAMES = {253: "default", 254: "main", 255: "local"}

# Route origins (RTPROT_*).
RTPROT_KERNEL = 2
RTPROT_BOOT = 3
PROTO_NAMES = {
    0: "unspec",
    1: "redirect",
    2: "kernel",
    3: "boot",
    4: "static",
    9: "ra",
    16: "dhcp",
    186: "bgp",
    188: "ospf",
}

# Route types (RTN_*).
RTN_UNICAST = 1
RTN_LOCAL = 2
RTN_BROADCAST = 3
RTN_ANYCAST = 4
RTN_MULTICAST = 5
ROUTE_TYPE_NAMES = {
    1: "unicast",
    2: "local",
    3: "broadcast",
    4: "anycast",
    5: "multicast",
    6: "blackhole",
    7: "unreachable",
    8: "prohibit",
    9: "throw",
    10: "nat",
}

# Next-hop flags (RTNH_F_*). Only onlink is a request; the others are status.
RTNH_F_ONLINK = 0x04

# Rule actions (FR_ACT_*) and the rule flag that negates the selector.
FR_ACT_TO_TBL = 1
FIB_RULE_INVERT = 0x02

# Interface flags.
IFF_UP = 0x1

# Neighbour states (NUD_*).
NUD_INCOMPLETE = 0x01
NUD_REACHABLE = 0x02
NUD_STALE = 0x04
NUD_DELAY = 0x08
NUD_PROBE = 0x10
NUD_FAILED = 0x20
NUD_NOARP = 0x40
NUD_PERMANENT = 0x80
NUD_NAMES = {
    0x01: "INCOMPLETE",
    0x02: "REACHABLE",
    0x04: "STALE",
    0x08: "DELAY",
    0x10: "PROBE",
    0x20: "FAILED",
    0x40: "NOARP",
    0x80: "PERMANENT",
}

# Bridge options that a snapshot records, as IFLA_BR_* names lower-cased without
# the prefix. Times are in centiseconds (USER_HZ), as the kernel reports them.
BRIDGE_OPTION_NAMES = (
    "stp_state",
    "forward_delay",
    "hello_time",
    "max_age",
    "ageing_time",
    "priority",
    "vlan_filtering",
    "group_fwd_mask",
    "mcast_snooping",
)


def table_name(table: int) -> str:
    """Return the iproute2 name of a routing table, or its number."""
    return TABLE_NAMES.get(table, str(table))


def proto_name(proto: int) -> str:
    """Return the iproute2 name of a route origin, or its number."""
    return PROTO_NAMES.get(proto, str(proto))
