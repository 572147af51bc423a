"""Transactions on disk: what an apply changed, so that confirm and rollback can act on it later.

Each transaction has a folder under <root>/var/lib/bridgecfg/transactions/<id>/ with:

- record.json: the status, the confirm deadline and the file changes (JSON, rewritten
  atomically at every status change);
- snapshot.json: the kernel snapshot taken before the first live change;
- journal.jsonl: one line per step done, appended and fsynced;
- revert.log: the log of the detached revert process.

A crash, a reboot or another session finds everything it needs here.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import time
from enum import Enum
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

from pydantic import BaseModel, ConfigDict

from bridgecfg.errors import TransactionError
from bridgecfg.files import state_dir, write_atomic
from bridgecfg.plan import FileChange

log = logging.getLogger(__name__)

BOOT_ID_PATH = Path("/proc/sys/kernel/random/boot_id")
RECORD_MODE = 0o600
SNAPSHOT = "snapshot.json"
DESIRED = "desired.json"


class Status(str, Enum):
    """The state of a transaction."""

    PREPARING = "preparing"      # changes may be under way; the apply process owns it
    PENDING = "pending"          # applied and verified; reverts at the deadline unless confirmed
    CONFIRMED = "confirmed"      # kept by `bridgecfg confirm`, or applied with no revert timer
    ROLLED_BACK = "rolled-back"  # restored from the snapshot and the backups
    ROLLBACK_FAILED = "rollback-failed"

    @property
    def open(self) -> bool:
        return self in (Status.PREPARING, Status.PENDING)


class FileRecord(BaseModel):
    """One file a transaction created, modified or removed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    action: str
    old_mode: Optional[int] = None
    old_sha256: Optional[str] = None
    new_sha256: Optional[str] = None


class TransactionRecord(BaseModel):
    """The persistent record of one apply."""

    model_config = ConfigDict(extra="forbid")

    id: str
    created: float
    root: str
    netns: Optional[str] = None
    live: bool = False
    status: Status = Status.PREPARING
    apply_pid: Optional[int] = None
    apply_started: Optional[int] = None
    timer_pid: Optional[int] = None
    confirm_timeout: float = 0.0
    deadline: Optional[float] = None
    boot_id: Optional[str] = None
    files: List[FileRecord] = []
    cutover: Optional[Dict[str, Any]] = None
    reason: Optional[str] = None
    finished: Optional[float] = None


def digest(data: Optional[bytes]) -> Optional[str]:
    return hashlib.sha256(data).hexdigest() if data is not None else None


def file_records(changes: List[FileChange]) -> List[FileRecord]:
    return [FileRecord(path=change.path, action=change.action, old_mode=change.old_mode,
                       old_sha256=digest(change.old), new_sha256=digest(change.new)) for change in changes]


def creation_order(record: TransactionRecord) -> Tuple[float, str]:
    """Sort key that puts transactions in the order they were created."""
    return (record.created, record.id)


def current_boot_id() -> Optional[str]:
    try:
        return BOOT_ID_PATH.read_text(encoding="ascii").strip()
    except OSError:
        return None


class TransactionStore:
    """The transactions of one state directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.directory = state_dir(root) / "transactions"
        self.backups = state_dir(root) / "backups"

    def folder(self, transaction: str) -> Path:
        return self.directory / transaction

    def backup_dir(self, transaction: str) -> Path:
        return self.backups / transaction

    def create(self, record: TransactionRecord) -> None:
        folder = self.folder(record.id)
        folder.mkdir(parents=True, mode=0o700)
        self.save(record)

    def save(self, record: TransactionRecord) -> None:
        data = record.model_dump_json(indent=2).encode("utf-8") + b"\n"
        write_atomic(self.folder(record.id) / "record.json", data, mode=RECORD_MODE)

    def load(self, transaction: str) -> TransactionRecord:
        path = self.folder(transaction) / "record.json"
        try:
            return TransactionRecord.model_validate_json(path.read_bytes())
        except FileNotFoundError:
            known = ", ".join(self.ids()) or "none"
            raise TransactionError(f"transaction {transaction} not found in {self.directory} (known: {known})") from None
        except ValueError as error:
            raise TransactionError(f"{path} is damaged: {error}") from None

    def ids(self) -> List[str]:
        if not self.directory.is_dir():
            return []
        return sorted(entry.name for entry in self.directory.iterdir() if (entry / "record.json").is_file())

    def all(self) -> List[TransactionRecord]:
        """Return every transaction, oldest first.

        Ids carry a timestamp in whole seconds and a random suffix, so two transactions
        of the same second are ordered by their creation time, not by id.
        """
        return sorted((self.load(transaction) for transaction in self.ids()), key=creation_order)

    def open_transactions(self) -> List[TransactionRecord]:
        return [record for record in self.all() if record.status.open]

    def select(self, transaction: Optional[str]) -> TransactionRecord:
        """Return the named transaction, else the open one, else the latest one."""
        if transaction:
            return self.load(transaction)
        records = self.all()
        if not records:
            raise TransactionError(f"no transactions in {self.directory}")
        open_records = [record for record in records if record.status.open]
        return open_records[-1] if open_records else records[-1]

    def write_document(self, transaction: str, name: str, text: str) -> None:
        """Store a JSON document of the transaction: SNAPSHOT (the kernel before the change) or
        DESIRED (what the cutover should produce, to tell later whether the host changed)."""
        write_atomic(self.folder(transaction) / name, text.encode("utf-8"), mode=RECORD_MODE)

    def read_document(self, transaction: str, name: str) -> Optional[str]:
        try:
            return (self.folder(transaction) / name).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def journal(self, transaction: str, step: str, **details: Any) -> None:
        """Append one step to the transaction's journal and fsync it."""
        line = json.dumps({"time": time.time(), "step": step, **details}, sort_keys=True) + "\n"
        path = self.folder(transaction) / "journal.jsonl"
        descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, RECORD_MODE)
        try:
            os.write(descriptor, line.encode("utf-8"))
            os.fsync(descriptor)
        finally:
            os.close(descriptor)

    def read_journal(self, transaction: str) -> List[Dict[str, Any]]:
        path = self.folder(transaction) / "journal.jsonl"
        if not path.exists():
            return []
        entries = []
        for line in path.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(ValueError):
                entries.append(json.loads(line))
        return entries

    def log_path(self, transaction: str) -> Path:
        return self.folder(transaction) / "revert.log"


def namespace_key(netns: Optional[str]) -> str:
    """Name the network namespace a lock is about: a named one, or the caller's by inode."""
    if netns:
        return f"netns-{netns}"
    try:
        return f"ns-{os.stat('/proc/self/ns/net').st_ino}"
    except OSError:
        return "ns-current"


@contextlib.contextmanager
def transaction_lock(root: Path, netns: Optional[str], *, wait_seconds: float = 0.0) -> Iterator[None]:
    """Hold the one lock that apply, confirm and rollback share for a state directory and namespace.

    With wait_seconds above 0, wait that long for another holder to finish; otherwise
    raise TransactionError at once.
    """
    directory = state_dir(root)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / f"{namespace_key(netns)}.lock"
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as error:
                if error.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    raise TransactionError(f"another bridgecfg apply, confirm or rollback holds {path}; wait for "
                                           "it to finish and run the command again") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(descriptor)


def process_alive(pid: Optional[int], started: Optional[int] = None) -> bool:
    """Tell whether a process still runs; with its start time, also that the pid was not reused."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    fields = _stat_fields(pid)
    if fields is None:
        return True
    if fields[0] == "Z":
        return False
    return started is None or process_start_ticks(pid) == started


def process_start_ticks(pid: int) -> Optional[int]:
    """Return when a process started, in clock ticks since boot (field 22 of /proc/PID/stat)."""
    fields = _stat_fields(pid)
    if fields is None or len(fields) < 20 or not fields[19].isdigit():
        return None
    return int(fields[19])


def _stat_fields(pid: int) -> Optional[List[str]]:
    """Return the fields of /proc/PID/stat after the command name, starting with the state letter."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    # The command name sits in parentheses and may itself contain spaces or parentheses.
    return status.rpartition(")")[2].split()
