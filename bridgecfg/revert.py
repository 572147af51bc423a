"""Confirm, roll back and the detached revert timer.

The revert timer is a separate process in its own session (setsid), so the death of the
operator's SSH session or of the apply process does not stop it. It reads everything it
needs from the transaction folder, so it also works when the apply process was killed
half-way. It reverts when the confirm deadline passes, or at once when the apply process
died before verify finished.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import List, Optional

from bridgecfg import files
from bridgecfg.errors import BridgecfgError, RollbackFailed, TransactionError
from bridgecfg.transaction import (
    DESIRED, SNAPSHOT, Status, TransactionRecord, TransactionStore, creation_order, current_boot_id, digest, process_alive,
    transaction_lock,
)

log = logging.getLogger(__name__)

POLL_SECONDS = 0.05
# How long the timer waits for the lock that an apply, confirm or rollback holds.
LOCK_WAIT_SECONDS = 30.0
# How long apply waits for a new timer process to report that it is watching.
TIMER_START_SECONDS = 10.0
FAILPOINT_VARIABLE = "BRIDGECFG_FAILPOINT"
# Journal step written before a rollback changes anything.
ROLLBACK_STARTED = "rollback-started"


def restore_record_files(store: TransactionStore, record: TransactionRecord) -> List[str]:
    """Put the transaction's files back byte-identical, newest change first."""
    backup_dir = store.backup_dir(record.id)
    restored = []
    for item in reversed(record.files):
        backup = backup_dir / item.path.lstrip("/") if item.old_sha256 is not None else None
        if backup is not None and not backup.is_file():
            raise RollbackFailed(f"the backup {backup} of {item.path} is missing; restore {item.path} by hand")
        files.restore_file(store.root, item.path, backup=backup, mode=item.old_mode)
        restored.append(item.path)
    return restored


def roll_back(store: TransactionStore, record: TransactionRecord, *, reason: str, kernel: bool = True) -> None:
    """Restore the kernel snapshot and the files of a transaction, and record the outcome.

    The caller holds the transaction lock. The kernel comes first: it is what keeps the
    host reachable, and restoring it never waits on DHCP. With kernel=False only the
    files are restored, as after a reboot.
    """
    log.info("rolling back transaction %s: %s", record.id, reason)
    # A later rollback reads this mark to tell that a killed rollback left the host half-way.
    store.journal(record.id, ROLLBACK_STARTED, reason=reason)
    try:
        try:
            if record.live and kernel:
                _restore_kernel(store, record)
        finally:
            # The files come back even when the kernel restore fails, so that the next boot
            # brings up the old configuration.
            restore_record_files(store, record)
    except Exception as error:
        record.status = Status.ROLLBACK_FAILED
        record.reason = f"{reason}; rollback failed: {error}"
        record.finished = time.time()
        store.save(record)
        store.journal(record.id, "rollback-failed", error=str(error))
        if isinstance(error, RollbackFailed):
            raise
        raise RollbackFailed(f"rolling back transaction {record.id} failed: {error}") from error
    record.status = Status.ROLLED_BACK
    record.reason = reason
    record.finished = time.time()
    store.save(record)
    store.journal(record.id, "rolled-back", reason=reason)
    log.info("transaction %s rolled back", record.id)


def _restore_kernel(store: TransactionStore, record: TransactionRecord) -> None:
    from bridgecfg.live.execute import restore
    from bridgecfg.live.netlink import open_netlink
    from bridgecfg.live.state import KernelSnapshot

    text = store.read_document(record.id, SNAPSHOT)
    if text is None:
        raise RollbackFailed(f"the snapshot of transaction {record.id} is missing from {store.folder(record.id)}")
    snapshot = KernelSnapshot.from_json(text)
    with open_netlink(record.netns) as ipr:
        restore(ipr, snapshot)


def host_changes(store: TransactionStore, record: TransactionRecord) -> List[str]:
    """List how the host differs from what the transaction left, file by file and in the kernel.

    An interrupted apply or rollback left each file either old or new, and the kernel
    anywhere between the snapshot and the desired state, so only files that are neither
    count.
    """
    interrupted = _interrupted(record) or _rollback_interrupted(store, record)
    changes = []
    for item in record.files:
        current = digest(files.read_optional(store.root, item.path))
        left = (item.new_sha256, item.old_sha256) if interrupted else (item.new_sha256,)
        if current not in left:
            changes.append(f"{item.path} changed after the transaction")
    if record.live and not interrupted:
        changes.extend(_kernel_changes(store, record))
    return changes


def _interrupted(record: TransactionRecord) -> bool:
    """Tell whether the apply process died while the transaction was still being prepared."""
    return record.status == Status.PREPARING and not process_alive(record.apply_pid, record.apply_started)


def _rollback_interrupted(store: TransactionStore, record: TransactionRecord) -> bool:
    """Tell whether the last rollback of the transaction started but never recorded an outcome.

    The caller holds the transaction lock, so no rollback of it is still running.
    """
    steps = [entry.get("step") for entry in store.read_journal(record.id)]
    if ROLLBACK_STARTED not in steps:
        return False
    last_start = len(steps) - 1 - steps[::-1].index(ROLLBACK_STARTED)
    return not {"rolled-back", "rollback-failed"} & set(steps[last_start:])


def _kernel_changes(store: TransactionStore, record: TransactionRecord) -> List[str]:
    from bridgecfg.live.netlink import open_netlink
    from bridgecfg.live.state import KernelSnapshot
    from bridgecfg.live.verify import verify_state

    text = store.read_document(record.id, DESIRED)
    if text is None:
        return []
    desired = KernelSnapshot.from_json(text)
    with open_netlink(record.netns) as ipr:
        return [f"kernel: {line}" for line in verify_state(ipr, desired)]


def rollback_command(store: TransactionStore, transaction: Optional[str], *, netns: Optional[str],
                     force: bool, reason: str = "rolled back by bridgecfg rollback") -> TransactionRecord:
    """Roll back the named transaction, or the open one, or the latest one, under the lock.

    The lock is the one of the namespace the transaction acted in, the same that its
    revert timer takes, whatever `netns` the caller gave.
    """
    selected = store.select(transaction)
    with transaction_lock(store.root, selected.netns or netns):
        record = store.load(selected.id)
        if record.status in (Status.ROLLED_BACK,):
            raise TransactionError(f"transaction {record.id} was already rolled back ({record.reason})")
        if not force:
            _refuse_unsafe_rollback(store, record)
        roll_back(store, record, reason=reason)
        return record


def _refuse_unsafe_rollback(store: TransactionStore, record: TransactionRecord) -> None:
    newer = [other.id for other in store.all()
             if creation_order(other) > creation_order(record) and other.status != Status.ROLLED_BACK]
    if newer:
        raise TransactionError(f"transaction {', '.join(newer)} came after {record.id}; roll that back first, or "
                               "add --force to restore the older snapshot anyway")
    changes = host_changes(store, record)
    if changes:
        raise TransactionError(f"the host changed after transaction {record.id}: {'; '.join(changes)}. Rolling "
                               "back would undo those changes too; add --force to restore the snapshot anyway")


def confirm_command(store: TransactionStore, transaction: Optional[str], *, netns: Optional[str]) -> TransactionRecord:
    """Keep a pending transaction: disarm its revert timer, under the lock that the timer takes."""
    selected = store.select(transaction)
    with transaction_lock(store.root, selected.netns or netns, wait_seconds=LOCK_WAIT_SECONDS):
        record = store.load(selected.id)
        if record.status != Status.PENDING:
            raise TransactionError(f"transaction {record.id} is {record.status.value}, not pending; there is nothing "
                                   "to confirm")
        record.status = Status.CONFIRMED
        record.finished = time.time()
        store.save(record)
        store.journal(record.id, "confirmed")
    log.info("transaction %s confirmed; the revert timer stops", record.id)
    return record


def arm_timer(store: TransactionStore, record: TransactionRecord) -> int:
    """Start the detached revert process and wait until it reports that it is watching."""
    command = [sys.executable, "-m", "bridgecfg", "revert-timer", "--root", str(store.root),
               "--transaction", record.id]
    if record.netns:
        command += ["--netns", record.netns]
    environment = {key: value for key, value in os.environ.items() if key != FAILPOINT_VARIABLE}
    log_path = store.log_path(record.id)
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                                   start_new_session=True, close_fds=True, cwd="/", env=environment)
    deadline = time.monotonic() + TIMER_START_SECONDS
    while time.monotonic() < deadline:
        if any(entry.get("step") == "timer-armed" for entry in store.read_journal(record.id)):
            log.info("revert timer armed (process %d, log %s)", process.pid, log_path)
            return process.pid
        if process.poll() is not None:
            break
        time.sleep(POLL_SECONDS)
    process.kill()
    raise TransactionError(f"the revert timer did not start; see {log_path}. Nothing was changed")


def watch(store: TransactionStore, transaction: str, *, netns: Optional[str]) -> str:
    """Run the revert timer: wait for a confirm, the deadline, or the death of the apply process."""
    store.journal(transaction, "timer-armed", pid=os.getpid())
    while True:
        record = store.load(transaction)
        if not record.status.open:
            log.info("transaction %s is %s; the revert timer stops", transaction, record.status.value)
            return record.status.value
        reason = _revert_reason(record)
        if reason is not None:
            return _revert_now(store, transaction, netns=netns, reason=reason)
        time.sleep(POLL_SECONDS)


def _revert_reason(record: TransactionRecord) -> Optional[str]:
    now = time.time()
    if record.deadline is not None and now >= record.deadline:
        return f"not confirmed within {record.confirm_timeout:g} s"
    if record.deadline is None and not process_alive(record.apply_pid, record.apply_started):
        return f"the apply process {record.apply_pid} died before the change was verified"
    return None


def _revert_now(store: TransactionStore, transaction: str, *, netns: Optional[str], reason: str) -> str:
    with transaction_lock(store.root, netns, wait_seconds=LOCK_WAIT_SECONDS):
        record = store.load(transaction)
        if not record.status.open:
            return record.status.value
        if record.deadline is not None and time.time() < record.deadline:
            return "rearmed"
        roll_back(store, record, reason=reason)
        return Status.ROLLED_BACK.value


def boot_revert(store: TransactionStore) -> List[str]:
    """Roll back, at boot, every transaction that was never confirmed.

    After a reboot the kernel has nothing of the old cutover, so only the files are
    restored; the network service then brings the host up as it was.
    """
    reverted = []
    failures = []
    boot_id = current_boot_id()
    for listed in store.open_transactions():
        try:
            with transaction_lock(store.root, listed.netns, wait_seconds=LOCK_WAIT_SECONDS):
                record = store.load(listed.id)
                if not record.status.open:
                    continue
                restarted = record.boot_id != boot_id
                roll_back(store, record, reason="not confirmed before the host restarted", kernel=not restarted)
                reverted.append(record.id)
        except BridgecfgError as error:
            # Every open transaction gets its attempt; the failures are reported together.
            log.error("boot revert of transaction %s failed: %s", listed.id, error)
            failures.append(f"{listed.id}: {error}")
    if failures:
        raise RollbackFailed("boot revert failed for " + "; ".join(failures))
    return reverted


def watch_main(root: Path, transaction: str, netns: Optional[str]) -> int:
    """Entry point of the detached timer process; returns its exit code."""
    store = TransactionStore(root)
    try:
        outcome = watch(store, transaction, netns=netns)
    except Exception as error:  # The timer logs every failure, because no terminal shows its output.
        log.exception("revert timer for transaction %s failed: %s", transaction, error)
        return 4
    log.info("revert timer for transaction %s finished: %s", transaction, outcome)
    return 0
