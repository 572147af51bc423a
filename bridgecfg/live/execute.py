"""Run planned operations through netlink, and restore a snapshot.

`execute` performs the operations one at a time, logs each at info level and calls
`journal(step_index, operation)` after each one succeeded. Step indexes count from
0 in the list given.

Fault injection: when the environment variable `BRIDGECFG_FAILPOINT` contains an
integer N, the process sends itself SIGKILL right after step N has completed and
its journal callback has returned. Tests use it to leave the kernel half-way
through a plan, exactly as a crash or a killed session would. `restore` runs
through `execute` too, so the variable also interrupts a restore.

`restore` brings the kernel back to a snapshot from whatever state it is in: it
captures the current state, plans the difference and runs it. It waits for no
DHCP client and no duplicate address detection.
"""

from __future__ import annotations

import logging
import os
import signal
from typing import Any, Callable, Optional, Sequence

from bridgecfg.errors import ApplyFailed, RollbackFailed
from bridgecfg.live.cutover import plan_restore
from bridgecfg.live.netops import OPERATION_ERRORS, apply_operation
from bridgecfg.live.operations import Operation
from bridgecfg.live.snapshot import capture, diff_snapshots
from bridgecfg.live.state import KernelSnapshot

log = logging.getLogger(__name__)

FAILPOINT_VARIABLE = "BRIDGECFG_FAILPOINT"

# Called after each completed step with its index and operation.
Journal = Callable[[int, Operation], None]

__all__ = ["FAILPOINT_VARIABLE", "Journal", "execute", "restore"]


def failpoint_from_environment() -> Optional[int]:
    """Return the step index after which to crash, from BRIDGECFG_FAILPOINT."""
    value = os.environ.get(FAILPOINT_VARIABLE, "").strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise ApplyFailed(
            f"invalid {FAILPOINT_VARIABLE}={value!r}: use a step index such as 0, or unset it"
        ) from None


def execute(
    ipr: Any,
    operations: Sequence[Operation],
    *,
    journal: Optional[Journal] = None,
) -> None:
    """Run `operations` in order; raise ApplyFailed naming the step that failed."""
    failpoint = failpoint_from_environment()
    total = len(operations)
    for index, operation in enumerate(operations):
        log.info("step %d of %d: %s", index + 1, total, operation.describe())
        try:
            apply_operation(ipr, operation)
        except OPERATION_ERRORS as error:
            raise ApplyFailed(
                f"step {index} ({operation.describe()}) failed: {error}"
            ) from error
        if journal is not None:
            journal(index, operation)
        if failpoint == index:
            log.warning("%s=%d reached: killing the process", FAILPOINT_VARIABLE, index)
            os.kill(os.getpid(), signal.SIGKILL)


def restore(
    ipr: Any,
    snapshot: KernelSnapshot,
    *,
    journal: Optional[Journal] = None,
) -> list[Operation]:
    """Bring the kernel back to `snapshot` and return the operations that ran.

    Safe to call in any state: before the cutover started (nothing to do), half-way,
    after it completed, or after a restore that itself was interrupted. Raises
    RollbackFailed when an operation fails or the result still differs from the
    snapshot.
    """
    current = capture(ipr, ports=snapshot.ports, bridges=snapshot.bridges, netns=snapshot.netns)
    operations = plan_restore(snapshot, current)
    log.info("restoring the snapshot: %d steps", len(operations))
    try:
        execute(ipr, operations, journal=journal)
    except ApplyFailed as error:
        raise RollbackFailed(f"restoring the snapshot failed: {error}") from error
    after = capture(ipr, ports=snapshot.ports, bridges=snapshot.bridges, netns=snapshot.netns)
    differences = diff_snapshots(snapshot, after)
    if differences:
        raise RollbackFailed(
            "the kernel still differs from the snapshot after the restore: "
            + "; ".join(differences)
        )
    return operations
