"""Turn rtnetlink messages, as pyroute2 decodes them, into the models of `state`.

Each function takes one decoded message (an object with `get_attr(NAME)` for
attributes and `[field]` for header fields) and never talks to the kernel, so this
module needs no pyroute2 import.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Optional

from bridgecfg.live.constants import (
    AF_INET,
    BRIDGE_OPTION_NAMES,
    FIB_RULE_INVERT,
    IFF_UP,
    INFINITY_LIFETIME,
    RTNH_F_ONLINK,
)
from bridgecfg.live.state import AddressState, Family, LinkState, RouteState, RuleState

# A decoded rtnetlink message.
Message = Any
# Maps an interface index to its name, or None when the index is unknown.
IndexToName = Callable[[int], Optional[str]]

# Route attributes that describe a next hop bridgecfg cannot recreate faithfully.
UNSUPPORTED_ROUTE_ATTRS = ("RTA_MULTIPATH", "RTA_NH_ID", "RTA_ENCAP", "RTA_VIA", "RTA_FLOW")
# Rule selectors that bridgecfg does not model. A rule that uses one is not moved.
UNSUPPORTED_RULE_ATTRS = (
    "FRA_UID_RANGE",
    "FRA_IP_PROTO",
    "FRA_SPORT_RANGE",
    "FRA_DPORT_RANGE",
    "FRA_TUN_ID",
    "FRA_FLOW",
    "UNKNOWN",
)
NO_SUPPRESS = 0xFFFFFFFF


def _family(message: Message) -> Family:
    return 4 if message["family"] == AF_INET else 6


def _attr_names(message: Message) -> list[str]:
    return [str(attr[0]) for attr in message.get("attrs", [])]


def parse_link(message: Message, index_to_name: IndexToName) -> LinkState:
    """Build a LinkState from an RTM_NEWLINK message."""
    linkinfo = message.get_attr("IFLA_LINKINFO")
    kind = linkinfo.get_attr("IFLA_INFO_KIND") if linkinfo is not None else None
    master_index = message.get_attr("IFLA_MASTER")
    options = None
    if kind == "bridge" and linkinfo is not None:
        options = _bridge_options(linkinfo.get_attr("IFLA_INFO_DATA"))
    return LinkState(
        name=message.get_attr("IFLA_IFNAME"),
        present=True,
        ifindex=message["index"],
        kind=kind,
        mac=message.get_attr("IFLA_ADDRESS"),
        mtu=message.get_attr("IFLA_MTU"),
        up=bool(message["flags"] & IFF_UP),
        master=index_to_name(master_index) if master_index else None,
        bridge_options=options,
    )


def _bridge_options(data: Message) -> dict[str, int]:
    if data is None:
        return {}
    options: dict[str, int] = {}
    for name in BRIDGE_OPTION_NAMES:
        value = data.get_attr("IFLA_BR_" + name.upper())
        if value is not None:
            options[name] = int(value)
    return options


def _lifetime(cacheinfo: Optional[dict[str, int]], key: str) -> Optional[int]:
    if not cacheinfo:
        return None
    value = cacheinfo.get(key, INFINITY_LIFETIME)
    return None if value == INFINITY_LIFETIME else int(value)


def parse_address(message: Message, ifname: str) -> AddressState:
    """Build an AddressState from an RTM_NEWADDR message of link `ifname`.

    IFA_LOCAL is the address itself when present. IFA_ADDRESS is then the peer of a
    point-to-point address, or the same value.
    """
    local = message.get_attr("IFA_LOCAL")
    remote = message.get_attr("IFA_ADDRESS")
    address = local if local is not None else remote
    peer = remote if local is not None and remote != local else None
    flags = message.get_attr("IFA_FLAGS")
    cacheinfo = message.get_attr("IFA_CACHEINFO")
    return AddressState(
        ifname=ifname,
        family=_family(message),
        address=address,
        prefixlen=message["prefixlen"],
        peer=peer,
        scope=message["scope"],
        label=message.get_attr("IFA_LABEL"),
        flags=flags if flags is not None else message["flags"],
        broadcast=message.get_attr("IFA_BROADCAST"),
        metric=message.get_attr("IFA_RT_PRIORITY"),
        proto=message.get_attr("IFA_PROTO"),
        valid_lft=_lifetime(cacheinfo, "ifa_valid"),
        preferred_lft=_lifetime(cacheinfo, "ifa_preferred"),
    )


def route_devices(message: Message) -> list[int]:
    """Return the interface indexes a route sends through, multipath hops included."""
    indexes = []
    oif = message.get_attr("RTA_OIF")
    if oif:
        indexes.append(int(oif))
    for hop in message.get_attr("RTA_MULTIPATH") or []:
        if hop.get("oif"):
            indexes.append(int(hop["oif"]))
    return indexes


def _route_expires(message: Message) -> Optional[int]:
    # IPv6 reports the remaining time in RTA_CACHEINFO in clock ticks of 1/100 s
    # (USER_HZ); 0 means the route does not expire.
    cacheinfo = message.get_attr("RTA_CACHEINFO")
    if not cacheinfo or not cacheinfo.get("rta_expires"):
        return None
    return max(1, math.ceil(int(cacheinfo["rta_expires"]) / 100))


def _route_metrics(message: Message) -> dict[str, int]:
    metrics = message.get_attr("RTA_METRICS")
    if metrics is None:
        return {}
    result = {}
    for name, value in metrics.get("attrs", []):
        result[str(name).replace("RTAX_", "").lower()] = int(value)
    return result


def parse_route(message: Message, index_to_name: IndexToName) -> RouteState:
    """Build a RouteState from an RTM_NEWROUTE message."""
    oif = message.get_attr("RTA_OIF")
    table = message.get_attr("RTA_TABLE")
    names = _attr_names(message)
    return RouteState(
        family=_family(message),
        table=table if table is not None else message["table"],
        dst=message.get_attr("RTA_DST"),
        dst_len=message["dst_len"],
        src=message.get_attr("RTA_SRC"),
        src_len=message["src_len"],
        tos=message["tos"],
        type=message["type"],
        proto=message["proto"],
        scope=message["scope"],
        priority=message.get_attr("RTA_PRIORITY") or 0,
        oif=index_to_name(oif) if oif else None,
        gateway=message.get_attr("RTA_GATEWAY"),
        prefsrc=message.get_attr("RTA_PREFSRC"),
        onlink=bool(message["flags"] & RTNH_F_ONLINK),
        pref=message.get_attr("RTA_PREF"),
        expires=_route_expires(message),
        metrics=_route_metrics(message),
        unsupported=[name for name in UNSUPPORTED_ROUTE_ATTRS if name in names],
    )


def _optional_u32(message: Message, name: str) -> Optional[int]:
    value = message.get_attr(name)
    if value is None or value == NO_SUPPRESS:
        return None
    return int(value)


def _unsupported_rule_attrs(message: Message) -> list[str]:
    names = _attr_names(message)
    found = [name for name in UNSUPPORTED_RULE_ATTRS if name in names]
    if message.get_attr("FRA_L3MDEV"):
        found.append("FRA_L3MDEV")
    return found


def parse_rule(message: Message) -> RuleState:
    """Build a RuleState from an RTM_NEWRULE message."""
    table = message.get_attr("FRA_TABLE")
    return RuleState(
        family=_family(message),
        priority=message.get_attr("FRA_PRIORITY") or 0,
        table=table if table is not None else message["table"],
        action=message["action"],
        iifname=message.get_attr("FRA_IIFNAME"),
        oifname=message.get_attr("FRA_OIFNAME"),
        src=message.get_attr("FRA_SRC"),
        src_len=message["src_len"],
        dst=message.get_attr("FRA_DST"),
        dst_len=message["dst_len"],
        tos=message["tos"],
        # Only the invert bit is a request. The kernel adds detached bits while
        # the named interface is missing.
        flags=message["flags"] & FIB_RULE_INVERT,
        fwmark=message.get_attr("FRA_FWMARK") or None,
        fwmask=_fwmask(message),
        goto=message.get_attr("FRA_GOTO"),
        suppress_prefixlen=_optional_u32(message, "FRA_SUPPRESS_PREFIXLEN"),
        suppress_ifgroup=_optional_u32(message, "FRA_SUPPRESS_IFGROUP"),
        protocol=message.get_attr("FRA_PROTOCOL"),
        unsupported=_unsupported_rule_attrs(message),
    )


def _fwmask(message: Message) -> Optional[int]:
    # The kernel reports a mask only with a mark, and 0xffffffff is its default.
    mask = message.get_attr("FRA_FWMASK")
    if mask is None or not message.get_attr("FRA_FWMARK") or mask == 0xFFFFFFFF:
        return None
    return int(mask)
