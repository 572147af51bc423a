"""Run a cutover or a restore in a child process that BRIDGECFG_FAILPOINT may kill.

Usage: crash_child.py cutover|restore NETNS SNAPSHOT_JSON JOURNAL

Each completed step appends its index to JOURNAL and flushes it to disk first,
so the parent can tell how far the child got before SIGKILL.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from topology import cutover_request  # noqa: E402

from bridgecfg.live.cutover import plan_cutover  # noqa: E402
from bridgecfg.live.execute import execute, restore  # noqa: E402
from bridgecfg.live.netlink import open_netlink  # noqa: E402
from bridgecfg.live.operations import Operation  # noqa: E402
from bridgecfg.live.state import KernelSnapshot  # noqa: E402


def main() -> None:
    mode, netns, snapshot_path, journal_path = sys.argv[1:5]
    with open(snapshot_path, encoding="utf-8") as handle:
        snapshot = KernelSnapshot.from_json(handle.read())
    journal_file = open(journal_path, "a", encoding="utf-8")

    def journal(index: int, operation: Operation) -> None:
        journal_file.write(f"{index} {operation.describe()}\n")
        journal_file.flush()
        os.fsync(journal_file.fileno())

    ipr = open_netlink(netns)
    if mode == "cutover":
        execute(ipr, plan_cutover(snapshot, cutover_request()), journal=journal)
    else:
        restore(ipr, snapshot, journal=journal)


if __name__ == "__main__":
    main()
