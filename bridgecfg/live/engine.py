"""Apply a live cutover as one step: plan, execute, verify, and restore on failure.

The caller captures the snapshot and stores it on disk first, because a crash
between steps leaves only that file to restore from. The caller also chooses the
reachability checks before the change (`verify.select_checks`).
"""

from __future__ import annotations

import logging
from typing import Any, Optional, Sequence

from bridgecfg.errors import ApplyFailed, VerifyFailed
from bridgecfg.live.cutover import CutoverRequest, desired_after_state, plan_cutover
from bridgecfg.live.execute import Journal, execute, restore
from bridgecfg.live.operations import Operation
from bridgecfg.live.state import KernelSnapshot
from bridgecfg.live.verify import Check, run_checks, verify_state

log = logging.getLogger(__name__)


def apply_cutover(
    ipr: Any,
    snapshot: KernelSnapshot,
    request: CutoverRequest,
    *,
    journal: Optional[Journal] = None,
    checks: Sequence[Check] = (),
) -> list[Operation]:
    """Run the cutover planned from `snapshot` and return its operations.

    On a failed step or a failed verification the snapshot is restored, then the
    ApplyFailed (or VerifyFailed) is raised again. A failed restore raises
    RollbackFailed instead, with the original error as its cause.
    """
    operations = plan_cutover(snapshot, request)
    desired = desired_after_state(snapshot, request)
    try:
        execute(ipr, operations, journal=journal)
        _verify(ipr, desired, checks)
    except ApplyFailed as error:
        log.error("cutover to %s failed, restoring the snapshot: %s", request.bridge, error)
        restore(ipr, snapshot)
        raise
    return operations


def _verify(ipr: Any, desired: KernelSnapshot, checks: Sequence[Check]) -> None:
    mismatches = verify_state(ipr, desired)
    mismatches += run_checks(ipr, checks, netns=desired.netns)
    if mismatches:
        raise VerifyFailed(
            "the kernel does not match the desired state: " + "; ".join(mismatches)
        )
