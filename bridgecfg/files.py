"""Write a plan's file changes: backups first, then atomic writes, under a lock.

Backups go under <root>/var/lib/bridgecfg/backups/<transaction>/<original path>, outside
/etc/sysconfig/network-scripts, so neither the network scripts nor NetworkManager ever
load one as a profile.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import logging
import os
import secrets
import stat
import time
from pathlib import Path
from typing import Iterator, List, Optional

from bridgecfg.errors import ApplyFailed, HostConflict, TransactionError
from bridgecfg.plan import CREATE, REMOVE, FileChange, Plan

log = logging.getLogger(__name__)

STATE_DIR = "/var/lib/bridgecfg"
FILE_MODE = 0o644


def state_dir(root: Path) -> Path:
    return root / STATE_DIR.lstrip("/")


def new_transaction_id() -> str:
    """Return a transaction id that sorts by time: UTC timestamp and a random suffix."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)


@contextlib.contextmanager
def apply_lock(root: Path, *, key: str = "files") -> Iterator[None]:
    """Hold the lock that keeps two applies, confirms or rollbacks from interleaving."""
    directory = state_dir(root)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / f"{key}.lock"
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno in (errno.EAGAIN, errno.EACCES):
                raise TransactionError(f"another bridgecfg apply, confirm or rollback holds {path}; wait for it "
                                       "to finish and run the command again") from None
            raise
        yield
    finally:
        os.close(descriptor)


@dataclasses.dataclass(frozen=True)
class WrittenFiles:
    """What writing a plan did: the transaction id, the backups and the files touched."""

    transaction: str
    backup_dir: Path
    backups: List[str]
    changed: List[str]


def write_plan(plan: Plan, *, transaction: str) -> WrittenFiles:
    """Back up every file the plan modifies or removes, then write and remove files atomically.

    The caller holds the apply lock. Each source file is compared with the bytes the plan
    was computed from, so a file edited in between is never overwritten.
    """
    root = plan.root
    _check_unchanged(root, plan.changes)
    backup_dir = state_dir(root) / "backups" / transaction
    backups = [_backup(root, backup_dir, change) for change in plan.changes if change.old is not None]
    changed = []
    for change in plan.changes:
        _write_change(root, change)
        changed.append(change.path)
    return WrittenFiles(transaction=transaction, backup_dir=backup_dir, backups=backups, changed=changed)


def _local(root: Path, host_path: str) -> Path:
    return root / host_path.lstrip("/")


def _check_unchanged(root: Path, changes: List[FileChange]) -> None:
    for change in changes:
        local = _local(root, change.path)
        if os.path.islink(local):
            raise HostConflict(f"{change.path} is a symbolic link; bridgecfg never writes through one. Replace it "
                               "with a regular file and run bridgecfg again")
        current = local.read_bytes() if local.exists() else None
        if current != change.old:
            raise HostConflict(f"{change.path} changed after the plan was made; run bridgecfg again to plan "
                               "against the new content")


def _backup(root: Path, backup_dir: Path, change: FileChange) -> str:
    assert change.old is not None
    target = backup_dir / change.path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    mode = change.old_mode if change.old_mode is not None else FILE_MODE
    try:
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        raise ApplyFailed(f"backup {target} already exists; bridgecfg never overwrites a backup") from None
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(change.old)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(target, stat.S_IMODE(mode))
    _fsync_dir(target.parent)
    log.info("backed up %s to %s", change.path, target)
    return str(target)


def _write_change(root: Path, change: FileChange) -> None:
    local = _local(root, change.path)
    if change.action == REMOVE:
        local.unlink()
        _fsync_dir(local.parent)
        log.info("removed %s", change.path)
        return
    assert change.new is not None
    write_atomic(local, change.new)
    log.info("%s %s", "created" if change.action == CREATE else "wrote", change.path)


def write_atomic(path: Path, data: bytes, *, mode: int = FILE_MODE) -> None:
    """Write a file through a temporary file in the same directory, fsync, then rename.

    The temporary name starts with a dot and has no ifcfg- prefix, so no network reader
    loads it if a crash leaves it behind.
    """
    if os.path.islink(path):
        raise HostConflict(f"{path} is a symbolic link; bridgecfg never writes through one")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.parent / f".bridgecfg-{secrets.token_hex(4)}.tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.rename(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def restore_files(root: Path, changes: List[FileChange], backup_dir: Path) -> List[str]:
    """Put back the files of a transaction byte-identical: restore backups, delete created files."""
    restored = []
    for change in reversed(changes):
        local = _local(root, change.path)
        if change.old is None:
            with contextlib.suppress(FileNotFoundError):
                local.unlink()
                log.info("removed %s, which the transaction created", change.path)
        else:
            backup = backup_dir / change.path.lstrip("/")
            data = backup.read_bytes()
            mode = change.old_mode if change.old_mode is not None else FILE_MODE
            write_atomic(local, data, mode=mode)
            log.info("restored %s from %s", change.path, backup)
        restored.append(change.path)
    return restored


def read_optional(path: Path) -> Optional[bytes]:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
