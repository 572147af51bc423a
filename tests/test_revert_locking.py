"""confirm, rollback and boot-revert take the lock of the namespace a transaction acted in.

The revert timer and apply lock on the transaction's own --netns. A confirm or rollback
run without --netns, or boot-revert, must wait for that same lock, or it could change
the record while the timer is rolling the transaction back.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bridgecfg import revert
from bridgecfg.errors import RollbackFailed, TransactionError
from bridgecfg.transaction import Status, TransactionRecord, TransactionStore, transaction_lock

NETNS = "bcfg-test-absent"
TRANSACTION = "20260101T120000Z-0a0b0c"


def _store(root: Path) -> TransactionStore:
    store = TransactionStore(root)
    # No files and no live part: rolling it back touches nothing outside the store.
    store.create(TransactionRecord(id=TRANSACTION, created=1767268800.0, root=str(root), netns=NETNS,
                                   status=Status.PENDING, deadline=1767268900.0))
    return store


@pytest.fixture
def short_lock_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(revert, "LOCK_WAIT_SECONDS", 0.2)


def test_rollback_waits_for_namespace_lock(tmp_path: Path) -> None:
    store = _store(tmp_path)

    with transaction_lock(tmp_path, NETNS):
        with pytest.raises(TransactionError, match="holds"):
            revert.rollback_command(store, None, netns=None, force=True)

    assert store.load(TRANSACTION).status == Status.PENDING


def test_confirm_waits_for_namespace_lock(tmp_path: Path, short_lock_wait: None) -> None:
    store = _store(tmp_path)

    with transaction_lock(tmp_path, NETNS):
        with pytest.raises(TransactionError, match="holds"):
            revert.confirm_command(store, None, netns=None)

    assert store.load(TRANSACTION).status == Status.PENDING


def test_boot_revert_waits_for_namespace_lock(tmp_path: Path, short_lock_wait: None) -> None:
    store = _store(tmp_path)

    with transaction_lock(tmp_path, NETNS):
        with pytest.raises(RollbackFailed, match="holds"):
            revert.boot_revert(store)

    assert store.load(TRANSACTION).status == Status.PENDING


def test_lock_free_rollback_proceeds(tmp_path: Path) -> None:
    store = _store(tmp_path)

    revert.rollback_command(store, None, netns=None, force=True)

    assert store.load(TRANSACTION).status == Status.ROLLED_BACK
