"""The single live changes that a plan is made of.

Each operation is a small JSON-serialisable record with a human description. The
executor (`execute`) performs one netlink request, or two for a new bridge, per
operation, and every operation can run again after a crash: adds use `replace`, and
a delete of something already gone counts as done.
"""

from __future__ import annotations

from typing import Annotated, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from bridgecfg.live.state import AddressState, CaptureTime, RouteState, RuleState


class _Operation(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def describe(self) -> str:
        raise NotImplementedError


def _bridge_words(options: dict[str, int]) -> list[str]:
    words = []
    if "stp_state" in options:
        words.append("STP on" if options["stp_state"] else "STP off")
    if "forward_delay" in options:
        words.append(f"forward delay {options['forward_delay'] / 100:g} s")
    for name in sorted(set(options) - {"stp_state", "forward_delay"}):
        words.append(f"{name} {options[name]}")
    return words


class CreateBridge(_Operation):
    """Create a bridge with a fixed MAC, MTU and options, then set it up."""

    op: Literal["create_bridge"] = "create_bridge"
    name: str
    mac: Optional[str] = None
    mtu: Optional[int] = None
    options: dict[str, int] = Field(default_factory=dict)
    up: bool = True

    def describe(self) -> str:
        words = [f"MAC {self.mac}" if self.mac else "kernel-chosen MAC"]
        if self.mtu is not None:
            words.append(f"MTU {self.mtu}")
        words.extend(_bridge_words(self.options))
        state = " and set it up" if self.up else ""
        return f"create bridge {self.name} ({', '.join(words)}){state}"


class SetBridgeOptions(_Operation):
    """Change options of an existing bridge."""

    op: Literal["set_bridge_options"] = "set_bridge_options"
    name: str
    options: dict[str, int]

    def describe(self) -> str:
        return f"set bridge {self.name} options: {', '.join(_bridge_words(self.options))}"


class SetLink(_Operation):
    """Change the MAC, MTU or admin state of a link."""

    op: Literal["set_link"] = "set_link"
    name: str
    mac: Optional[str] = None
    mtu: Optional[int] = None
    up: Optional[bool] = None

    def describe(self) -> str:
        words = []
        if self.mac is not None:
            words.append(f"MAC {self.mac}")
        if self.mtu is not None:
            words.append(f"MTU {self.mtu}")
        if self.up is not None:
            words.append("up" if self.up else "down")
        return f"set {self.name} {', '.join(words)}"


class SetMaster(_Operation):
    """Enslave a link to a bridge, or release it (master None)."""

    op: Literal["set_master"] = "set_master"
    name: str
    master: Optional[str] = None
    previous: Optional[str] = None

    def describe(self) -> str:
        if self.master is None:
            return f"release {self.name} from {self.previous}"
        return f"enslave {self.name} to {self.master}"


class AddAddress(_Operation):
    """Add (or replace) an address, optionally with duplicate address detection off.

    Lifetimes in `address` are the seconds that remained at `since`. The executor
    subtracts the time elapsed since then.
    """

    op: Literal["add_address"] = "add_address"
    address: AddressState
    nodad: bool = False
    since: CaptureTime

    def describe(self) -> str:
        extra = " (nodad)" if self.nodad else ""
        return f"add {self.address.describe()} to {self.address.ifname}{extra}"


class ResetAddressFlags(_Operation):
    """Replace an existing address so that its flags are exactly the recorded ones.

    Used to clear the nodad bit after a DAD-less add. Replacing an existing IPv6
    address does not start duplicate address detection (measured on Linux 6.18).
    """

    op: Literal["reset_address_flags"] = "reset_address_flags"
    address: AddressState
    since: CaptureTime

    def describe(self) -> str:
        return (
            f"set the flags of {self.address.cidr} on {self.address.ifname} "
            f"to {self.address.flags:#x} (clears nodad)"
        )


class DeleteAddress(_Operation):
    """Delete an address from a link."""

    op: Literal["delete_address"] = "delete_address"
    address: AddressState

    def describe(self) -> str:
        return f"delete {self.address.describe()} from {self.address.ifname}"


class ReplaceRoute(_Operation):
    """Install a route with `replace`, taking the place of the one with its identity."""

    op: Literal["replace_route"] = "replace_route"
    route: RouteState
    since: CaptureTime

    def describe(self) -> str:
        return f"replace route {self.route.describe()}"


class DeleteRoute(_Operation):
    """Delete a route if it is still there (a replace or an address removal may have)."""

    op: Literal["delete_route"] = "delete_route"
    route: RouteState

    def describe(self) -> str:
        return f"delete route {self.route.describe()} if still present"


class CopyNeighbours(_Operation):
    """Copy the resolved neighbour entries of one device to another, as STALE.

    Routes moved onto the target then send at once instead of queueing behind
    address resolution, which a bridge port cannot even complete while enslaved
    (the bridge takes its replies). The kernel re-verifies STALE entries on use.
    """

    op: Literal["copy_neighbours"] = "copy_neighbours"
    source: str
    target: str

    def describe(self) -> str:
        return f"copy the resolved neighbour entries of {self.source} to {self.target}"


class AddRule(_Operation):
    """Add a policy-routing rule."""

    op: Literal["add_rule"] = "add_rule"
    rule: RuleState

    def describe(self) -> str:
        return f"add rule {self.rule.describe()}"


class DeleteRule(_Operation):
    """Delete a policy-routing rule."""

    op: Literal["delete_rule"] = "delete_rule"
    rule: RuleState

    def describe(self) -> str:
        return f"delete rule {self.rule.describe()}"


class DeleteLink(_Operation):
    """Delete a link that bridgecfg created."""

    op: Literal["delete_link"] = "delete_link"
    name: str

    def describe(self) -> str:
        return f"delete bridge {self.name}"


Operation = Annotated[
    Union[
        CreateBridge,
        SetBridgeOptions,
        SetLink,
        SetMaster,
        AddAddress,
        ResetAddressFlags,
        DeleteAddress,
        ReplaceRoute,
        DeleteRoute,
        CopyNeighbours,
        AddRule,
        DeleteRule,
        DeleteLink,
    ],
    Field(discriminator="op"),
]

_OPERATIONS: TypeAdapter[list[Operation]] = TypeAdapter(list[Operation])


def operations_to_json(operations: list[Operation]) -> str:
    """Serialise a list of operations to JSON."""
    return _OPERATIONS.dump_json(operations, indent=2).decode()


def operations_from_json(text: str) -> list[Operation]:
    """Parse a list of operations written by `operations_to_json`."""
    return _OPERATIONS.validate_json(text)
