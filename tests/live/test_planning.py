"""Pure tests of the live planner: no root, no namespace, no pyroute2 call."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bridgecfg.errors import HostConflict, InvalidInput
from bridgecfg.live.constants import IFA_F_NODAD, IFA_F_PERMANENT, IFA_F_SECONDARY
from bridgecfg.live.cutover import (
    CutoverRequest,
    desired_after_state,
    plan_cutover,
    plan_restore,
    plan_rollback,
)
from bridgecfg.live.operations import (
    AddAddress,
    CopyNeighbours,
    CreateBridge,
    DeleteAddress,
    DeleteLink,
    DeleteRoute,
    Operation,
    ReplaceRoute,
    ResetAddressFlags,
    SetMaster,
    operations_from_json,
    operations_to_json,
)
from bridgecfg.live.snapshot import diff_snapshots
from bridgecfg.live.state import AddressState, KernelSnapshot, LinkState, RouteState, RuleState

MAC = "52:54:00:12:34:56"
REQUEST = CutoverRequest(bridge="br0", ports=("eth0",), l3_port="eth0", forward_delay=0)


def _address(cidr: str, *, flags: int = IFA_F_PERMANENT, ifname: str = "eth0", **extra: object) -> AddressState:
    address, prefixlen = cidr.split("/")
    family = 6 if ":" in address else 4
    return AddressState(
        ifname=ifname, family=family, address=address, prefixlen=int(prefixlen), flags=flags, **extra
    )


def _snapshot(**changes: object) -> KernelSnapshot:
    base = KernelSnapshot(
        captured_at=1000.0,
        monotonic_at=50.0,
        boot_id="boot",
        ports=["eth0"],
        bridges=["br0"],
        links=[
            LinkState(name="eth0", present=True, ifindex=2, kind="veth", mac=MAC, mtu=1500, up=True),
            LinkState(name="br0", present=False),
        ],
        addresses=[
            _address("192.0.2.10/24", label="eth0"),
            _address("203.0.113.5/24", flags=0, label="eth0", valid_lft=3600, preferred_lft=1800),
            _address("192.0.2.11/24", flags=IFA_F_PERMANENT | IFA_F_SECONDARY, label="eth0"),
            _address("2001:db8::10/64", flags=IFA_F_PERMANENT | IFA_F_NODAD),
            _address("2001:db8::11/64"),
            _address("fe80::5054:ff:fe12:3456/64", scope=253),
        ],
        routes=[
            RouteState(family=4, table=254, proto=3, oif="eth0", gateway="192.0.2.1"),
            RouteState(
                family=4, table=100, dst="198.51.100.0", dst_len=24, proto=4, oif="eth0",
                gateway="192.0.2.1", metrics={"mtu": 1400},
            ),
            RouteState(family=6, table=254, proto=3, priority=1024, oif="eth0", gateway="2001:db8::1", pref=0),
        ],
        rules=[RuleState(family=4, priority=1000, table=100, action=1, iifname="eth0", protocol=0)],
    )
    return base.model_copy(update=changes)


def _index(operations: list[Operation], kind: type) -> list[int]:
    return [position for position, operation in enumerate(operations) if isinstance(operation, kind)]


def test_cutover_creates_bridge_with_port_identity() -> None:
    operations = plan_cutover(_snapshot(), REQUEST)

    first = operations[0]
    assert isinstance(first, CreateBridge)
    assert first.mac == MAC
    assert first.mtu == 1500
    assert first.options == {"stp_state": 0, "forward_delay": 0}
    assert first.up is True


def test_cutover_order_is_make_before_break() -> None:
    operations = plan_cutover(_snapshot(), REQUEST)

    enslave = _index(operations, SetMaster)
    adds = _index(operations, AddAddress)
    replaces = _index(operations, ReplaceRoute)
    deletes = _index(operations, DeleteAddress)
    route_deletes = _index(operations, DeleteRoute)
    assert enslave == [1]
    assert max(adds) < min(replaces)
    assert max(replaces) < min(deletes)
    assert max(deletes) < min(route_deletes)


def test_cutover_deletes_secondary_before_primary() -> None:
    operations = plan_cutover(_snapshot(), REQUEST)

    deleted = [op.address.cidr for op in operations if isinstance(op, DeleteAddress)]

    assert deleted.index("192.0.2.11/24") < deleted.index("192.0.2.10/24")


def test_cutover_keeps_link_local_on_port() -> None:
    operations = plan_cutover(_snapshot(), REQUEST)

    touched = [op.address.cidr for op in operations if isinstance(op, (AddAddress, DeleteAddress))]

    assert "fe80::5054:ff:fe12:3456/64" not in touched


def test_cutover_adds_ipv6_without_dad_then_resets() -> None:
    operations = plan_cutover(_snapshot(), REQUEST)

    nodad = [op.address.cidr for op in operations if isinstance(op, AddAddress) and op.nodad]
    resets = [op.address.cidr for op in operations if isinstance(op, ResetAddressFlags)]
    assert nodad == ["2001:db8::11/64"]
    assert resets == ["2001:db8::11/64"]


def test_cutover_copies_neighbours_before_routes() -> None:
    operations = plan_cutover(_snapshot(), REQUEST)

    copies = _index(operations, CopyNeighbours)

    assert len(copies) == 1
    assert copies[0] < min(_index(operations, ReplaceRoute))


def test_desired_state_moves_layer3_to_bridge() -> None:
    desired = desired_after_state(_snapshot(), REQUEST)

    bridge_addresses = [address.cidr for address in desired.addresses_of("br0")]
    port_addresses = [address.cidr for address in desired.addresses_of("eth0")]
    assert bridge_addresses == [
        "192.0.2.10/24", "203.0.113.5/24", "192.0.2.11/24", "2001:db8::10/64", "2001:db8::11/64",
    ]
    assert port_addresses == ["fe80::5054:ff:fe12:3456/64"]
    assert {route.oif for route in desired.routes} == {"br0"}
    assert desired.rules[0].iifname == "br0"
    assert desired.link("eth0").master == "br0"
    assert desired.addresses_of("br0")[0].label == "br0"


def test_desired_state_marks_secondaries_in_kernel_order() -> None:
    desired = desired_after_state(_snapshot(), REQUEST)

    ipv4 = [a for a in desired.addresses_of("br0") if a.family == 4]

    assert [bool(a.flags & IFA_F_SECONDARY) for a in ipv4] == [False, False, True]


def test_plan_on_desired_state_is_empty() -> None:
    desired = desired_after_state(_snapshot(), REQUEST)

    assert plan_cutover(desired, REQUEST) == []


def test_restore_of_unchanged_snapshot_is_empty() -> None:
    assert plan_restore(_snapshot(), _snapshot()) == []


def test_rollback_readds_before_release_and_delete() -> None:
    operations = plan_rollback(_snapshot(), REQUEST)

    adds = [
        position
        for position, operation in enumerate(operations)
        if isinstance(operation, AddAddress) and operation.address.ifname == "eth0"
    ]
    release = _index(operations, SetMaster)
    delete = _index(operations, DeleteLink)
    assert adds
    assert len(release) == 1
    assert max(adds) < release[0] < delete[0]
    assert delete == [len(operations) - 1]


def test_rollback_empties_bridge_before_release() -> None:
    operations = plan_rollback(_snapshot(), REQUEST)

    bridge_deletes = [
        position
        for position, operation in enumerate(operations)
        if isinstance(operation, DeleteAddress) and operation.address.ifname == "br0"
    ]

    assert bridge_deletes
    assert max(bridge_deletes) < _index(operations, SetMaster)[0]


def test_restore_reorders_partial_ipv4() -> None:
    snapshot = _snapshot()
    crashed = desired_after_state(snapshot, REQUEST)
    without_primary = [a for a in snapshot.addresses if a.cidr not in ("192.0.2.10/24", "192.0.2.11/24")]
    crashed = crashed.model_copy(
        update={"addresses": [a for a in crashed.addresses if a.ifname == "br0"] + without_primary}
    )

    operations = plan_restore(snapshot, crashed)

    readded = [op.address.cidr for op in operations if isinstance(op, AddAddress) and op.address.ifname == "eth0"]
    deleted = [op.address.cidr for op in operations if isinstance(op, DeleteAddress) and op.address.ifname == "eth0"]
    assert deleted == ["203.0.113.5/24"]
    assert readded[:3] == ["192.0.2.10/24", "203.0.113.5/24", "192.0.2.11/24"]


def test_snapshot_json_round_trip() -> None:
    snapshot = _snapshot()

    assert KernelSnapshot.from_json(snapshot.to_json()) == snapshot


def test_operations_json_round_trip() -> None:
    operations = plan_cutover(_snapshot(), REQUEST)

    assert operations_from_json(operations_to_json(operations)) == operations


def test_diff_reports_changed_mtu() -> None:
    snapshot = _snapshot()
    changed = snapshot.model_copy(
        update={"links": [snapshot.links[0].model_copy(update={"mtu": 9000}), snapshot.links[1]]}
    )

    assert diff_snapshots(snapshot, changed) == ["link eth0: MTU expected 1500, actual 9000"]


def test_diff_allows_elapsed_lifetime() -> None:
    snapshot = _snapshot()
    later_addresses = [
        a.model_copy(update={"valid_lft": 3590, "preferred_lft": 1790}) if a.valid_lft else a
        for a in snapshot.addresses
    ]
    later = snapshot.model_copy(update={"monotonic_at": 60.0, "addresses": later_addresses})

    assert diff_snapshots(snapshot, later) == []


def test_diff_reports_lost_lifetime() -> None:
    snapshot = _snapshot()
    later_addresses = [a.model_copy(update={"valid_lft": None}) if a.valid_lft else a for a in snapshot.addresses]
    later = snapshot.model_copy(update={"addresses": later_addresses})

    assert diff_snapshots(snapshot, later) == [
        "address 203.0.113.5/24 on eth0: valid_lft expected 3600s, actual forever"
    ]


def test_diff_reports_ipv4_order() -> None:
    snapshot = _snapshot()
    swapped = [snapshot.addresses[1], snapshot.addresses[0]] + snapshot.addresses[2:]
    later = snapshot.model_copy(update={"addresses": swapped})

    lines = diff_snapshots(snapshot, later)

    assert len(lines) == 1
    assert lines[0].startswith("IPv4 addresses on eth0: order expected")


def _with_link(snapshot: KernelSnapshot, name: str, **changes: object) -> KernelSnapshot:
    links = [link.model_copy(update=changes) if link.name == name else link for link in snapshot.links]
    return snapshot.model_copy(update={"links": links})


@pytest.mark.parametrize(
    ("snapshot", "message"),
    [
        (_with_link(_snapshot(), "eth0", master="bond0"), "already enslaved to bond0"),
        (_with_link(_snapshot(), "eth0", present=False), "port eth0 not found"),
        (_with_link(_snapshot(), "br0", present=True, kind="veth"), "not a bridge"),
        (
            _snapshot(routes=[RouteState(family=4, table=254, oif="eth0", unsupported=["RTA_MULTIPATH"])]),
            "RTA_MULTIPATH",
        ),
        (
            _snapshot(routes=[
                RouteState(family=4, table=254, oif="eth0", gateway="192.0.2.1"),
                RouteState(family=4, table=254, oif="eth0", gateway="192.0.2.2"),
            ]),
            "share table, destination and metric",
        ),
        (
            _snapshot(rules=[RuleState(family=4, priority=5, table=100, action=1, iifname="eth0", unsupported=["FRA_UID_RANGE"])]),
            "FRA_UID_RANGE",
        ),
    ],
)
def test_cutover_rejects_host_conflict(snapshot: KernelSnapshot, message: str) -> None:
    with pytest.raises(HostConflict, match=message):
        plan_cutover(snapshot, REQUEST)


def test_cutover_rejects_addresses_on_plain_port() -> None:
    request = CutoverRequest(bridge="br0", ports=("eth0",))

    with pytest.raises(HostConflict, match="name it as the layer-3 port"):
        plan_cutover(_snapshot(), request)


def test_cutover_rejects_unrecorded_link() -> None:
    request = CutoverRequest(bridge="br1", ports=("eth0",), l3_port="eth0")

    with pytest.raises(InvalidInput, match="does not record"):
        plan_cutover(_snapshot(), request)


def test_cutover_moves_chosen_addresses_only() -> None:
    request = CutoverRequest(bridge="br0", ports=("eth0",), l3_port="eth0", addresses=("192.0.2.10/24",))

    desired = desired_after_state(_snapshot(), request)

    assert [a.cidr for a in desired.addresses_of("br0")] == ["192.0.2.10/24"]


def test_cutover_rejects_address_not_held() -> None:
    request = CutoverRequest(bridge="br0", ports=("eth0",), l3_port="eth0", addresses=("192.0.2.99/24",))

    with pytest.raises(HostConflict, match="does not have the addresses"):
        plan_cutover(_snapshot(), request)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"bridge": "br0", "ports": ()}, "at least one port"),
        ({"bridge": "br0", "ports": ("br0",)}, "distinct"),
        ({"bridge": "bridge-name-too-long", "ports": ("eth0",)}, "invalid interface name"),
        ({"bridge": "br0", "ports": ("eth0",), "l3_port": "eth1"}, "not one of the ports"),
        ({"bridge": "br0", "ports": ("eth0",), "stp": True, "forward_delay": 1}, "STP on"),
        ({"bridge": "br0", "ports": ("eth0",), "forward_delay": 31}, "invalid forward delay"),
        ({"bridge": "br0", "ports": ("eth0",), "mtu": 40}, "invalid MTU"),
        ({"bridge": "br0", "ports": ("eth0",), "mac": "01:00:5e:00:00:01"}, "multicast"),
        ({"bridge": "br0", "ports": ("eth0",), "mac": "52-54-00-12-34-56"}, "invalid MAC"),
        ({"bridge": "br0", "ports": ("eth0",), "l3_port": "eth0", "addresses": ("192.0.2.10",)}, "prefix length"),
        ({"bridge": "br0", "ports": ("eth0",), "addresses": ("192.0.2.10/24",)}, "layer-3 port"),
    ],
)
def test_request_rejects_invalid_input(arguments: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        CutoverRequest(**arguments)  # type: ignore[arg-type]


def test_pure_modules_skip_pyroute2() -> None:
    code = (
        "import sys\n"
        "import bridgecfg.live.cutover, bridgecfg.live.planner, bridgecfg.live.snapshot\n"
        "import bridgecfg.live.compare, bridgecfg.live.operations, bridgecfg.live.netlink\n"
        "print('pyroute2' in sys.modules)\n"
    )

    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert output.stdout.strip() == "False"
