"""Apply a plan as one transaction: snapshot, arm the revert, write files, cut over, verify.

The order is what keeps a host reachable. The snapshot and the file backups are on disk,
and the detached revert timer is running, before the first change. Files are written
before the kernel changes, so a failure on disk stops the apply before the network is
touched. A failed verify restores the kernel and the files at once.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import shlex
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from bridgecfg import files, model
from bridgecfg.errors import HostConflict, InvalidInput, RollbackFailed, RolledBack, TransactionError
from bridgecfg.plan import Plan, make_plan
from bridgecfg.transaction import (
    DESIRED, SNAPSHOT, Status, TransactionRecord, TransactionStore, current_boot_id, file_records, process_alive, process_start_ticks,
    transaction_lock,
)

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Target:
    """The target of an apply: the file root, and the network namespace for the live part."""

    root: Path
    netns: Optional[str] = None
    live: bool = False
    write_files: bool = True


@dataclasses.dataclass(frozen=True)
class ApplyOptions:
    """The settings of an apply beyond its target."""

    confirm_timeout: float = 0.0
    live_from: Optional[str] = None
    accept_outage: bool = False
    check_hosts: Tuple[str, ...] = ()
    templates: Optional[Path] = None


@dataclasses.dataclass
class Proposal:
    """Everything apply would do: the file plan and, on a live target, the live plan."""

    files: Plan
    live: Optional[Any]  # bridgecfg.liveplan.LivePlan, imported lazily with pyroute2

    @property
    def empty(self) -> bool:
        return self.files.empty and (self.live is None or not self.live.operations)

    def to_json(self) -> Dict[str, Any]:
        document = self.files.to_json()
        document["changed"] = not self.empty
        document["live"] = self.live.to_json() if self.live is not None else None
        return document


@dataclasses.dataclass(frozen=True)
class ApplyResult:
    """The outcome of an apply."""

    transaction: Optional[str]
    status: Optional[Status]
    backup_dir: Optional[Path]
    deadline: Optional[float]
    changed_files: List[str]
    live_steps: int


def propose(topology: model.Topology, target: Target, options: ApplyOptions) -> Proposal:
    """Compute the file plan and, on a live target, read the kernel and plan the cutover.

    Raise TransactionError while a transaction is interrupted or still being applied,
    because a plan computed from a half-changed host would be wrong.
    """
    _refuse_open_transactions(TransactionStore(target.root), allow_pending=True)
    plan = make_plan(target.root, topology, templates=options.templates)
    live = _propose_live(topology, plan, target, options) if target.live else None
    if not target.write_files:
        plan = dataclasses.replace(plan, changes=[])
    return Proposal(files=plan, live=live)


def _propose_live(topology: model.Topology, plan: Plan, target: Target, options: ApplyOptions) -> Any:
    from bridgecfg import liveplan
    from bridgecfg.live.netlink import is_root_namespace, open_netlink
    from bridgecfg.live.snapshot import capture

    bridge = liveplan.single_bridge(topology)
    with open_netlink(target.netns) as ipr:
        snapshot = capture(ipr, ports=bridge.ports, bridges=[bridge.name], netns=target.netns)
    # Reading PID 1's namespace needs ptrace access to PID 1, which a caller with only
    # CAP_NET_ADMIN lacks. is_root_namespace then takes the caller's own namespace as the
    # initial one, so the NetworkManager check runs instead of being skipped.
    in_initial_namespace = is_root_namespace(target.netns)
    surroundings = liveplan.gather_surroundings(target_is_current_namespace=target.netns is None,
                                                target_is_initial_namespace=in_initial_namespace)
    return liveplan.plan_live(bridge, plan.desired, snapshot, surroundings, live_from=options.live_from)


def check_live_allowed(proposal: Proposal, options: ApplyOptions) -> None:
    """Raise for a live change that bridgecfg must not make as asked."""
    live = proposal.live
    if live is None:
        return
    if live.network_manager:
        raise HostConflict(live.network_manager)
    if live.disagreement and options.live_from is None:
        raise HostConflict(f"the kernel and the files disagree: {live.disagreement}. Say which one wins with "
                           "--live-from kernel or --live-from files")
    if live.stp_outage_seconds and not options.accept_outage:
        raise InvalidInput(f"with STP on, the bridge forwards nothing for about {live.stp_outage_seconds:g} s; add "
                           "--accept-outage to accept that, or leave STP off")


def apply(topology: model.Topology, target: Target, options: ApplyOptions, *, proposal: Proposal) -> ApplyResult:
    """Apply the proposal as one transaction, under the lock. Raise RolledBack when verify failed."""
    check_live_allowed(proposal, options)
    if proposal.empty:
        return ApplyResult(None, None, None, None, [], 0)
    store = TransactionStore(target.root)
    with transaction_lock(target.root, target.netns):
        _refuse_open_transactions(store)
        proposal = _recheck(topology, target, options, proposal)
        record = _begin(store, target, options, proposal)
        try:
            return _run(store, record, target, options, proposal)
        except RolledBack:
            raise
        except BaseException as error:
            _roll_back_after_failure(store, record, error)
            raise


def refuse_open_transactions(root: Path) -> None:
    """Raise when a transaction under root is still pending or was interrupted."""
    _refuse_open_transactions(TransactionStore(root))


def _refuse_open_transactions(store: TransactionStore, *, allow_pending: bool = False) -> None:
    open_records = [record for record in store.open_transactions()
                    if not (allow_pending and record.status == Status.PENDING)]
    if not open_records:
        return
    record = open_records[-1]
    where = _command_target(record)
    if record.status == Status.PENDING:
        raise TransactionError(f"transaction {record.id} is still pending; run 'bridgecfg confirm {record.id}{where}' "
                               f"to keep it or 'bridgecfg rollback {record.id}{where}' to undo it first")
    if process_alive(record.apply_pid, record.apply_started):
        raise TransactionError(f"transaction {record.id} is being applied by process {record.apply_pid}; wait for it "
                               "to finish")
    raise TransactionError(f"transaction {record.id} was interrupted before it was verified; run 'bridgecfg rollback "
                           f"{record.id}{where}' to undo it first")


def _command_target(record: TransactionRecord) -> str:
    """Return the --root and --netns options that reach the transaction's state directory and namespace."""
    words = ""
    if record.root != "/":
        words += f" --root {shlex.quote(record.root)}"
    if record.netns:
        words += f" --netns {shlex.quote(record.netns)}"
    return words


def _recheck(topology: model.Topology, target: Target, options: ApplyOptions, proposal: Proposal) -> Proposal:
    """Plan again under the lock, and refuse if the host changed since the plan was shown."""
    fresh = propose(topology, target, options)
    shown = [(change.path, change.new) for change in proposal.files.changes]
    now = [(change.path, change.new) for change in fresh.files.changes]
    shown_live = comparable_operations(proposal.live.operations) if proposal.live else []
    now_live = comparable_operations(fresh.live.operations) if fresh.live else []
    if shown != now or shown_live != now_live:
        raise HostConflict("the host changed after the plan was shown; run bridgecfg again to see the new plan")
    return fresh


# Remaining lifetimes shrink while the operator reads the plan, so they are left out of
# the comparison between the plan shown and the plan made again under the lock.
_LIFETIME_WORDS = re.compile(r"\b(valid_lft|preferred_lft|expires) \d+s\b")


def comparable_operations(operations: List[Any]) -> List[str]:
    """Describe operations for comparison, without the remaining lifetimes."""
    return [_LIFETIME_WORDS.sub(r"\1", operation.describe()) for operation in operations]


def _begin(store: TransactionStore, target: Target, options: ApplyOptions, proposal: Proposal) -> TransactionRecord:
    """Write the record, the snapshot and the backups, and arm the revert, before any change."""
    transaction = files.new_transaction_id()
    live = proposal.live
    record = TransactionRecord(
        id=transaction, created=time.time(), root=str(target.root), netns=target.netns,
        live=live is not None and bool(live.operations), apply_pid=os.getpid(),
        apply_started=process_start_ticks(os.getpid()),
        confirm_timeout=options.confirm_timeout if live is not None else 0.0, boot_id=current_boot_id(),
        files=file_records(proposal.files.changes),
        cutover=dataclasses.asdict(live.request) if live is not None else None,
    )
    store.create(record)
    if record.live and live is not None:
        store.write_document(transaction, SNAPSHOT, live.snapshot.to_json())
        store.write_document(transaction, DESIRED, live.desired_after.to_json())
    files.back_up(proposal.files, store.backup_dir(transaction))
    store.journal(transaction, "prepared", files=len(record.files), live_steps=len(live.operations) if live else 0)
    log.info("transaction %s: snapshot and backups are in %s", transaction, store.folder(transaction))
    if record.live and record.confirm_timeout > 0:
        from bridgecfg import revert

        record.timer_pid = revert.arm_timer(store, record)
        store.save(record)
    return record


def _run(store: TransactionStore, record: TransactionRecord, target: Target, options: ApplyOptions,
         proposal: Proposal) -> ApplyResult:
    changed = files.write_changes(proposal.files)
    store.journal(record.id, "files-written", paths=changed)
    steps = 0
    if record.live:
        steps = _cut_over(store, record, options, proposal)
    if record.live and record.confirm_timeout > 0:
        record.deadline = time.time() + record.confirm_timeout
        record.status = Status.PENDING
        log.info("transaction %s is pending: it reverts in %g s unless confirmed", record.id, record.confirm_timeout)
    else:
        record.status = Status.CONFIRMED
        record.finished = time.time()
    store.save(record)
    store.journal(record.id, record.status.value)
    return ApplyResult(record.id, record.status, store.backup_dir(record.id), record.deadline, changed, steps)


def _cut_over(store: TransactionStore, record: TransactionRecord, options: ApplyOptions, proposal: Proposal) -> int:
    from bridgecfg.errors import ApplyFailed
    from bridgecfg.live import verify
    from bridgecfg.live.engine import apply_cutover
    from bridgecfg.live.netlink import open_netlink

    live = proposal.live
    assert live is not None

    def journal(index: int, operation: Any) -> None:
        store.journal(record.id, "kernel", index=index, operation=operation.describe())

    with open_netlink(record.netns) as ipr:
        candidates = _checks(live, options)
        checks = verify.select_checks(ipr, candidates, netns=record.netns)
        try:
            operations = apply_cutover(ipr, live.snapshot, live.request, journal=journal, checks=checks)
        except ApplyFailed as error:
            # apply_cutover has restored the kernel; put the files back too.
            _restore_files_and_close(store, record, reason=str(error))
            raise RolledBack(f"{error}. The running system and the files were restored to the snapshot of "
                             f"transaction {record.id}") from error
    return len(operations)


def _checks(live: Any, options: ApplyOptions) -> List[Any]:
    from bridgecfg.live import verify

    checks: List[Any] = []
    if live.request.l3_port:
        checks.extend(verify.gateway_checks(live.snapshot, live.request.l3_port))
    for item in options.check_hosts:
        checks.append(parse_check_host(item))
    return checks


def parse_check_host(text: str) -> Any:
    """Parse --check-host ADDR (neighbour resolution) or ADDR:PORT / [ADDR]:PORT (TCP connect)."""
    import ipaddress

    from bridgecfg.live.verify import NeighbourCheck, TcpCheck

    address, port = text, None
    if text.startswith("["):
        address, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else None
    elif text.count(":") == 1:
        address, _, port = text.partition(":")
    try:
        ipaddress.ip_address(address)
    except ValueError:
        raise InvalidInput(f"--check-host {text!r}: use an IP address, ADDRESS:PORT or [IPv6]:PORT") from None
    if port is None:
        return NeighbourCheck(address=address)
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidInput(f"--check-host {text!r}: the port must be 1 to 65535")
    return TcpCheck(address=address, port=int(port))


def _restore_files_and_close(store: TransactionStore, record: TransactionRecord, *, reason: str) -> None:
    from bridgecfg import revert

    revert.restore_record_files(store, record)
    record.status = Status.ROLLED_BACK
    record.reason = reason
    record.finished = time.time()
    store.save(record)
    store.journal(record.id, "rolled-back", reason=reason)


def _roll_back_after_failure(store: TransactionStore, record: TransactionRecord, error: BaseException) -> None:
    """Undo a transaction that failed part-way, for any error other than a verify failure."""
    from bridgecfg import revert

    log.error("transaction %s failed (%s); rolling back", record.id, error)
    try:
        revert.roll_back(store, record, reason=f"apply failed: {error}")
    except RollbackFailed:
        raise
    except Exception as rollback_error:
        raise RollbackFailed(f"rolling back transaction {record.id} failed: {rollback_error}") from error

