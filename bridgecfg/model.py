"""The desired topology: the bridges a host should have, as the user asks for them.

Every field left out means "inherit from the port's current profile". Pydantic evaluates
these annotations at run time, and RHEL 9 hosts run Python 3.9, so the models use
Optional and Union rather than the `X | None` syntax.
"""

from typing import Dict, List, Literal, Optional, Union

import netaddr
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# The kernel's dev_valid_name(): at most IFNAMSIZ - 1 = 15 bytes, no '/', ':' or white
# space, and not "." or "..". NetworkManager also rejects '%' and the names "all",
# "default" and "bonding_masters", which are sysfs or procfs entries.
MAX_INTERFACE_NAME_BYTES = 15
_FORBIDDEN_NAME_CHARS = set("/:%") | {" ", "\t", "\n", "\r", "\v", "\f"}
_RESERVED_NAMES = {".", "..", "all", "default", "bonding_masters"}


def interface_name_problem(name: str) -> Optional[str]:
    """Describe why name is not a valid Linux interface name, or return None if it is."""
    size = len(name.encode("utf-8"))
    if size == 0:
        return "an interface name cannot be empty; give a name such as br0"
    if size > MAX_INTERFACE_NAME_BYTES:
        return (f"{name!r} has {size} bytes; Linux interface names are limited to "
                f"{MAX_INTERFACE_NAME_BYTES}. Choose a shorter name (for example br0)")
    bad = sorted({char for char in name if char in _FORBIDDEN_NAME_CHARS or not char.isprintable()})
    if bad:
        return (f"{name!r} contains {', '.join(repr(char) for char in bad)}, which Linux interface names cannot "
                "contain. Choose a name of letters, digits, '-', '_' or '.' (for example br0)")
    if name in _RESERVED_NAMES:
        return (f"{name!r} is reserved by the kernel or NetworkManager and cannot name an interface. Choose another "
                "name (for example br0)")
    return None


def _valid_interface_name(name: str) -> str:
    problem = interface_name_problem(name)
    if problem:
        raise ValueError(problem)
    return name


class StaticAddresses(BaseModel):
    """Static addresses of one family, each with its prefix length, and an optional gateway."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    addresses: List[str] = Field(min_length=1, description="Addresses with prefix length, e.g. 192.0.2.10/24.")
    gateway: Optional[str] = Field(default=None, description="Default gateway inside one of the subnets.")

    @field_validator("addresses")
    @classmethod
    def _parse_addresses(cls, values: List[str]) -> List[str]:
        parsed = []
        for value in values:
            if "/" not in value:
                raise ValueError(f"address {value!r} has no prefix length; write it as ADDRESS/PREFIX")
            try:
                parsed.append(str(netaddr.IPNetwork(value)))
            except (netaddr.AddrFormatError, ValueError, TypeError) as error:
                raise ValueError(f"address {value!r} is not a valid address/prefix: {error}") from None
        return parsed

    @field_validator("gateway")
    @classmethod
    def _parse_gateway(cls, value: Optional[str]) -> Optional[str]:
        if value is None:
            return None
        try:
            return str(netaddr.IPAddress(value))
        except (netaddr.AddrFormatError, ValueError, TypeError):
            raise ValueError(f"gateway {value!r} is not a valid IP address") from None

    def networks(self) -> List[netaddr.IPNetwork]:
        return [netaddr.IPNetwork(address) for address in self.addresses]

    def check_family(self, version: int, field: str) -> None:
        for network in self.networks():
            if network.version != version:
                raise ValueError(f"{field}: {network} is not an IPv{version} address")
        if self.gateway is not None:
            gateway = netaddr.IPAddress(self.gateway)
            if gateway.version != version:
                raise ValueError(f"{field}.gateway: {self.gateway} is not an IPv{version} address")
            if not any(gateway in network for network in self.networks()):
                subnets = ", ".join(str(network.cidr) for network in self.networks())
                raise ValueError(f"{field}.gateway: {self.gateway} lies outside the bridge's subnets ({subnets}); "
                                 "use a gateway inside one of them")


AddressMode = Union[Literal["inherit", "dhcp"], StaticAddresses]


class Dns(BaseModel):
    """Name servers and search domains written to the bridge's profile."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    servers: List[str] = Field(default_factory=list, description="Name server addresses, in order.")
    search: List[str] = Field(default_factory=list, description="Search domains, in order.")

    @field_validator("servers")
    @classmethod
    def _parse_servers(cls, values: List[str]) -> List[str]:
        result = []
        for value in values:
            try:
                result.append(str(netaddr.IPAddress(value)))
            except (netaddr.AddrFormatError, ValueError, TypeError):
                raise ValueError(f"DNS server {value!r} is not a valid IP address") from None
        return result

    @field_validator("search")
    @classmethod
    def _check_search(cls, values: List[str]) -> List[str]:
        for value in values:
            if not value or any(char.isspace() or not char.isprintable() for char in value):
                raise ValueError(f"search domain {value!r} must be one word without white space")
        return values


def parse_mac(value: str) -> str:
    """Return a MAC address in lower-case colon form, or raise ValueError."""
    try:
        mac = netaddr.EUI(value, version=48)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise ValueError(f"{value!r} is not a MAC address; write it as 52:54:00:12:34:56") from None
    if int(mac) >> 40 & 1:
        raise ValueError(f"MAC {value} is a multicast address; a bridge needs a unicast MAC")
    if int(mac) == 0:
        raise ValueError("MAC 00:00:00:00:00:00 cannot be assigned to an interface; give a unicast MAC such as "
                         "52:54:00:12:34:56, or --mac inherit")
    mac.dialect = netaddr.mac_unix_expanded
    return str(mac).lower()


class Bridge(BaseModel):
    """One bridge and the ports it takes over. Fields left out are inherited from the port."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Bridge interface name, at most 15 bytes (for example br0).")
    ports: List[str] = Field(min_length=1, description="Interfaces that become ports of the bridge.")
    ipv4: AddressMode = Field(default="inherit", description="'inherit' (from the port), 'dhcp', or static addresses.")
    ipv6: AddressMode = Field(default="inherit", description="'inherit' (from the port), 'dhcp', or static addresses.")
    dns: Optional[Dns] = Field(default=None, description="DNS servers and search domains; default: the port's.")
    stp: bool = Field(default=False, description="Spanning tree protocol; off unless asked for.")
    forward_delay: Optional[int] = Field(default=None, ge=0, le=30,
                                         description="STP forward delay in seconds (2-30 with STP on).")
    mtu: Optional[int] = Field(default=None, ge=68, le=65535, description="MTU in bytes; default: the port's.")
    mac: str = Field(default="none", description="'none' (no MAC in the bridge file), 'inherit' (the port's MAC), "
                                                 "or an explicit MAC address.")
    nm_controlled: Optional[bool] = Field(default=None, description="NM_CONTROLLED of both files; default: "
                                                                    "the port's value.")

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        return _valid_interface_name(value)

    @field_validator("ports")
    @classmethod
    def _check_ports(cls, values: List[str]) -> List[str]:
        for value in values:
            _valid_interface_name(value)
        duplicates = sorted({value for value in values if values.count(value) > 1})
        if duplicates:
            raise ValueError(f"port {duplicates[0]!r} is listed more than once")
        return values

    @field_validator("mac")
    @classmethod
    def _check_mac(cls, value: str) -> str:
        if value in ("none", "inherit"):
            return value
        return parse_mac(value)

    @model_validator(mode="after")
    def _check_bridge(self) -> "Bridge":
        if self.name in self.ports:
            raise ValueError(f"bridge name {self.name!r} is also one of its ports; choose another bridge name")
        if isinstance(self.ipv4, StaticAddresses):
            self.ipv4.check_family(4, "ipv4")
        if isinstance(self.ipv6, StaticAddresses):
            self.ipv6.check_family(6, "ipv6")
        if self.stp and self.forward_delay is not None and not 2 <= self.forward_delay <= 30:
            raise ValueError(f"a forward delay of {self.forward_delay} s is out of range: with STP on, the kernel "
                             "accepts 2 to 30 seconds. Give a delay in that range, or leave STP off")
        return self


class Topology(BaseModel):
    """The desired topology of one host: its bridges."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bridges: List[Bridge] = Field(min_length=1)

    @model_validator(mode="after")
    def _check_unique(self) -> "Topology":
        names = [bridge.name for bridge in self.bridges]
        for bridge in self.bridges:
            if names.count(bridge.name) > 1:
                raise ValueError(f"bridge {bridge.name!r} is defined more than once")
        owners: Dict[str, str] = {}
        for bridge in self.bridges:
            for port in bridge.ports:
                if port in names:
                    raise ValueError(f"{port!r} is both a bridge and a port of {bridge.name!r}")
                if port in owners:
                    raise ValueError(f"port {port!r} is listed under both {owners[port]!r} and {bridge.name!r}")
                owners[port] = bridge.name
        return self
