"""The live transaction end to end, through the bridgecfg command line.

Each test builds its own host (see `cli_support.CliHost`). A "host" namespace has an
eth0 with IPv4 and IPv6 addresses, default routes, a route in table 100 and a rule. A
"lan" namespace has the gateways and the echo responders. A file root has an ifcfg-eth0
with the same addresses. bridgecfg runs as a subprocess with `--root DIR --netns HOST`,
or inside `ip netns exec HOST`, never against the root namespace or `--root /`.

"Restored" always means both: `diff_snapshots` finds no difference between the kernel
and the capture taken before the apply, and every file under the root has the bytes and
mode it had before. The only timing asserted is the documented deadline: a timer revert
finishes within the confirm timeout plus one second.
"""

from __future__ import annotations

import contextlib
import os
import pty
import shlex
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest
from cli_support import (
    BRIDGE,
    PORT,
    PROBE_STREAMS,
    ROUTED_PREFIX,
    ROUTED_TABLE,
    RULE_PRIORITY,
    CliHost,
    attach_guest,
    kill_timer,
    one_connection_listener,
    poll,
    process_gone,
    read_until,
    reject_root_namespace,
    udp_echo,
)
from topology import (
    MASTER_CHANGE_LOSS_LIMIT,
    ECHO_PORT,
    GATEWAY,
    GATEWAY6,
    HOST_ADDRESS,
    HOST_ADDRESS6,
    HOST_SECONDARY,
    REPO_ROOT,
    TCP_ECHO_PORT,
    Namespace,
    Probes,
    python_environment,
)

from bridgecfg.live.netlink import open_socket
from bridgecfg.live.snapshot import diff_snapshots
from bridgecfg.live.state import KernelSnapshot

pytestmark = pytest.mark.live

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_ROLLED_BACK = 3
# Probes per stream sent after the change, so the last ones cross a settled bridge.
PROBES_AFTER_CHANGE = 300
# The documented bound on a timer revert: the confirm timeout plus this many seconds.
REVERT_GRACE = 1.0
# Upper bound for polls that wait on bridgecfg, so a hung command fails the test instead of stalling it.
POLL_LIMIT = 20.0
ONE_CONNECTION_PORT = 7009
# A bound on the restore loop, far above the 15 steps that undoing this host's cutover takes.
MAX_RESTORE_STEPS = 40
BOOT_UNIT = Path(REPO_ROOT) / "systemd" / "bridgecfg-boot-revert.service"
CAPABILITY_NET_ADMIN = 12
# setpriv keeps uid 0 but leaves CAP_NET_ADMIN as the only capability, so the file root
# must be usable through its owner bits alone (pytest's tmp_path is owned by root).
NET_ADMIN_ONLY = ("setpriv", "--inh-caps=-all,+net_admin", "--ambient-caps=-all,+net_admin",
                  "--bounding-set=-all,+net_admin")

Files = Dict[str, Tuple[bytes, int]]


@pytest.fixture
def host(namespaces: List[Namespace], tmp_path: Path) -> Iterator[CliHost]:
    """A fresh host; its sessions and revert timers are killed before the namespaces go."""
    cli_host = CliHost.build(namespaces, tmp_path / "root")
    try:
        yield cli_host
    finally:
        cli_host.stop_leftovers()


@contextlib.contextmanager
def fresh_host(root: Path) -> Iterator[CliHost]:
    """Build a host for one iteration of a loop, and delete it afterwards."""
    created: List[Namespace] = []
    cli_host = None
    try:
        cli_host = CliHost.build(created, root)
        yield cli_host
    finally:
        if cli_host is not None:
            cli_host.stop_leftovers()
        for namespace in reversed(created):
            namespace.delete()


def _ok(result: "subprocess.CompletedProcess[str]", code: int = EXIT_OK) -> "subprocess.CompletedProcess[str]":
    assert result.returncode == code, (
        f"{' '.join(result.args)} exited {result.returncode}, expected {code}\n"
        f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    )
    return result


def _apply(host: CliHost, timeout: float, *arguments: str, **kwargs: Any) -> "subprocess.CompletedProcess[str]":
    return host.bridgecfg("apply", "--yes", "--confirm-timeout", f"{timeout:g}", *arguments, **kwargs)


def _kernel_differences(host: CliHost, before: KernelSnapshot) -> List[str]:
    return diff_snapshots(before, host.capture())


def _file_differences(before: Files, after: Files) -> List[str]:
    differences = []
    for path in sorted(set(before) | set(after)):
        if path not in after:
            differences.append(f"{path} is missing")
        elif path not in before:
            differences.append(f"{path} was added")
        elif before[path][0] != after[path][0]:
            differences.append(f"{path} has other bytes")
        elif before[path][1] != after[path][1]:
            differences.append(f"{path} has mode {after[path][1]:o}, was {before[path][1]:o}")
    return differences


def _assert_restored(host: CliHost, kernel: KernelSnapshot, files: Files) -> None:
    assert _kernel_differences(host, kernel) == []
    assert _file_differences(files, host.files()) == []


def _only_record(host: CliHost) -> Dict[str, Any]:
    records = host.records()
    assert len(records) == 1, f"expected one transaction, found {[record['id'] for record in records]}"
    return records[0]


def _wait_for_timer_revert(host: CliHost) -> Dict[str, Any]:
    """Wait for the revert timer to roll back, and check that it kept the documented deadline."""
    pending = _only_record(host)
    record = host.wait_for_status("rolled-back", timeout=pending["confirm_timeout"] + POLL_LIMIT)
    assert record["deadline"] is not None
    lateness = record["finished"] - record["deadline"]
    assert lateness <= REVERT_GRACE, f"the revert finished {lateness:.2f} s after the deadline"
    return record


def _tcp_connection(netns: str) -> socket.socket:
    connection = open_socket(netns, socket.AF_INET, socket.SOCK_STREAM)
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


def test_apply_matches_plan_without_loss(host: CliHost) -> None:
    plan = host.plan_json()
    before = host.files()
    probes = Probes(host.host, PROBE_STREAMS)
    connection = _tcp_connection(host.netns)
    assert _echo(connection, b"before the cutover") == b"before the cutover"

    _ok(_apply(host, 0))
    counts = probes.stop(PROBES_AFTER_CHANGE)

    for name, count in counts.items():
        assert count["lost"] <= MASTER_CHANGE_LOSS_LIMIT, f"{name}: {count}"
        assert count["send_errors"] == 0, f"{name}: {count}"
    assert _echo(connection, b"after the cutover") == b"after the cutover"
    connection.close()

    after = host.capture()
    bridge = after.link(BRIDGE)
    assert bridge.present
    assert bridge.kind == "bridge"
    assert bridge.up
    assert after.link(PORT).master == BRIDGE
    assert {address.cidr for address in after.addresses_of(BRIDGE) if address.scope == 0} == {
        f"{HOST_ADDRESS}/24", f"{HOST_SECONDARY}/24", f"{HOST_ADDRESS6}/64"}
    assert [address.cidr for address in after.addresses_of(PORT) if address.scope == 0] == []
    routes = {(route.family, route.table, route.destination, route.gateway) for route in after.routes_of(BRIDGE)}
    assert (4, 254, "default", GATEWAY) in routes
    assert (6, 254, "default", GATEWAY6) in routes
    assert (4, ROUTED_TABLE, ROUTED_PREFIX, GATEWAY) in routes
    assert after.routes_of(PORT) == []
    assert [(rule.priority, rule.table) for rule in after.rules_naming(BRIDGE)] == [(RULE_PRIORITY, ROUTED_TABLE)]
    assert after.rules_naming(PORT) == []

    written = host.files()
    for change in plan["files"]:
        path = change["path"].lstrip("/")
        assert path in written, f"{path} was planned but not written"
        assert written[path][0] == change["content"].encode("utf-8"), f"{path} differs from the plan"
    planned = {change["path"].lstrip("/") for change in plan["files"]}
    for path, (data, mode) in before.items():
        if path not in planned:
            assert written[path] == (data, mode), f"{path} changed although the plan left it alone"
    assert set(written) == set(before) | planned


def test_second_apply_changes_nothing(host: CliHost) -> None:
    _ok(_apply(host, 0))
    kernel = host.capture()
    files = host.files()
    transactions = host.transaction_folders()

    plan = _ok(host.bridgecfg("plan"))
    again = _ok(_apply(host, 0))

    assert "Nothing to do" in plan.stdout
    assert "Nothing to do" in again.stdout
    assert host.transaction_folders() == transactions
    _assert_restored(host, kernel, files)


def test_rollback_restores_exact_snapshot(host: CliHost) -> None:
    kernel = host.capture()
    files = host.files()
    _ok(_apply(host, 0))
    assert host.capture().link(BRIDGE).present
    probes = Probes(host.host, PROBE_STREAMS)

    _ok(host.bridgecfg("rollback", "--yes", topology=False))
    counts = probes.stop(PROBES_AFTER_CHANGE)

    _assert_restored(host, kernel, files)
    # The port gets its addresses back before it leaves the bridge, so nothing is lost.
    for name, count in counts.items():
        assert count["lost"] <= MASTER_CHANGE_LOSS_LIMIT, f"{name}: {count}"
    assert [record["status"] for record in host.transactions()] == ["rolled-back"]


def test_unconfirmed_change_reverts_on_timer(host: CliHost) -> None:
    kernel = host.capture()
    files = host.files()

    _ok(_apply(host, 2))
    assert [record["status"] for record in host.transactions()] == ["pending"]
    assert host.capture().link(BRIDGE).present

    _wait_for_timer_revert(host)
    _assert_restored(host, kernel, files)
    assert [record["status"] for record in host.transactions()] == ["rolled-back"]


@contextlib.contextmanager
def _interactive_apply(host: CliHost, timeout: float) -> Iterator[Tuple[int, "subprocess.Popen[Any]"]]:
    """Run apply on a pseudo-terminal in its own session, as over SSH, up to "Still connected?".

    Yields the controlling side of the terminal and the session leader. The test
    answers "Apply these changes?" with y; the second question is left to the caller.
    """
    controller, terminal = pty.openpty()
    try:
        session = host.start_session("apply", "--confirm-timeout", f"{timeout:g}", stdin=terminal,
                                     stdout=terminal, stderr=terminal)
        os.close(terminal)
        terminal = -1
        read_until(controller, b"[y/N]", timeout=POLL_LIMIT)
        os.write(controller, b"y\n")
        read_until(controller, b"Still connected?", timeout=POLL_LIMIT)
        yield controller, session
    finally:
        if terminal >= 0:
            os.close(terminal)
        os.close(controller)


@pytest.mark.parametrize("signal_number", [signal.SIGHUP, signal.SIGKILL], ids=["sighup", "sigkill"])
def test_dead_session_still_reverts(host: CliHost, signal_number: int) -> None:
    kernel = host.capture()
    files = host.files()

    # The deadline leaves the kill time to land while apply still waits for an answer,
    # even on a loaded machine; after it, apply would end by itself.
    with _interactive_apply(host, 6) as (_, session):
        assert _only_record(host)["status"] == "pending"
        os.killpg(session.pid, signal_number)
        session.wait(timeout=POLL_LIMIT)

    # A caller that ignores SIGHUP (nohup, some CI runners) passes that on to apply, which
    # then reads end-of-file from the closed terminal and rolls back at once (exit 3).
    ignored = signal_number == signal.SIGHUP and signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
    assert session.returncode in ((-signal_number, EXIT_ROLLED_BACK) if ignored else (-signal_number,))
    _wait_for_timer_revert(host)
    _assert_restored(host, kernel, files)


def test_answer_no_rolls_back(host: CliHost) -> None:
    kernel = host.capture()
    files = host.files()

    with _interactive_apply(host, 60) as (controller, session):
        os.write(controller, b"no\n")
        read_until(controller, b"rolled back", timeout=POLL_LIMIT)
        session.wait(timeout=POLL_LIMIT)

    assert session.returncode == EXIT_ERROR
    _assert_restored(host, kernel, files)
    assert [record["status"] for record in host.transactions()] == ["rolled-back"]


def test_answer_yes_confirms(host: CliHost) -> None:
    with _interactive_apply(host, 60) as (controller, session):
        os.write(controller, b"yes\n")
        read_until(controller, b"confirmed", timeout=POLL_LIMIT)
        session.wait(timeout=POLL_LIMIT)

    assert session.returncode == EXIT_OK
    record = _only_record(host)
    assert record["status"] == "confirmed"
    poll(lambda: process_gone(record["timer_pid"]), timeout=POLL_LIMIT, what="the revert timer to stand down")
    assert host.capture().link(PORT).master == BRIDGE


def test_confirm_disarms_the_timer(host: CliHost) -> None:
    _ok(_apply(host, 3))
    pending = _only_record(host)
    assert pending["status"] == "pending"

    confirmed = _ok(host.bridgecfg("confirm", topology=False))

    assert pending["id"] in confirmed.stdout
    poll(lambda: process_gone(pending["timer_pid"]), timeout=POLL_LIMIT, what="the revert timer to stand down")
    # Wait past the point where an armed timer would have reverted.
    while time.time() <= pending["deadline"] + REVERT_GRACE:
        time.sleep(0.1)
    after = host.capture()
    assert after.link(BRIDGE).present
    assert after.link(PORT).master == BRIDGE
    assert [record["status"] for record in host.transactions()] == ["confirmed"]


def test_crash_at_every_step(tmp_path: Path, namespaces: List[Namespace]) -> None:
    # `namespaces` only makes the test skip where live tests cannot run; every step
    # builds and deletes its own host.
    with fresh_host(tmp_path / "plan") as planning:
        steps = len(planning.plan_json()["live"]["operations"])
    assert steps > 0
    failures: List[str] = []
    for step in range(steps):
        with fresh_host(tmp_path / f"step-{step}") as host:
            failures += _crash_then_timer_revert(host, step)
            failures += _crash_then_rollback(host, step)
    assert failures == [], "\n".join(failures)


def _crash_then_timer_revert(host: CliHost, step: int) -> List[str]:
    """Kill apply after `step` with a 30 s timeout armed; the timer must revert at once."""
    kernel = host.capture()
    files = host.files()
    crashed = _apply(host, 30, env={"BRIDGECFG_FAILPOINT": str(step)})
    if crashed.returncode != -signal.SIGKILL:
        return [f"step {step}, timer: apply exited {crashed.returncode}, not by SIGKILL: {crashed.stderr}"]
    try:
        record = host.wait_for_status("rolled-back", timeout=POLL_LIMIT)
    except AssertionError as error:
        return [f"step {step}, timer: {error}"]
    failures = [f"step {step}, timer: kernel: {line}" for line in _kernel_differences(host, kernel)]
    failures += [f"step {step}, timer: {line}" for line in _file_differences(files, host.files())]
    if "died" not in (record.get("reason") or ""):
        failures.append(f"step {step}, timer: reverted for another reason: {record.get('reason')}")
    return failures


def _crash_then_rollback(host: CliHost, step: int) -> List[str]:
    """Kill apply after `step` with no timer; `bridgecfg rollback` must restore everything."""
    kernel = host.capture()
    files = host.files()
    crashed = _apply(host, 0, env={"BRIDGECFG_FAILPOINT": str(step)})
    if crashed.returncode != -signal.SIGKILL:
        return [f"step {step}, rollback: apply exited {crashed.returncode}, not by SIGKILL: {crashed.stderr}"]
    rollback = host.bridgecfg("rollback", "--yes", topology=False)
    if rollback.returncode != EXIT_OK:
        return [f"step {step}, rollback: exited {rollback.returncode}: {rollback.stderr.strip()}"]
    failures = [f"step {step}, rollback: kernel: {line}" for line in _kernel_differences(host, kernel)]
    failures += [f"step {step}, rollback: {line}" for line in _file_differences(files, host.files())]
    return failures


def test_rollback_crash_at_every_step(tmp_path: Path, namespaces: List[Namespace]) -> None:
    # The restore plan has no fixed length, so the loop ends at the first step number
    # that the rollback finishes without reaching.
    failures: List[str] = []
    step = 0
    while True:
        with fresh_host(tmp_path / f"step-{step}") as host:
            finished, found = _rollback_killed_then_retried(host, step)
        failures += found
        if finished or step >= MAX_RESTORE_STEPS:
            break
        step += 1
    assert step > 0, "the rollback finished before its first step"
    assert failures == [], "\n".join(failures)


def _rollback_killed_then_retried(host: CliHost, step: int) -> Tuple[bool, List[str]]:
    """Kill `bridgecfg rollback` after restore step `step`, then run it again.

    Returns whether the first rollback finished without being killed, and the failures.
    """
    kernel = host.capture()
    files = host.files()
    _ok(_apply(host, 0))
    first = host.bridgecfg("rollback", "--yes", topology=False, env={"BRIDGECFG_FAILPOINT": str(step)})
    if first.returncode == EXIT_OK:
        return True, []
    if first.returncode != -signal.SIGKILL:
        return False, [f"step {step}: rollback exited {first.returncode}, not by SIGKILL: {first.stderr}"]
    again = host.bridgecfg("rollback", "--yes", topology=False)
    if again.returncode != EXIT_OK:
        return False, [f"step {step}: the second rollback exited {again.returncode}: {again.stderr.strip()}"]
    failures = [f"step {step}: kernel: {line}" for line in _kernel_differences(host, kernel)]
    failures += [f"step {step}: {line}" for line in _file_differences(files, host.files())]
    return False, failures


def test_failed_verify_restores_everything(host: CliHost) -> None:
    kernel = host.capture()
    files = host.files()

    with one_connection_listener(host.lan, GATEWAY, ONE_CONNECTION_PORT) as listener:
        result = _apply(host, 30, "--check-host", f"{GATEWAY}:{ONE_CONNECTION_PORT}")
        assert listener.stdout is not None
        assert listener.stdout.readline().strip() == "closed"

    _ok(result, EXIT_ROLLED_BACK)
    assert f"TCP connection to {GATEWAY}:{ONE_CONNECTION_PORT}" in result.stderr
    _assert_restored(host, kernel, files)
    assert [record["status"] for record in host.transactions()] == ["rolled-back"]


def test_apply_refused_while_pending(host: CliHost) -> None:
    _ok(_apply(host, 60))
    kernel = host.capture()
    files = host.files()

    refused = _ok(_apply(host, 60), EXIT_ERROR)

    assert "bridgecfg confirm" in refused.stderr
    assert "bridgecfg rollback" in refused.stderr
    assert "Nothing to do" not in refused.stdout
    assert len(host.records()) == 1
    _assert_restored(host, kernel, files)


def test_plan_refused_while_pending(host: CliHost) -> None:
    _ok(_apply(host, 60))

    refused = _ok(host.bridgecfg("plan"), EXIT_ERROR)

    assert "still pending" in refused.stderr
    assert "bridgecfg confirm" in refused.stderr
    assert refused.stdout == ""


def test_apply_with_changes_refused_while_pending(host: CliHost) -> None:
    _ok(_apply(host, 60))
    kernel = host.capture()
    files = host.files()

    refused = _ok(_apply(host, 60, "--mac", kernel.link(BRIDGE).mac or ""), EXIT_ERROR)

    transaction = _only_record(host)["id"]
    where = f"--root {host.root} --netns {host.netns}"
    assert f"bridgecfg confirm {transaction} {where}" in refused.stderr
    assert f"bridgecfg rollback {transaction} {where}" in refused.stderr
    _assert_restored(host, kernel, files)


def test_apply_refused_after_crash(host: CliHost) -> None:
    kernel = host.capture()
    files = host.files()
    crashed = _apply(host, 0, env={"BRIDGECFG_FAILPOINT": "3"})
    assert crashed.returncode == -signal.SIGKILL

    refused = _ok(_apply(host, 0), EXIT_ERROR)

    transaction = _only_record(host)["id"]
    assert "interrupted" in refused.stderr
    assert f"bridgecfg rollback {transaction} --root {host.root} --netns {host.netns}" in refused.stderr
    assert "bridgecfg confirm" not in refused.stderr
    _ok(host.bridgecfg("rollback", transaction, "--yes", topology=False))
    _assert_restored(host, kernel, files)


def test_rollback_while_pending_stops_timer(host: CliHost) -> None:
    kernel = host.capture()
    files = host.files()
    _ok(_apply(host, 60))
    timer = _only_record(host)["timer_pid"]

    _ok(host.bridgecfg("rollback", "--yes", topology=False))

    _assert_restored(host, kernel, files)
    poll(lambda: process_gone(timer), timeout=POLL_LIMIT, what="the revert timer to stand down")
    assert [record["status"] for record in host.transactions()] == ["rolled-back"]


def test_rollback_refused_after_newer_transaction(host: CliHost) -> None:
    _ok(_apply(host, 0))
    first = _only_record(host)["id"]
    bridge_mac = host.capture().link(BRIDGE).mac
    assert bridge_mac is not None
    # Pinning the bridge's current MAC changes ifcfg-br0 only: a second, newer transaction.
    _ok(_apply(host, 0, "--mac", bridge_mac))
    assert len(host.records()) == 2
    kernel = host.capture()
    files = host.files()

    refused = _ok(host.bridgecfg("rollback", first, "--yes", topology=False), EXIT_ERROR)

    assert "--force" in refused.stderr
    assert [record["id"] for record in host.records() if record["id"] != first][0] in refused.stderr
    _assert_restored(host, kernel, files)


def test_rollback_refused_after_file_edit(host: CliHost) -> None:
    kernel = host.capture()
    files = host.files()
    _ok(_apply(host, 0))
    profile = host.root / "etc/sysconfig/network-scripts/ifcfg-br0"
    with profile.open("a", encoding="utf-8") as handle:
        handle.write("# edited by hand after the transaction\n")
    edited = host.files()

    refused = _ok(host.bridgecfg("rollback", "--yes", topology=False), EXIT_ERROR)

    assert "ifcfg-br0" in refused.stderr
    assert "--force" in refused.stderr
    assert _file_differences(edited, host.files()) == []
    assert host.capture().link(BRIDGE).present

    _ok(host.bridgecfg("rollback", "--yes", "--force", topology=False))
    _assert_restored(host, kernel, files)


def _net_admin_only(host: CliHost, verb: str, *arguments: str) -> List[str]:
    return [*NET_ADMIN_ONLY, sys.executable, "-m", "bridgecfg", verb, "--root", str(host.root), *arguments]


def test_net_admin_capability_suffices(host: CliHost) -> None:
    kernel = host.capture()
    files = host.files()
    status = host.inside(*NET_ADMIN_ONLY, sys.executable, "-c", "print(open('/proc/self/status').read())")
    effective = [line.split()[1] for line in status.stdout.splitlines() if line.startswith("CapEff:")]
    assert effective == [f"{1 << CAPABILITY_NET_ADMIN:016x}"]

    _ok(host.inside(*_net_admin_only(host, "apply", "--bridge", BRIDGE, "--port", PORT, "--live", "--yes",
                                     "--confirm-timeout", "0")))
    assert host.capture().link(PORT).master == BRIDGE
    # rollback acts where the transaction was applied, so it takes no --live.
    _ok(host.inside(*_net_admin_only(host, "rollback", "--yes")))

    _assert_restored(host, kernel, files)


def _boot_revert_command(host: CliHost) -> List[str]:
    """Return the unit's ExecStart with this host's root in place of `--root /`.

    The namespace of each transaction comes from its record, so the command needs none.
    """
    lines = [line for line in BOOT_UNIT.read_text(encoding="utf-8").splitlines() if line.startswith("ExecStart=")]
    assert len(lines) == 1, f"{BOOT_UNIT} has {len(lines)} ExecStart lines"
    words = shlex.split(lines[0].partition("=")[2])
    root = words.index("--root")
    assert words[root + 1] == "/"
    words[root + 1] = str(host.root)
    return words


def test_boot_revert_restores_files(host: CliHost) -> None:
    kernel = host.capture()
    files = host.files()
    _ok(_apply(host, 60))
    timer = _only_record(host)["timer_pid"]
    kill_timer(timer)
    poll(lambda: process_gone(timer), timeout=POLL_LIMIT, what="the killed revert timer to exit")

    command = _boot_revert_command(host)
    reject_root_namespace(host.netns)
    # /usr/bin/env in ExecStart must find the bridgecfg of the interpreter under test.
    environment = python_environment()
    environment["PATH"] = sysconfig.get_path("scripts") + os.pathsep + environment.get("PATH", "")
    result = subprocess.run(["ip", "netns", "exec", host.netns, *command], capture_output=True, text=True,
                            env=environment, timeout=POLL_LIMIT, stdin=subprocess.DEVNULL)

    _ok(result)
    assert _file_differences(files, host.files()) == []
    assert [record["status"] for record in host.transactions()] == ["rolled-back"]
    assert _kernel_differences(host, kernel) == []


def test_guest_reaches_lan_through_bridge(host: CliHost, namespaces: List[Namespace]) -> None:
    _ok(_apply(host, 0))

    guest = attach_guest(namespaces, host.host, BRIDGE)

    assert udp_echo(guest, GATEWAY, ECHO_PORT, "from the guest") == "from the guest"
    assert udp_echo(host.host, GATEWAY, ECHO_PORT, "from the host") == "from the host"
