"""Transactions sort by creation time, even when two are created within one second.

Transaction ids start with a UTC timestamp in whole seconds and end with a random
suffix, so two applies within one second may get ids that sort the wrong way round.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bridgecfg.errors import TransactionError
from bridgecfg.revert import rollback_command
from bridgecfg.transaction import Status, TransactionRecord, TransactionStore

# Created 0.5 s apart in the same second; the later one has the smaller suffix.
EARLIER = "20260101T120000Z-ffffff"
LATER = "20260101T120000Z-000000"


def _store(root: Path) -> TransactionStore:
    store = TransactionStore(root)
    for transaction, created in ((EARLIER, 1767268800.1), (LATER, 1767268800.6)):
        store.create(TransactionRecord(id=transaction, created=created, root=str(root), status=Status.CONFIRMED))
    return store


def test_latest_is_last_created(tmp_path: Path) -> None:
    store = _store(tmp_path)

    assert [record.id for record in store.all()] == [EARLIER, LATER]
    assert store.select(None).id == LATER


def test_rollback_sees_newer_same_second(tmp_path: Path) -> None:
    store = _store(tmp_path)

    with pytest.raises(TransactionError, match=LATER):
        rollback_command(store, EARLIER, netns=None, force=False)
    assert store.load(EARLIER).status == Status.CONFIRMED
