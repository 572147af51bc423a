"""Live cutover, rollback and crash recovery inside network namespaces.

The host namespace's eth0 moves into br0 while UDP probes run every 1 ms on six
streams. Three are IPv4: on-link, through the default route, and from the secondary
address. Three are IPv6: on-link, through the default route, and from an address
that went through duplicate address detection. Pass/fail depends on probe loss counts and kernel
state only, never on timings.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from topology import (
    MASTER_CHANGE_LOSS_LIMIT,
    GATEWAY,
    GUEST_ADDRESS,
    HERE,
    TCP_ECHO_PORT,
    Probes,
    Topology,
    cutover_request,
    python_environment,
)

from bridgecfg.errors import HostConflict, VerifyFailed
from bridgecfg.live.cutover import desired_after_state, plan_cutover, plan_rollback
from bridgecfg.live.engine import apply_cutover
from bridgecfg.live.execute import FAILPOINT_VARIABLE, execute, restore
from bridgecfg.live.netlink import open_netlink, open_socket
from bridgecfg.live.operations import ResetAddressFlags
from bridgecfg.live.snapshot import capture, diff_snapshots
from bridgecfg.live.state import KernelSnapshot
from bridgecfg.live.verify import (
    TcpCheck,
    gateway_checks,
    run_checks,
    select_checks,
    verify_state,
)

pytestmark = pytest.mark.live

PROBES_AFTER_CHANGE = 300


def _capture(ipr: Any, topology: Topology) -> KernelSnapshot:
    return capture(ipr, ports=["eth0"], bridges=["br0"], netns=topology.host.name)


def _tcp_connection(topology: Topology) -> socket.socket:
    connection = open_socket(topology.host.name, socket.AF_INET, socket.SOCK_STREAM)
    connection.settimeout(5)
    connection.connect((GATEWAY, TCP_ECHO_PORT))
    return connection


def _echo(connection: socket.socket, payload: bytes) -> bytes:
    connection.sendall(payload)
    received = b""
    while len(received) < len(payload):
        chunk = connection.recv(len(payload) - len(received))
        if not chunk:
            break
        received += chunk
    return received


def test_cutover_loses_no_probes(topology: Topology, host_netlink: Any) -> None:
    snapshot = _capture(host_netlink, topology)
    operations = plan_cutover(snapshot, cutover_request())
    connection = _tcp_connection(topology)
    assert _echo(connection, b"before") == b"before"

    probes = Probes(topology.host)
    execute(host_netlink, operations)
    results = probes.stop(PROBES_AFTER_CHANGE)

    for name, stats in results.items():
        assert stats["lost"] <= MASTER_CHANGE_LOSS_LIMIT, f"{name}: {stats}"
        assert stats["send_errors"] == 0, f"{name}: {stats}"
    assert _echo(connection, b"after") == b"after"
    connection.close()
    desired = desired_after_state(snapshot, cutover_request())
    assert verify_state(host_netlink, desired) == []


def test_cutover_plan_clears_nodad(topology: Topology, host_netlink: Any) -> None:
    snapshot = _capture(host_netlink, topology)
    operations = plan_cutover(snapshot, cutover_request())

    resets = [operation for operation in operations if isinstance(operation, ResetAddressFlags)]

    assert [operation.address.address for operation in resets] == ["2001:db8::11"]


def test_guest_on_bridge_reaches_lan(topology: Topology, host_netlink: Any) -> None:
    snapshot = _capture(host_netlink, topology)
    execute(host_netlink, plan_cutover(snapshot, cutover_request()))
    topology.host.ip("link", "set", "vguest", "master", "br0", "up")

    probes = Probes(topology.guest, (("guest-ipv4", GUEST_ADDRESS, GATEWAY),))
    results = probes.stop(50)

    assert results["guest-ipv4"]["answered"] == results["guest-ipv4"]["sent"]


def test_rollback_restores_snapshot_without_loss(topology: Topology, host_netlink: Any) -> None:
    snapshot = _capture(host_netlink, topology)
    execute(host_netlink, plan_cutover(snapshot, cutover_request()))

    probes = Probes(topology.host)
    execute(host_netlink, plan_rollback(snapshot, cutover_request()))
    results = probes.stop(PROBES_AFTER_CHANGE)

    assert diff_snapshots(snapshot, _capture(host_netlink, topology)) == []
    for name, stats in results.items():
        assert stats["lost"] <= MASTER_CHANGE_LOSS_LIMIT, f"{name}: {stats}"


def test_restore_after_cutover_is_exact(topology: Topology, host_netlink: Any) -> None:
    snapshot = _capture(host_netlink, topology)
    execute(host_netlink, plan_cutover(snapshot, cutover_request()))

    restore(host_netlink, snapshot)

    assert diff_snapshots(snapshot, _capture(host_netlink, topology)) == []
    assert restore(host_netlink, snapshot) == []


def test_restore_before_cutover_does_nothing(topology: Topology, host_netlink: Any) -> None:
    snapshot = _capture(host_netlink, topology)

    assert restore(host_netlink, snapshot) == []


def test_cutover_twice_plans_nothing(topology: Topology, host_netlink: Any) -> None:
    snapshot = _capture(host_netlink, topology)
    execute(host_netlink, plan_cutover(snapshot, cutover_request()))

    after = _capture(host_netlink, topology)

    assert plan_cutover(after, cutover_request()) == []


def _run_child(mode: str, topology: Topology, snapshot_path: Path, journal: Path, failpoint: int) -> int:
    env = python_environment()
    env[FAILPOINT_VARIABLE] = str(failpoint)
    child = subprocess.run(
        [sys.executable, os.path.join(HERE, "crash_child.py"), mode, topology.host.name, str(snapshot_path), str(journal)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return child.returncode


def _journal_indexes(journal: Path) -> list[int]:
    if not journal.exists():
        return []
    return [int(line.split()[0]) for line in journal.read_text().splitlines()]


def test_crash_at_every_cutover_step(topology: Topology, host_netlink: Any, tmp_path: Path) -> None:
    snapshot = _capture(host_netlink, topology)
    snapshot_path = tmp_path / "snapshot.json"
    snapshot_path.write_text(snapshot.to_json())
    steps = len(plan_cutover(snapshot, cutover_request()))

    for failpoint in range(steps):
        journal = tmp_path / f"journal-{failpoint}"
        status = _run_child("cutover", topology, snapshot_path, journal, failpoint)
        stored = KernelSnapshot.from_json(snapshot_path.read_text())
        restore(host_netlink, stored)

        assert status == -signal.SIGKILL, f"step {failpoint}"
        assert _journal_indexes(journal) == list(range(failpoint + 1)), f"step {failpoint}"
        assert diff_snapshots(stored, _capture(host_netlink, topology)) == [], f"step {failpoint}"


def test_crash_at_every_restore_step(topology: Topology, host_netlink: Any, tmp_path: Path) -> None:
    snapshot = _capture(host_netlink, topology)
    snapshot_path = tmp_path / "snapshot.json"
    snapshot_path.write_text(snapshot.to_json())
    steps = len(plan_rollback(snapshot, cutover_request()))

    for failpoint in range(steps):
        execute(host_netlink, plan_cutover(snapshot, cutover_request()))
        journal = tmp_path / f"journal-{failpoint}"
        status = _run_child("restore", topology, snapshot_path, journal, failpoint)
        restore(host_netlink, snapshot)

        assert status == -signal.SIGKILL, f"step {failpoint}"
        assert diff_snapshots(snapshot, _capture(host_netlink, topology)) == [], f"step {failpoint}"


def test_failpoint_past_last_step_completes(topology: Topology, host_netlink: Any, tmp_path: Path) -> None:
    snapshot = _capture(host_netlink, topology)
    snapshot_path = tmp_path / "snapshot.json"
    snapshot_path.write_text(snapshot.to_json())
    steps = len(plan_cutover(snapshot, cutover_request()))

    status = _run_child("cutover", topology, snapshot_path, tmp_path / "journal", steps)

    assert status == 0
    assert _journal_indexes(tmp_path / "journal") == list(range(steps))
    desired = desired_after_state(snapshot, cutover_request())
    assert verify_state(host_netlink, desired) == []


def test_verify_reports_mtu_and_route(topology: Topology, host_netlink: Any) -> None:
    snapshot = _capture(host_netlink, topology)
    execute(host_netlink, plan_cutover(snapshot, cutover_request()))
    topology.host.ip("link", "set", "br0", "mtu", "1400")
    topology.host.ip("route", "del", "default")

    mismatches = verify_state(host_netlink, desired_after_state(snapshot, cutover_request()))

    assert "link br0: MTU desired 1500, current 1400" in mismatches
    assert any(line.startswith("route default via 192.0.2.1 dev br0") for line in mismatches), mismatches


def test_reachability_checks_survive_cutover(topology: Topology, host_netlink: Any) -> None:
    snapshot = _capture(host_netlink, topology)
    candidates = gateway_checks(snapshot, "eth0") + [TcpCheck(GATEWAY, TCP_ECHO_PORT), TcpCheck(GATEWAY, 1)]
    selected = select_checks(host_netlink, candidates, netns=topology.host.name)

    execute(host_netlink, plan_cutover(snapshot, cutover_request()))
    failures = run_checks(host_netlink, selected, netns=topology.host.name)

    assert len(selected) == len(candidates) - 1
    assert TcpCheck(GATEWAY, 1) not in selected
    assert failures == []


def test_engine_restores_on_failed_check(topology: Topology, host_netlink: Any) -> None:
    snapshot = _capture(host_netlink, topology)
    closed_port = TcpCheck(GATEWAY, 1, timeout=1.0)

    with pytest.raises(VerifyFailed, match="TCP connection to 192.0.2.1:1"):
        apply_cutover(host_netlink, snapshot, cutover_request(), checks=[closed_port])

    assert diff_snapshots(snapshot, _capture(host_netlink, topology)) == []


def test_open_netlink_missing_namespace(namespaces: list[Any]) -> None:
    name = "bcfg-missing-namespace-check"

    with pytest.raises(HostConflict, match="not found"):
        open_netlink(name)

    assert not os.path.exists(f"/run/netns/{name}")
