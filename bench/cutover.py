"""Measure probe loss of the live cutover, its rollback, and a naive sequence.

Run as root from the repository root:

    python3 bench/cutover.py --runs 5 --probes-after 2500

Each run builds the test topology of tests/live/topology.py in fresh network
namespaces (nothing touches the root namespace), sends UDP probes every 1 ms on
six streams, and measures three changes in turn:

- cutover: the planned make-before-break cutover (`plan_cutover`);
- rollback: the planned rollback back to the snapshot (`plan_rollback`);
- naive: create and enslave the same bridge, then delete each address from eth0 and
  add it to br0 (IPv6 with duplicate address detection), then `route add` each
  route on br0. `restore` then brings the topology back to the snapshot.

After each change the prober sends `--probes-after` more probes per stream. The
script prints a Markdown table of lost probes (sum and maximum over the runs) and
the longest gap between two answered probes, per change and stream.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from typing import Any, Callable

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(HERE)
sys.path.insert(0, REPO_ROOT)
sys.path.insert(0, os.path.join(REPO_ROOT, "tests", "live"))

from topology import (  # noqa: E402
    Namespace,
    Probes,
    Topology,
    cutover_request,
    live_unavailable_reason,
)

from bridgecfg.live.cutover import plan_cutover, plan_rollback  # noqa: E402
from bridgecfg.live.execute import execute, restore  # noqa: E402
from bridgecfg.live.netlink import open_netlink  # noqa: E402
from bridgecfg.live.netops import OPERATION_ERRORS  # noqa: E402
from bridgecfg.live.snapshot import capture, diff_snapshots  # noqa: E402
from bridgecfg.live.state import KernelSnapshot  # noqa: E402

# Per change: per stream, one result per run.
Results = dict[str, dict[str, list[dict[str, float]]]]


def naive_cutover(ipr: Any, snapshot: KernelSnapshot) -> None:
    """Move eth0's layer 3 onto br0 the naive way: delete, add, `route add`."""
    port = snapshot.link("eth0")
    ipr.link("add", ifname="br0", kind="bridge", address=port.mac, mtu=port.mtu, br_stp_state=0, br_forward_delay=0)
    bridge = ipr.link_lookup(ifname="br0")[0]
    ipr.link("set", index=bridge, state="up")
    ipr.link("set", index=port.ifindex, master=bridge)
    for address in snapshot.addresses_of("eth0"):
        if address.scope != 0:
            continue
        family = 2 if address.family == 4 else 10
        try:
            ipr.addr("del", index=port.ifindex, address=address.address, prefixlen=address.prefixlen, family=family)
        except OPERATION_ERRORS:
            # Deleting the primary IPv4 address already took its secondaries.
            pass
        ipr.addr("add", index=bridge, address=address.address, prefixlen=address.prefixlen, family=family)
    for route in snapshot.routes_of("eth0"):
        family = 2 if route.family == 4 else 10
        try:
            ipr.route(
                "add", family=family, table=route.table, dst=route.dst, dst_len=route.dst_len,
                gateway=route.gateway, oif=bridge, priority=route.priority,
            )
        except OPERATION_ERRORS as error:
            # IPv6 routes stay on eth0 after its addresses go, so their add fails
            # with EEXIST and the route stays on the bridge port.
            print(f"naive: route add {route.describe()} failed: {error}", file=sys.stderr)


def measure(topology: Topology, change: Callable[[], None], probes_after: int) -> tuple[dict[str, dict[str, float]], float]:
    probes = Probes(topology.host)
    started = time.perf_counter()
    change()
    duration = time.perf_counter() - started
    return probes.stop(probes_after), duration


def record(results: Results, change: str, measured: dict[str, dict[str, float]]) -> None:
    for stream, stats in measured.items():
        results.setdefault(change, {}).setdefault(stream, []).append(stats)


def run_once(results: Results, durations: dict[str, list[float]], probes_after: int) -> None:
    namespaces: list[Namespace] = []
    try:
        topology = Topology.build(namespaces)
        ipr = open_netlink(topology.host.name)
        snapshot = capture(ipr, ports=["eth0"], bridges=["br0"], netns=topology.host.name)
        changes = {
            "cutover": lambda: execute(ipr, plan_cutover(snapshot, cutover_request())),
            "rollback": lambda: execute(ipr, plan_rollback(snapshot, cutover_request())),
            "naive": lambda: naive_cutover(ipr, snapshot),
        }
        for name, change in changes.items():
            measured, duration = measure(topology, change, probes_after)
            record(results, name, measured)
            durations.setdefault(name, []).append(duration)
            if name == "naive":
                restore(ipr, snapshot)
        remaining = diff_snapshots(snapshot, capture(ipr, ports=["eth0"], bridges=["br0"]))
        if remaining:
            raise SystemExit(f"the topology was not restored: {remaining}")
        ipr.close()
    finally:
        for namespace in reversed(namespaces):
            namespace.delete()


def print_table(results: Results, durations: dict[str, list[float]], runs: int, probes_after: int) -> None:
    print(f"kernel {platform.release()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"{runs} runs, probes every 1 ms, {probes_after} probes per stream after each change")
    print()
    print("| change | stream | lost (sum) | lost (max per run) | longest gap ms (max) | longest gap ms (median) |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for change, streams in results.items():
        for stream, runs_stats in streams.items():
            lost = [int(stats["lost"]) for stats in runs_stats]
            gaps = [float(stats["max_gap_ms"]) for stats in runs_stats]
            print(f"| {change} | {stream} | {sum(lost)} | {max(lost)} | {max(gaps):.1f} | {statistics.median(gaps):.1f} |")
    print()
    print("| change | duration ms (median) | duration ms (max) |")
    print("| --- | ---: | ---: |")
    for change, values in durations.items():
        print(f"| {change} | {statistics.median(values) * 1000:.1f} | {max(values) * 1000:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="number of runs, each on a fresh topology")
    parser.add_argument("--probes-after", type=int, default=2500, help="probes per stream sent after each change (1 ms apart)")
    arguments = parser.parse_args()
    reason = live_unavailable_reason()
    if reason is not None:
        raise SystemExit(reason)
    results: Results = {}
    durations: dict[str, list[float]] = {}
    for _ in range(arguments.runs):
        run_once(results, durations, arguments.probes_after)
    print_table(results, durations, arguments.runs, arguments.probes_after)


if __name__ == "__main__":
    main()
