"""Write a plan's file changes: backups first, then atomic writes.

Backups go under <root>/var/lib/bridgecfg/backups/<transaction>/<original path>, outside
/etc/sysconfig/network-scripts, so neither the network scripts nor NetworkManager ever
load one as a profile.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import stat
import time
from pathlib import Path
from typing import List, Optional

from bridgecfg.errors import ApplyFailed, HostConflict
from bridgecfg.plan import CREATE, REMOVE, FileChange, Plan

log = logging.getLogger(__name__)

STATE_DIR = "/var/lib/bridgecfg"
FILE_MODE = 0o644


def state_dir(root: Path) -> Path:
    return root / STATE_DIR.lstrip("/")


def new_transaction_id() -> str:
    """Return a transaction id that sorts by time: UTC timestamp and a random suffix."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)


def back_up(plan: Plan, backup_dir: Path) -> List[str]:
    """Copy every file the plan modifies or removes to the backup folder, byte for byte.

    The caller holds the transaction lock. Each source file is compared with the bytes
    the plan was computed from first, so a file edited in between is never overwritten.
    """
    _check_unchanged(plan.root, plan.changes)
    return [_backup(backup_dir, change) for change in plan.changes if change.old is not None]


def write_changes(plan: Plan) -> List[str]:
    """Create, rewrite and remove the plan's files, each atomically, in the plan's order."""
    changed = []
    for change in plan.changes:
        _write_change(plan.root, change)
        changed.append(change.path)
    return changed


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


def _backup(backup_dir: Path, change: FileChange) -> str:
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
    write_atomic(local, change.new, mode=written_mode(change.old_mode))
    log.info("%s %s", "created" if change.action == CREATE else "wrote", change.path)


def written_mode(old_mode: Optional[int]) -> int:
    """Return the mode of a written file: 0644, but never wider than the file it replaces.

    A profile kept private (it may hold an 802.1X password) stays private.
    """
    if old_mode is None:
        return FILE_MODE
    return FILE_MODE & old_mode


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


def restore_file(root: Path, host_path: str, *, backup: Optional[Path], mode: Optional[int]) -> None:
    """Put one file back: copy its backup over it with the original mode, or delete it if it was new."""
    local = _local(root, host_path)
    if backup is None:
        with contextlib.suppress(FileNotFoundError):
            local.unlink()
            _fsync_dir(local.parent)
            log.info("removed %s, which the transaction created", host_path)
        return
    write_atomic(local, backup.read_bytes(), mode=mode if mode is not None else FILE_MODE)
    log.info("restored %s from %s", host_path, backup)


def read_optional(root: Path, host_path: str) -> Optional[bytes]:
    try:
        return _local(root, host_path).read_bytes()
    except FileNotFoundError:
        return None
